{#
  sql_sources_rows_deleted_since(source, table, since) -> a SQL boolean: whether a sync run of
  raw.<source>__<table> deleted rows (snapshot mode: keys no longer at the source) and finished
  after `since` (a SQL timestamptz expression; NULL: at any time). The sync writes rows_deleted
  to raw.sync_runs in the transaction that deletes the rows, so a reader that sees the count also
  sees the deletions, and stamps finished_at after that transaction committed: a deletion that a
  model's run started at `since` could not see has finished_at > since. Lets an incremental model look for deleted keys only after a deletion
  instead of comparing every key on every run. A run still without finished_at counts (it was
  interrupted or is under way). dbt unit tests can override it with 'true' or 'false'.
#}
{% macro sql_sources_rows_deleted_since(source, table, since) -%}
    exists (
        select 1
        from raw.sync_runs as r
        where r.source = '{{ source }}'
          and r.table_name = '{{ table }}'
          and r.rows_deleted > 0
          and (r.finished_at is null or ({{ since }}) is null or r.finished_at > ({{ since }}))
    )
{%- endmacro %}
