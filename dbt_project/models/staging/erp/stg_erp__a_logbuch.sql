-- A_Logbuch, the order logbook: one row per entry. The ERP stores a local date and a local
-- time; entry_at combines them into a timestamptz read in the ERP time zone
-- (FACTORY_ERP_TIMEZONE, default the plant time zone). A missing time gives no entry_at
-- (rather than an invented midnight); entry_date stays available.
select
    id              as logbook_entry_id,
    id_a_kopf       as order_id,
    code            as entry_code,
    bezeichnung     as entry_label,
    datum           as entry_date,
    zeit            as entry_time,
    (datum + zeit) at time zone {{ source_timezone('erp') }} as entry_at,
    benutzer        as user_name,
    notiz           as note,
    _synced_at      as synced_at
from {{ source('erp', 'a_logbuch') }}
