-- `MachineWait: <N> sec` events: a wait of N seconds starting at the event time.
select
    centre,
    production_date,
    line_no,
    started_at,
    ended_at,
    seconds
from {{ source('machine_logs', 'waits') }}
