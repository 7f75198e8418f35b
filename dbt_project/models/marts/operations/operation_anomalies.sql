-- marts.operation_anomalies: one row per anomaly of an accepted operation (DESIGN.md §6.4, §7):
-- the field-level ones found while loading (the field was loaded as NULL, the value as sent is
-- kept here; OPERATOR_REPORTED keeps the record whole) and the ones found from MES data at
-- build time (OUT_OF_PIECE_RANGE keeps the value; UNKNOWN_ORDER_LINE).
with ops as (
    select * from {{ ref('stg_operations__operations') }}
),

found as (
    select file_version_id, record_no, code, field, message, value, operator_anomaly_id,
           'load'::text as found_at, anomaly_no as n
    from {{ ref('stg_operations__anomalies') }}
    union all
    select file_version_id, record_no, code, field, message, value, null::bigint,
           'build'::text, 1000 + row_number() over (partition by file_version_id, record_no order by code, field)
    from {{ ref('int_operations__derived_anomalies') }}
)

select
    md5(o.operation_id || ':' || f.n::text)::text                   as anomaly_id,
    o.operation_id::text                                            as operation_id,
    f.code::text                                                    as code,
    f.field::text                                                   as field,
    f.message::text                                                 as message,
    f.value::text                                                   as value,
    f.operator_anomaly_id::bigint                                   as operator_anomaly_id,
    f.found_at::text                                                as found_at,
    o.order_id::bigint                                              as order_id,
    o.piece_code::text                                              as piece_code,
    o.operation_type::text                                          as operation_type,
    o.machine_code::text                                            as machine_code,
    coalesce(
        (coalesce(o.started_at, o.ended_at) at time zone {{ plant_timezone() }})::date,
        (o.loaded_at at time zone {{ plant_timezone() }})::date
    )                                                               as day,
    f.file_version_id::bigint                                       as file_version_id,
    f.record_no::integer                                            as record_no
from found as f
join ops as o
    on o.file_version_id = f.file_version_id and o.record_no = f.record_no
