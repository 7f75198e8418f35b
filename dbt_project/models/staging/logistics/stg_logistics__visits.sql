{{ config(meta={'factory_shared_tables': 'own_source'}) }}
-- (reads only this domain's rows of the shared ledger: another source's files do not make it stale)

-- Service visits with pseudonyms instead of personal data (DESIGN.md §6.7): the technician's
-- name becomes technician_key, the customer id becomes the customer's customer_key (from the
-- customers export; NULL while the customer is in no export, and after an erasure).
-- One row per accepted line of every loaded file version: a visit id may appear several times
-- (see int_logistics__visits for "last file wins by id"). The exports' times are local wall-clock
-- times: they become timestamptz in the logistics time zone (FACTORY_LOGISTICS_TIMEZONE, else the
-- plant's); the dates stay as written (they decide the SLA).
with customer_keys as (
    select distinct customer_id, customer_key
    from {{ source('logistics', 'customers') }}
)

select
    v.file_version_id,
    v.line_no,
    l.loaded_at             as file_loaded_at,
    v.visit_id,
    c.customer_key,
    t.technician_key,
    v.base,
    v.deadline_date,
    v.deadline_at at time zone {{ source_timezone('logistics') }} as deadline_at,
    v.visit_date,
    v.visited_at at time zone {{ source_timezone('logistics') }} as visited_at
from {{ source('logistics', 'visits') }} as v
join {{ source('ingest', 'ledger') }} as l
    on l.id = v.file_version_id
left join {{ source('logistics', 'technicians') }} as t
    on t.name = v.technician
left join customer_keys as c
    on c.customer_id = v.customer_id
