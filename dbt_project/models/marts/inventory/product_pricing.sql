-- marts.product_pricing: the cost and pricing view purchasing and sales read every morning
-- (DESIGN.md §6.6), one row per product of the OLTP product master (and any product that
-- moved without being in it), as at the end of the as-of day (inventory_as_of_date():
-- FACTORY_AS_OF_DATE, default plant-local today).
--
-- Stock and moving-average cost come from the product's last movement in the stock card
-- (int_inventory__stock_movements); the suggested price applies the category margin of the
-- seed inventory_category_margins, else the var inventory_margin_pct (default 40 %). A product
-- never received has NULL cost and suggested price (and zero stock, worth 0).

{%- set as_of = inventory_as_of_date() %}

with

states as {{ inventory_product_states(
    ref('int_inventory__stock_movements'),
    ref('stg_oltp__productos_maestro'),
    inventory_as_of_cutoff(as_of)
) }},

margins as (
    select category, margin_pct
    from {{ ref('inventory_category_margins') }}
),

priced as (
    select
        s.*,
        coalesce(m.margin_pct, {{ inventory_default_margin_pct() }}) as margin_pct
    from states as s
    left join margins as m on m.category = s.category
),

with_suggested as (
    select
        *,
        round(moving_avg_cost * (1 + margin_pct / 100), 2) as suggested_price
    from priced
)

select
    product_id::bigint                                                    as product_id,
    product_name::text                                                    as product_name,
    category::text                                                        as category,
    stock::numeric                                                        as stock,
    moving_avg_cost::numeric                                              as moving_avg_cost,
    last_sale_price::numeric                                              as last_sale_price,
    last_sale_at::timestamptz                                             as last_sale_at,
    last_receipt_at::timestamptz                                          as last_receipt_at,
    margin_pct::numeric                                                   as margin_pct,
    suggested_price::numeric                                              as suggested_price,
    (case when moving_avg_cost > 0
          then round((last_sale_price - moving_avg_cost) / moving_avg_cost * 100, 2)
     end)::numeric                                                        as markup_pct,
    (case when last_sale_price > 0
          then round((last_sale_price - moving_avg_cost) / last_sale_price * 100, 2)
     end)::numeric                                                        as gross_margin_pct,
    (case when stock = 0 then 0 else round(stock * moving_avg_cost, 2) end)::numeric
                                                                          as inventory_value_at_cost,
    (case when stock = 0 then 0 else round(stock * suggested_price, 2) end)::numeric
                                                                          as inventory_value_at_suggested_price,
    {{ as_of }}                                                           as as_of_date
from with_suggested
