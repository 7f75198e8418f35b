-- production_raw of the plant database: one row per raw row, nothing filtered (the rules of
-- DESIGN.md §6.5 are applied in the marts, see macros/production__rules.sql). Key text columns
-- are trimmed and a blank value becomes NULL, so ' L1' and 'L1' are one line and '' is a
-- missing key (NULL_KEY), not a line called ''.
select
    id                              as production_raw_id,
    nullif(btrim(plant), '')        as plant,
    nullif(btrim(line), '')         as line,
    nullif(btrim(machine_id), '')   as machine_id,
    production_date,
    produced_qty,
    scrap_qty,
    created_at,
    _synced_at                      as synced_at
from {{ source('plant', 'production_raw') }}
