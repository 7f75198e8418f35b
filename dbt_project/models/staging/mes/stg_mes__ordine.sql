-- ordine, forge MES production orders: one row per order, English names.
select
    id_ordine       as order_id,
    id_cliente      as customer_id,
    data_inizio     as started_at,
    totale_pezzi    as total_pieces,
    data_fine       as ended_at,
    stato           as order_status,
    _synced_at      as synced_at
from {{ source('mes', 'ordine') }}
