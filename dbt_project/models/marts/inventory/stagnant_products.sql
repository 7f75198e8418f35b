-- marts.stagnant_products: products in stock, by how long ago they last sold (DESIGN.md
-- §6.6), as at the end of the as-of day (FACTORY_AS_OF_DATE, default plant-local today).
-- days_since_last_sale = as-of day - plant-local day of the last *applied* sale (a sale
-- refused for insufficient stock does not count). Buckets: no_sales (never sold),
-- critical (> 90 days), alert (> 60), attention (> 30), normal; thresholds are the vars
-- inventory_stagnant_{critical,alert,attention}_days.

{%- set as_of = inventory_as_of_date() %}

with

states as {{ inventory_product_states(
    ref('int_inventory__stock_movements'),
    ref('stg_oltp__productos_maestro'),
    inventory_as_of_cutoff(as_of)
) }},

in_stock as (
    select
        *,
        (last_sale_at at time zone {{ plant_timezone() }})::date as last_sale_date,
        {{ as_of }} - (last_sale_at at time zone {{ plant_timezone() }})::date as days_since_last_sale
    from states
    where stock > 0
)

select
    product_id::bigint                          as product_id,
    product_name::text                          as product_name,
    category::text                              as category,
    stock::numeric                              as stock,
    moving_avg_cost::numeric                    as moving_avg_cost,
    round(stock * moving_avg_cost, 2)::numeric  as inventory_value_at_cost,
    last_sale_at::timestamptz                   as last_sale_at,
    last_sale_date::date                        as last_sale_date,
    days_since_last_sale::integer               as days_since_last_sale,
    (case
        when last_sale_at is null then 'no_sales'
        when days_since_last_sale > {{ var('inventory_stagnant_critical_days', 90) | int }} then 'critical'
        when days_since_last_sale > {{ var('inventory_stagnant_alert_days', 60) | int }} then 'alert'
        when days_since_last_sale > {{ var('inventory_stagnant_attention_days', 30) | int }} then 'attention'
        else 'normal'
    end)::text                                  as stagnation_bucket,
    last_receipt_at::timestamptz                as last_receipt_at,
    {{ as_of }}                                 as as_of_date
from in_stock
