-- marts.roller_shutter_orders: ERP roller-shutter orders planned for production, one row per
-- (order number, extension) (DESIGN.md §6.3).
--
--   roller shutter  one of the order's accessories has a ZCode starting with one of the box
--                   prefixes below, compared literally: case-sensitive, trailing spaces count
--                   ('SP 12', 'S P' and 'S TABLE' are not boxes);
--   planned         a logbook note contains 'cde Planifiee' AND the order status contains
--                   'Planifiee', 'lancer en prod' or 'vitrage' (case-sensitive substrings);
--   stock-managed   one of the order's events has a number containing 'VR' (case-sensitive).
--
-- Joining orders x planning notes x box accessories gives candidate rows; one is kept per
-- (order number, extension): stock-managed first, then the latest planning note (date, time,
-- logbook id), then the lowest accessory (position, Kennung), then the highest header id (when
-- the ERP holds two headers with the same number and extension).
-- The lists can be overridden with the vars below (e.g. a new box family).

{%- set box_prefixes = var('roller_shutter_box_prefixes', ['SOP', 'S P ', 'S D ', 'S Q ', 'S T ', 'S TAB ', 'S TN ']) %}
{%- set planned_statuses = var('roller_shutter_planned_statuses', ['Planifiee', 'lancer en prod', 'vitrage']) %}
{%- set planned_note = var('roller_shutter_planned_note', 'cde Planifiee') %}

with

planned_orders as (
    select
        order_id,
        order_number,
        coalesce(order_extension, '') as order_extension,
        order_status
    from {{ ref('stg_erp__a_kopf') }}
    where order_number is not null
      and (
        {%- for status in planned_statuses %}
        {{ 'or ' if not loop.first }}strpos(order_status, '{{ status | replace("'", "''") }}') > 0
        {%- endfor %}
      )
),

planning_notes as (
    select
        logbook_entry_id,
        order_id,
        entry_date,
        entry_at
    from {{ ref('stg_erp__a_logbuch') }}
    where strpos(note, '{{ planned_note | replace("'", "''") }}') > 0
),

box_accessories as (
    select
        order_id,
        position,
        accessory_key,
        accessory_code
    from {{ ref('stg_erp__p_zubeh') }}
    where
        {%- for prefix in box_prefixes %}
        {{ 'or ' if not loop.first }}starts_with(accessory_code, '{{ prefix | replace("'", "''") }}')
        {%- endfor %}
),

stock_managed_orders as (
    select distinct order_id
    from {{ ref('stg_erp__a_vorgang') }}
    where strpos(event_number, 'VR') > 0
),

candidates as (
    select
        o.order_number,
        o.order_extension,
        o.order_id,
        o.order_status,
        n.logbook_entry_id,
        n.entry_date,
        n.entry_at,
        b.position,
        b.accessory_key,
        b.accessory_code,
        s.order_id is not null as is_stock_managed
    from planned_orders as o
    inner join planning_notes as n on n.order_id = o.order_id
    inner join box_accessories as b on b.order_id = o.order_id
    left join stock_managed_orders as s on s.order_id = o.order_id
),

ranked as (
    select
        *,
        row_number() over (
            partition by order_number, order_extension
            order by
                is_stock_managed desc,
                entry_date desc nulls last,
                entry_at desc nulls last,
                logbook_entry_id desc,
                position,
                accessory_key,
                order_id desc
        ) as preference,
        count(*) over (partition by order_number, order_extension) as candidate_rows
    from candidates
)

select
    order_number::text             as order_number,
    order_extension::text          as order_extension,
    order_id::bigint               as order_id,
    order_status::text             as order_status,
    entry_date::date               as modified_on,
    entry_at::timestamptz          as modified_at,
    accessory_code::text           as box_code,
    is_stock_managed::boolean      as is_stock_managed,
    logbook_entry_id::bigint       as logbook_entry_id,
    candidate_rows::bigint         as candidate_rows
from ranked
where preference = 1
