-- int_inventory__stock_movements: the stock card of every product (DESIGN.md §6.6). One row
-- per transaction line that counts for stock and cost (a line of a completed sale or goods
-- receipt), with its outcome (APPLIED, INSUFFICIENT_STOCK or an INVALID_* reason) and the
-- product's state after it: stock, moving-average cost, last applied sale price and time,
-- last receipt time. Order per product: transaction timestamp (microseconds), then
-- transaction id, then item id. Returns (DEVOLUCION) and cancelled transactions never enter.
--
-- Formulation. The rules are folded by a PostgreSQL aggregate (macros/inventory/
-- inventory_stock_fold.sql) used as a window function: one sorted pass, exact numeric
-- arithmetic (the same round(numeric, 2) as the stored procedure it replaces). Window sums
-- cannot express the rules (the cost is rounded at each receipt and a refused sale changes
-- what later sales may take: both are path dependent); a recursive CTE advances one movement
-- per iteration, so it iterates as often as the longest product history has movements, each
-- time joining the working set against all movements. An aggregate takes a starting state,
-- which is what makes the incremental continuation exact. The model is incremental and
-- continues each product from a state it stored:
--
--   * every line that changed since the previous run is a *candidate*: new lines, lines of
--     transactions whose state / type / time changed, lines of transactions deleted at the
--     source; each is compared with the version that was folded (row_hash);
--   * each product touched by a change restarts at its first affected position (the earliest
--     of the changed lines, old or new version): it starts from the state stored on its
--     movement just before that position and folds again, from the values stored on the stock
--     card, the unchanged movements after it, together with the changed ones as they are now.
--     A new day of sales restarts each product after its last movement (a plain append); a
--     sale of yesterday cancelled tonight refolds one day of that product; nothing ever
--     re-reads the raw history;
--   * lines that no longer count (cancelled, deleted, turned into a return, moved to another
--     product) are removed: written as tombstones (product_id NULL) and deleted by the
--     post-hook in the same transaction.
--
-- What a run reads from raw: the lines and transactions synced after the watermark the
-- previous run read up to (minus var inventory_sync_overlap_minutes, default 60, for sync
-- transactions that committed late; the rows stamped at the watermark itself were read:
-- inventory_synced_since) and the lines of those transactions, by index (raw
-- migration 0010: `_synced_at` on both mirrors, transaccion_id on the lines), then the
-- candidates by primary key: the day's rows, not the history behind them. A deletion at the
-- source leaves no `_synced_at`; the snapshot sync counts it in raw.sync_runs, and only after
-- such a sync run does the model look for folded transactions missing from the mirror (one
-- pass over the card). The sync stamps `_synced_at` whenever a row's values change and
-- records every deletion, so that is every change there is; a raw row edited or deleted by
-- hand is seen by `dbt build --full-refresh` (a replay of all history: seconds per million
-- lines). Watermarks are stored on the rows each run writes and read back from the most
-- recent run's rows; there is no other state. Indexes: item_id (unique; the
-- delete+insert and the candidate lookups), (product_id, moved_at, transaction_id, item_id)
-- (latest state per product, restart positions, the marts' as-of lookups), computed_at (the
-- previous run's stamps in one probe) and a partial one on the lines not applied
-- (marts.inventory_rejects); the last two are created by the post-hook, so a card built
-- before them gets them at its next run. Deletions at the source are rare, so
-- the search for their lines scans the card instead of keeping an index on transaction_id.
--
-- Upgrade: cards built before the census stamps were replaced by the sync's record of
-- deletions lose those three columns in a pre-hook (inventory_drop_census_stamps), so the
-- next run continues incrementally instead of failing on the schema change.
--
-- Comments (the YAML docs) are written by the post-hook only where they changed
-- (factory_persist_docs), not re-written by dbt on every run. The post-hook's four statements
-- travel in one round trip, which costs more than their work.
--
-- Session settings (pre-hooks, this model's transaction only): JIT off (the fold is PL/pgSQL;
-- compiling the large plan costs 1-2 s and saves nothing), and work_mem = var
-- inventory_work_mem (default 128MB) so that a full build sorts its lines in memory.

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='item_id',
    on_schema_change='fail',
    persist_docs={'relation': false, 'columns': false},
    indexes=[
        {'columns': ['item_id'], 'unique': true},
        {'columns': ['product_id', 'moved_at', 'transaction_id', 'item_id']},
    ],
    pre_hook=[
        "{{ inventory_drop_census_stamps(this) }}",
        "set local jit = off",
        "set local work_mem = '{{ var('inventory_work_mem', '128MB') }}'",
    ],
    post_hook=[
        "delete from {{ this }} where product_id is null;
         {{ inventory_card_indexes(this) }};
         {{ inventory_analyze_once(this) }};
         {{ factory_persist_docs(this) }}",
    ]
) }}

