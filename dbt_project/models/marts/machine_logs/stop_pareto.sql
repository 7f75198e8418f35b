-- marts.stop_pareto: where the machines lose their time, as a Pareto table. Stops and waits
-- of marts.machine_stops grouped per centre, kind, duration bucket (< 1 min, 1-5, 5-15, 15-60,
-- > 60 min) and plant-local hour of day of their start, over all loaded history.
--
-- Shares are taken within (centre, kind): share = the group's seconds / all seconds of that
-- centre and kind; cumulative_share adds the groups in pareto_rank order (seconds descending;
-- ties by bucket then hour), so the first rows whose cumulative share reaches 0.8 are the
-- "vital few". Seconds are plain sums of the periods' own lengths (a wait that overlaps
-- another wait counts in full; OEE time accounting with interval unions is in oee_daily).

with

groups as (
    select
        centre,
        kind,
        duration_bucket,
        duration_bucket_order,
        start_hour,
        count(*)     as periods,
        sum(seconds) as total_s
    from {{ ref('machine_stops') }}
    group by centre, kind, duration_bucket, duration_bucket_order, start_hour
),

ranked as (
    select
        *,
        row_number() over (
            partition by centre, kind
            order by total_s desc, duration_bucket_order, start_hour
        ) as pareto_rank,
        sum(total_s) over (partition by centre, kind) as kind_total_s
    from groups
),

cumulated as (
    select
        *,
        sum(total_s) over (
            partition by centre, kind
            order by pareto_rank
            rows between unbounded preceding and current row
        ) as cumulative_s
    from ranked
)

select
    centre,
    kind,
    duration_bucket,
    duration_bucket_order,
    start_hour,
    periods,
    trim_scale(total_s)                                         as total_s,
    round(total_s / 3600, 4)                                    as total_h,
    round(total_s / periods, 1)                                 as avg_s,
    pareto_rank,
    round(total_s / nullif(kind_total_s, 0), 4)                 as share,
    round(cumulative_s / nullif(kind_total_s, 0), 4)            as cumulative_share
from cumulated
