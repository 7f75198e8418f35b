{#
  The plant-local time zone (DESIGN.md §4): `--vars '{plant_timezone: ...}'` wins, then the
  FACTORY_TIMEZONE environment variable, then Europe/Paris. Returned as a quoted SQL literal,
  ready for `ts at time zone {{ plant_timezone() }}`.
#}
{% macro plant_timezone() -%}
    {%- set tz = var('plant_timezone', none) or env_var('FACTORY_TIMEZONE', 'Europe/Paris') -%}
    '{{ tz | replace("'", "''") }}'
{%- endmacro %}
