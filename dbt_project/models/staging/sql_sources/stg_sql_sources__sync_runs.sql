-- One row per SQL-source table sync run (raw.sync_runs, README "SQL sources"), with the rows it
-- wrote (inserted or changed): the denominator of the conversion shares in
-- marts.data_quality_daily (a conversion is counted for the rows a run writes, so converted rows
-- of a run never exceed the rows it wrote). Like stg_sql_sources__sync_conversions, it reads the
-- bookkeeping table directly (not a dbt source: its rows come from every sync asset), and the
-- depends_on lines make every sync asset its parent (macros/sql_sources__synced_tables.sql).
{%- for source_name, table_name in sql_sources_synced_tables() %}
-- depends_on: {{ source(source_name, table_name) }}
{%- endfor %}

select
    id                                  as sync_run_id,
    source,
    table_name,
    run_id,
    status                              as run_status,
    started_at,
    rows_read,
    (rows_inserted + rows_updated)::bigint as rows_written
from raw.sync_runs
