{{ config(materialized='table') }}
-- One row per visit id: "the last file wins by id" (docs/logistics.md). When a visit id appears
-- in several loaded files, the row of the file version loaded last is kept (ledger loaded_at,
-- then ledger id); within one file, the last line. A corrected export of the same file already
-- replaced its previous version's rows at load time.
-- No customer column: no table outside raw holds anything of a customer (see the erasure job).
with ranked as (
    select
        visit_id,
        technician_key,
        base,
        deadline_date,
        deadline_at,
        visit_date,
        visited_at,
        file_version_id,
        line_no,
        row_number() over (
            partition by visit_id
            order by file_loaded_at desc, file_version_id desc, line_no desc
        ) as rank_in_files,
        count(*) over (partition by visit_id) as copies
    from {{ ref('stg_logistics__visits') }}
)

select
    visit_id,
    technician_key,
    base,
    deadline_date,
    deadline_at,
    visit_date,
    visited_at,
    file_version_id,
    line_no,
    copies
from ranked
where rank_in_files = 1
