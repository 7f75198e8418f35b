{{ config(meta={'factory_shared_tables': 'own_source'}) }}
-- (reads only this domain's rows of the shared ledger: another source's files do not make it stale)

-- Customers without their personal data (DESIGN.md §6.7): the pseudonym and what was given.
-- Name, email and phone stay in raw.logistics__customers, which the BI role cannot read.
select
    c.file_version_id,
    c.line_no,
    l.loaded_at             as file_loaded_at,
    c.customer_key,
    c.email is not null     as has_email,
    c.phone is not null     as has_phone
from {{ source('logistics', 'customers') }} as c
join {{ source('ingest', 'ledger') }} as l
    on l.id = c.file_version_id
