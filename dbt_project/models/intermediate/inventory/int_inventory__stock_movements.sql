-- int_inventory__stock_movements: the stock card of every product (DESIGN.md §6.6). One row
-- per transaction line that counts for stock and cost (a line of a completed sale or goods
-- receipt), with its outcome (APPLIED, INSUFFICIENT_STOCK or an INVALID_* reason) and the
-- product's state after it: stock, moving-average cost, last applied sale price and time,
-- last receipt time. Order per product: transaction timestamp (microseconds), then
-- transaction id, then item id. Returns (DEVOLUCION) and cancelled transactions never enter.
--
-- Formulation: the rules are folded by a PostgreSQL aggregate (macros/inventory/
-- inventory_stock_fold.sql) used as a window function, in one sorted pass; and the model is
-- incremental, continuing each product from the last state it stored:
--
--   * new lines of a product, all after its last folded movement, are folded starting from
--     that state (the usual nightly case: one day of sales folds in milliseconds);
--   * a product whose folded history changed is replayed from its first movement: a line
--     that is no longer there or no longer counts (transaction cancelled, deleted at the
--     source, turned into a return), a line whose values changed (row_hash), or a new line
--     dated at or before the product's last folded movement (late arrival, back-dated
--     entry, a transaction un-cancelled). Its rows that no longer count are removed
--     (tombstones: written with a NULL product_id, deleted by the post-hook in the same
--     transaction).
--
-- What is re-read each run: raw rows the sync wrote since the previous run (`_synced_at`
-- after the watermark the previous run read up to, minus var inventory_sync_overlap_minutes,
-- default 60, for sync transactions that committed late), and one anti-join of the folded
-- transaction ids against the mirror (deletions leave no `_synced_at`). The sync stamps
-- `_synced_at` whenever a row's values change, so that is every change there is; a raw row
-- edited by hand without it is only seen by `dbt build --full-refresh` (a replay of all
-- history: seconds per million lines). The watermarks are stored on the rows each run writes
-- (items_read_through, transactions_read_through) and read back from the latest row of each
-- product, so no extra state table exists.

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='item_id',
    on_schema_change='fail',
    indexes=[
        {'columns': ['item_id'], 'unique': true},
        {'columns': ['product_id', 'moved_at', 'transaction_id', 'item_id']},
        {'columns': ['transaction_id']},
    ],
    post_hook=["delete from {{ this }} where product_id is null"]
) }}

{%- set fn = inventory_fold_schema() %}
{%- set overlap = "interval '" ~ (var('inventory_sync_overlap_minutes', 60) | int) ~ " minutes'" %}

with

transactions as (
    select transaction_id, transaction_type, transaction_at, is_completed, synced_at
    from {{ ref('stg_oltp__transacciones') }}
),

items as (
    select item_id, transaction_id, product_id, quantity, unit_sale_price, unit_purchase_cost, synced_at
    from {{ ref('stg_oltp__items_transaccion') }}
),

-- Every line that counts: completed sales and goods receipts, with a product and a timestamp
-- (lines without one are reported by the staging tests). row_hash identifies the version of
-- the line that was folded; the hash of a record is independent of numeric scale and of the
-- session time zone.
movements as not materialized (
    select
        i.item_id,
        i.transaction_id,
        i.product_id,
        case t.transaction_type when 'ENTRADA_MERCANCIA' then 'RECEIPT' else 'SALE' end as movement_type,
        t.transaction_at as moved_at,
        i.quantity,
        i.unit_purchase_cost,
        i.unit_sale_price,
        case
            when i.quantity is null or i.quantity < 0
                then 'INVALID_QUANTITY'
            when t.transaction_type = 'ENTRADA_MERCANCIA'
                 and (i.unit_purchase_cost is null or i.unit_purchase_cost < 0)
                then 'INVALID_UNIT_COST'
            when t.transaction_type = 'VENTA'
                 and (i.unit_sale_price is null or i.unit_sale_price < 0)
                then 'INVALID_SALE_PRICE'
        end as invalid_reason,
        hash_record_extended(
            (i.item_id, i.transaction_id, i.product_id, t.transaction_type, t.transaction_at,
             i.quantity, i.unit_purchase_cost, i.unit_sale_price),
            0
        ) as row_hash
    from items as i
    join transactions as t on t.transaction_id = i.transaction_id
    where t.is_completed
      and t.transaction_type in ('VENTA', 'ENTRADA_MERCANCIA')
      and i.product_id is not null
      and t.transaction_at is not null
),

{% if is_incremental() %}

-- the state each product reached in the previous runs, and the watermarks they read up to
previous as (
    select * from {{ inventory_latest_movements(this) }} as latest
),

watermark as (
    select
        max(items_read_through)        as items_read_through,
        max(transactions_read_through) as transactions_read_through,
        coalesce(max(items_read_through), '-infinity'::timestamptz) - {{ overlap }}        as items_after,
        coalesce(max(transactions_read_through), '-infinity'::timestamptz) - {{ overlap }} as transactions_after
    from previous
),

-- raw rows the sync wrote since then: new or changed transactions (state, type, time) and lines
changed_transactions as materialized (
    select t.transaction_id, t.synced_at
    from transactions as t
    cross join watermark as w
    where t.synced_at > w.transactions_after
),

