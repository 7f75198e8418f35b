-- marts.oee_daily: OEE per centre, date and calendar shift, with ISO 22400 time elements
-- (DESIGN.md §6.2). One row per planned shift of the shift calendar, for every date between
-- the centre's first and last machine-log session (int_machine_logs__shift_windows), whether a
-- log covered it or not.
--
--   PBT  planned busy time     = shift window (calendar), seconds
--   ADOT actual down time      = UNION of stop and wait periods clipped to the shift window
--                                (a wait during a stop counts once; a period across the shift
--                                change is split between both shifts)
--   APT  actual production time = PBT - ADOT
--   availability   = APT / PBT
--   performance    = sum over the pieces produced in the shift of their ideal cycle time / APT
--                    (ideal cycle time: seed ideal_cycle_times with its documented defaults;
--                    NOT clipped, > 1 means a wrong ideal cycle time -> warning test)
--   quality        = good / produced of the mapped machine that DAY (production data is daily,
--                    so every shift of the day gets the day's ratio); NULL when not known
--   OEE            = availability x performance x quality (NULL when quality is NULL)
--   oee_excluding_quality = availability x performance
--   MTBF = APT / stops, MTTR = stop time / stops; NULL when the shift has no stop.
--
-- Counting follows the clipping: a stop (or wait) counts once in EVERY shift it overlaps for a
-- positive time, wherever it starts (a stop 12:50-13:20 is one stop of 600 s in the morning and
-- one stop of 1200 s in the afternoon). A zero-length period (e.g. a trailing MachineStop
-- closed at its own instant) overlaps nothing for a positive time: no failure event, no time.
-- marts.machine_stops differs on purpose: there a period carries the shift in which it starts.
--
-- has_log (covered): a session (log file) exists for the centre and a production date that the
-- shift overlaps (the shift's date; for a night shift also the next day). The time of a covered
-- shift with no event in it is available time with no output (APT = PBT, availability 1,
-- performance 0: a performance loss), never NULL. Without a log nothing was measured: the
-- time, piece and ratio columns are NULL (not 0, not 100 %).
-- Components are fractions rounded to 4 decimals, computed from unrounded values.

with

windows as (
    select *
    from {{ ref('int_machine_logs__shift_windows') }}
    where in_session_range
),

-- a shift is covered by the log of any production date (plant-local day) it overlaps
coverage as (
    select distinct w.centre, w.shift_date, w.shift_name
    from windows as w
    join {{ ref('stg_machine_logs__sessions') }} as s
        on  s.centre = w.centre
        and (s.production_date + time '00:00')     at time zone {{ plant_timezone() }} < w.shift_end_at
        and (s.production_date + 1 + time '00:00') at time zone {{ plant_timezone() }} > w.shift_start_at
),

periods as (
    select centre, 'wait'::text as kind, started_at, ended_at
    from {{ ref('stg_machine_logs__waits') }}
    union all
    select centre, 'stop'::text as kind, started_at, ended_at
    from {{ ref('stg_machine_logs__stops') }}
),

-- every period cut to each shift it overlaps for a positive time: one row per (period, shift).
-- A zero-length period yields no row (it adds no time and is no event), and neither does a
-- period that only touches the shift's start or end.
clipped as (
    select
        w.centre,
        w.shift_date,
        w.shift_name,
        p.kind,
        greatest(p.started_at, w.shift_start_at) as started_at,
        least(p.ended_at, w.shift_end_at)        as ended_at
    from periods as p
    join windows as w
        on  w.centre = p.centre
        and p.started_at < w.shift_end_at
        and p.ended_at   > w.shift_start_at
    where p.ended_at > p.started_at
),

-- one gaps-and-islands pass for three unions: waits, stops, and both together (downtime)
families as (
    select centre, shift_date, shift_name, kind as family, started_at, ended_at from clipped
    union all
    select centre, shift_date, shift_name, 'downtime' as family, started_at, ended_at from clipped
),

islands as (
    {{ interval_union_islands('families', ['centre', 'shift_date', 'shift_name', 'family']) }}
),

lost_time as (
    select
        centre,
        shift_date,
        shift_name,
        sum(extract(epoch from island_ended_at - island_started_at)) filter (where family = 'wait')     as wait_s,
        sum(extract(epoch from island_ended_at - island_started_at)) filter (where family = 'stop')     as stop_s,
        sum(extract(epoch from island_ended_at - island_started_at)) filter (where family = 'downtime') as down_s
    from islands
    group by centre, shift_date, shift_name
),

-- periods counted once in every shift they overlap for a positive time (same rows as the time)
period_counts as (
    select
        centre,
        shift_date,
        shift_name,
        count(*) filter (where kind = 'stop') as stops,
        count(*) filter (where kind = 'wait') as waits
    from clipped
    group by centre, shift_date, shift_name
),

ideal as (
    select centre, reference, ideal_cycle_s
    from {{ ref('ideal_cycle_times') }}
),

-- each piece valued at its ideal cycle time; first match wins:
-- (centre, reference) -> ('*', reference) -> (centre, '*') -> ('*', '*')
valued_pieces as (
    select
        w.centre,
        w.shift_date,
        w.shift_name,
        coalesce(exact.ideal_cycle_s, any_centre.ideal_cycle_s) as reference_cycle_s,
        coalesce(
            exact.ideal_cycle_s, any_centre.ideal_cycle_s,
            centre_default.ideal_cycle_s, global_default.ideal_cycle_s
        )                                                       as ideal_cycle_s
    from {{ ref('stg_machine_logs__pieces') }} as p
    join windows as w
        on  w.centre = p.centre
        and p.event_at >= w.shift_start_at
        and p.event_at <  w.shift_end_at
    left join ideal as exact
        on exact.centre = p.centre and exact.reference = p.reference
    left join ideal as any_centre
        on any_centre.centre = '*' and any_centre.reference = p.reference
    left join ideal as centre_default
        on centre_default.centre = p.centre and centre_default.reference = '*'
    left join ideal as global_default
        on global_default.centre = '*' and global_default.reference = '*'
),

piece_counts as (
    select
        centre,
        shift_date,
        shift_name,
        count(*)                                                   as pieces,
        count(*) filter (where reference_cycle_s is null
                           and ideal_cycle_s is not null)          as pieces_at_default_cycle,
        count(*) filter (where ideal_cycle_s is null)              as pieces_without_ideal_cycle,
        sum(ideal_cycle_s)                                         as ideal_production_s
    from valued_pieces
    group by centre, shift_date, shift_name
),

measured as (
    select
        w.centre,
        w.shift_date,
        w.weekday,
        w.shift_name,
        w.shift_start_at,
        w.shift_end_at,
        (c.centre is not null)                                    as has_log,
        w.planned_busy_time_s                                     as pbt_s,
        coalesce(lt.wait_s, 0)                                    as wait_s,
        coalesce(lt.stop_s, 0)                                    as stop_s,
        coalesce(lt.down_s, 0)                                    as down_s,
        w.planned_busy_time_s - coalesce(lt.down_s, 0)            as apt_s,
        coalesce(pc.stops, 0)                                     as stops,
        coalesce(pc.waits, 0)                                     as waits,
        coalesce(pcs.pieces, 0)                                   as pieces,
        coalesce(pcs.pieces_at_default_cycle, 0)                  as pieces_at_default_cycle,
        coalesce(pcs.pieces_without_ideal_cycle, 0)               as pieces_without_ideal_cycle,
        coalesce(pcs.ideal_production_s, 0)                       as ideal_production_s,
        q.produced_qty                                            as plant_produced_qty,
        q.scrap_qty                                               as plant_scrap_qty,
        q.quality
    from windows as w
    left join coverage as c
        on c.centre = w.centre and c.shift_date = w.shift_date and c.shift_name = w.shift_name
    left join lost_time as lt
        on lt.centre = w.centre and lt.shift_date = w.shift_date and lt.shift_name = w.shift_name
    left join period_counts as pc
        on pc.centre = w.centre and pc.shift_date = w.shift_date and pc.shift_name = w.shift_name
    left join piece_counts as pcs
        on pcs.centre = w.centre and pcs.shift_date = w.shift_date and pcs.shift_name = w.shift_name
    left join {{ ref('int_machine_logs__centre_quality_daily') }} as q
        on q.centre = w.centre and q.production_date = w.shift_date
),

ratios as (
    select
        *,
        case when has_log then apt_s / nullif(pbt_s, 0) end                 as availability_x,
        -- a piece without any ideal cycle time (no default row in the seed) makes the
        -- performance unknown rather than silently too low
        case when has_log and pieces_without_ideal_cycle = 0
             then ideal_production_s / nullif(apt_s, 0) end                 as performance_x
    from measured
)

select
    centre,
    shift_date,
    weekday,
    shift_name,
    shift_start_at,
    shift_end_at,
    has_log,
    trim_scale(pbt_s)                                               as planned_busy_time_s,
    round(pbt_s / 3600, 4)                                          as planned_busy_time_h,
    case when has_log then trim_scale(wait_s) end                   as wait_time_s,
    case when has_log then trim_scale(stop_s) end                   as stop_time_s,
    case when has_log then trim_scale(down_s) end                   as down_time_s,
    case when has_log then trim_scale(apt_s) end                    as actual_production_time_s,
    case when has_log then round(apt_s / 3600, 4) end               as actual_production_time_h,
    case when has_log then stops end                                as stops,
    case when has_log then waits end                                as waits,
    case when has_log then pieces end                               as pieces,
    case when has_log then pieces_at_default_cycle end              as pieces_at_default_cycle,
    case when has_log then pieces_without_ideal_cycle end           as pieces_without_ideal_cycle,
    case when has_log then trim_scale(ideal_production_s) end       as ideal_production_time_s,
    plant_produced_qty,
    plant_scrap_qty,
    round(availability_x, 4)                                        as availability,
    round(performance_x, 4)                                         as performance,
    round(quality, 4)                                               as quality,
    round(availability_x * performance_x * quality, 4)              as oee,
    round(availability_x * performance_x, 4)                        as oee_excluding_quality,
    case when has_log then round(apt_s / nullif(stops, 0), 2) end   as mtbf_s,
    case when has_log then round(stop_s / nullif(stops, 0), 2) end  as mttr_s
from ratios
