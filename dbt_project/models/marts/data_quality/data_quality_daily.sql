-- marts.data_quality_daily: every rejection of every domain, per (day, source, reason)
-- (DESIGN.md §7). Two kinds of rejection feed it:
--   * rows rejected inside a file that was otherwise loaded (e.g. a bad log line), counted
--     per row, on the day the data belongs to (production date);
--   * whole file versions that could not be loaded (ledger status quarantined, or failed
--     after its retries), counted per file version, on the plant-local day of the last status
--     change, with reason 'file_<status>'.
-- Each domain adds its row-level rejects as one more CTE in the union below.

with

machine_log_lines as (
    select
        production_date                 as day,
        'machine_logs'::text            as source,
        reason,
        count(*)                        as rejected_rows,
        count(distinct file_version_id) as file_versions
    from {{ ref('stg_machine_logs__rejected_lines') }}
    group by production_date, reason
),

file_versions as (
    -- Only the current state of each version counts: a version retried and then loaded
    -- is not a rejection. Days are plant-local, like every other day in the marts.
    select
        (updated_at at time zone {{ plant_timezone() }})::date as day,
        source,
        'file_' || status               as reason,
        count(*)                        as rejected_rows,
        count(*)                        as file_versions
    from {{ ref('stg_ingest__ledger') }}
    where status in ('quarantined', 'failed')
    group by 1, 2, 3
),

unioned as (
    select * from machine_log_lines
    union all
    select * from file_versions
)

select
    day,
    source,
    reason,
    rejected_rows,
    file_versions
from unioned
