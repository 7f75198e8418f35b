-- Dirty source values the SQL-source syncs converted so that the row could load (README "SQL
-- sources"): one row per (sync run, source column, conversion) from raw.sync_runs.conversions,
-- {"<Table>.<Column>": {"<conversion>": rows}}. Counts are of the rows the run wrote (inserted or
-- changed), so the counts of several runs add up.
--
-- raw.sync_runs is bookkeeping that every SQL-source sync asset writes in the same transaction as
-- its mirror rows; it is not a dbt source of its own, because Dagster maps a dbt source to one
-- asset and these rows come from all of them. The depends_on lines below make each sync asset a
-- parent of this model instead (lineage and automation: a sync refreshes the data-quality mart).
-- The tables are listed in macros/sql_sources__synced_tables.sql.
{%- for source_name, table_name in sql_sources_synced_tables() %}
-- depends_on: {{ source(source_name, table_name) }}
{%- endfor %}

select
    runs.id                                         as sync_run_id,
    runs.source,
    runs.table_name,
    runs.run_id,
    runs.status                                     as run_status,
    runs.started_at,
    split_part(col.key, '.', 1)                     as source_table,
    substr(col.key, strpos(col.key, '.') + 1)       as source_column,
    kind.key                                        as conversion,
    kind.value::bigint                              as converted_rows
from raw.sync_runs as runs
cross join lateral jsonb_each(runs.conversions) as col
cross join lateral jsonb_each_text(col.value) as kind
where runs.conversions <> '{}'
