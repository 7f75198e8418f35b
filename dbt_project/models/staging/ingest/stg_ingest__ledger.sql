-- The ingestion ledger: one row per landing-zone file version (DESIGN.md §5).
-- `id` is renamed to file_version_id, the name loaded rows use to point at it.
select
    id          as file_version_id,
    source,
    path,
    size        as size_bytes,
    mtime,
    sha256,
    status,
    partition_key,
    rows_in,
    rows_loaded,
    rows_rejected,
    rows_skipped,
    rows_duplicate,
    logical_key,
    loader_version,
    run_id,
    attempts,
    error,
    duplicate_of as duplicate_of_file_version_id,
    shrunk,
    first_seen_at,
    updated_at,
    loaded_at,
    archived_path
from {{ source('ingest', 'ledger') }}
