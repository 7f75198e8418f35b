-- marts.next_pieces: what to make next (DESIGN.md §6.4): the first 5 order lines with
-- remaining > 0 of the oldest pending orders (IN ATTESA / IN CORSO in marts.order_status),
-- oldest order first (start, then order id), lines by piece code.
with candidates as (
    select
        l.order_id,
        l.piece_code,
        l.piece_name,
        l.remaining_quantity,
        l.total_quantity,
        l.units_produced,
        s.status,
        s.started_at,
        row_number() over (order by s.started_at nulls last, l.order_id, l.piece_code) as rank
    from {{ ref('order_lines') }} as l
    join {{ ref('order_status') }} as s on s.order_id = l.order_id
    where s.is_pending and l.remaining_quantity > 0
)

select
    rank::integer                   as rank,
    order_id::bigint                as order_id,
    piece_code::text                as piece_code,
    piece_name::text                as piece_name,
    remaining_quantity::bigint      as remaining_quantity,
    total_quantity::bigint          as total_quantity,
    units_produced::bigint          as units_produced,
    status::text                    as order_status,
    started_at::timestamptz         as order_started_at
from candidates
where rank <= 5
