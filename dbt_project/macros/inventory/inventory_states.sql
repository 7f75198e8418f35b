{#-
  Shared pieces of the inventory models (DESIGN.md §6.6).

  inventory_as_of_date()
      The reference day of the stock-age marts, as a SQL date literal: the dbt var
      `inventory_as_of_date` (tests, replays: `--vars '{inventory_as_of_date: 2026-03-05}'`),
      else the environment variable FACTORY_AS_OF_DATE (YYYY-MM-DD; DESIGN.md §4), else the
      plant-local date at the start of the dbt invocation (FACTORY_TIMEZONE / var
      plant_timezone). Rendered at compile time, so every model of one run uses the same day,
      even across midnight, and a rerun with the same date gives the same marts.

  inventory_as_of_cutoff(as_of)
      The instant the as-of day ends: plant-local midnight after it, as a timestamptz. The marts
      describe each product's state after its last movement before that instant, so movements
      dated after the as-of day (a replay of an earlier day, or clock skew) do not count.

  inventory_latest_movements(movements, cutoff=none)
      One row per product of int_inventory__stock_movements (all its columns): the product's
      last movement (before `cutoff` when given), i.e. the state the product had reached.
      Uses the (product_id, moved_at, transaction_id, item_id) index twice per product: a
      recursive "loose index scan" lists the distinct products (min(product_id) > previous),
      then a backward index probe fetches each one's last row. A few thousand index probes
      instead of reading every movement. Returned as a parenthesised subquery (its WITH
      RECURSIVE must not be the model's top-level WITH, where dbt injects unit-test fixtures).

  inventory_product_states(movements, products, cutoff)
      One row per product of the product master or of the movements (a product sold or
      received but missing from the master still shows), with name, category and the state at
      `cutoff`: stock (0 before any movement), moving-average cost (NULL before any receipt),
      last applied sale price and time, last receipt time.

  inventory_default_margin_pct()
      The margin of the suggested price (percent on cost) when the product's category has no
      row in the seed inventory_category_margins: the var `inventory_margin_pct`, default 40.
-#}

{% macro inventory_as_of_date() -%}
    {%- set given = (var('inventory_as_of_date', none) or env_var('FACTORY_AS_OF_DATE', '')) | string | trim -%}
    {%- if given and given != 'None' -%}
        {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', given) -%}
            {{ exceptions.raise_compiler_error(
                "FACTORY_AS_OF_DATE (or var inventory_as_of_date) must be a date YYYY-MM-DD, got '" ~ given ~ "'") }}
        {%- endif -%}
        {%- set day = modules.datetime.date.fromisoformat(given) -%}
    {%- else -%}
        {%- set day = run_started_at.astimezone(modules.pytz.timezone(source_timezone_name())).date() -%}
    {%- endif -%}
    date '{{ day.isoformat() }}'
{%- endmacro %}

{% macro inventory_as_of_cutoff(as_of) -%}
    (({{ as_of }} + 1)::timestamp at time zone {{ plant_timezone() }})
{%- endmacro %}

{% macro inventory_latest_movements(movements, cutoff=none) -%}
(
    with recursive moved_products (product_id) as (
        select min(product_id) from {{ movements }}
        union all
        select (select min(m.product_id) from {{ movements }} as m where m.product_id > p.product_id)
        from moved_products as p
        where p.product_id is not null
    )
    select latest.*
    from moved_products as p
    cross join lateral (
        select m.*
        from {{ movements }} as m
        where m.product_id = p.product_id
        {%- if cutoff is not none %}
          and m.moved_at < {{ cutoff }}
        {%- endif %}
        order by m.moved_at desc, m.transaction_id desc, m.item_id desc
        limit 1
    ) as latest
    where p.product_id is not null
)
{%- endmacro %}

{% macro inventory_product_states(movements, products, cutoff) -%}
(
    with latest as {{ inventory_latest_movements(movements, cutoff) }},

    all_products as (
        select product_id from {{ products }}
        union
        select product_id from latest
    )

    select
        a.product_id,
        p.product_name,
        p.category,
        coalesce(l.stock_after, 0)   as stock,
        l.moving_avg_cost_after      as moving_avg_cost,
        l.last_sale_price_after      as last_sale_price,
        l.last_sale_at_after         as last_sale_at,
        l.last_receipt_at_after      as last_receipt_at
    from all_products as a
    left join {{ products }} as p on p.product_id = a.product_id
    left join latest as l on l.product_id = a.product_id
)
{%- endmacro %}

{% macro inventory_default_margin_pct() -%}
    {%- set margin = var('inventory_margin_pct', 40) | string | trim -%}
    {%- if not modules.re.fullmatch('-?[0-9]+([.][0-9]+)?', margin) -%}
        {{ exceptions.raise_compiler_error("var inventory_margin_pct must be a number (percent on cost), got '" ~ margin ~ "'") }}
    {%- endif -%}
    {{ margin }}::numeric
{%- endmacro %}
