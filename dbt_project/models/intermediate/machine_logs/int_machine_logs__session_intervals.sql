{{ config(meta={'factory_partitions': 'machine_logs'}) }}

-- Time accounting of each machine-log session (DESIGN.md §6.1), in seconds.
--
--   production span = [first piece, last piece]
--   wait time       = length of the UNION of the wait periods, clipped to the span
--   stop time       = length of the UNION of the stop periods, clipped to the span
--   downtime        = length of the UNION of waits and stops, clipped to the span
--   effective time  = span - downtime (never negative)
--
-- Unions, not sums: a machine that waits while already stopped is not "down twice", and the
-- plant reads occupation as the share of the span the machine really worked. Clipping: a
-- stop started before the first piece (machine stopped overnight) or a wait after the last
-- piece is outside production and must not eat into the span.

with

sessions as (
    select centre, production_date
    from {{ ref('stg_machine_logs__sessions') }}
),

-- Production span per session. A session without pieces (or with one) has an empty span.
spans as (
    select
        s.centre,
        s.production_date,
        count(p.line_no)  as pieces,
        min(p.event_at)   as first_piece_at,
        max(p.event_at)   as last_piece_at
    from sessions as s
    left join {{ ref('stg_machine_logs__pieces') }} as p
        on  p.centre = s.centre
        and p.production_date = s.production_date
    group by s.centre, s.production_date
),

-- Waits and stops as one list of periods, tagged by kind.
periods as (
    select centre, production_date, 'wait' as kind, started_at, ended_at
    from {{ ref('stg_machine_logs__waits') }}
    union all
    select centre, production_date, 'stop' as kind, started_at, ended_at
    from {{ ref('stg_machine_logs__stops') }}
),

period_counts as (
    select
        centre,
        production_date,
        count(*) filter (where kind = 'wait') as waits,
        count(*) filter (where kind = 'stop') as stops
    from periods
    group by centre, production_date
),

-- Clip every period to its session's span; what falls wholly outside disappears
-- (including everything of a session whose span is empty).
clipped as (
    select
        p.centre,
        p.production_date,
        p.kind,
        greatest(p.started_at, sp.first_piece_at) as started_at,
        least(p.ended_at, sp.last_piece_at)       as ended_at
    from periods as p
    join spans as sp
        on  sp.centre = p.centre
        and sp.production_date = p.production_date
    where p.ended_at > sp.first_piece_at
      and p.started_at < sp.last_piece_at
),

-- Each clipped period takes part in two unions: its own kind ('wait' or 'stop') and
-- 'downtime' (waits and stops together). One gaps-and-islands pass then serves all three.
families as (
    select centre, production_date, kind as family, started_at, ended_at from clipped
    union all
    select centre, production_date, 'downtime' as family, started_at, ended_at from clipped
),

islands as (
    {{ interval_union_islands('families', ['centre', 'production_date', 'family']) }}
),

union_seconds as (
    select
        centre,
        production_date,
        sum(extract(epoch from island_ended_at - island_started_at)) filter (where family = 'wait')     as wait_s,
        sum(extract(epoch from island_ended_at - island_started_at)) filter (where family = 'stop')     as stop_s,
        sum(extract(epoch from island_ended_at - island_started_at)) filter (where family = 'downtime') as downtime_s
    from islands
    group by centre, production_date
),

final as (
    select
        sp.centre,
        sp.production_date,
        sp.pieces,
        sp.first_piece_at,
        sp.last_piece_at,
        -- extract(epoch ...) is numeric with 6 decimals (microseconds); trim_scale drops the
        -- trailing zeros so whole seconds read as 3600, not 3600.000000
        trim_scale(coalesce(extract(epoch from sp.last_piece_at - sp.first_piece_at), 0)) as production_span_s,
        trim_scale(coalesce(u.wait_s, 0))                                                as wait_s,
        trim_scale(coalesce(u.stop_s, 0))                                                as stop_s,
        trim_scale(coalesce(u.downtime_s, 0))                                            as downtime_s,
        coalesce(pc.waits, 0)                                                            as waits,
        coalesce(pc.stops, 0)                                                            as stops
    from spans as sp
    left join union_seconds as u
        on  u.centre = sp.centre
        and u.production_date = sp.production_date
    left join period_counts as pc
        on  pc.centre = sp.centre
        and pc.production_date = sp.production_date
)

select
    centre,
    production_date,
    pieces,
    first_piece_at,
    last_piece_at,
    production_span_s,
    wait_s,
    stop_s,
    downtime_s,
    -- downtime is clipped to the span so this cannot go below 0; greatest() is a guard.
    greatest(production_span_s - downtime_s, 0) as effective_s,
    waits,
    stops
from final
