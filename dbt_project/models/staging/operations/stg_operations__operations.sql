{{ config(meta={'factory_shared_tables': 'own_source'}) }}
-- (reads only this domain's rows of the shared ledger: another source's files do not make it stale)

-- Accepted forging / CNC operation records, English names (DESIGN.md §6.4). Only rows of loaded
-- drops exist in raw (a replaced drop's rows are deleted with it).
select
    md5(o.record_key)               as operation_id,
    o.file_version_id,
    o.record_no,
    o.id_ordine                     as order_id,
    o.codice_pezzo                  as piece_code,
    o.tipo_operazione               as operation_type,
    o.codice_macchinario            as machine_code,
    o.codice_operatore              as operator_code,
    o.timestamp_inizio              as started_at,
    o.timestamp_fine                as ended_at,
    -- when the unit was produced: the end, else the start (NULL when neither is known)
    coalesce(o.timestamp_fine, o.timestamp_inizio) as produced_at,
    o.peso_effettivo::numeric       as weight_kg,
    o.temperatura_effettiva::numeric as temperature_c,
    o.numero_pezzi_ora::numeric     as pieces_per_hour,
    o.tipo_fermo                    as stop_type,
    l.path                          as drop_path,
    l.loaded_at
from {{ source('operations', 'operations') }} as o
join {{ source('ingest', 'ledger') }} as l
    on l.id = o.file_version_id
