-- marts.operations: one row per accepted forging or CNC operation (DESIGN.md §6.4, §7), with its
-- measures and how many anomalies it has (marts.operation_anomalies).
with ops as (
    select * from {{ ref('stg_operations__operations') }}
),

anomalies as (
    select file_version_id, record_no, count(*) as n
    from (
        select file_version_id, record_no from {{ ref('stg_operations__anomalies') }}
        union all
        select file_version_id, record_no from {{ ref('int_operations__derived_anomalies') }}
    ) as a
    group by file_version_id, record_no
)

select
    o.operation_id::text                                            as operation_id,
    o.order_id::bigint                                              as order_id,
    o.piece_code::text                                              as piece_code,
    o.operation_type::text                                          as operation_type,
    o.machine_code::text                                            as machine_code,
    o.operator_code::text                                           as operator_code,
    o.started_at::timestamptz                                       as started_at,
    o.ended_at::timestamptz                                         as ended_at,
    extract(epoch from o.ended_at - o.started_at)::numeric          as duration_s,
    (o.produced_at at time zone {{ plant_timezone() }})::date       as production_day,
    o.weight_kg::numeric                                            as weight_kg,
    o.temperature_c::numeric                                        as temperature_c,
    o.pieces_per_hour::numeric                                      as pieces_per_hour,
    o.stop_type::text                                               as stop_type,
    coalesce(a.n, 0)::bigint                                        as anomaly_count,
    o.file_version_id::bigint                                       as file_version_id,
    o.record_no::integer                                            as record_no,
    o.drop_path::text                                               as drop_path,
    o.loaded_at::timestamptz                                        as loaded_at
from ops as o
left join anomalies as a
    on a.file_version_id = o.file_version_id and a.record_no = o.record_no
