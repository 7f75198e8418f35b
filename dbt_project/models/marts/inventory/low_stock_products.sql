-- marts.low_stock_products: products about to run out (DESIGN.md §6.6), as at the end of the
-- as-of day (FACTORY_AS_OF_DATE, default plant-local today). Buckets: out (stock 0),
-- critical (<= 5), low (<= 10); thresholds are the vars inventory_low_stock_{critical,low}.
-- Every product of the master with stock at or below the low threshold is listed, including
-- products never received (last_receipt_at NULL), so that nothing to reorder is missed.

{%- set as_of = inventory_as_of_date() %}
{%- set critical = var('inventory_low_stock_critical', 5) %}
{%- set low = var('inventory_low_stock_low', 10) %}

with

states as {{ inventory_product_states(
    ref('int_inventory__stock_movements'),
    ref('stg_oltp__productos_maestro'),
    inventory_as_of_cutoff(as_of)
) }}

select
    product_id::bigint              as product_id,
    product_name::text              as product_name,
    category::text                  as category,
    stock::numeric                  as stock,
    (case
        when stock <= 0 then 'out'
        when stock <= {{ critical }} then 'critical'
        else 'low'
    end)::text                      as stock_bucket,
    moving_avg_cost::numeric        as moving_avg_cost,
    last_sale_at::timestamptz       as last_sale_at,
    last_receipt_at::timestamptz    as last_receipt_at,
    {{ as_of }}                     as as_of_date
from states
where stock <= {{ low }}
