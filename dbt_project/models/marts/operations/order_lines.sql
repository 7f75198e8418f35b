-- marts.order_lines: progress of every MES order line (order, piece) (DESIGN.md §6.4): each
-- accepted operation counts one unit; remaining = max(total - produced, 0).
select
    l.order_id::bigint                                                  as order_id,
    l.piece_code::text                                                  as piece_code,
    p.piece_name::text                                                  as piece_name,
    coalesce(l.total_quantity, 0)::bigint                               as total_quantity,
    coalesce(g.units_produced, 0)::bigint                               as units_produced,
    greatest(coalesce(l.total_quantity, 0) - coalesce(g.units_produced, 0), 0)::bigint
                                                                        as remaining_quantity,
    greatest(coalesce(g.units_produced, 0) - coalesce(l.total_quantity, 0), 0)::bigint
                                                                        as excess_units,
    g.last_produced_at::timestamptz                                     as last_produced_at
from {{ ref('stg_mes__pezzi_ordine') }} as l
left join {{ ref('int_operations__line_progress') }} as g
    on g.order_id = l.order_id and g.piece_code = l.piece_code
left join {{ ref('stg_mes__pezzi') }} as p
    on p.piece_code = l.piece_code
