{#
  Time zones of the SQL sources (DESIGN.md §4, §6.8): source timestamps without a zone are read
  in that source's time zone, `FACTORY_<SOURCE>_TIMEZONE` (ERP, MES, PLANT_DB, OLTP), which
  defaults to the plant time zone (`plant_timezone` var, then FACTORY_TIMEZONE, then
  Europe/Paris; see plant_timezone.sql).

    source_timezone_name('erp')  -> Europe/Paris           (a Python string, for Jinja)
    source_timezone('erp')       -> 'Europe/Paris'         (a quoted SQL literal)

  e.g. `(datum + zeit) at time zone {{ source_timezone('erp') }}` turns an ERP local date and
  time into a timestamptz.
#}
{% macro source_timezone_name(source_name=none) -%}
    {%- set override = env_var('FACTORY_' ~ (source_name | upper) ~ '_TIMEZONE', '') if source_name else '' -%}
    {{- return(override or var('plant_timezone', none) or env_var('FACTORY_TIMEZONE', 'Europe/Paris')) -}}
{%- endmacro %}

{% macro source_timezone(source_name=none) -%}
    '{{ source_timezone_name(source_name) | replace("'", "''") }}'
{%- endmacro %}
