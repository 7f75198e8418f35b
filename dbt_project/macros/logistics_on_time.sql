{#
  The SLA rule of the logistics marts (DESIGN.md §6.7): a visit is on time when it was done on or
  before its deadline DATE — a visit later on the deadline day itself is on time. Dates only:
  the time of day of either value never matters.
#}
{% macro logistics_on_time(visit_date, deadline_date) -%}
({{ visit_date }} <= {{ deadline_date }})
{%- endmacro %}
