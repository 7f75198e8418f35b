-- Productivity per technician and calendar month (DESIGN.md §6.7): visits / business days, where
-- business days = Monday to Friday of the WHOLE calendar month minus the weekday holidays of the
-- seed logistics_holidays (empty by default). A month in progress counts all its business days.
with visits as (
    select
        date_trunc('month', visit_date)::date as month,
        technician_key,
        count(*)::bigint                      as visits
    from {{ ref('int_logistics__visits') }}
    group by 1, 2
),

holidays as (
    select distinct holiday_date
    from {{ ref('logistics_holidays') }}
    where holiday_date is not null
),

business_days as (
    select
        m.month,
        count(*) filter (
            where extract(isodow from d.day) < 6 and h.holiday_date is null
        )::integer as business_days
    from (select distinct month from visits) as m
    cross join lateral generate_series(
        m.month, (m.month + interval '1 month' - interval '1 day')::date, interval '1 day'
    ) as d(day)
    left join holidays as h
        on h.holiday_date = d.day::date
    group by m.month
)

select
    v.month,
    v.technician_key,
    v.visits,
    b.business_days,
    round(v.visits::numeric / nullif(b.business_days, 0), 2)::numeric(10, 2) as visits_per_business_day
from visits as v
join business_days as b
    on b.month = v.month
