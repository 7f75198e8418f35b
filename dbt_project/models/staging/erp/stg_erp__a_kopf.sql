-- A_Kopf, order headers (DESIGN.md §6.3): one row per header, English names.
select
    id                  as order_id,
    auftragstyp         as order_type,
    aunummer            as order_number,
    aualpha             as order_extension,
    kundennr            as customer_number,
    kundenbez           as customer_name,
    kommission          as commission,
    aufstatus           as order_status,
    techniker           as technician,
    a_vormwst::numeric  as amount_excl_vat,
    _synced_at          as synced_at
from {{ source('erp', 'a_kopf') }}
