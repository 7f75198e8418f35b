"""Shared pieces of the SQL-sync tests: source databases on the real servers, and the contract every
source dialect (and every MySQL reader) must satisfy.

``SyncContract`` holds the tests; each dialect's test module subclasses it with a ``source_url``
fixture (a fresh, uniquely named database, dropped afterwards) and the reader to use. Source data
is changed through the demo schema's SQLAlchemy tables, so one test body serves MySQL and
PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import psycopg
import pytest
import sqlalchemy as sa

from factory_assets.demo.sql_sources import METADATA, create_demo_sources
from factory_assets.ingest.migrate import migrate
from factory_assets.sql_sources.sync import SnapshotGuard, SyncResult, sync_table
from factory_assets.sql_sources.tables import TABLES, TableSpec, table_spec
from resources.sql_source import SourceUnavailable, SqlSourceResource
from tests.services import MYSQL_URL, PG_URL

TODAY = dt.date(2024, 11, 5)


class Crash(RuntimeError):
    """Raised by an ``after_batch`` hook to stop a sync between two batches."""


@pytest.fixture
def mariadb_url():
    """A new MariaDB database; dropped afterwards."""
    name = f"factory_src_{uuid.uuid4().hex[:12]}"
    server = sa.create_engine(MYSQL_URL)
    with server.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    try:
        yield sa.engine.make_url(MYSQL_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()


@pytest.fixture
def postgres_url():
    """A new PostgreSQL source database (not the warehouse); dropped afterwards."""
    name = f"factory_src_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.rpartition("/")[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def wh(warehouse_url):
    """Autocommit connection to a fresh warehouse with the raw migrations applied."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        migrate(conn)
        yield conn


