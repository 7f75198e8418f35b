-- marts.machine_sessions: one row per machine-log session = (centre, production date), with
-- the figures plant people read (DESIGN.md §6.1): durations in HOURS, rates in PERCENT of
-- the production span. The time accounting (interval unions, clipping) is done in
-- int_machine_logs__session_intervals; this model only converts, rounds and adds context.
--
-- Date-partitioned in Dagster (DESIGN.md §8): incremental, an incremental run rewrites only the
-- production dates between vars min_date and max_date (macros/partition_window.sql); without
-- the vars, or on the first build, every date is built.

{{ config(
    materialized='incremental',
    meta={'factory_partitions': 'machine_logs'},
    incremental_strategy='delete+insert',
    unique_key=['centre', 'production_date'],
    on_schema_change='fail',
    pre_hook="{{ partition_delete_hook('production_date') }}"
) }}

with

sessions as (
    select * from {{ ref('stg_machine_logs__sessions') }}
    {% if is_incremental() %}
    where {{ partition_date_window('production_date') }}
    {% endif %}
),

intervals as (
    select * from {{ ref('int_machine_logs__session_intervals') }}
),

job_profiles as (
    -- number of JobProfiel events = bars / jobs loaded during the session
    select centre, production_date, count(*) as job_profiles
    from {{ ref('stg_machine_logs__job_profiles') }}
    group by centre, production_date
),

final as (
    select
        s.centre,
        s.production_date,
        i.pieces,
        coalesce(jp.job_profiles, 0)             as job_profiles,
        i.first_piece_at,
        i.last_piece_at,
        round(i.production_span_s / 3600, 4)     as production_span_h,
        round(i.wait_s / 3600, 4)                as wait_h,
        round(i.stop_s / 3600, 4)                as stop_h,
        -- waits and stops overlapping each other count once here, so downtime_h can be less
        -- than wait_h + stop_h
        round(i.downtime_s / 3600, 4)            as downtime_h,
        round(i.effective_s / 3600, 4)           as effective_h,
        -- rates from the unrounded seconds; NULL (not 0, not an error) for an empty span
        round(100 * i.effective_s / nullif(i.production_span_s, 0), 2) as occupation_rate_pct,
        round(100 * i.wait_s / nullif(i.production_span_s, 0), 2)      as wait_rate_pct,
        round(100 * i.stop_s / nullif(i.production_span_s, 0), 2)      as stop_rate_pct,
        i.stops,
        i.waits,
        s.lines_in,
        s.lines_rejected,
        s.open_stop_closed_at_eof,
        s.file_version_id,
        s.loaded_at
    from sessions as s
    join intervals as i
        on  i.centre = s.centre
        and i.production_date = s.production_date
    left join job_profiles as jp
        on  jp.centre = s.centre
        and jp.production_date = s.production_date
)

select * from final
