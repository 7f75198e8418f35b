{#-
  The `view` materialization of this project (PostgreSQL), in place of dbt's own.

  Why. dbt's view materialization re-creates every view on every run: create a new view, rename
  the old one away, rename the new one in, write the comments, drop the old one with CASCADE, in
  about ten statements. A view reads its tables live, so a run that follows new data has nothing
  to change in it, yet paid that each time (and the runs of this platform follow new data: the
  sensors' and syncs' refresh runs, the nightly inventory run). The CASCADE also silently dropped
  any view built on the re-created one that the run did not select.

  What it does instead, in one statement (a DO block, one round trip):
    * PostgreSQL parses the model's SQL as a temporary view; when the existing view's definition
      is the same (pg_get_viewdef of both: PostgreSQL's own normalised text, so formatting and
      comments in the SQL do not count) the view is left as it is;
    * otherwise `create or replace view`, which keeps the views built on it, their grants and
      comments; a change PostgreSQL refuses in place (a column renamed, dropped or retyped)
      drops the old view with CASCADE and creates it again, as dbt's own materialization does;
    * the comments of the relation and its documented columns (persist_docs) are written only
      where they differ.
  An existing *table* of that name (a model switched from table to view) is dropped first.
  Contracts are checked as dbt does (get_assert_columns_equivalent), pre- and post-hooks and
  grants behave as in dbt's materialization. The node still reports success, so its data tests
  run and Dagster records the materialisation.
-#}
{% materialization view, adapter='postgres' %}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='view') -%}
    {%- set grant_config = config.get('grants') -%}
    {%- set sql_header = config.get('sql_header', none) -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    -- `BEGIN` happens here:
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- if config.get('contract').enforced %}
        {%- do get_assert_columns_equivalent(sql) %}
    {%- endif %}

    {%- if existing_relation is not none and not existing_relation.is_view %}
        {{ adapter.drop_relation(existing_relation) }}
        {%- set existing_relation = none %}
    {%- endif %}

    {% call statement('main') -%}
        {{ sql_header if sql_header is not none }}
        {{ factory_view_replace_if_changed(target_relation, sql, model) }}
    {%- endcall %}

    {%- if grant_config %}
        {%- set should_revoke = should_revoke(existing_relation, full_refresh_mode=True) %}
        {%- do apply_grants(target_relation, grant_config, should_revoke=should_revoke) %}
    {%- endif %}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{#-
  factory_view_replace_if_changed(relation, sql, model): the DO block described above.
  Literals travel dollar-quoted under tags that the text must not contain (checked: no
  '$factory_view…' in the SQL, no '$factory_doc…' in the docs, which covers the blocks' own tags).
-#}
{% macro factory_view_replace_if_changed(relation, sql, model) -%}
    {%- set name = relation.schema ~ '.' ~ relation.identifier %}
    {%- set qualified = adapter.quote(relation.schema) ~ '.' ~ adapter.quote(relation.identifier) %}
    {%- if '$factory_view' in sql %}
        {{ exceptions.raise_compiler_error("The text '$factory_view' is not allowed in the SQL of the view " ~ name) }}
    {%- endif %}
do $factory_view$
declare
    model_sql constant text := $factory_view_sql${{ sql }}$factory_view_sql$;
    target regclass := to_regclass({{ factory_relation_literal(relation) }});
    doc record;
    column_number smallint;
begin
    execute 'create temporary view factory_view_candidate as ' || model_sql;
    if target is null then
        execute 'create view {{ qualified }} as ' || model_sql;
    elsif pg_get_viewdef(target) is distinct from pg_get_viewdef('pg_temp.factory_view_candidate'::regclass) then
        begin
            execute 'create or replace view {{ qualified }} as ' || model_sql;
        exception when invalid_table_definition then
            -- a column renamed, dropped or retyped: PostgreSQL cannot replace in place
            raise notice 'view {{ name }}: % - dropping it (CASCADE) and creating it again', sqlerrm;
            execute 'drop view {{ qualified }} cascade';
            execute 'create view {{ qualified }} as ' || model_sql;
        end;
    end if;
    drop view pg_temp.factory_view_candidate;
    target := to_regclass({{ factory_relation_literal(relation) }});
    {{ factory_comments_plpgsql(model, 'view', config.persist_relation_docs(), config.persist_column_docs()) }}
end
$factory_view$;
{%- endmacro %}


{#-
  factory_persist_docs(relation, kind='table'): a DO block that writes the model's description
  and its columns' descriptions as COMMENTs on `relation`, each only where it differs from the
  comment already there. A post-hook for the incremental models, in place of dbt's
  persist_docs (which re-writes every comment of the model on every run, four statements).
  Set `persist_docs` off on the model, or dbt writes them as well.
-#}
{% macro factory_persist_docs(relation, kind='table') -%}
do $factory_docs$
declare
    target regclass := to_regclass({{ factory_relation_literal(relation) }});
    doc record;
    column_number smallint;
begin
    if target is null then
        return;
    end if;
    {{ factory_comments_plpgsql(model, kind, true, true) }}
end
$factory_docs$
{%- endmacro %}


{#-
  factory_comments_plpgsql(model, kind, for_relation, for_columns): PL/pgSQL statements (inside
  a block that declares `target regclass`, `doc record`, `column_number smallint`) writing the
  model's description on the relation and each documented column's description on that column,
  where it differs. Columns the relation does not have are skipped.
-#}
{% macro factory_comments_plpgsql(model, kind, for_relation, for_columns) -%}
    {%- set docs = [] %}
    {%- if for_columns %}
        {%- for column in model.columns.values() if column.description %}
            {%- do docs.append((column.name if column.quote else column.name | lower, column.description)) %}
        {%- endfor %}
    {%- endif %}
    {%- set relation_doc = model.description if (for_relation and model.description) else none %}
    {%- for text in [relation_doc or ''] + (docs | map(attribute=1) | list) %}
        {%- if '$factory_doc' in text %}
            {{ exceptions.raise_compiler_error("The text '$factory_doc' is not allowed in the docs of " ~ model.name) }}
        {%- endif %}
    {%- endfor %}
    {%- if relation_doc is not none %}
    if obj_description(target, 'pg_class') is distinct from $factory_doc${{ relation_doc }}$factory_doc$ then
        execute format('comment on {{ kind }} %s is %L', target, $factory_doc${{ relation_doc }}$factory_doc$);
    end if;
    {%- endif %}
    {%- if docs %}
    for doc in
        select * from (values
            {%- for column, description in docs %}
            ($factory_doc${{ column }}$factory_doc$, $factory_doc${{ description }}$factory_doc$){{ "," if not loop.last }}
            {%- endfor %}
        ) as d (column_name, description)
    loop
        select attnum into column_number
        from pg_attribute
        where attrelid = target and attname = doc.column_name and attnum > 0 and not attisdropped;
        if found and col_description(target, column_number) is distinct from doc.description then
            execute format('comment on column %s.%I is %L', target, doc.column_name, doc.description);
        end if;
    end loop;
    {%- endif %}
{%- endmacro %}


{#- factory_relation_literal(relation): '"schema"."name"' as a SQL string literal (for to_regclass). -#}
{% macro factory_relation_literal(relation) -%}
    '{{ (adapter.quote(relation.schema) ~ "." ~ adapter.quote(relation.identifier)) | replace("'", "''") }}'
{%- endmacro %}
