-- marts.machine_stops: one row per stop period (MachineStop .. MachineStart) or wait
-- (MachineWait: N sec) of the machine logs (DESIGN.md §6.2, §7), for stop analysis in BI.
--
-- * seconds: the period's own length in seconds (waits: as declared, may be decimal), not
--   clipped to anything;
-- * shift: the calendar shift in which the period STARTS (a stop running over the shift change
--   belongs to the shift it started in; marts.oee_daily splits its time between both);
--   'outside' with a NULL shift_date when it starts outside every planned shift;
-- * is_micro_stop: seconds below var `micro_stop_threshold_s` (default 120 s), for both kinds;
-- * duration_bucket / start_hour: the axes of marts.stop_pareto, kept here so that BI can
--   build the same Pareto over any date range.
--
-- Date-partitioned in Dagster (DESIGN.md §8): incremental, an incremental run rewrites only the
-- production dates between vars min_date and max_date (macros/partition_window.sql); without
-- the vars, or on the first build, every date is built. Per date is exact: the shift of a
-- period of date D is one of the windows of D - 1 .. D + 1, and int_machine_logs__shift_windows
-- always has those for a date with a session (it spans first session - 1 .. last session + 1).

{{ config(
    materialized='incremental',
    meta={'factory_partitions': 'machine_logs'},
    incremental_strategy='delete+insert',
    unique_key=['centre', 'production_date', 'kind', 'line_no'],
    on_schema_change='fail',
    pre_hook="{{ partition_delete_hook('production_date') }}"
) }}

{%- set micro_stop_s = var('micro_stop_threshold_s', 120) %}

with

periods as (
    select
        centre,
        production_date,
        'wait'::text         as kind,
        line_no,
        null::integer        as end_line_no,
        started_at,
        ended_at,
        seconds,
        false                as closed_at_eof
    from {{ ref('stg_machine_logs__waits') }}
    union all
    select
        centre,
        production_date,
        'stop'::text         as kind,
        line_no,
        end_line_no,
        started_at,
        ended_at,
        seconds,
        closed_at_eof
    from {{ ref('stg_machine_logs__stops') }}
),

periods_in_window as (
    select * from periods
    {% if is_incremental() %}
    where {{ partition_date_window('production_date') }}
    {% endif %}
),

windows as (
    select centre, shift_date, shift_name, shift_start_at, shift_end_at
    from {{ ref('int_machine_logs__shift_windows') }}
),

-- The shift containing the start instant; shifts of a centre do not overlap (tested), the
-- DISTINCT ON only guarantees one row per period even with a broken calendar.
attributed as (
    select distinct on (p.centre, p.production_date, p.kind, p.line_no)
        p.*,
        w.shift_date,
        w.shift_name
    from periods_in_window as p
    left join windows as w
        on  w.centre = p.centre
        and p.started_at >= w.shift_start_at
        and p.started_at <  w.shift_end_at
    order by p.centre, p.production_date, p.kind, p.line_no, w.shift_start_at
)

select
    centre,
    production_date,
    kind,
    line_no,
    end_line_no,
    started_at,
    ended_at,
    trim_scale(seconds)                                            as seconds,
    shift_date,
    coalesce(shift_name, 'outside')                                as shift_name,
    extract(hour from started_at at time zone {{ plant_timezone() }})::integer as start_hour,
    case
        when seconds <   60 then '< 1 min'
        when seconds <  300 then '1-5 min'
        when seconds <  900 then '5-15 min'
        when seconds < 3600 then '15-60 min'
        else '> 60 min'
    end                                                            as duration_bucket,
    case
        when seconds <   60 then 1
        when seconds <  300 then 2
        when seconds <  900 then 3
        when seconds < 3600 then 4
        else 5
    end                                                            as duration_bucket_order,
    seconds < {{ micro_stop_s }}                                   as is_micro_stop,
    closed_at_eof
from attributed
