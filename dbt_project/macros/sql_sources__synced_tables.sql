{#
  sql_sources_synced_tables() -> [(source, table), ...]: every table the SQL-source syncs mirror
  into raw (factory_assets/sql_sources/tables.py). The staging models over the sync bookkeeping
  (raw.sync_runs) write one `-- depends_on: {{ source(s, t) }}` line per entry, which makes each
  sync asset a parent of them in Dagster (lineage and automation). A table added to tables.py
  belongs in this list (tests/test_sql_sync_dirty_values.py checks it).
#}
{% macro sql_sources_synced_tables() -%}
    {{ return([
        ('erp', 'a_kopf'), ('erp', 'a_logbuch'), ('erp', 'a_kopffreie'), ('erp', 'a_vorgang'),
        ('erp', 'p_artikel'), ('erp', 'p_zubeh'),
        ('mes', 'ordine'), ('mes', 'pezzi'), ('mes', 'pezzi_ordine'), ('mes', 'magazzino'),
        ('plant', 'production_raw'),
        ('oltp', 'productos_maestro'), ('oltp', 'transacciones'), ('oltp', 'items_transaccion'),
        ('oltp', 'entradas_mercancia'),
    ]) }}
{%- endmacro %}
