{#-
  Data tests of a date-partitioned model test the run's dates only (DESIGN.md §8).

  dbt wraps the model a generic test reads in get_where_subquery(relation) (that is where a
  test's `where:` config applies). This override adds the partition window of the run
  (FACTORY_DBT_MIN_DATE / _MAX_DATE, or vars min_date / max_date: macros/partition_window.sql)
  when the relation is a model with meta.factory_partitions, on its date column
  (meta.factory_partition_column, default production_date).

  Why: a refresh run for one day's file rebuilds that day; its tests then checked every day
  of history again, and the staging and intermediate views they read re-derive all of it, so
  each file's run would slow down as the plant's history grows. A run with no window (a plain
  `dbt build` or `dbt test`, the unpartitioned models' runs) tests everything, as before.
-#}

{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set window = partition_test_window(relation) -%}
    {%- set predicates = [] -%}
    {%- if where -%}{%- do predicates.append('(' ~ where ~ ')') -%}{%- endif -%}
    {%- if window -%}{%- do predicates.append('(' ~ window ~ ')') -%}{%- endif -%}
    {%- if predicates -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ predicates | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#- The window predicate for `relation` if it is a partitioned model of this test and the run
    has a window, else none. Looked up among the nodes the test depends on. -#}
{% macro partition_test_window(relation) -%}
    {%- if not execute or relation is none or relation is string or model is not mapping -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- for uid in model.get('depends_on', {}).get('nodes', []) -%}
        {%- set node = graph.nodes.get(uid) -%}
        {%- if node and node.resource_type == 'model'
              and (node.alias or node.name) == relation.identifier
              and node.schema == relation.schema -%}
            {%- set meta = node.config.get('meta') or {} -%}
            {%- if meta.get('factory_partitions') -%}
                {%- set window = partition_date_window(meta.get('factory_partition_column') or 'production_date') | trim -%}
                {%- do return(none if window == 'true' else window) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do return(none) -%}
{%- endmacro %}
