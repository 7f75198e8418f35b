-- Every rejected line or record of every landing-zone file kind (DESIGN.md §5). New file kinds
-- appear here, and in marts.data_quality_daily, with no SQL change.
select
    r.file_version_id,
    r.source,
    r.item_no,
    r.reason,
    r.detail,
    r.raw_text,
    coalesce(
        r.data_date,
        (coalesce(l.loaded_at, l.updated_at) at time zone {{ plant_timezone() }})::date
    ) as day
from {{ source('ingest', 'rejects') }} as r
join {{ source('ingest', 'ledger') }} as l
    on l.id = r.file_version_id
