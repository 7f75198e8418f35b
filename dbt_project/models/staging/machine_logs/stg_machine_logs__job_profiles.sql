-- `JobProfiel` events: a bar / job profile loaded on the centre (DESIGN.md §6.1).
select
    centre,
    production_date,
    line_no,
    event_at,
    reference,
    length_mm,
    colour,
    details
from {{ source('machine_logs', 'job_profiles') }}
