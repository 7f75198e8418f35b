-- marts.data_quality_daily: every rejection of every domain, per (day, source, reason)
-- (DESIGN.md §7). These kinds of rejection feed it:
--   * rows rejected inside a file that was otherwise loaded (e.g. a bad log line, a CSV row with
--     an unparseable date), counted per row, on the day the data belongs to. Every file kind
--     writes them to the shared raw.ingest_rejects, so a new file kind appears here with no SQL
--     change;
--   * whole file versions that could not be loaded (ledger status quarantined, or failed
--     after its retries), counted per file version, on the plant-local day of the last status
--     change, with reason 'file_<status>';
--   * rows of SQL sources rejected by a mart's rules (production: marts.production_rejects),
--     counted per row with the mart's reason code; there is no file, so file_versions = 0.
-- A domain whose rejects come from SQL rules (not files) adds one CTE to the union below.

with

file_rows as (
    select
        day,
        source,
        reason,
        count(*)                        as rejected_rows,
        count(distinct file_version_id) as file_versions
    from {{ ref('stg_ingest__rejects') }}
    group by day, source, reason
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

production_rows as (
    -- production_raw rows rejected by the rules of DESIGN.md §6.5, on their production date;
    -- a row without one (NULL_KEY) counts on the plant-local day it was loaded (synced).
    select
        coalesce(
            production_date,
            (synced_at at time zone {{ source_timezone('plant_db') }})::date
        )                               as day,
        'plant'::text                   as source,
        reject_reason                   as reason,
        count(*)                        as rejected_rows,
        0::bigint                       as file_versions
    from {{ ref('production_rejects') }}
    group by 1, 2, 3
),

sql_sync_conversions as (
    -- Dirty values the SQL-source syncs converted so that their rows could load (NUL characters
    -- removed, zero or impossible MySQL dates loaded as NULL; README "SQL sources"): rows
    -- written with a converted value, on the plant-local day of the sync run, with reason
    -- '<conversion>:<SourceTable>.<SourceColumn>' (source spelling), e.g.
    -- 'zero_date_to_null:A_Logbuch.Datum', 'nul_removed:A_Logbuch.Notiz'. The rows are loaded,
    -- not rejected; an unchanged row re-read by a later run is not counted again.
    select
        (started_at at time zone {{ plant_timezone() }})::date as day,
        source,
        conversion || ':' || source_table || '.' || source_column as reason,
        sum(converted_rows)::bigint     as rejected_rows,
        0::bigint                       as file_versions
    from {{ ref('stg_sql_sources__sync_conversions') }}
    group by 1, 2, 3
),

inventory_lines as (
    -- OLTP lines of completed sales / receipts not applied to stock (DESIGN.md §6.6:
    -- INSUFFICIENT_STOCK, INVALID_*; marts.inventory_rejects), on their plant-local day.
    select
        movement_date                   as day,
        'oltp'::text                    as source,
        reason,
        count(*)                        as rejected_rows,
        0::bigint                       as file_versions
    from {{ ref('inventory_rejects') }}
    group by 1, 2, 3
),

operation_anomalies as (
    -- Field-level anomalies of accepted operation records (marts.operation_anomalies, DESIGN.md
    -- §6.4): the record was loaded with the field NULL (or kept, for OUT_OF_PIECE_RANGE), so it
    -- is counted per anomaly, not as a rejected record, on the operation's plant-local day, with
    -- reason 'anomaly:<CODE>:<field>' (e.g. 'anomaly:OUT_OF_RANGE:peso_effettivo'). Anomalies the
    -- operator reported (OPERATOR_REPORTED) are shop-floor events, not data defects: not counted.
    -- Operation records rejected whole come through raw.ingest_rejects (file_rows above).
    select
        day,
        'operations'::text              as source,
        'anomaly:' || code || coalesce(':' || regexp_replace(field, '\[[0-9]+\]$', ''), '') as reason,
        count(*)                        as rejected_rows,
        count(distinct file_version_id) as file_versions
    from {{ ref('operation_anomalies') }}
    where code <> 'OPERATOR_REPORTED'
    group by 1, 2, 3
),

unioned as (
    select * from file_rows
    union all
    select * from file_versions
    union all
    select * from production_rows
    union all
    select * from sql_sync_conversions
    union all
    select * from inventory_lines
    union all
    select * from operation_anomalies
)

select
    day,
    source,
    reason,
    rejected_rows,
    file_versions
from unioned
