-- SLA per technician and visit date (DESIGN.md §6.7). A visit is on time when it was done on or
-- before its deadline DATE: a visit later on the deadline day itself is on time.
select
    visit_date,
    technician_key,
    count(*)::bigint                                                       as visits,
    count(*) filter (where {{ logistics_on_time('visit_date', 'deadline_date') }})::bigint     as on_time_visits,
    count(*) filter (where not {{ logistics_on_time('visit_date', 'deadline_date') }})::bigint as late_visits,
    round(
        100.0 * count(*) filter (where {{ logistics_on_time('visit_date', 'deadline_date') }}) / count(*), 2
    )::numeric(5, 2)                                                       as sla_pct
from {{ ref('int_logistics__visits') }}
group by visit_date, technician_key
