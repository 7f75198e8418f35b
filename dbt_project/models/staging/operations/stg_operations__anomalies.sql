-- Field-level anomalies found while loading operation records (raw.operations__anomalies).
select
    file_version_id,
    record_no,
    anomaly_no,
    code,
    field,
    message,
    value,
    operator_anomaly_id
from {{ source('operations', 'anomalies') }}
