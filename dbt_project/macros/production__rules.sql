{#
  Rules of the production domain (DESIGN.md §6.5), shared by marts.production_rejects and
  marts.production_fact so that both judge every raw row the same way in one run.

  production_as_of_date()
      "Today" for the FUTURE_DATE rule, as a SQL date literal: the `as_of_date` var when given
      (tests, replays: `--vars '{as_of_date: 2026-03-05}'`), else the plant-local date of the
      dbt invocation's start (`run_started_at` in FACTORY_PLANT_DB_TIMEZONE, default the plant
      time zone). Rendered at compile time, so every model of one run uses the same day, even
      across midnight.

  production_reject_reason(as_of)
      SQL CASE giving the reject reason of a row of stg_plant__production_raw, NULL when the
      row is valid. Rules in order, first match wins:
        NULL_KEY             plant, line or production_date missing (staging turns blanks into NULL)
        NEGATIVE_VALUES      produced_qty or scrap_qty below 0
        FUTURE_DATE          production_date after `as_of` (the plant-local date of the run)
        SCRAP_GT_PRODUCTION  scrap_qty greater than produced_qty
      A missing quantity means "none reported" and counts as 0 (see production_qty()).

  production_qty(column)
      The quantity used by the rules and the sums: NULL counts as 0.
#}
{% macro production_as_of_date() -%}
    {%- set override = var('as_of_date', none) -%}
    {%- if override -%}
        {%- set day = modules.datetime.date.fromisoformat(override | string) -%}
    {%- else -%}
        {%- set day = run_started_at.astimezone(modules.pytz.timezone(source_timezone_name('plant_db'))).date() -%}
    {%- endif -%}
    date '{{ day.isoformat() }}'
{%- endmacro %}

{% macro production_qty(column) -%}
    coalesce({{ column }}, 0)
{%- endmacro %}

{% macro production_reject_reason(as_of) -%}
    case
        when plant is null or line is null or production_date is null
            then 'NULL_KEY'
        when {{ production_qty('produced_qty') }} < 0 or {{ production_qty('scrap_qty') }} < 0
            then 'NEGATIVE_VALUES'
        when production_date > {{ as_of }}
            then 'FUTURE_DATE'
        when {{ production_qty('scrap_qty') }} > {{ production_qty('produced_qty') }}
            then 'SCRAP_GT_PRODUCTION'
    end
{%- endmacro %}
