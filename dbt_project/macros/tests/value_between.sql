{#
  Fails for every non-NULL value outside [min, max] (both bounds inclusive; either bound may
  be omitted). NULL is accepted: add not_null where it is not.

    - value_between:
        arguments: {min: 0, max: 100}
#}
{% test value_between(model, column_name, min=none, max=none) %}
select {{ column_name }} as value
from {{ model }}
where {{ column_name }} is not null
  and (
        false
        {%- if min is not none %} or {{ column_name }} < {{ min }}{% endif %}
        {%- if max is not none %} or {{ column_name }} > {{ max }}{% endif %}
  )
{% endtest %}
