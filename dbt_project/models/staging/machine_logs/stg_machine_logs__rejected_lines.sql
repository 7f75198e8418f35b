{{ config(meta={'factory_partitions': none, 'factory_shared_tables': 'own_source'}) }}

-- Lines of the current machine-log sessions that could not be parsed, one row each with its
-- reason code. They live in the shared reject table (raw.ingest_rejects) since the ingestion
-- core became one mechanism for every file kind; this view keeps the machine-log shape.
-- Not date-partitioned: it reads the shared reject table, which every ingestion run updates;
-- partitioned, each such update would make every date of it look out of date.
select
    s.centre,
    s.production_date,
    r.file_version_id,
    r.item_no::integer as line_no,
    r.reason,
    r.detail,
    r.raw_text        as line_text
from {{ source('ingest', 'rejects') }} as r
join {{ source('machine_logs', 'sessions') }} as s
    on s.file_version_id = r.file_version_id
where r.source = 'machine_logs'