{%- set fn = inventory_fold_schema() %}
{%- set overlap = "interval '" ~ (var('inventory_sync_overlap_minutes', 60) | int) ~ " minutes'" %}
{%- set state_type = fn ~ ".inventory_stock_state" %}

with

transactions as not materialized (
    select transaction_id, transaction_type, transaction_at, is_completed, synced_at
    from {{ ref('stg_oltp__transacciones') }}
),

items as not materialized (
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
        m.movement_type,
        t.transaction_at as moved_at,
        i.quantity,
        i.unit_purchase_cost,
        i.unit_sale_price,
        {{ inventory_invalid_reason('m.movement_type', 'i.quantity', 'i.unit_purchase_cost', 'i.unit_sale_price') }} as invalid_reason,
        hash_record_extended(
            (i.item_id, i.transaction_id, i.product_id, t.transaction_type, t.transaction_at,
             i.quantity, i.unit_purchase_cost, i.unit_sale_price),
            0
        ) as row_hash
    from items as i
    join transactions as t on t.transaction_id = i.transaction_id
    cross join lateral (
        select case t.transaction_type when 'ENTRADA_MERCANCIA' then 'RECEIPT' else 'SALE' end as movement_type
    ) as m
    where t.is_completed
      and t.transaction_type in ('VENTA', 'ENTRADA_MERCANCIA')
      and i.product_id is not null
      and t.transaction_at is not null
),

{% if is_incremental() %}

-- The stamps of the most recent run (raw watermarks, start of the run), read before
-- the model's statement and written into it as constants: a condition such as
-- `synced_at > <constant>` lets PostgreSQL estimate how few rows it selects and take the
-- `_synced_at` indexes (raw migration 0010); against a value from another CTE it would plan for
-- a third of the mirror and scan all of it.
{%- set last = inventory_last_run_stamps(this) %}

-- transactions the sync wrote since then (index range scan)
changed_transactions as materialized (
    select transaction_id, synced_at
    from transactions
    where {{ inventory_synced_since('synced_at', last.transactions_read_through, overlap) }}
),

-- transactions folded earlier and since deleted at the source. The snapshot sync of the
-- transaction mirror records how many rows each run deleted (raw.sync_runs.rows_deleted,
-- committed with the deletes): the card is searched for folded transactions missing from the
-- mirror only after a sync run that deleted rows finished since the previous run of this model
-- (minus the overlap); on other nights this is a one-time false filter that reads nothing.
deleted_transactions as materialized (
    select distinct f.transaction_id
    from {{ this }} as f
    where {{ sql_sources_rows_deleted_since('oltp', 'transacciones', last.computed_at ~ ' - ' ~ overlap) }}
      and not exists (select 1 from transactions as t where t.transaction_id = f.transaction_id)
),

