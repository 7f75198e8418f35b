-- P_Zubeh, accessories of an order line: one row per (order, position, kennung). ZCode is
-- kept byte for byte: the roller-shutter box prefixes ('S P ', 'S TAB ', ...) end with a
-- space that must not be trimmed.
select
    id_a_kopf       as order_id,
    position,
    kennung         as accessory_key,
    znr             as accessory_number,
    zcode           as accessory_code,
    text            as accessory_text,
    stueck::numeric as quantity,
    _synced_at      as synced_at
from {{ source('erp', 'p_zubeh') }}
