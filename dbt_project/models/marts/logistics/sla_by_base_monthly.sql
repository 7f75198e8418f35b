-- Monthly roll-up of marts.sla_by_base_daily: visits by calendar month of the visit date.
select
    date_trunc('month', visit_date)::date     as month,
    base,
    sum(visits)::bigint                       as visits,
    sum(on_time_visits)::bigint               as on_time_visits,
    sum(late_visits)::bigint                  as late_visits,
    round(100.0 * sum(on_time_visits) / sum(visits), 2)::numeric(5, 2) as sla_pct
from {{ ref('sla_by_base_daily') }}
group by 1, 2
