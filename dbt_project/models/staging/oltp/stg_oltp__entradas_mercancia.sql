-- entradas_mercancia: one row per goods receipt (supplier, invoice) of an ENTRADA_MERCANCIA
-- transaction.
select
    entrada_id          as receipt_id,
    transaccion_id      as transaction_id,
    nombre_proveedor    as supplier_name,
    numero_factura      as invoice_number,
    fecha_recepcion     as received_at,
    _synced_at          as synced_at
from {{ source('oltp', 'entradas_mercancia') }}
