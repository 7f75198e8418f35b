{#
  Use a model's custom schema verbatim (`staging`, `intermediate`, `marts`, ...) instead of
  dbt's default `<target schema>_<custom schema>`: the warehouse schemas are a contract
  (DESIGN.md §7) that BI tools and the `bi_reader` role rely on, whatever the target.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
