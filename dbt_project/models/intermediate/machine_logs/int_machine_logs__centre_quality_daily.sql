-- Quality inputs of OEE (DESIGN.md §6.2): produced and scrap quantities of the machine mapped
-- to each centre (seed centre_machines), per production date, from the plant database's
-- production_raw rows (stg_plant__production_raw).
--
-- Only rows that production_fact accepts count: the production domain's own rules decide
-- (macro production_reject_reason: NULL_KEY, NEGATIVE_VALUES, FUTURE_DATE,
-- SCRAP_GT_PRODUCTION), so OEE quality and production_fact never disagree on a row.
-- "Scrap known" = every valid row of that machine and date reports both quantities; otherwise
-- the day's quality is NULL rather than a figure computed from part of the data (the
-- production rules read a missing quantity as 0, which is right for sums but would make an
-- unreported scrap look like perfect quality).

with

centre_machines as (
    select centre, plant, line, machine_id
    from {{ ref('centre_machines') }}
),

valid_production as (
    select plant, line, machine_id, production_date, produced_qty, scrap_qty
    from {{ ref('stg_plant__production_raw') }}
    where {{ production_reject_reason(production_as_of_date()) }} is null
),

per_day as (
    select
        m.centre,
        p.production_date,
        count(*)                                                         as source_rows,
        bool_and(p.produced_qty is not null and p.scrap_qty is not null) as scrap_known,
        sum(p.produced_qty)                                              as produced_qty,
        sum(p.scrap_qty)                                                 as scrap_qty
    from centre_machines as m
    join valid_production as p
        on  p.plant = m.plant
        and p.line = m.line
        and p.machine_id = m.machine_id
    group by m.centre, p.production_date
)

select
    centre,
    production_date,
    source_rows,
    scrap_known,
    produced_qty,
    scrap_qty,
    case when scrap_known then produced_qty - scrap_qty end                      as good_qty,
    case when scrap_known and produced_qty > 0
         then round((produced_qty - scrap_qty)::numeric / produced_qty, 6) end      as quality
from per_day
