-- One row per machine-log file = session (centre, production date). One-to-one with the raw
-- table: raw is already typed and validated by the loader, staging only selects and names.
select
    centre,
    production_date,
    file_version_id,
    path                      as file_path,
    sha256                    as file_sha256,
    lines_in,
    lines_parsed,
    lines_blank,
    lines_rejected,
    first_event_at,
    last_event_at,
    open_stop_closed_at_eof,
    parser_version,
    loaded_at
from {{ source('machine_logs', 'sessions') }}
