-- Logistics: field-service CSV exports (DESIGN.md §6.7), two file kinds.
--
-- * raw.logistics__visits and raw.logistics__customers hold the rows of every loaded file version
--   (file_version_id = raw.ingest_ledger.id, line_no = line in the file). A corrected export of a
--   file (same path) replaces that version's rows (the shared mechanism deletes them by
--   file_version_id). A visit or customer id present in several files keeps one row per file
--   here; dbt keeps the row of the file loaded last ("last file wins by id", docs/logistics.md).
-- * Personal data stays in this schema, which the BI role cannot read: customer name, email,
--   phone, and technician full names. staging and marts carry HMAC-SHA256 pseudonyms computed by
--   the loader (the key never reaches SQL): customer_key per customer row, and the technician
--   pseudonyms in raw.logistics__technicians (one row per spelling of a name).
-- * No foreign key to the ledger and no B-tree on the big tables: a per-row check or index would
--   cost as much as the COPY itself. BRIN indexes (tiny, rows arrive in version order) serve the
--   deletes and counts by file version.
-- * raw.logistics__erasures records each run of the erase_customer job: who, when, what was
--   removed (counts), and the suppression fingerprint that keeps the customer out when files are
--   loaded again — never the customer's data.

CREATE TABLE raw.logistics__visits (
    file_version_id bigint  NOT NULL,  -- raw.ingest_ledger.id of the file version
    line_no         integer NOT NULL,  -- 1-based line in the file (the header is line 1)
    visit_id        bigint  NOT NULL,  -- `id`
    customer_id     bigint,            -- `id_cliente`; NULL when not given or after an erasure
    technician      text    NOT NULL,  -- `angel`: the technician's full name (personal data)
    base            text    NOT NULL,  -- `polo`, e.g. CE - JUAZEIRO DO NORTE
    deadline_date   date    NOT NULL,  -- `data_limite`, date part
    deadline_at     timestamp,         -- `data_limite` when it has a time (local wall-clock), else NULL
    visit_date      date    NOT NULL,  -- `data_de_atendimento`, date part
    visited_at      timestamp          -- `data_de_atendimento` when it has a time, else NULL
);
CREATE INDEX logistics__visits_version ON raw.logistics__visits USING brin (file_version_id);
COMMENT ON TABLE raw.logistics__visits IS
  'Service visits of every loaded logistics/visits/*.csv version, one row per accepted line (personal data: technician).';

CREATE TABLE raw.logistics__customers (
    file_version_id bigint  NOT NULL,
    line_no         integer NOT NULL,
    customer_id     bigint  NOT NULL,  -- `id_cliente`
    customer_key    text    NOT NULL,  -- HMAC-SHA256 pseudonym of the customer id
    name            text,              -- personal data
    email           text,              -- personal data
    phone           text               -- personal data
);
CREATE INDEX logistics__customers_version ON raw.logistics__customers USING brin (file_version_id);
COMMENT ON TABLE raw.logistics__customers IS
  'Customers of every loaded logistics/customers/*.csv version (personal data: name, email, phone).';

CREATE TABLE raw.logistics__technicians (
    name                  text PRIMARY KEY,  -- as written in the exports (personal data)
    technician_key        text NOT NULL,     -- HMAC-SHA256 pseudonym of the normalised name
    first_file_version_id bigint,
    first_seen_at         timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE raw.logistics__technicians IS
  'Technician name -> pseudonym, written by the visits loader (names are personal data: raw only).';

CREATE TABLE raw.logistics__erasures (
    id            bigserial PRIMARY KEY,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz,
    requested_by  text,                 -- who asked (job config / run tag), never the customer
    run_id        text,
    fingerprint   text    NOT NULL,     -- HMAC of 'erased-customer:<id>' (not the pseudonym)
    bucket        integer NOT NULL,     -- keyed 12-bit bucket of the id: finds candidate rows fast
    status        text    NOT NULL CHECK (status IN ('archive_pending', 'done')),
    counts        jsonb   NOT NULL DEFAULT '{}'
);
CREATE INDEX logistics__erasures_bucket ON raw.logistics__erasures (bucket);
COMMENT ON TABLE raw.logistics__erasures IS
  'One row per erase_customer run: when, who, counts of what was removed; no data of the customer.';
