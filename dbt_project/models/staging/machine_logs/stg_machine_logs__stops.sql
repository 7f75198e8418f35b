-- `MachineStop` ... next `MachineStart`: one row per stop period. A trailing stop without a
-- MachineStart was closed at the file's last event by the loader and is flagged.
select
    centre,
    production_date,
    line_no,
    end_line_no,
    started_at,
    ended_at,
    seconds,
    closed_at_eof
from {{ source('machine_logs', 'stops') }}
