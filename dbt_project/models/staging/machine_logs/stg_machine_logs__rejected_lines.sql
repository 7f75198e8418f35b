-- Lines of a log file that could not be parsed, one row each with its reason code.
select
    centre,
    production_date,
    file_version_id,
    line_no,
    reason,
    detail,
    line_text
from {{ source('machine_logs', 'rejected_lines') }}
