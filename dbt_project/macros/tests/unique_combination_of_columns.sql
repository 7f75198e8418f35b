{#
  Fails for every combination of `combination_of_columns` that occurs more than once
  (a composite primary key, e.g. centre + production_date + line_no). Written here because
  dbt hub packages (dbt_utils) cannot be installed on the plant network.

    tests:
      - unique_combination_of_columns:
          arguments:
            combination_of_columns: [centre, production_date]
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
{%- set columns_csv = combination_of_columns | join(', ') %}
select {{ columns_csv }}, count(*) as occurrences
from {{ model }}
group by {{ columns_csv }}
having count(*) > 1
{% endtest %}
