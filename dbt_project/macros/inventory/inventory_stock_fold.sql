{#-
  The moving-average cost and stock rules of DESIGN.md §6.6 as a PostgreSQL aggregate.

  Why an aggregate: the cost is path dependent (it is rounded to cents at every receipt, and a
  sale that would drive stock negative is not applied, so the stock itself depends on the
  order of earlier movements). No closed form over window sums exists; the rules must be
  folded movement by movement, per product, in transaction order. A custom aggregate used as a
  window function does exactly that in one sorted pass inside PostgreSQL:

      intermediate.inventory_stock_fold(opening, movement_type, quantity, unit_value, moved_at, invalid_reason)
          over (partition by product_id order by moved_at, transaction_id, item_id
                rows between unbounded preceding and current row)

  returns, for every movement, the state after it (an `intermediate.inventory_stock_state`).
  The arithmetic is PostgreSQL `numeric` with `round(numeric, 2)`, i.e. exactly the figures the
  stored procedure this replaces computed, and it costs about 2-3 µs per movement (PL/pgSQL),
  so a million movements fold in a few seconds. `opening` is the state to start from: NULL for
  a product replayed from its first movement, the product's last stored state when an
  incremental run only folds its new movements (int_inventory__stock_movements).

  Per movement (DESIGN.md §6.6):
    * invalid_reason not NULL (bad quantity / unit cost / sale price, decided in SQL before the
      fold) -> outcome = that reason, state unchanged;
    * RECEIPT: avg_cost = round((stock * avg_cost + quantity * unit_value) / (stock + quantity), 2),
      or unit_value when stock + quantity = 0; stock += quantity; outcome APPLIED;
    * SALE with quantity > stock: outcome INSUFFICIENT_STOCK, state unchanged (not applied);
    * SALE otherwise: stock -= quantity; last_sale_price = unit_value, last_sale_at = moved_at;
      outcome APPLIED.

  inventory_create_stock_fold() (on-run-start, dbt_project.yml) creates the type, the
  transition function and the aggregate in the `intermediate` schema, once: the objects carry
  the md5 of their definition as a comment and are dropped and re-created only when the
  definition in this file changes. An advisory lock serialises concurrent dbt invocations.
  Nothing but the aggregate depends on the type, so re-creating it never touches data.
-#}

{% macro inventory_fold_schema() -%}
    intermediate
{%- endmacro %}

{% macro inventory_create_stock_fold() -%}
{%- set s = inventory_fold_schema() -%}
{%- set ddl -%}
    create type {{ s }}.inventory_stock_state as (
        stock           numeric,
        avg_cost        numeric,
        last_sale_price numeric,
        last_sale_at    timestamptz,
        last_receipt_at timestamptz,
        outcome         text
    );

    create function {{ s }}.inventory_stock_step(
        state          {{ s }}.inventory_stock_state,
        opening        {{ s }}.inventory_stock_state,
        movement_type  text,
        quantity       numeric,
        unit_value     numeric,
        moved_at       timestamptz,
        invalid_reason text
    ) returns {{ s }}.inventory_stock_state
    language plpgsql immutable parallel safe
    as $step$
    begin
        if state is null then
            -- first movement of this fold: start from the given state, or from nothing
            state := coalesce(opening, row(0, null, null, null, null, null)::{{ s }}.inventory_stock_state);
        end if;
        if invalid_reason is not null then
            state.outcome := invalid_reason;
        elsif movement_type = 'RECEIPT' then
            if state.stock + quantity = 0 then
                state.avg_cost := unit_value;
            else
                state.avg_cost := round(
                    (state.stock * coalesce(state.avg_cost, 0) + quantity * unit_value) / (state.stock + quantity), 2);
            end if;
            state.stock := state.stock + quantity;
            state.last_receipt_at := moved_at;
            state.outcome := 'APPLIED';
        elsif quantity > state.stock then
            state.outcome := 'INSUFFICIENT_STOCK';
        else
            state.stock := state.stock - quantity;
            state.last_sale_price := unit_value;
            state.last_sale_at := moved_at;
            state.outcome := 'APPLIED';
        end if;
        return state;
    end
    $step$;

    create aggregate {{ s }}.inventory_stock_fold(
        {{ s }}.inventory_stock_state, text, numeric, numeric, timestamptz, text
    ) (
        sfunc = {{ s }}.inventory_stock_step,
        stype = {{ s }}.inventory_stock_state
    );
{%- endset -%}
{%- set version = 'inventory_stock_fold ' ~ local_md5(ddl) -%}
do $inventory_fold$
begin
    perform pg_advisory_xact_lock(hashtext('factory.inventory_stock_fold'));
    create schema if not exists {{ s }};
    if coalesce(obj_description(to_regtype('{{ s }}.inventory_stock_state'), 'pg_type'), '') <> '{{ version }}' then
        drop type if exists {{ s }}.inventory_stock_state cascade;
        {{ ddl }}
        comment on type {{ s }}.inventory_stock_state is '{{ version }}';
    end if;
end
$inventory_fold$
{%- endmacro %}
