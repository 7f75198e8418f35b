-- marts.inventory_rejects: every OLTP transaction line of a completed sale or goods receipt
-- that was NOT applied to stock and cost (DESIGN.md §6.6), with the reason:
--   INSUFFICIENT_STOCK  a sale larger than the stock at that moment (stock_at_movement);
--   INVALID_QUANTITY    quantity missing or negative;
--   INVALID_UNIT_COST   a receipt line without a (non-negative) unit purchase cost;
--   INVALID_SALE_PRICE  a sale line without a (non-negative) unit sale price.
-- Counted per plant-local day in marts.data_quality_daily (source 'oltp'). A view over the
-- stock card (read through its partial index on the lines not applied), so a line leaves it as
-- soon as a later correction (a receipt back-dated before it, a fixed quantity) lets it apply.

select
    item_id::bigint                                                 as item_id,
    transaction_id::bigint                                          as transaction_id,
    product_id::bigint                                              as product_id,
    movement_type::text                                             as movement_type,
    moved_at::timestamptz                                           as moved_at,
    (moved_at at time zone {{ plant_timezone() }})::date            as movement_date,
    outcome::text                                                   as reason,
    quantity::numeric                                               as quantity,
    unit_purchase_cost::numeric                                     as unit_purchase_cost,
    unit_sale_price::numeric                                        as unit_sale_price,
    stock_after::numeric                                            as stock_at_movement
from {{ ref('int_inventory__stock_movements') }}
where outcome <> 'APPLIED'
