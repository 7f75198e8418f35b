{{ config(meta={'factory_partitions': 'machine_logs', 'factory_partition_column': 'shift_date'}) }}

-- The shift calendar (seed shift_calendar) laid out on real dates: one row per centre, date
-- and planned shift, with its window as timestamptz (DESIGN.md §6.2).
--
-- Dates: for every centre that has machine-log sessions, each date from the day BEFORE its
-- first session to the day AFTER its last one. The extra day on each side lets
-- marts.machine_stops find the shift of a period that starts in a neighbouring date's shift
-- (night shifts); `in_session_range` marks the dates between the first and the last session,
-- which are the ones marts.oee_daily reports.
--
-- Calendar resolution: rows naming the centre replace, for their weekday, every default row
-- (centre '*'); a centre row without times means "no shift that weekday".
--
-- Windows are built from plant-local clock times in the plant time zone, so daylight-saving
-- changes are handled: a night shift 22:00-06:00 across the spring change lasts 7 h.

with

calendar as (
    select centre, weekday, shift_name, start_time, end_time
    from {{ ref('shift_calendar') }}
),

session_ranges as (
    select
        centre,
        min(production_date) as first_session_date,
        max(production_date) as last_session_date
    from {{ ref('stg_machine_logs__sessions') }}
    group by centre
),

days as (
    select
        r.centre,
        d::date as shift_date,
        r.first_session_date,
        r.last_session_date
    from session_ranges as r
    cross join lateral generate_series(
        r.first_session_date - 1, r.last_session_date + 1, interval '1 day'
    ) as d
),

-- weekdays for which a centre has its own calendar rows
overridden as (
    select distinct centre, weekday
    from calendar
    where centre <> '*'
),

resolved as (
    select
        d.centre,
        d.shift_date,
        extract(isodow from d.shift_date)::integer as weekday,
        c.shift_name,
        c.start_time,
        c.end_time,
        d.shift_date between d.first_session_date and d.last_session_date as in_session_range
    from days as d
    join calendar as c
        on  c.weekday = extract(isodow from d.shift_date)
        and (
                c.centre = d.centre
             or (
                    c.centre = '*'
                and not exists (
                        select 1 from overridden as o
                        where o.centre = d.centre and o.weekday = c.weekday
                    )
                )
            )
    where c.start_time is not null
),

windows as (
    select
        centre,
        shift_date,
        weekday,
        shift_name,
        -- date + time = local timestamp; AT TIME ZONE turns it into an instant
        (shift_date + start_time) at time zone {{ plant_timezone() }} as shift_start_at,
        ((shift_date + case when end_time <= start_time then 1 else 0 end) + end_time)
            at time zone {{ plant_timezone() }}                          as shift_end_at,
        in_session_range
    from resolved
)

select
    centre,
    shift_date,
    weekday,
    shift_name,
    shift_start_at,
    shift_end_at,
    trim_scale(extract(epoch from shift_end_at - shift_start_at)) as planned_busy_time_s,
    in_session_range
from windows
