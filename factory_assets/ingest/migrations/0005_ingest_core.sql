-- One ingestion mechanism for every landing-zone file kind (DESIGN.md §2, §5).
--
-- 1. Ledger columns every file kind uses:
--    * logical_key: what the file's data is about (machine logs: centre + production date). Two
--      paths with one logical key (CASE/20250101.LOG and CASE/20250101.log) never both stay
--      'loaded': the newer one supersedes the older one through the ledger;
--    * rows_duplicate: records sent again and loaded once (rows_in = loaded + rejected +
--      skipped + duplicate);
--    * loader_version: the file kind's code version that loaded the version (a changed version
--      makes Dagster show the data stale and a re-materialisation re-parses it from the archive);
--    * superseded_by: which version replaced this one.
-- 2. One reject table for every file kind: the row or record, its reason, its raw text.
--    Machine-log rejected lines MOVE here (the old raw.machine_logs__rejected_lines is dropped;
--    dbt's stg_machine_logs__rejected_lines reads the shared table).
ALTER TABLE raw.ingest_ledger
    ADD COLUMN logical_key    text,
    ADD COLUMN rows_duplicate bigint,
    ADD COLUMN loader_version text,
    ADD COLUMN superseded_by  bigint REFERENCES raw.ingest_ledger (id);

CREATE INDEX ingest_ledger_logical ON raw.ingest_ledger (source, logical_key) WHERE status = 'loaded';
CREATE INDEX ingest_ledger_status ON raw.ingest_ledger (source, status);

COMMENT ON COLUMN raw.ingest_ledger.logical_key IS
  'What the data of the file is about (e.g. machine logs: centre/production date); at most one loaded version per key.';

CREATE TABLE raw.ingest_rejects (
    file_version_id bigint  NOT NULL REFERENCES raw.ingest_ledger (id),
    source          text    NOT NULL,          -- file kind, as in the ledger
    item_no         bigint  NOT NULL,          -- 1-based line number, or record number in the file
    reason          text    NOT NULL,          -- reason code, e.g. bad_timestamp, line_too_long
    detail          text,                      -- human-readable explanation
    raw_text        text,                      -- the rejected line or record as text (truncated)
    data_date       date,                      -- the plant-local day the data belongs to, when known
    PRIMARY KEY (file_version_id, item_no)
);
CREATE INDEX ingest_rejects_source_day ON raw.ingest_rejects (source, data_date);

COMMENT ON TABLE raw.ingest_rejects IS
  'Every rejected line or record of every landing-zone file kind, with its reason and raw text.';

INSERT INTO raw.ingest_rejects (file_version_id, source, item_no, reason, detail, raw_text, data_date)
SELECT file_version_id, 'machine_logs', line_no, reason, detail, line_text, production_date
  FROM raw.machine_logs__rejected_lines;
DROP TABLE raw.machine_logs__rejected_lines;

-- Existing machine-log versions: their logical key and the parser version that loaded them.
UPDATE raw.ingest_ledger l
   SET logical_key = s.centre || '/' || s.production_date::text,
       loader_version = s.parser_version
  FROM raw.machine_logs__sessions s
 WHERE s.file_version_id = l.id;
