-- A_KopfFreie, free extra fields of an order header: one row per (order, field number).
select
    id_a_kopf   as order_id,
    nummer      as field_number,
    feldtyp     as field_type,
    feldinhalt  as field_value,
    feld1       as field_1,
    feld2       as field_2,
    feld3       as field_3,
    feld5       as field_5,
    _synced_at  as synced_at
from {{ source('erp', 'a_kopffreie') }}
