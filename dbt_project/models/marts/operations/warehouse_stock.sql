-- marts.warehouse_stock: one row per piece code (DESIGN.md §6.4): the quantity the MES last
-- synced (magazzino) plus the units produced after that row's update time. A unit's time is its
-- operation's end, else its start; a record with neither cannot be placed and is not counted
-- here (it still counts in order progress). Pieces produced but absent from the MES warehouse
-- start from 0.
with stock as (
    select * from {{ ref('stg_mes__magazzino') }}
),

ops as (
    select piece_code, produced_at from {{ ref('stg_operations__operations') }}
    where produced_at is not null
),

codes as (
    select piece_code from stock
    union
    select piece_code from ops
),

produced as (
    select
        c.piece_code,
        count(o.produced_at)                as units_since,
        max(o.produced_at)                  as last_produced_at
    from codes as c
    left join stock as s on s.piece_code = c.piece_code
    left join ops as o
        on o.piece_code = c.piece_code
       and (s.stock_updated_at is null or o.produced_at > s.stock_updated_at)
    group by c.piece_code
)

select
    c.piece_code::text                                                  as piece_code,
    p.piece_name::text                                                  as piece_name,
    s.quantity_available::bigint                                        as synced_quantity,
    s.stock_updated_at::timestamptz                                     as stock_updated_at,
    d.units_since::bigint                                               as units_produced_since,
    (coalesce(s.quantity_available, 0) + d.units_since)::bigint         as quantity_available,
    d.last_produced_at::timestamptz                                     as last_produced_at,
    (s.piece_code is not null)::boolean                                 as in_mes_warehouse
from codes as c
join produced as d on d.piece_code = c.piece_code
left join stock as s on s.piece_code = c.piece_code
left join {{ ref('stg_mes__pezzi') }} as p on p.piece_code = c.piece_code