def execute(url: str, *statements) -> None:
    """Run SQLAlchemy statements (or ``(statement, params)`` pairs) in one source transaction."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for stmt in statements:
                if isinstance(stmt, tuple):
                    conn.execute(*stmt)
                else:
                    conn.execute(sa.text(stmt) if isinstance(stmt, str) else stmt)
    finally:
        engine.dispose()


def table(source: str, name: str) -> sa.Table:
    return METADATA[source].tables[name]


def rows(wh: psycopg.Connection, query: str, params=()) -> list[tuple]:
    return wh.execute(query, params).fetchall()


def one(wh: psycopg.Connection, query: str, params=()):
    return wh.execute(query, params).fetchone()[0]


class SyncContract:
    """Behaviour required of the sync for every source dialect and reader."""

    reader = "auto"

    # --- helpers -------------------------------------------------------------------------------
    def resource(self, url: str, source: str = "erp", **kw) -> SqlSourceResource:
        return SqlSourceResource(source=source, url=url, reader=self.reader, **kw)

    def sync(self, wh, url, source: str, name: str, *, spec: TableSpec | None = None, **kw) -> SyncResult:
        hook = kw.pop("after_batch", None)
        spec = spec or table_spec(source, name)
        result = sync_table(spec, self.resource(url, source, **kw), wh, after_batch=hook)
        assert result.conserved, result.as_dict()
        return result

    # --- tests ---------------------------------------------------------------------------------
    def test_first_sync_then_rerun_writes_nothing(self, source_url, wh):
        written = create_demo_sources(source_url, today=TODAY)
        first = {spec.table: self.sync(wh, source_url, spec.source, spec.table) for spec in TABLES}
        for spec in TABLES:
            r = first[spec.table]
            assert r.rows_read == written[spec.table], spec.table
            assert one(wh, f"SELECT count(*) FROM {spec.raw_table}") == written[spec.table], spec.table
            assert r.rows_inserted == written[spec.table] and r.reader == self.expected_reader
        # CamelCase ERP names map to lower-case raw columns; bad production rows are mirrored as they are
        assert (
            one(wh, "SELECT count(*) FROM raw.erp__p_zubeh WHERE zcode LIKE 'SOP%%' OR zcode LIKE 'S T %%'")
            > 0
        )
        assert (
            one(wh, "SELECT count(*) FROM raw.plant__production_raw WHERE plant IS NULL OR line IS NULL") == 2
        )
        assert one(wh, "SELECT count(*) FROM raw.oltp__productos_maestro WHERE updated_at IS NULL") > 0
        assert first["productos_maestro"].null_cursor_rows > 0
        stamps = {spec.table: one(wh, f"SELECT max(_synced_at) FROM {spec.raw_table}") for spec in TABLES}
        state = rows(
            wh,
            "SELECT source, table_name, watermark_ts, watermark_id, rows_total FROM raw.sync_state ORDER BY 1, 2",
        )
        assert len(state) == len(TABLES)

        for spec in TABLES:
            again = self.sync(wh, source_url, spec.source, spec.table)
            assert (again.rows_upserted, again.rows_deleted) == (0, 0), spec.table
            assert one(wh, f"SELECT max(_synced_at) FROM {spec.raw_table}") == stamps[spec.table]
        assert (
            rows(
                wh,
                "SELECT source, table_name, watermark_ts, watermark_id, rows_total FROM raw.sync_state ORDER BY 1, 2",
            )
            == state
        )
        statuses = rows(wh, "SELECT status, count(*) FROM raw.sync_runs GROUP BY 1")
        assert statuses == [("success", 2 * len(TABLES))]

    def test_rows_at_the_watermark_timestamp_are_not_lost(self, source_url, wh):
        create_demo_sources(source_url, sources=("mes",), today=TODAY)
        self.sync(wh, source_url, "mes", "magazzino")
        mag = table("mes", "magazzino")
        latest = _source_scalar(source_url, sa.select(sa.func.max(mag.c.data_ultimo_aggiornamento)))
        execute(
            source_url,
            sa.insert(mag).values(
                codice_pezzo="NEW-1", quantita_disponibile=7, data_ultimo_aggiornamento=latest
            ),
        )
        r = self.sync(wh, source_url, "mes", "magazzino")
        assert r.rows_inserted == 1
        assert rows(
            wh, "SELECT quantita_disponibile FROM raw.mes__magazzino WHERE codice_pezzo = 'NEW-1'"
        ) == [(7,)]

    def test_late_rows_inside_the_overlap_window_are_loaded(self, source_url, wh):
        create_demo_sources(source_url, sources=("mes",), today=TODAY)
        self.sync(wh, source_url, "mes", "magazzino")
        mag = table("mes", "magazzino")
        latest = _source_scalar(source_url, sa.select(sa.func.max(mag.c.data_ultimo_aggiornamento)))
        execute(
            source_url,
            sa.insert(mag).values(
                codice_pezzo="LATE-1",
                quantita_disponibile=3,
                data_ultimo_aggiornamento=latest - dt.timedelta(minutes=4),
            ),
            sa.update(mag)
            .where(mag.c.codice_pezzo == "FLG-0100")
            .values(quantita_disponibile=999, data_ultimo_aggiornamento=latest - dt.timedelta(seconds=30)),
        )
        r = self.sync(wh, source_url, "mes", "magazzino")
        assert (r.rows_inserted, r.rows_updated) == (1, 1)
        assert (
            one(wh, "SELECT quantita_disponibile FROM raw.mes__magazzino WHERE codice_pezzo = 'FLG-0100'")
            == 999
        )
        assert one(wh, "SELECT count(*) FROM raw.mes__magazzino WHERE codice_pezzo = 'LATE-1'") == 1

    def test_crash_between_batches_leaves_no_gap_and_no_duplicate(self, source_url, wh):
        create_demo_sources(source_url, sources=("erp",), today=TODAY)
        total = _source_scalar(source_url, sa.select(sa.func.count()).select_from(table("erp", "A_Logbuch")))

        def crash_after_third(info):
            assert info.committed
            if info.number == 3:
                raise Crash("simulated crash after batch 3")

        with pytest.raises(Crash):
            self.sync(wh, source_url, "erp", "A_Logbuch", batch_size=100, after_batch=crash_after_third)
        assert one(wh, "SELECT count(*) FROM raw.erp__a_logbuch") == 300
        assert one(wh, "SELECT watermark_id FROM raw.sync_state WHERE table_name = 'a_logbuch'") == 300
        assert rows(wh, "SELECT status, rows_read, rows_upserted FROM raw.sync_runs") == [
            ("failed", 300, 300)
        ]

        r = self.sync(wh, source_url, "erp", "A_Logbuch", batch_size=100)
        assert r.rows_inserted == total - 300 and r.rows_updated == 0
        ids = [x[0] for x in rows(wh, "SELECT id FROM raw.erp__a_logbuch ORDER BY id")]
        assert ids == list(range(1, total + 1))  # no gap, no duplicate

    def test_killed_warehouse_connection_mid_run_then_rerun(self, source_url, wh, warehouse_url):
        create_demo_sources(source_url, sources=("oltp",), today=TODAY)
        total = _source_scalar(
            source_url, sa.select(sa.func.count()).select_from(table("oltp", "items_transaccion"))
        )
        victim = psycopg.connect(warehouse_url, autocommit=True)
        pid = victim.info.backend_pid

        def kill_after_second(info):
            if info.number == 2:
                with psycopg.connect(warehouse_url, autocommit=True) as admin:
                    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

        with victim, pytest.raises(psycopg.OperationalError):
            sync_table(
                table_spec("oltp", "items_transaccion"),
                self.resource(source_url, "oltp", batch_size=200),
                victim,
                after_batch=kill_after_second,
            )
        assert one(wh, "SELECT count(*) FROM raw.oltp__items_transaccion") == 400
        r = self.sync(wh, source_url, "oltp", "items_transaccion", batch_size=200)
        assert r.rows_inserted == total - 400
        assert one(wh, "SELECT count(DISTINCT item_id) FROM raw.oltp__items_transaccion") == total
        assert rows(wh, "SELECT status FROM raw.sync_runs ORDER BY id") == [("interrupted",), ("success",)]

    def test_snapshot_crash_while_staging_changes_nothing(self, source_url, wh):
        create_demo_sources(source_url, sources=("erp",), today=TODAY)
        self.sync(wh, source_url, "erp", "A_Kopf")
        before = rows(wh, "SELECT id, aufstatus, _synced_at FROM raw.erp__a_kopf ORDER BY id")
        kopf = table("erp", "A_Kopf")
        execute(source_url, sa.update(kopf).values(AufStatus="Livree"), sa.delete(kopf).where(kopf.c.ID < 10))

        def crash(info):
            assert not info.committed
            if info.number == 2:
                raise Crash("simulated crash while staging")

        with pytest.raises(Crash):
            self.sync(wh, source_url, "erp", "A_Kopf", batch_size=50, after_batch=crash)
        assert rows(wh, "SELECT id, aufstatus, _synced_at FROM raw.erp__a_kopf ORDER BY id") == before

    def test_added_source_column_is_ignored_and_missing_one_stays_null(self, source_url, wh):
        create_demo_sources(source_url, sources=("mes",), today=TODAY)
        execute(
            source_url,
            "ALTER TABLE magazzino ADD COLUMN scaffale varchar(10)",
            "UPDATE magazzino SET scaffale = 'A-01'",
            "ALTER TABLE pezzi DROP COLUMN tipo_acciaio",
        )
        r = self.sync(wh, source_url, "mes", "magazzino")
        assert r.rows_inserted == 10
        assert any("scaffale" in w and "ignored" in w for w in r.warnings)
        p = self.sync(wh, source_url, "mes", "pezzi")
        assert p.rows_inserted == 10 and any("tipo_acciaio" in w and "NULL" in w for w in p.warnings)
        assert one(wh, "SELECT count(*) FROM raw.mes__pezzi WHERE tipo_acciaio IS NOT NULL") == 0
        assert "scaffale" in one(wh, "SELECT warnings FROM raw.sync_runs WHERE table_name = 'magazzino'")

    def test_source_down_fails_clearly_and_writes_nothing(self, source_url, wh):
        down = self.down_url()
        with pytest.raises(SourceUnavailable) as err:
            self.sync(wh, down, "erp", "A_Logbuch")
        message = str(err.value)
        assert "'erp'" in message and "127.0.0.1:1" in message and "***" in message
        assert "s3cret" not in message
        assert one(wh, "SELECT count(*) FROM raw.erp__a_logbuch") == 0
        assert one(wh, "SELECT count(*) FROM raw.sync_state") == 0
        status, error = rows(wh, "SELECT status, error FROM raw.sync_runs")[0]
        assert status == "failed" and "s3cret" not in error and "'erp'" in error

    def test_null_cursor_rows_are_loaded_and_reported(self, source_url, wh):
        create_demo_sources(source_url, sources=("oltp",), today=TODAY)
        prod = table("oltp", "productos_maestro")
        nulls = _source_scalar(source_url, sa.select(sa.func.count()).where(prod.c.updated_at.is_(None)))
        assert nulls > 0
        first = self.sync(wh, source_url, "oltp", "productos_maestro")
        assert first.null_cursor_rows == nulls
        assert one(wh, "SELECT null_cursor_rows FROM raw.sync_runs") == nulls
        execute(
            source_url, sa.insert(prod).values(producto_id=900, nombre_producto="Nuevo", categoria="Pintura")
        )
        again = self.sync(wh, source_url, "oltp", "productos_maestro")
        assert again.null_cursor_rows == nulls + 1 and again.rows_inserted == 1
        assert one(wh, "SELECT count(*) FROM raw.oltp__productos_maestro") == 23

    def test_snapshot_detects_deletions_and_refuses_a_wipe(self, source_url, wh):
        create_demo_sources(source_url, sources=("erp",), today=TODAY)
        self.sync(wh, source_url, "erp", "A_Kopf")
        self.sync(wh, source_url, "erp", "P_Zubeh")
        kopf, zubeh = table("erp", "A_Kopf"), table("erp", "P_Zubeh")
        execute(
            source_url,
            sa.delete(kopf).where(kopf.c.ID.in_([3, 4])),
            sa.update(kopf).where(kopf.c.ID == 5).values(AufStatus="A lancer en prod"),
            sa.delete(zubeh).where(zubeh.c.ID_A_Kopf == 3),
        )
        r = self.sync(wh, source_url, "erp", "A_Kopf")
        assert (r.rows_deleted, r.rows_updated, r.rows_inserted) == (2, 1, 0)
        assert one(wh, "SELECT count(*) FROM raw.erp__a_kopf WHERE id IN (3, 4)") == 0
        assert one(wh, "SELECT aufstatus FROM raw.erp__a_kopf WHERE id = 5") == "A lancer en prod"
        z = self.sync(wh, source_url, "erp", "P_Zubeh")
        assert (
            z.rows_deleted > 0 and one(wh, "SELECT count(*) FROM raw.erp__p_zubeh WHERE id_a_kopf = 3") == 0
        )

        execute(source_url, sa.delete(kopf))
        with pytest.raises(SnapshotGuard):
            self.sync(wh, source_url, "erp", "A_Kopf")
        assert one(wh, "SELECT count(*) FROM raw.erp__a_kopf") == 238

    def test_microseconds_and_source_time_zone(self, source_url, wh):
        create_demo_sources(source_url, sources=("mes",), today=TODAY)
        mag = table("mes", "magazzino")
        execute(
            source_url,
            sa.delete(mag),
            sa.insert(mag).values(
                [
                    # 01:30 in New York on 10 March 2024 is EST (-05:00), 03:30 is already EDT (-04:00)
                    dict(
                        codice_pezzo="A",
                        quantita_disponibile=1,
                        data_ultimo_aggiornamento=dt.datetime(2024, 3, 10, 1, 30, 0, 123456),
                    ),
                    dict(
                        codice_pezzo="B",
                        quantita_disponibile=2,
                        data_ultimo_aggiornamento=dt.datetime(2024, 3, 10, 3, 30, 0, 999999),
                    ),
                ]
            ),
        )
        r = self.sync(wh, source_url, "mes", "magazzino", timezone="America/New_York")
        got = dict(rows(wh, "SELECT codice_pezzo, data_ultimo_aggiornamento FROM raw.mes__magazzino"))
        utc = ZoneInfo("UTC")
        assert got["A"] == dt.datetime(2024, 3, 10, 6, 30, 0, 123456, tzinfo=utc)
        assert got["B"] == dt.datetime(2024, 3, 10, 7, 30, 0, 999999, tzinfo=utc)
        wm = one(wh, "SELECT watermark_ts FROM raw.sync_state WHERE table_name = 'magazzino'")
        assert wm == got["B"] and wm.microsecond == 999999 and r.watermark.endswith("+00:00")
        # the next run asks the source for naive New York times again: nothing new, B re-read in the overlap
        again = self.sync(wh, source_url, "mes", "magazzino", timezone="America/New_York")
        assert again.rows_read == 1 and again.rows_upserted == 0

    def test_source_without_primary_key_duplicates_and_null_keys_are_counted(self, source_url, wh):
        create_demo_sources(source_url, sources=("erp",), today=TODAY)
        freie = table("erp", "A_KopfFreie")
        execute(
            source_url,
            sa.insert(freie).values(ID_A_Kopf=1, Nummer="1", FeldInhalt="second copy"),
            sa.insert(freie).values(ID_A_Kopf=None, Nummer="9", FeldInhalt="orphan"),
        )
        r = self.sync(wh, source_url, "erp", "A_KopfFreie")
        assert (r.rows_duplicate, r.rows_rejected) == (1, 1)
        assert r.rows_read == r.rows_inserted + 2
        assert any("NULL key" in w for w in r.warnings)

    # --- dialect specifics, provided by subclasses -----------------------------------------------
    expected_reader = "sqlalchemy"

    def down_url(self) -> str:
        raise NotImplementedError


def _source_scalar(url: str, stmt):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(stmt).scalar()
    finally:
        engine.dispose()
