-- A_Vorgang, order events: one row per (order, event number). An event number containing
-- 'VR' marks a stock-managed order (DESIGN.md §6.3, applied in roller_shutter_orders).
-- Local date + time -> timestamptz in the ERP time zone, as for the logbook.
select
    id_a_kopf       as order_id,
    nummer          as event_number,
    bezeichnung     as event_label,
    datum           as event_date,
    zeit            as event_time,
    (datum + zeit) at time zone {{ source_timezone('erp') }} as event_at,
    benutzer        as user_name,
    notizcode       as note_code,
    notiztext       as note_text,
    codeintern      as internal_code,
    nloesch         as deletion_marker,
    _synced_at      as synced_at
from {{ source('erp', 'a_vorgang') }}
