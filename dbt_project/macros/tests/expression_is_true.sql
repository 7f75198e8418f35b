{#
  Fails for every row where the boolean SQL `expression` is false (rows where it is NULL
  pass, as in a CHECK constraint). Restrict the rows with the standard `config: {where: ...}`.

    data_tests:
      - expression_is_true:
          arguments:
            expression: "effective_h <= production_span_h"
#}
{% test expression_is_true(model, expression) %}
select *
from {{ model }}
where not ({{ expression }})
{% endtest %}