-- lines the sync wrote since then, and lines of changed transactions (index scans)
changed_items as materialized (
    select i.item_id, i.synced_at
    from items as i
    where {{ inventory_synced_since('i.synced_at', last.items_read_through, overlap) }}
    union
    -- per changed transaction, an index probe (LATERAL + offset 0: a hash join would read the
    -- whole mirror to find a day's lines)
    select i.item_id, i.synced_at
    from changed_transactions as t
    cross join lateral (
        select item_id, synced_at from items where items.transaction_id = t.transaction_id offset 0
    ) as i
),

candidates as materialized (
    select item_id from changed_items
    union
    select f.item_id
    from {{ this }} as f
    where f.transaction_id in (select transaction_id from deleted_transactions)
),

-- each candidate as it counts now (no row: it no longer counts) and as it was folded. The
-- lookups are LATERAL with LIMIT 1 (item_id is unique) so that they stay index probes per
-- candidate: the planner cannot know how few candidates there are and would otherwise hash
-- the whole mirror / stock card.
current_versions as materialized (
    select m.*
    from candidates as c
    cross join lateral (select * from movements as m where m.item_id = c.item_id limit 1) as m
),

folded_versions as materialized (
    select f.item_id, f.product_id, f.moved_at, f.transaction_id, f.row_hash
    from candidates as c
    cross join lateral (select * from {{ this }} as f where f.item_id = c.item_id limit 1) as f
),

-- per product, the first position a change touches (old or new version of a changed line)
touched as (
    select f.product_id, f.moved_at, f.transaction_id, f.item_id
    from folded_versions as f
    left join current_versions as c on c.item_id = f.item_id
    where c.row_hash is distinct from f.row_hash
    union all
    select c.product_id, c.moved_at, c.transaction_id, c.item_id
    from current_versions as c
    left join folded_versions as f on f.item_id = c.item_id
    where f.row_hash is distinct from c.row_hash
),

restart_points as (
    select distinct on (product_id) product_id, moved_at, transaction_id, item_id
    from touched
    order by product_id, moved_at, transaction_id, item_id
),

restarts as materialized (
    select
        r.*,
        -- the state stored on the product's movement just before that position
        (
            select row(f.stock_after, f.moving_avg_cost_after, f.last_sale_price_after,
                       f.last_sale_at_after, f.last_receipt_at_after, f.outcome)::{{ state_type }}
            from {{ this }} as f
            where f.product_id = r.product_id
              and (f.moved_at, f.transaction_id, f.item_id) < (r.moved_at, r.transaction_id, r.item_id)
            order by f.moved_at desc, f.transaction_id desc, f.item_id desc
            limit 1
        ) as opening
    from restart_points as r
),

events as (
    -- unchanged movements from the restart position on, folded again from the stored values
    select
        f.item_id, f.transaction_id, f.product_id, f.movement_type, f.moved_at, f.quantity,
        f.unit_purchase_cost, f.unit_sale_price,
        {{ inventory_invalid_reason('f.movement_type', 'f.quantity', 'f.unit_purchase_cost', 'f.unit_sale_price') }} as invalid_reason,
        f.row_hash,
        r.opening
    from restarts as r
    cross join lateral (
        select *
        from {{ this }} as f
        where f.product_id = r.product_id
          and (f.moved_at, f.transaction_id, f.item_id) >= (r.moved_at, r.transaction_id, r.item_id)
        offset 0  -- keep it an index range scan per restarted product
    ) as f
    where not exists (select 1 from candidates as c where c.item_id = f.item_id)

    union all

    -- changed and new lines as they count now
    select
        c.item_id, c.transaction_id, c.product_id, c.movement_type, c.moved_at, c.quantity,
        c.unit_purchase_cost, c.unit_sale_price, c.invalid_reason, c.row_hash,
        r.opening
    from current_versions as c
    join restarts as r on r.product_id = c.product_id
    where (c.moved_at, c.transaction_id, c.item_id) >= (r.moved_at, r.transaction_id, r.item_id)
),

-- folded lines that no longer count anywhere
tombstones as (
    select f.item_id
    from folded_versions as f
    where not exists (select 1 from current_versions as c where c.item_id = f.item_id)
),

stamps as (
    select
        greatest({{ last.items_read_through }}, (select max(synced_at) from changed_items))               as items_read_through,
        greatest({{ last.transactions_read_through }}, (select max(synced_at) from changed_transactions)) as transactions_read_through
),

{% else %}

events as (
    select m.*, null::{{ state_type }} as opening
    from movements as m
),

stamps as (
    select
        (select max(synced_at) from items)          as items_read_through,
        (select max(synced_at) from transactions)   as transactions_read_through
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
    f.item_id::bigint                           as item_id,
    f.transaction_id::bigint                    as transaction_id,
    f.product_id::bigint                        as product_id,
    f.movement_type::text                       as movement_type,
    f.moved_at::timestamptz                     as moved_at,
    f.quantity::numeric                         as quantity,
    f.unit_purchase_cost::numeric               as unit_purchase_cost,
    f.unit_sale_price::numeric                  as unit_sale_price,
    (f.state).outcome::text                     as outcome,
    (f.state).stock::numeric                    as stock_after,
    (f.state).avg_cost::numeric                 as moving_avg_cost_after,
    (f.state).last_sale_price::numeric          as last_sale_price_after,
    (f.state).last_sale_at::timestamptz         as last_sale_at_after,
    (f.state).last_receipt_at::timestamptz      as last_receipt_at_after,
    f.row_hash::bigint                          as row_hash,
    s.items_read_through::timestamptz           as items_read_through,
    s.transactions_read_through::timestamptz    as transactions_read_through,
    '{{ run_started_at.isoformat() }}'::timestamptz as computed_at
from folded as f
cross join stamps as s

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
