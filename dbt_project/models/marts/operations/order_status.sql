-- marts.order_status: one row per MES order (DESIGN.md §6.4). An order is COMPLETED when it has
-- lines and every one reaches 0 remaining; its completion time is the end (else start) of its
-- last operation. Otherwise its status is the MES state (ordine.stato). Pending = IN ATTESA or
-- IN CORSO (what marts.next_pieces plans).
with lines as (
    select
        order_id,
        count(*)                                    as lines,
        count(*) filter (where remaining_quantity > 0) as open_lines,
        sum(total_quantity)                         as total_quantity,
        sum(least(units_produced, total_quantity))  as units_toward_total,
        sum(remaining_quantity)                     as remaining_quantity
    from {{ ref('order_lines') }}
    group by order_id
),

last_operation as (
    select order_id, max(last_produced_at) as last_operation_at, sum(units_produced) as units_produced
    from {{ ref('int_operations__line_progress') }}
    group by order_id
),

status as (
    select
        o.order_id,
        o.customer_id,
        o.order_status                                  as mes_status,
        case when coalesce(l.lines, 0) > 0 and l.open_lines = 0 then 'COMPLETED' else o.order_status end
                                                        as status,
        o.started_at,
        o.ended_at                                      as mes_ended_at,
        coalesce(l.lines, 0)                            as lines,
        coalesce(l.open_lines, 0)                       as open_lines,
        coalesce(l.total_quantity, 0)                   as total_quantity,
        coalesce(x.units_produced, 0)                   as units_produced,
        coalesce(l.remaining_quantity, 0)               as remaining_quantity,
        case when coalesce(l.total_quantity, 0) > 0
             then round(100.0 * l.units_toward_total / l.total_quantity, 1) end
                                                        as progress_pct,
        x.last_operation_at
    from {{ ref('stg_mes__ordine') }} as o
    left join lines as l on l.order_id = o.order_id
    left join last_operation as x on x.order_id = o.order_id
)

select
    order_id::bigint                                    as order_id,
    customer_id::bigint                                 as customer_id,
    status::text                                        as status,
    mes_status::text                                    as mes_status,
    started_at::timestamptz                             as started_at,
    mes_ended_at::timestamptz                           as mes_ended_at,
    lines::bigint                                       as lines,
    open_lines::bigint                                  as open_lines,
    total_quantity::bigint                              as total_quantity,
    units_produced::bigint                              as units_produced,
    remaining_quantity::bigint                          as remaining_quantity,
    progress_pct::numeric(5, 1)                         as progress_pct,
    last_operation_at::timestamptz                      as last_operation_at,
    (case when status = 'COMPLETED' then last_operation_at end)::timestamptz as completed_at,
    (status in ('IN ATTESA', 'IN CORSO'))::boolean      as is_pending
from status
