-- pezzi, the forge piece master with its forging limits (used for OUT_OF_PIECE_RANGE).
select
    codice_pezzo                as piece_code,
    nome                        as piece_name,
    tipo_acciaio                as steel_type,
    peso_min::numeric           as weight_min_kg,
    peso_max::numeric           as weight_max_kg,
    temperatura_min::numeric    as temperature_min_c,
    temperatura_max::numeric    as temperature_max_c,
    _synced_at                  as synced_at
from {{ source('mes', 'pezzi') }}
