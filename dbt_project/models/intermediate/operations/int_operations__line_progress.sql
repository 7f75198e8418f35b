-- Units produced per (order, piece) (DESIGN.md §6.4): each accepted operation record counts one
-- unit for its (order, piece), whatever its type and anomalies. Includes pairs that are not an
-- MES order line (they show as UNKNOWN_ORDER_LINE anomalies).
select
    order_id,
    piece_code,
    count(*)::bigint        as units_produced,
    max(produced_at)        as last_produced_at
from {{ ref('stg_operations__operations') }}
group by order_id, piece_code
