-- transacciones: one row per sale (VENTA), goods receipt (ENTRADA_MERCANCIA) or return
-- (DEVOLUCION), COMPLETADA or CANCELADA. Only completed sales and receipts count (DESIGN.md
-- §6.6); the flag is exposed here so the inventory marts share one definition.
select
    transaccion_id          as transaction_id,
    tipo_transaccion        as transaction_type,
    fecha_hora              as transaction_at,
    estado                  as transaction_status,
    total_bruto::numeric    as gross_total,
    notas                   as notes,
    created_at,
    estado = 'COMPLETADA'   as is_completed,
    _synced_at              as synced_at
from {{ source('oltp', 'transacciones') }}
