-- pezzi_ordine, order lines: one row per (order, piece).
select
    id_ordine       as order_id,
    codice_pezzo    as piece_code,
    quantita_totale as total_quantity,
    _synced_at      as synced_at
from {{ source('mes', 'pezzi_ordine') }}
