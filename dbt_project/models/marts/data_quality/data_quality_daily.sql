-- marts.data_quality_daily: every rejection of every domain, per (day, source, reason)
-- (DESIGN.md §7), with the rows received that day that the rejections are a share of.
-- These kinds of rejection feed it:
--   * rows rejected inside a file that was otherwise loaded (e.g. a bad log line, a CSV row with
--     an unparseable date), counted per row, on the day the data belongs to. Every file kind
--     writes them to the shared raw.ingest_rejects, so a new file kind appears here with no SQL
--     change;
--   * whole file versions that could not be loaded (ledger status quarantined, or failed
--     after its retries), counted per file version, on the plant-local day of the last status
--     change, with reason 'file_<status>';
--   * rows of SQL sources rejected by a mart's rules (production: marts.production_rejects;
--     inventory: marts.inventory_rejects), counted per row with the mart's reason code; there
--     is no file, so file_versions = 0;
--   * values the SQL syncs converted so that their rows could load, and field-level anomalies
--     of accepted operation records (see their CTEs).
-- A domain whose rejects come from SQL rules (not files) adds one CTE to the union below.
--
-- rows_in, the denominator of share_of_rows = rejected_rows / rows_in, is one per reason family
-- (docs/data-quality.md "Data-quality view"); every CTE pairs its rejections with the rows they
-- were taken from, so the share is in [0, 1] by construction:
--   * file rows: rows_in (ledger) of every loaded file version that carries data of that day,
--     i.e. whose own day (its partition's date, else its plant-local load day) is that day or
--     that has a reject counted on that day. Generic over the ledger and raw.ingest_rejects;
--     a version whose rows span several days counts whole on each of them, so the share is
--     then a lower bound;
--   * file_quarantined / file_failed: file versions of the source settled that day (loaded,
--     duplicate, superseded, quarantined or failed), on the same day as the numerator;
--   * plant: production_raw rows of that production date (or synced that day, without one);
--   * oltp (inventory): transaction lines of completed sales and receipts of that day;
--   * SQL sync conversions: rows the syncs of that source table wrote that day;
--   * operation anomalies: accepted operation records of that day.
-- rows_in is NULL when it is unknown (a file version without rows_in in the ledger).

with

ledger as (
    select * from {{ ref('stg_ingest__ledger') }}
),

-- ---- file kinds: rows rejected inside loaded files ------------------------------------------

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

file_version_days as (
    -- (file version, day) pairs: the day a loaded version's rows count on when they do not say
    -- (its partition's date, e.g. a machine log's production date, else its plant-local load
    -- day, as stg_ingest__rejects falls back to) plus every day one of its rejects counts on.
    select
        file_version_id,
        case
            when partition_key ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' then partition_key::date
            else (coalesce(loaded_at, updated_at) at time zone {{ plant_timezone() }})::date
        end                             as day
    from ledger
    where status = 'loaded'
    union
    select file_version_id, day
    from {{ ref('stg_ingest__rejects') }}
),

file_rows_in as (
    select
        v.day,
        l.source,
        -- unknown as soon as one version does not say how many rows it had
        case when count(*) = count(l.rows_in) then sum(l.rows_in) end::bigint as rows_in
    from file_version_days as v
    join ledger as l
        on l.file_version_id = v.file_version_id
    group by 1, 2
),

-- ---- file kinds: whole file versions not loaded ---------------------------------------------

settled_versions as (
    -- Only the current state of each version counts: a version retried and then loaded
    -- is not a rejection. Days are plant-local, like every other day in the marts.
    select
        (
            case
                when status in ('quarantined', 'failed') then updated_at
                else coalesce(loaded_at, updated_at)
            end at time zone {{ plant_timezone() }}
        )::date                         as day,
        source,
        status
    from ledger
    where status in ('loaded', 'duplicate', 'superseded', 'quarantined', 'failed')
),

file_versions as (
    select
        day,
        source,
        'file_' || status               as reason,
        count(*)                        as rejected_rows,
        count(*)                        as file_versions
    from settled_versions
    where status in ('quarantined', 'failed')
    group by 1, 2, 3
),

file_versions_in as (
    select day, source, count(*)::bigint as rows_in
    from settled_versions
    group by 1, 2
),

-- ---- plant: production_raw rows rejected by the rules of DESIGN.md §6.5 ---------------------

production_rows as (
    -- on their production date; a row without one (NULL_KEY) counts on the plant-local day it
    -- was loaded (synced).
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

production_rows_in as (
    select
        coalesce(
            production_date,
            (synced_at at time zone {{ source_timezone('plant_db') }})::date
        )                               as day,
        count(*)::bigint                as rows_in
    from {{ ref('stg_plant__production_raw') }}
    group by 1
),

-- ---- SQL-source syncs: dirty values converted so that their rows could load -----------------

sql_sync_conversions as (
    -- NUL characters removed, zero or impossible MySQL dates loaded as NULL (README "SQL
    -- sources"): rows written with a converted value, on the plant-local day of the sync run,
    -- with reason '<conversion>:<SourceTable>.<SourceColumn>' (source spelling), e.g.
    -- 'zero_date_to_null:A_Logbuch.Datum', 'nul_removed:A_Logbuch.Notiz'. The rows are loaded,
    -- not rejected; an unchanged row re-read by a later run is not counted again.
    select
        (started_at at time zone {{ plant_timezone() }})::date as day,
        source,
        table_name,
        conversion || ':' || source_table || '.' || source_column as reason,
        sum(converted_rows)::bigint     as rejected_rows,
        0::bigint                       as file_versions
    from {{ ref('stg_sql_sources__sync_conversions') }}
    group by 1, 2, 3, 4
),

sql_sync_rows_in as (
    -- rows the runs of that day wrote into that table (the conversions are counted on them)
    select
        (started_at at time zone {{ plant_timezone() }})::date as day,
        source,
        table_name,
        sum(rows_written)::bigint       as rows_in
    from {{ ref('stg_sql_sources__sync_runs') }}
    group by 1, 2, 3
),

-- ---- oltp: inventory lines not applied to stock ---------------------------------------------

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

inventory_lines_in as (
    -- every line of the stock card: the lines of completed sales and receipts, applied or not
    select
        (moved_at at time zone {{ plant_timezone() }})::date as day,
        count(*)::bigint                as rows_in
    from {{ ref('int_inventory__stock_movements') }}
    where product_id is not null  -- not a tombstone of a line that no longer counts
    group by 1
),

-- ---- operations: field-level anomalies of accepted records ----------------------------------

operation_anomalies as (
    -- marts.operation_anomalies, DESIGN.md §6.4: the record was loaded with the field NULL (or
    -- kept, for OUT_OF_PIECE_RANGE), so it is counted per anomaly, not as a rejected record, on
    -- the operation's plant-local day, with reason 'anomaly:<CODE>:<field>' (e.g.
    -- 'anomaly:OUT_OF_RANGE:peso_effettivo'). Anomalies the operator reported
    -- (OPERATOR_REPORTED) are shop-floor events, not data defects: not counted. Operation
    -- records rejected whole come through raw.ingest_rejects (file_rows above).
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

operation_records_in as (
    -- accepted records on the same day as their anomalies (marts.operation_anomalies.day)
    select
        coalesce(
            (coalesce(started_at, ended_at) at time zone {{ plant_timezone() }})::date,
            (loaded_at at time zone {{ plant_timezone() }})::date
        )                               as day,
        count(*)::bigint                as rows_in
    from {{ ref('stg_operations__operations') }}
    group by 1
),

-- ---- each family with its denominator -------------------------------------------------------

unioned as (
    select r.day, r.source, r.reason, r.rejected_rows, r.file_versions, d.rows_in
    from file_rows as r
    left join file_rows_in as d
        on d.day = r.day and d.source = r.source
    union all
    select r.day, r.source, r.reason, r.rejected_rows, r.file_versions, d.rows_in
    from file_versions as r
    left join file_versions_in as d
        on d.day = r.day and d.source = r.source
    union all
    select r.day, r.source, r.reason, r.rejected_rows, r.file_versions, d.rows_in
    from production_rows as r
    left join production_rows_in as d
        on d.day = r.day
    union all
    select r.day, r.source, r.reason, r.rejected_rows, r.file_versions, d.rows_in
    from sql_sync_conversions as r
    left join sql_sync_rows_in as d
        on d.day = r.day and d.source = r.source and d.table_name = r.table_name
    union all
    select r.day, r.source, r.reason, r.rejected_rows, r.file_versions, d.rows_in
    from inventory_lines as r
    left join inventory_lines_in as d
        on d.day = r.day
    union all
    select r.day, r.source, r.reason, r.rejected_rows, r.file_versions, d.rows_in
    from operation_anomalies as r
    left join operation_records_in as d
        on d.day = r.day
)

select
    day,
    source,
    reason,
    rejected_rows,
    file_versions,
    rows_in,
    -- trailing zeros trimmed: 3/160 is 0.01875, not 0.01875000000000000000
    case
        when rows_in > 0 then trim_scale(rejected_rows::numeric / rows_in)
    end::numeric                        as share_of_rows
from unioned
