-- marts.production_rejects: one row per raw production row that production_fact does not
-- count, with the first rule it breaks (DESIGN.md §6.5; rules in macros/production__rules.sql):
-- NULL_KEY, NEGATIVE_VALUES, FUTURE_DATE, SCRAP_GT_PRODUCTION. Rebuilt on every run, so it is
-- always today's verdict: a FUTURE_DATE row leaves this table (and enters production_fact)
-- once its date arrives, a corrected row leaves it when the correction is synced.

with checked as (
    select
        *,
        {{ production_reject_reason(production_as_of_date()) }} as reject_reason
    from {{ ref('stg_plant__production_raw') }}
)

select
    production_raw_id::bigint           as production_raw_id,
    reject_reason::text                 as reject_reason,
    production_date::date               as production_date,
    plant::text                         as plant,
    line::text                          as line,
    machine_id::text                    as machine_id,
    produced_qty::integer               as produced_qty,
    scrap_qty::integer                  as scrap_qty,
    created_at::timestamptz             as created_at,
    synced_at::timestamptz              as synced_at,
    {{ production_as_of_date() }}       as as_of_date
from checked
where reject_reason is not null
