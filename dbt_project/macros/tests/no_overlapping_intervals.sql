{#
  Fails for every pair of rows of the same partition whose [started_at, ended_at) intervals
  overlap (touching intervals, where one ends when the next starts, are fine). Used on the
  resolved shift calendar: overlapping shifts would count the same minute twice in OEE.

    data_tests:
      - no_overlapping_intervals:
          arguments:
            partition_by: [centre]
            started_at: shift_start_at
            ended_at: shift_end_at
#}
{% test no_overlapping_intervals(model, partition_by, started_at='started_at', ended_at='ended_at') %}
{%- set partition_csv = partition_by | join(', ') %}
with numbered as (
    select
        {{ partition_csv }},
        {{ started_at }} as started_at,
        {{ ended_at }}   as ended_at,
        row_number() over (
            partition by {{ partition_csv }}
            order by {{ started_at }}, {{ ended_at }}
        ) as rn
    from {{ model }}
)
-- rows are numbered by start, so a later row overlaps an earlier one iff it starts before
-- that one ends
select
    {% for col in partition_by %}a.{{ col }}, {% endfor %}
    a.started_at, a.ended_at,
    b.started_at as other_started_at,
    b.ended_at   as other_ended_at
from numbered as a
join numbered as b
    on  {% for col in partition_by %}b.{{ col }} = a.{{ col }} and {% endfor %}b.rn > a.rn
    and b.started_at < a.ended_at
{% endtest %}
