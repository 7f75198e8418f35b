-- Full row accounting of a table sync (DESIGN.md §8: row conservation on every ingestion):
-- rows_read = rows_inserted + rows_updated + rows_unchanged + rows_rejected + rows_duplicate.
-- rows_upserted (0003) stays = rows_inserted + rows_updated, i.e. rows actually written.
ALTER TABLE raw.sync_runs
    ADD COLUMN rows_inserted  bigint NOT NULL DEFAULT 0,
    ADD COLUMN rows_updated   bigint NOT NULL DEFAULT 0,
    ADD COLUMN rows_unchanged bigint NOT NULL DEFAULT 0,
    ADD COLUMN rows_rejected  bigint NOT NULL DEFAULT 0,
    ADD COLUMN rows_duplicate bigint NOT NULL DEFAULT 0,
    ADD COLUMN batches        integer NOT NULL DEFAULT 0,
    ADD COLUMN watermark      text,
    ADD COLUMN reader         text;

CREATE INDEX sync_runs_table_idx ON raw.sync_runs (source, table_name, started_at DESC);
