-- Ledger of every landing-zone file version (DESIGN.md §5). The ledger row and the rows a
-- version loads commit in one transaction, so the ledger is the only truth about what loaded.
CREATE SCHEMA IF NOT EXISTS raw;

CREATE TABLE raw.ingest_ledger (
    id              bigserial PRIMARY KEY,
    source          text        NOT NULL,             -- drop kind, e.g. 'machine_logs'
    path            text        NOT NULL,             -- path relative to the landing-zone root
    size            bigint      NOT NULL,
    mtime           timestamptz NOT NULL,
    sha256          text,                             -- NULL only for files quarantined unread (bad name)
    status          text        NOT NULL CHECK (status IN
                        ('loading', 'retry', 'loaded', 'duplicate', 'quarantined', 'failed', 'superseded')),
    partition_key   text,
    rows_in         bigint,
    rows_loaded     bigint,
    rows_rejected   bigint,
    rows_skipped    bigint,                           -- e.g. blank lines: in = loaded + rejected + skipped
    run_id          text,
    attempts        integer     NOT NULL DEFAULT 0,
    error           text,
    duplicate_of    bigint REFERENCES raw.ingest_ledger (id),
    shrunk          boolean     NOT NULL DEFAULT false,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    loaded_at       timestamptz,
    archived_path   text,
    UNIQUE (source, path, sha256)
);
CREATE UNIQUE INDEX ingest_ledger_unread ON raw.ingest_ledger (source, path, size, mtime) WHERE sha256 IS NULL;
CREATE INDEX ingest_ledger_source_path ON raw.ingest_ledger (source, path);
CREATE INDEX ingest_ledger_sha ON raw.ingest_ledger (source, sha256);

COMMENT ON TABLE raw.ingest_ledger IS
  'One row per landing-zone file version (path, sha256): status, counts in/loaded/rejected, attempts, errors.';
