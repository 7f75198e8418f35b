-- marts.production_fact: valid production per (production_date, plant, line) (DESIGN.md §6.5).
-- Valid = no reject rule applies (macros/production__rules.sql; the others are in
-- production_rejects). NULL quantities count as 0.
--
-- Incremental. A run recomputes whole production dates, and only the "touched" ones:
--   (a) dates of raw rows synced (inserted or corrected, valid or not) since the newest
--       `last_synced_at` already in the table, minus a safety overlap
--       (var production_fact_overlap_minutes, default 60) for sync transactions that commit
--       late with an earlier timestamp;
--   (b) dates where the set of valid raw rows per key no longer matches the table (count per
--       (date, plant, line) differs). This catches what has no new `_synced_at`: an earlier
--       FUTURE_DATE reject whose date has arrived (plant-local "today" of the run, or the
--       `as_of_date` var), a row deleted at the source or moved to another date / plant / line,
--       and rows that became future again when `as_of_date` is set back. It costs one
--       count-per-key pass over raw; rows are only rewritten for touched dates.
-- On a touched date, a key whose figures are unchanged is not rewritten (its loaded_at stays:
-- a rerun without changes leaves the table identical). A key that lost all its valid rows is
-- emitted as a tombstone (valid_rows = 0), which replaces the old row through the unique key
-- and is deleted by the post-hook in the same transaction.

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['production_date', 'plant', 'line'],
    on_schema_change='fail',
    post_hook=["delete from {{ this }} where valid_rows = 0"]
) }}

{%- set as_of = production_as_of_date() %}

with

checked as (
    select
        *,
        {{ production_reject_reason(as_of) }} as reject_reason
    from {{ ref('stg_plant__production_raw') }}
),

valid as (
    select * from checked where reject_reason is null
),

{% if is_incremental() %}

watermark as (
    select
        coalesce(max(last_synced_at), '-infinity'::timestamptz)
            - interval '{{ var("production_fact_overlap_minutes", 60) | int }} minutes' as synced_after
    from {{ this }}
),

-- (a) new or corrected raw rows since the last run
synced_dates as (
    select distinct c.production_date
    from checked as c
    cross join watermark as w
    where c.synced_at > w.synced_after
      and c.production_date is not null
),

-- (b) keys whose valid row count differs from the table: arrived future dates, deletions, moves
current_counts as (
    select production_date, plant, line, count(*) as valid_rows
    from valid
    group by production_date, plant, line
),

reconciled_dates as (
    select distinct coalesce(c.production_date, t.production_date) as production_date
    from current_counts as c
    full outer join {{ this }} as t
        on  t.production_date = c.production_date
        and t.plant = c.plant
        and t.line = c.line
    where c.valid_rows is distinct from t.valid_rows
),

touched_dates as (
    select production_date from synced_dates
    union
    select production_date from reconciled_dates
),

{% endif %}

aggregated as (
    select
        production_date,
        plant,
        line,
        sum({{ production_qty('produced_qty') }})::bigint  as produced_qty,
        sum({{ production_qty('scrap_qty') }})::bigint     as scrap_qty,
        count(*)::bigint                                   as valid_rows,
        max(synced_at)                                     as last_synced_at
    from valid
    {%- if is_incremental() %}
    where production_date in (select production_date from touched_dates)
    {%- endif %}
    group by production_date, plant, line
),

{% if is_incremental() %}

existing as (
    select *
    from {{ this }}
    where production_date in (select production_date from touched_dates)
),

batch as (
    -- new keys, and keys whose figures changed
    select a.*
    from aggregated as a
    left join existing as e
        on  e.production_date = a.production_date
        and e.plant = a.plant
        and e.line = a.line
    where e.production_date is null
       or (a.produced_qty, a.scrap_qty, a.valid_rows, a.last_synced_at)
          is distinct from (e.produced_qty, e.scrap_qty, e.valid_rows, e.last_synced_at)

    union all

    -- tombstones: keys of a touched date without any valid row left (removed by the post-hook)
    select
        e.production_date,
        e.plant,
        e.line,
        0::bigint as produced_qty,
        0::bigint as scrap_qty,
        0::bigint as valid_rows,
        e.last_synced_at
    from existing as e
    where not exists (
        select 1
        from aggregated as a
        where a.production_date = e.production_date
          and a.plant = e.plant
          and a.line = e.line
    )
)

{% else %}

batch as (
    select * from aggregated
)

{% endif %}

select
    production_date::date                                           as production_date,
    plant::text                                                     as plant,
    line::text                                                      as line,
    produced_qty::bigint                                            as produced_qty,
    scrap_qty::bigint                                               as scrap_qty,
    (produced_qty - scrap_qty)::bigint                              as good_qty,
    (case when produced_qty > 0
          then round(scrap_qty::numeric / produced_qty, 4) end)::numeric(5, 4) as scrap_rate,
    valid_rows::bigint                                              as valid_rows,
    last_synced_at::timestamptz                                     as last_synced_at,
    '{{ run_started_at.isoformat() }}'::timestamptz                  as loaded_at
from batch
