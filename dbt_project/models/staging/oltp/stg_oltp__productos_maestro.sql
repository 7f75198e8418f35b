-- productos_maestro, OLTP product master: one row per product, English names.
select
    producto_id     as product_id,
    nombre_producto as product_name,
    categoria       as category,
    created_at,
    updated_at,
    _synced_at      as synced_at
from {{ source('oltp', 'productos_maestro') }}