changed_items as materialized (
    select i.item_id, i.synced_at
    from items as i
    cross join watermark as w
    where i.synced_at > w.items_after
       or i.transaction_id in (select transaction_id from changed_transactions)
),

-- transactions folded earlier that are no longer in the mirror (deleted at the source)
deleted_transactions as materialized (
    select distinct f.transaction_id
    from {{ this }} as f
    where not exists (select 1 from transactions as t where t.transaction_id = f.transaction_id)
),

candidates as materialized (
    select item_id from changed_items
    union
    select f.item_id
    from {{ this }} as f
    where f.transaction_id in (select transaction_id from deleted_transactions)
),

-- each candidate line as it counts now (none: it no longer counts) and as it was folded
current_versions as materialized (
    select m.*
    from movements as m
    where m.item_id in (select item_id from candidates)
),

folded_versions as (
    select f.item_id, f.product_id, f.row_hash
    from {{ this }} as f
    where f.item_id in (select item_id from candidates)
),

changes as materialized (
    select
        coalesce(c.item_id, f.item_id) as item_id,
        f.product_id                   as folded_product_id,
        c.product_id                   as current_product_id,
        c.moved_at,
        c.transaction_id
    from current_versions as c
    full join folded_versions as f on f.item_id = c.item_id
    where c.row_hash is distinct from f.row_hash
),

replayed_products as materialized (
    -- a folded line changed or no longer counts
    select folded_product_id as product_id
    from changes
    where folded_product_id is not null
    union
    -- a new line not after the product's last folded movement
    select c.current_product_id
    from changes as c
    join previous as p on p.product_id = c.current_product_id
    where (c.moved_at, c.transaction_id, c.item_id) <= (p.moved_at, p.transaction_id, p.item_id)
),

events as materialized (
    -- replayed products: every movement, from nothing
    select m.*, null::{{ fn }}.inventory_stock_state as opening
    from movements as m
    where m.product_id in (select product_id from replayed_products)

    union all

    -- other products: their new movements only, from the state they reached
    select
        c.*,
        case when p.product_id is not null then
            row(p.stock_after, p.moving_avg_cost_after, p.last_sale_price_after,
                p.last_sale_at_after, p.last_receipt_at_after, p.outcome)::{{ fn }}.inventory_stock_state
        end as opening
    from current_versions as c
    join changes as ch on ch.item_id = c.item_id
    left join previous as p on p.product_id = c.product_id
    where not exists (select 1 from replayed_products as r where r.product_id = c.product_id)
),

tombstones as (
    -- folded lines of replayed products that no longer count
    select f.item_id
    from {{ this }} as f
    where f.product_id in (select product_id from replayed_products)
      and not exists (select 1 from events as e where e.item_id = f.item_id)
),

read_through as (
    select
        greatest(w.items_read_through, (select max(synced_at) from changed_items))               as items_read_through,
        greatest(w.transactions_read_through, (select max(synced_at) from changed_transactions)) as transactions_read_through
    from watermark as w
),

{% else %}

events as (
    select m.*, null::{{ fn }}.inventory_stock_state as opening
    from movements as m
),

read_through as (
    select
        (select max(synced_at) from items)        as items_read_through,
        (select max(synced_at) from transactions) as transactions_read_through
),

{% endif %}

folded as (
    select
        e.*,
        {{ fn }}.inventory_stock_fold(
            e.opening,
            e.movement_type,
            e.quantity,
            case e.movement_type when 'RECEIPT' then e.unit_purchase_cost else e.unit_sale_price end,
            e.moved_at,
            e.invalid_reason
        ) over (
            partition by e.product_id
            order by e.moved_at, e.transaction_id, e.item_id
            rows between unbounded preceding and current row
        ) as state
    from events as e
)

select
    f.item_id::bigint                       as item_id,
    f.transaction_id::bigint                as transaction_id,
    f.product_id::bigint                    as product_id,
    f.movement_type::text                   as movement_type,
    f.moved_at::timestamptz                 as moved_at,
    f.quantity::numeric                     as quantity,
    f.unit_purchase_cost::numeric           as unit_purchase_cost,
    f.unit_sale_price::numeric              as unit_sale_price,
    (f.state).outcome::text                 as outcome,
    (f.state).stock::numeric                as stock_after,
    (f.state).avg_cost::numeric             as moving_avg_cost_after,
    (f.state).last_sale_price::numeric      as last_sale_price_after,
    (f.state).last_sale_at::timestamptz     as last_sale_at_after,
    (f.state).last_receipt_at::timestamptz  as last_receipt_at_after,
    f.row_hash::bigint                      as row_hash,
    r.items_read_through::timestamptz       as items_read_through,
    r.transactions_read_through::timestamptz as transactions_read_through,
    '{{ run_started_at.isoformat() }}'::timestamptz as computed_at
from folded as f
cross join read_through as r

{% if is_incremental() %}

union all

select
    t.item_id::bigint,
    null::bigint,
    null::bigint,                 -- tombstone: deleted by the post-hook
    'REMOVED'::text,
    null::timestamptz,
    null::numeric,
    null::numeric,
    null::numeric,
    'REMOVED'::text,
    null::numeric,
    null::numeric,
    null::numeric,
    null::timestamptz,
    null::timestamptz,
    null::bigint,
    null::timestamptz,
    null::timestamptz,
    '{{ run_started_at.isoformat() }}'::timestamptz
from tombstones as t

{% endif %}
