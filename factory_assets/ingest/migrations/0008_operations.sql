-- Forging and CNC operation records from JSON drops (DESIGN.md §6.4): operations/<anything>.json,
-- dropped into the landing zone or POSTed to the HTTP gateway (§9).
--
-- One row per accepted record (a record with a usable identity: order, piece, operation type).
-- Records rejected whole go to the shared raw.ingest_rejects; field-level problems are loaded
-- as NULL with one row each in raw.operations__anomalies.
--
-- Re-sent records: the natural key (order, piece, machine, operation type, start instant) is
-- unique across all loaded drops. The FIRST copy loaded wins; a later copy is counted in the
-- ledger's rows_duplicate and not loaded (README "Operations").
--
-- No foreign key to raw.ingest_ledger here (one trigger call per row on the 20,000 records/s
-- path): file_version_id always comes from the ledger row of the version being loaded, in the
-- same transaction, and a version's rows are removed by file_version_id when it is superseded.
CREATE TABLE raw.operations__operations (
    file_version_id       bigint      NOT NULL,          -- raw.ingest_ledger.id of the drop
    record_no             integer     NOT NULL,          -- 1-based position in the drop's array
    record_key            text COLLATE "C" NOT NULL,     -- natural key, see below (bytewise: faster index)
    id_ordine             bigint      NOT NULL,
    codice_pezzo          text        NOT NULL,
    tipo_operazione       text        NOT NULL CHECK (tipo_operazione IN ('forgiatura', 'cnc')),
    codice_macchinario    text,
    codice_operatore      text,
    timestamp_inizio      timestamptz,
    timestamp_fine        timestamptz,
    peso_effettivo        double precision,               -- kg (forging)
    temperatura_effettiva double precision,               -- °C (forging)
    numero_pezzi_ora      double precision,               -- pieces per hour (CNC)
    tipo_fermo            text,                           -- stop kind (CNC), e.g. utensile, software, nessun_fermo
    PRIMARY KEY (file_version_id, record_no)
);
-- order, piece, machine, operation type and start instant (UTC, or the value as sent when it is
-- not a valid timestamp), joined by U+001F: two copies of one record have the same key.
CREATE UNIQUE INDEX operations__operations_record_key ON raw.operations__operations (record_key);

COMMENT ON TABLE raw.operations__operations IS
  'Forging and CNC operation records of JSON drops (operations/*.json): one row per accepted record; first copy of a re-sent record wins.';
COMMENT ON COLUMN raw.operations__operations.record_key IS
  'Natural key: order, piece, machine, operation type, start instant (UTC ISO 8601, or raw:<value as sent>), separated by U+001F.';

-- Field-level anomalies of loaded records: the field is NULL in raw.operations__operations (or
-- kept, for operator-reported anomalies), and the value as sent is kept here as text.
CREATE TABLE raw.operations__anomalies (
    file_version_id       bigint      NOT NULL REFERENCES raw.ingest_ledger (id),
    record_no             integer     NOT NULL,
    anomaly_no            integer     NOT NULL,          -- 1-based within the record
    code                  text        NOT NULL,          -- INVALID_FIELD, OUT_OF_RANGE, FUTURE_TIMESTAMP, ...
    field                 text,                           -- JSON field name (anomalia[2] for an item)
    message               text        NOT NULL,
    value                 text,                           -- the value as sent, as text (truncated)
    operator_anomaly_id   bigint,                         -- OPERATOR_REPORTED: the anomaly id sent
    PRIMARY KEY (file_version_id, record_no, anomaly_no),
    FOREIGN KEY (file_version_id, record_no)
        REFERENCES raw.operations__operations (file_version_id, record_no) ON DELETE CASCADE
);

COMMENT ON TABLE raw.operations__anomalies IS
  'Field-level anomalies of loaded operation records (DESIGN.md §6.4): code, field, message and the value as sent.';
