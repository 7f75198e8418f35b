{#
  Read-only access for BI tools (DESIGN.md §7): `bi_reader` may read `marts` only.
  Called from `on-run-end` because table materialisations re-create the relations (and drop
  their grants) on every build. Does nothing when the role or the schema does not exist, so a
  fresh warehouse or a partial `dbt build --select staging` never fails on it.
#}
{% macro grant_bi_reader(role='bi_reader', schema='marts') -%}
do $grant$
begin
    if exists (select 1 from pg_roles where rolname = '{{ role }}')
       and exists (select 1 from pg_namespace where nspname = '{{ schema }}') then
        execute format('grant usage on schema %I to %I', '{{ schema }}', '{{ role }}');
        execute format('grant select on all tables in schema %I to %I', '{{ schema }}', '{{ role }}');
    end if;
end
$grant$
{%- endmacro %}
