{#-
  Production-date window of a partitioned run (DESIGN.md §8).

  Dagster runs the machine-log models one date partition (or a range of them) at a time and
  passes the range in the environment (FACTORY_DBT_MIN_DATE / FACTORY_DBT_MAX_DATE, both inclusive;
  vars changing with every run would make dbt re-parse the whole project each time). By hand:
  `dbt build --vars '{"min_date": "2026-03-01", "max_date": "2026-03-03"}'`. Without either the
  window is every date: a plain `dbt build` rebuilds everything.

  partition_date_window(column): a SQL predicate on `column` (a date), `true` without vars.
  partition_delete_hook(column): pre-hook of the incremental machine-log marts: in an incremental
  run, delete the window's rows before the model inserts the window again, in the same
  transaction. delete+insert alone only replaces keys that are still produced; this also drops
  rows that disappeared (a stop no longer in the new version of a file, a removed session), so
  a run for one day rewrites exactly that day and leaves every other day untouched.
-#}

{% macro partition_date_window(column='production_date') -%}
    {#- vars win; the platform passes the window in the environment (FACTORY_DBT_MIN_DATE /
        FACTORY_DBT_MAX_DATE) so that a run per date does not make dbt re-parse the whole project -#}
    {%- set min_date = var('min_date', env_var('FACTORY_DBT_MIN_DATE', '') or none) -%}
    {%- set max_date = var('max_date', env_var('FACTORY_DBT_MAX_DATE', '') or none) -%}
    {%- if min_date is not none and max_date is not none -%}
        {{ column }} between '{{ min_date }}'::date and '{{ max_date }}'::date
    {%- elif min_date is not none or max_date is not none -%}
        {{ exceptions.raise_compiler_error("vars min_date and max_date go together (got min_date=" ~ min_date ~ ", max_date=" ~ max_date ~ ")") }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{% macro partition_delete_hook(column='production_date') -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ partition_date_window(column) }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
