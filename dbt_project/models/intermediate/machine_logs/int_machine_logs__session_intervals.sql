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

-- Shape: everything is computed per session, driven by `sessions`: the periods of a session
-- are read in a LATERAL subquery keyed by its (centre, production_date). A filter on
-- production_date (a one-day refresh run's data tests, or machine_sessions' incremental build)
-- then reaches the raw tables' primary-key indexes instead of re-deriving every day of history
-- first (a year of 10 centres: 1.4 s -> 0.05 s for one day; bench/partition_tests.py).

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

final as (
    select
        sp.centre,
        sp.production_date,
        sp.pieces,
        sp.first_piece_at,
        sp.last_piece_at,
        trim_scale(coalesce(extract(epoch from sp.last_piece_at - sp.first_piece_at), 0)) as production_span_s,
        trim_scale(coalesce(u.wait_s, 0))                                                as wait_s,
        trim_scale(coalesce(u.stop_s, 0))                                                as stop_s,
        trim_scale(coalesce(u.downtime_s, 0))                                            as downtime_s,
        coalesce(u.waits, 0)                                                             as waits,
        coalesce(u.stops, 0)                                                             as stops
    from spans as sp
    cross join lateral (
        with

        -- the session's wait and stop periods
        periods as (
            select 'wait' as kind, w.started_at, w.ended_at
            from {{ ref('stg_machine_logs__waits') }} as w
            where w.centre = sp.centre and w.production_date = sp.production_date
            union all
            select 'stop' as kind, st.started_at, st.ended_at
            from {{ ref('stg_machine_logs__stops') }} as st
            where st.centre = sp.centre and st.production_date = sp.production_date
        ),

        -- clipped to the production span; periods entirely outside it drop out
        clipped as (
            select
                kind,
                greatest(started_at, sp.first_piece_at) as started_at,
                least(ended_at, sp.last_piece_at)       as ended_at
            from periods
            where ended_at > sp.first_piece_at
              and started_at < sp.last_piece_at
        ),

        families as (
            select kind as family, started_at, ended_at from clipped
            union all
            select 'downtime' as family, started_at, ended_at from clipped
        ),

        islands as (
            {{ interval_union_islands('families', ['family']) }}
        )

        select
            (select count(*) from periods where kind = 'wait') as waits,
            (select count(*) from periods where kind = 'stop') as stops,
            sum(extract(epoch from island_ended_at - island_started_at)) filter (where family = 'wait')     as wait_s,
            sum(extract(epoch from island_ended_at - island_started_at)) filter (where family = 'stop')     as stop_s,
            sum(extract(epoch from island_ended_at - island_started_at)) filter (where family = 'downtime') as downtime_s
        from islands
    ) as u
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
    greatest(production_span_s - downtime_s, 0) as effective_s,
    waits,
    stops
from final
