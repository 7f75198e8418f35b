-- Mirrors of SQL source tables (DESIGN.md §6.8), loaded by the table-sync assets.
-- Column names are the source's, lower-cased; every non-key column is nullable because raw
-- mirrors the source as it is (bad rows included: dbt explains them). `_synced_at` is when the
-- row was last written by a sync run.

-- Sync bookkeeping: one row per (source, table). The watermark commits in the same transaction
-- as the rows it covers.
CREATE TABLE raw.sync_state (
    source            text        NOT NULL,
    table_name        text        NOT NULL,
    mode              text        NOT NULL CHECK (mode IN ('incremental', 'snapshot')),
    cursor_column     text,
    watermark_ts      timestamptz,
    watermark_id      bigint,
    rows_total        bigint      NOT NULL DEFAULT 0,
    last_run_id       text,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, table_name)
);

CREATE TABLE raw.sync_runs (
    id                bigserial   PRIMARY KEY,
    source            text        NOT NULL,
    table_name        text        NOT NULL,
    run_id            text,
    mode              text        NOT NULL,
    rows_read         bigint      NOT NULL DEFAULT 0,
    rows_upserted     bigint      NOT NULL DEFAULT 0,
    rows_deleted      bigint      NOT NULL DEFAULT 0,
    null_cursor_rows  bigint      NOT NULL DEFAULT 0,
    warnings          text,
    status            text        NOT NULL,
    error             text,
    started_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz
);

-- ERP (MySQL)
CREATE TABLE raw.erp__a_kopf (
    id bigint PRIMARY KEY, auftragstyp text, aunummer text, aualpha text, kundennr text,
    kundenbez text, kommission text, aufstatus text, techniker text, a_vormwst numeric,
    _synced_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE raw.erp__a_logbuch (
    id bigint PRIMARY KEY, id_a_kopf bigint, code text, bezeichnung text, datum date, zeit time,
    benutzer text, notiz text,
    _synced_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE raw.erp__a_kopffreie (
    id_a_kopf bigint NOT NULL, nummer text NOT NULL, feldtyp text, feldinhalt text, feld1 text,
    feld2 text, feld3 text, feld5 text,
    _synced_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id_a_kopf, nummer)
);
CREATE TABLE raw.erp__a_vorgang (
    id_a_kopf bigint NOT NULL, nummer text NOT NULL, bezeichnung text, datum date, zeit time,
    benutzer text, notizcode text, notiztext text, codeintern text, nloesch integer,
    _synced_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id_a_kopf, nummer)
);
CREATE TABLE raw.erp__p_artikel (
    id bigint PRIMARY KEY, id_a_kopf bigint, position integer, artikelid text, dim1 numeric,
    dim2 numeric, dim3 numeric,
    _synced_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE raw.erp__p_zubeh (
    id_a_kopf bigint NOT NULL, position integer NOT NULL, kennung text NOT NULL, znr text,
    zcode text, text text, stueck numeric,
    _synced_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id_a_kopf, position, kennung)
);

-- Forge MES
CREATE TABLE raw.mes__ordine (
    id_ordine bigint PRIMARY KEY, id_cliente bigint, data_inizio timestamptz, totale_pezzi integer,
    data_fine timestamptz, stato text,
    _synced_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE raw.mes__pezzi (
    codice_pezzo text PRIMARY KEY, nome text, tipo_acciaio text, peso_min numeric, peso_max numeric,
    temperatura_min numeric, temperatura_max numeric,
    _synced_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE raw.mes__pezzi_ordine (
    id_ordine bigint NOT NULL, codice_pezzo text NOT NULL, quantita_totale integer,
    _synced_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id_ordine, codice_pezzo)
);
CREATE TABLE raw.mes__magazzino (
    codice_pezzo text PRIMARY KEY, quantita_disponibile integer, data_ultimo_aggiornamento timestamptz,
    _synced_at timestamptz NOT NULL DEFAULT now()
);

-- Plant database
CREATE TABLE raw.plant__production_raw (
    id bigint PRIMARY KEY, plant text, line text, machine_id text, production_date date,
    produced_qty integer, scrap_qty integer, created_at timestamptz,
    _synced_at timestamptz NOT NULL DEFAULT now()
);

-- OLTP sales and goods receipts
CREATE TABLE raw.oltp__productos_maestro (
    producto_id bigint PRIMARY KEY, nombre_producto text, categoria text, created_at timestamptz,
    updated_at timestamptz,
    _synced_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE raw.oltp__transacciones (
    transaccion_id bigint PRIMARY KEY, tipo_transaccion text, fecha_hora timestamptz, estado text,
    total_bruto numeric, notas text, created_at timestamptz,
    _synced_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE raw.oltp__items_transaccion (
    item_id bigint PRIMARY KEY, transaccion_id bigint, producto_id bigint, cantidad numeric,
    precio_unitario_venta numeric, costo_unitario_compra numeric, created_at timestamptz,
    _synced_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE raw.oltp__entradas_mercancia (
    entrada_id bigint PRIMARY KEY, transaccion_id bigint, nombre_proveedor text, numero_factura text,
    fecha_recepcion timestamptz,
    _synced_at timestamptz NOT NULL DEFAULT now()
);
