{#
  interval_union_islands(relation, partition_by, started_at, ended_at)

  Merges overlapping (or touching) intervals into disjoint "islands", per partition, so that a
  time during which several periods overlap is counted once (DESIGN.md §6.1: overlapping waits
  and stops are counted once). Returns a SELECT (usable as a CTE body or a subquery) with the
  partition columns plus `island_started_at`, `island_ended_at`.

  Gaps-and-islands with window functions, one sort per partition:
    1. order the intervals by start; for each one, the running MAX(ended_at) of all the
       intervals before it is the end of the island built so far;
    2. an interval starts a new island when it starts after that end (a gap), otherwise it
       extends the current island (MAX, not the previous row's end: a long interval can cover
       several later short ones);
    3. a running SUM of the "starts an island" flags numbers the islands;
    4. each island spans MIN(start) .. MAX(end) of its intervals.

  Expects ended_at >= started_at (clip and filter before calling). `relation` may be a CTE name.
#}
{% macro interval_union_islands(relation, partition_by, started_at='started_at', ended_at='ended_at') %}
{%- set partition_csv = partition_by | join(', ') -%}
select
    {{ partition_csv }},
    island_no,
    min(started_at) as island_started_at,
    max(ended_at)   as island_ended_at
from (
    select
        *,
        -- 3. running count of island starts = island number within the partition
        sum(starts_island) over (
            partition by {{ partition_csv }}
            order by started_at, ended_at
            rows between unbounded preceding and current row
        ) as island_no
    from (
        select
            {{ partition_csv }},
            {{ started_at }} as started_at,
            {{ ended_at }}   as ended_at,
            -- 1.+2. new island when this interval starts after every earlier one has ended
            case
                when {{ started_at }} <= max({{ ended_at }}) over (
                        partition by {{ partition_csv }}
                        order by {{ started_at }}, {{ ended_at }}
                        rows between unbounded preceding and 1 preceding
                     )
                then 0
                else 1   -- first interval (running max is NULL) or after a gap
            end as starts_island
        from {{ relation }}
    ) as flagged
) as numbered
group by {{ partition_csv }}, island_no
{% endmacro %}
