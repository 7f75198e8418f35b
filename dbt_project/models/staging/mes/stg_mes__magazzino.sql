-- magazzino, warehouse stock per piece as last updated by the MES.
select
    codice_pezzo                as piece_code,
    quantita_disponibile        as quantity_available,
    data_ultimo_aggiornamento   as stock_updated_at,
    _synced_at                  as synced_at
from {{ source('mes', 'magazzino') }}
