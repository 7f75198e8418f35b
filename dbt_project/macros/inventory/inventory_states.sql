{#-
  Shared pieces of the inventory models (DESIGN.md §6.6).

  inventory_as_of_date()
      The reference day of the stock-age marts, as a SQL date literal: the dbt var
      `inventory_as_of_date` (tests, replays: `--vars '{inventory_as_of_date: 2026-03-05}'`),
      else the environment variable FACTORY_AS_OF_DATE (YYYY-MM-DD; DESIGN.md §4), else the
      plant-local date at the start of the dbt invocation (FACTORY_TIMEZONE / var
      plant_timezone). Rendered at compile time, so every model of one run uses the same day,
      even across midnight, and a rerun with the same date gives the same marts.

  inventory_as_of_cutoff(as_of)
      The instant the as-of day ends: plant-local midnight after it, as a timestamptz. The marts
      describe each product's state after its last movement before that instant, so movements
      dated after the as-of day (a replay of an earlier day, or clock skew) do not count.

  inventory_latest_movements(movements, cutoff, columns)
      One row per product of int_inventory__stock_movements (product_id and `columns`): the
      product's last movement before `cutoff`, i.e. the state the product had reached then.
      The columns are named: a view over `*` would pin every column of the card (PostgreSQL
      refuses to drop a column a view depends on).
      Uses the (product_id, moved_at, transaction_id, item_id) index twice per product: a
      recursive "loose index scan" lists the distinct products (min(product_id) > previous),
      then a backward index probe fetches each one's last row. A few thousand index probes
      instead of reading every movement. Returned as a parenthesised subquery (its WITH
      RECURSIVE must not be the model's top-level WITH, where dbt injects unit-test fixtures).

  inventory_product_states(movements, products, cutoff)
      One row per product of the product master or of the movements (a product sold or
      received but missing from the master still shows), with name, category and the state at
      `cutoff`: stock (0 before any movement), moving-average cost (NULL before any receipt),
      last applied sale price and time, last receipt time.

  inventory_default_margin_pct()
      The margin of the suggested price (percent on cost) when the product's category has no
      row in the seed inventory_category_margins: the var `inventory_margin_pct`, default 40.
-#}

{% macro inventory_as_of_date() -%}
    {%- set given = (var('inventory_as_of_date', none) or env_var('FACTORY_AS_OF_DATE', '')) | string | trim -%}
    {%- if given and given != 'None' -%}
        {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', given) -%}
            {{ exceptions.raise_compiler_error(
                "FACTORY_AS_OF_DATE (or var inventory_as_of_date) must be a date YYYY-MM-DD, got '" ~ given ~ "'") }}
        {%- endif -%}
        {%- set day = modules.datetime.date.fromisoformat(given) -%}
    {%- else -%}
        {%- set day = run_started_at.astimezone(modules.pytz.timezone(source_timezone_name())).date() -%}
    {%- endif -%}
    date '{{ day.isoformat() }}'
{%- endmacro %}

{% macro inventory_as_of_cutoff(as_of) -%}
    (({{ as_of }} + 1)::timestamp at time zone {{ plant_timezone() }})
{%- endmacro %}

{% macro inventory_latest_movements(movements, cutoff, columns) -%}
(
    with recursive moved_products (product_id) as (
        select min(product_id) from {{ movements }}
        union all
        select (select min(m.product_id) from {{ movements }} as m where m.product_id > p.product_id)
        from moved_products as p
        where p.product_id is not null
    )
    select latest.*
    from moved_products as p
    cross join lateral (
        select m.product_id{% for c in columns %}, m.{{ c }}{% endfor %}
        from {{ movements }} as m
        where m.product_id = p.product_id
          and m.moved_at < {{ cutoff }}
        order by m.moved_at desc, m.transaction_id desc, m.item_id desc
        limit 1
    ) as latest
    where p.product_id is not null
)
{%- endmacro %}

{% macro inventory_product_states(movements, products, cutoff) -%}
(
    with latest as {{ inventory_latest_movements(movements, cutoff, [
        'stock_after', 'moving_avg_cost_after', 'last_sale_price_after', 'last_sale_at_after',
        'last_receipt_at_after',
    ]) }},

    all_products as (
        select product_id from {{ products }}
        union
        select product_id from latest
    )

    select
        a.product_id,
        p.product_name,
        p.category,
        coalesce(l.stock_after, 0)   as stock,
        l.moving_avg_cost_after      as moving_avg_cost,
        l.last_sale_price_after      as last_sale_price,
        l.last_sale_at_after         as last_sale_at,
        l.last_receipt_at_after      as last_receipt_at
    from all_products as a
    left join {{ products }} as p on p.product_id = a.product_id
    left join latest as l on l.product_id = a.product_id
)
{%- endmacro %}

{% macro inventory_default_margin_pct() -%}
    {%- set margin = var('inventory_margin_pct', 40) | string | trim -%}
    {%- if not modules.re.fullmatch('-?[0-9]+([.][0-9]+)?', margin) -%}
        {{ exceptions.raise_compiler_error("var inventory_margin_pct must be a number (percent on cost), got '" ~ margin ~ "'") }}
    {%- endif -%}
    {{ margin }}::numeric
{%- endmacro %}

{#-
  inventory_invalid_reason(movement_type, quantity, unit_purchase_cost, unit_sale_price)
      Why a counted line cannot be applied, or NULL: a missing or negative quantity, a receipt
      without a non-negative unit cost, a sale without a non-negative price. One definition for
      lines read from raw and lines folded again from the stock card.
-#}
{% macro inventory_invalid_reason(movement_type, quantity, unit_purchase_cost, unit_sale_price) -%}
    case
        when {{ quantity }} is null or {{ quantity }} < 0
            then 'INVALID_QUANTITY'
        when {{ movement_type }} = 'RECEIPT' and ({{ unit_purchase_cost }} is null or {{ unit_purchase_cost }} < 0)
            then 'INVALID_UNIT_COST'
        when {{ movement_type }} = 'SALE' and ({{ unit_sale_price }} is null or {{ unit_sale_price }} < 0)
            then 'INVALID_SALE_PRICE'
    end
{%- endmacro %}

{#-
  inventory_ensure_index(relation, prefix, definition)
      Post-hook of the stock card: creates the index `definition` (what follows the table name
      in CREATE INDEX) when the table has no index named `prefix`_…, under a fresh name
      (after a full refresh the old table, renamed to a backup, still holds the old index's
      name until it is dropped). For indexes that dbt's `indexes` config cannot declare
      (partial ones) or that a card built by an earlier version lacks: an incremental run
      adds them, no full refresh needed.

  inventory_card_indexes(relation)
      The stock card's indexes made by inventory_ensure_index, in one hook statement:
        * inventory_not_applied_…: (moved_at) where outcome <> 'APPLIED', the lines not
          applied (about 1-2 %), so that marts.inventory_rejects and data_quality_daily read
          those rows without scanning the whole card;
        * inventory_run_stamps_…: (computed_at), so that inventory_last_run_stamps finds the
          most recent run's rows in one index probe instead of one per product.
-#}
{% macro inventory_ensure_index(relation, prefix, definition) -%}
do $ensure_index$
begin
    if not exists (
        select 1 from pg_indexes
        where schemaname = '{{ relation.schema }}'
          and tablename = '{{ relation.identifier }}'
          and indexname like '{{ prefix }}\_%'
    ) then
        execute format(
            'create index %I on {{ relation }} {{ definition | replace("'", "''") }}',
            '{{ prefix }}_' || substr(md5(clock_timestamp()::text), 1, 10)
        );
    end if;
end
$ensure_index$
{%- endmacro %}

{% macro inventory_card_indexes(relation) -%}
{{ inventory_ensure_index(relation, 'inventory_not_applied', "(moved_at) where outcome <> 'APPLIED'") }};
{{ inventory_ensure_index(relation, 'inventory_run_stamps', '(computed_at)') }}
{%- endmacro %}

{#-
  inventory_analyze_once(relation)
      Post-hook of the stock card: ANALYZE it when it has no statistics yet (a first build or a
      full refresh), so that the planner knows how few lines are not applied and uses the
      partial index above. Incremental runs do not pay for it; autovacuum keeps the
      statistics fresh from then on.
-#}
{% macro inventory_analyze_once(relation) -%}
do $analyze_once$
begin
    if not exists (
        select 1 from pg_stats
        where schemaname = '{{ relation.schema }}'
          and tablename = '{{ relation.identifier }}'
          and attname = 'outcome'
    ) then
        analyze {{ relation }};
    end if;
end
$analyze_once$
{%- endmacro %}

{#-
  inventory_synced_since(column, watermark, overlap)
      The filter "synced after the previous run's watermark" of the stock card, for a raw
      `_synced_at` column: later than `watermark` minus `overlap` (sync transactions that
      committed late), but not at `watermark` itself. The rows stamped exactly at the
      watermark were read by that run: the watermark is the largest stamp it saw, a stamp is
      the start time of one sync transaction (`now()`), the transaction committed whole before
      it could be seen, and the syncs of one table run one at a time (an advisory lock), so no
      other transaction carries that stamp. Without this, every night re-read and compared the
      whole previous night's batch (half of the run's lookups: docs/benchmarks.md
      "Inventory"). `watermark` is a SQL literal, `null` before the first incremental run.
-#}
{% macro inventory_synced_since(column, watermark, overlap) -%}
{{ column }} > coalesce({{ watermark }}, '-infinity'::timestamptz) - {{ overlap }}
      and {{ column }} is distinct from {{ watermark }}
{%- endmacro %}

{#-
  inventory_last_run_stamps(relation)
      The stamps the most recent run of the stock card wrote on its rows (raw watermarks
      items_read_through / transactions_read_through, computed_at: when that run started), as
      a dict of SQL literals (`null` when the card has no run yet). Every row a run writes
      carries that run's stamps, and a run that touches a product rewrites it to its last
      movement, so the rows with the latest computed_at hold them: one probe of the
      (computed_at) index (inventory_ensure_index). Read by a query when the model executes,
      before its statement, so that the statement carries them as constants (see
      int_inventory__stock_movements). Values travel as text: a
      timestamptz keeps its microseconds and offset. In a dbt unit test `this` is the fixture, a
      CTE of the test's own query that no separate query can read: there each stamp is the same
      lookup as a scalar subquery of the model's statement instead.
-#}
{% macro inventory_last_run_stamps(relation) -%}
    {%- set columns = {
        'items_read_through': 'timestamptz',
        'transactions_read_through': 'timestamptz',
        'computed_at': 'timestamptz',
    } -%}
    {%- set latest_run -%}
        from {{ relation }} as run order by run.computed_at desc limit 1
    {%- endset -%}
    {%- set stamps = {} -%}
    {%- for name, type in columns.items() -%}
        {%- do stamps.update({name: 'null::' ~ type}) -%}
    {%- endfor -%}
    {%- if relation is string -%}
        {%- for name in columns -%}
            {%- do stamps.update({name: '(select ' ~ name ~ ' ' ~ latest_run ~ ')'}) -%}
        {%- endfor -%}
    {%- elif execute -%}
        {%- set query -%}
            select {% for name in columns %}{{ name }}::text as {{ name }}{{ ', ' if not loop.last }}{% endfor %}
            {{ latest_run }}
        {%- endset -%}
        {%- set result = run_query(query) -%}
        {%- if result.rows | length > 0 -%}
            {%- for name, type in columns.items() -%}
                {%- set value = result.rows[0][name] -%}
                {%- if value is not none -%}
                    {%- do stamps.update({name: "'" ~ value ~ "'::" ~ type}) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(stamps) }}
{%- endmacro %}

{#-
  inventory_drop_census_stamps(relation)
      Pre-hook of the stock card, for cards built before deletions at the source were read
      from the sync's bookkeeping: drops the columns transactions_census_max_id / _count /
      _checksum where they still exist, so that the incremental run does not stop on the schema
      change (on_schema_change='fail'). Looks in the catalogue first: no lock on the card when
      there is nothing to drop.
-#}
{% macro inventory_drop_census_stamps(relation) -%}
do $drop_census$
begin
    if exists (
        select 1 from pg_attribute
        where attrelid = to_regclass('{{ relation.schema }}.{{ relation.identifier }}')
          and attname = 'transactions_census_max_id' and not attisdropped
    ) then
        alter table {{ relation }}
            drop column if exists transactions_census_max_id,
            drop column if exists transactions_census_count,
            drop column if exists transactions_census_checksum;
    end if;
end
$drop_census$
{%- endmacro %}
