-- Anomalies that need MES data, found at build time (so they follow the latest synced MES rows):
--   * OUT_OF_PIECE_RANGE: a forging weight or temperature outside the piece's own limits
--     (pezzi.peso_min/max, temperatura_min/max; a NULL limit does not apply). The value is kept.
--   * UNKNOWN_ORDER_LINE: the (order, piece) is not a line of the MES (pezzi_ordine), e.g. a
--     mistyped order id. Reported only once the MES order lines are synced at all.
with ops as (
    select * from {{ ref('stg_operations__operations') }}
),

pieces as (
    select * from {{ ref('stg_mes__pezzi') }}
),

lines as (
    select * from {{ ref('stg_mes__pezzi_ordine') }}
),

weight as (
    select
        o.file_version_id,
        o.record_no,
        'OUT_OF_PIECE_RANGE'::text as code,
        'peso_effettivo'::text     as field,
        o.weight_kg::text || ' kg is outside the limits of piece ' || o.piece_code || ': '
            || coalesce(p.weight_min_kg::text, '-') || ' to ' || coalesce(p.weight_max_kg::text, '-') || ' kg'
                                   as message,
        o.weight_kg::text          as value
    from ops as o
    join pieces as p on p.piece_code = o.piece_code
    where o.weight_kg < p.weight_min_kg or o.weight_kg > p.weight_max_kg
),

temperature as (
    select
        o.file_version_id,
        o.record_no,
        'OUT_OF_PIECE_RANGE'::text      as code,
        'temperatura_effettiva'::text   as field,
        o.temperature_c::text || ' °C is outside the limits of piece ' || o.piece_code || ': '
            || coalesce(p.temperature_min_c::text, '-') || ' to ' || coalesce(p.temperature_max_c::text, '-') || ' °C'
                                        as message,
        o.temperature_c::text           as value
    from ops as o
    join pieces as p on p.piece_code = o.piece_code
    where o.temperature_c < p.temperature_min_c or o.temperature_c > p.temperature_max_c
),

unknown_line as (
    select
        o.file_version_id,
        o.record_no,
        'UNKNOWN_ORDER_LINE'::text  as code,
        'codice_pezzo'::text        as field,
        'piece ' || o.piece_code || ' is not a line of MES order ' || o.order_id::text as message,
        o.order_id::text || '/' || o.piece_code as value
    from ops as o
    where exists (select 1 from lines)
      and not exists (
          select 1 from lines as l where l.order_id = o.order_id and l.piece_code = o.piece_code
      )
)

select * from weight
union all
select * from temperature
union all
select * from unknown_line
