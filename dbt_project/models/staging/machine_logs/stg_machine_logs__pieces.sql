-- `StukUitgevoerd` events: one row per piece produced (DESIGN.md §6.1). The loader already
-- attached each piece to the latest preceding JobProfiel line.
select
    centre,
    production_date,
    line_no,
    event_at,
    job_profile_line_no,
    reference,
    details
from {{ source('machine_logs', 'pieces') }}
