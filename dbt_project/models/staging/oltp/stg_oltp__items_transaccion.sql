-- items_transaccion: one row per transaction line. A sale line carries a unit sale price, a
-- receipt line a unit purchase cost (exactly one of them is set).
select
    item_id                         as item_id,
    transaccion_id                  as transaction_id,
    producto_id                     as product_id,
    cantidad::numeric               as quantity,
    precio_unitario_venta::numeric  as unit_sale_price,
    costo_unitario_compra::numeric  as unit_purchase_cost,
    created_at,
    _synced_at                      as synced_at
from {{ source('oltp', 'items_transaccion') }}
