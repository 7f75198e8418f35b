"""The table-sync engine: one source table -> ``raw.<source>__<table>``, for every SQL source.

How a batch is written (both modes): ``COPY`` into a temporary text table (the *stage*), then
``UPDATE`` the mirror rows whose values differ and ``INSERT`` the keys it lacks. Unchanged rows are
not touched, so a rerun with no source change writes nothing (``_synced_at`` moves only with
data). A run holds a per-table advisory lock, so two runs of one table serialise instead of
interleaving their batches.

Incremental mode. Rows are read ordered by the cursor, from ``watermark - overlap`` (timestamps:
``overlap_seconds``, default 5 min; ids: ``overlap_ids``, default 100, because auto-increment ids
can commit out of order). Each batch commits in one transaction together with the new watermark
(the batch's largest cursor, never moving backwards): a crash between batches loses nothing and
duplicates nothing, the rerun starts at the last committed watermark and the upsert absorbs the
re-read rows. Rows whose cursor is NULL cannot be placed behind a watermark; they are read in a
separate pass on *every* run (``WHERE cursor IS NULL``), loaded, and counted as
``null_cursor_rows`` in the metadata, the log and ``raw.sync_runs``. Rows deleted at the source
stay in the mirror: an incremental table is append/update-only by contract; a table whose rows are
deleted belongs in snapshot mode.

Snapshot mode. The whole table is staged first (nothing visible yet); then one transaction
updates, inserts, deletes the keys no longer at the source, and records the run, so readers see
the old snapshot or the new one, never a mix. A snapshot that would delete more than
``max_delete_fraction`` of a table is refused (an emptied source table is more often a fault:
wrong database, missing grant).

Dirty values. A MySQL zero or impossible date becomes NULL and NUL characters are removed from
strings (rules in :mod:`.mapping`); the row is loaded like any other. Conversions are counted per
source column and kind in ``raw.sync_runs.conversions`` (jsonb, e.g. ``{"A_Logbuch.Datum":
{"zero_date_to_null": 3}}``), for the rows a run *writes* (inserted or changed): re-reading an
unchanged row (snapshots, the overlap window, the NULL-cursor pass) does not count it again, so the
counts of a day's runs add up (``marts.data_quality_daily``). Finding them costs one ``FILTER``
count per date column in the stage statistics, and a clean stage is then merged without the date
rules; the rows written are only looked up when a batch has a conversion. A value PostgreSQL still refuses (a number too large for the raw column, a
``TIME`` beyond 24 h, …) fails the run with :class:`UnloadableValue`, which names the source table,
column, the row's key and the value: the failed statement is the fast path, and only then is the
culprit searched, column by column and then by halving the staged rows (``ctid`` ranges).

Every run leaves a row in ``raw.sync_runs`` (status ``running`` -> ``success`` | ``failed``; a run
killed mid-way is marked ``interrupted`` by the next one) and ``raw.sync_state`` holds the
watermark. Those tables are the truth; Dagster state is not consulted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import sqlalchemy as sa
from psycopg import sql
from psycopg.types.json import Jsonb

from factory_assets.ingest.copy import copy_payload, copy_rows
from factory_assets.sql_sources.mapping import NUL_COLUMNS, NUL_REMOVED, Column, Plan, build_plan
from factory_assets.sql_sources.readers import (
    Batch,
    SourceReadError,
    choose_reader,
    prefetched,
    read_batches,
    strip_nul_rows,
)
from factory_assets.sql_sources.tables import TableSpec
from resources.sql_source import SourceUnavailable, SqlSourceResource, scrub

log = logging.getLogger(__name__)

LOCK_CLASS = 0x53514C53  # 'SQLS': advisory-lock namespace of table syncs
STAGE = "_sql_sync_stage"
SMALL_TABLE = 100  # below this many rows the snapshot delete guard does not apply


class SnapshotGuard(RuntimeError):
    """A snapshot would delete too much of a table; nothing was written."""


class UnloadableValue(ValueError):
    """A source value the raw column cannot take even after the dirty-value conversions; names the
    source table, the column, the row's key and the value. The failing batch was not written."""


@dataclass
class BatchInfo:
    """Passed to ``after_batch`` hooks (tests use it to crash between batches)."""

    number: int
    rows: int
    committed: bool  # incremental: the batch and its watermark are committed; snapshot: only staged


@dataclass
class SyncResult:
    source: str
    table: str
    mode: str
    reader: str
    rows_read: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    rows_deleted: int = 0
    rows_rejected: int = 0  # NULL in a key column: cannot be stored
    rows_duplicate: int = 0  # same key twice in one read (sources without a primary key)
    null_cursor_rows: int = 0
    batches: int = 0
    watermark: str | None = None
    raw_rows: int | None = None  # snapshot: rows in the mirror after the run
    rows_total: int | None = None  # rows in the mirror per raw.sync_state after the run
    warnings: list[str] = field(default_factory=list)
    # values converted in the rows written: {"<Table>.<Column>": {"<kind>": rows}} (see mapping.py)
    conversions: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rows_upserted(self) -> int:
        return self.rows_inserted + self.rows_updated

    @property
    def conserved(self) -> bool:
        """Every row read is inserted, updated, unchanged, rejected or a duplicate; a snapshot mirror
        then holds exactly the distinct keys read."""
        accounted = (
            self.rows_inserted
            + self.rows_updated
            + self.rows_unchanged
            + self.rows_rejected
            + self.rows_duplicate
        )
        ok = accounted == self.rows_read
        if self.mode == "snapshot" and self.raw_rows is not None:
            ok = ok and self.raw_rows == self.rows_read - self.rows_rejected - self.rows_duplicate
        return ok

    def as_dict(self) -> dict:
        return asdict(self) | {"rows_upserted": self.rows_upserted, "conserved": self.conserved}


def mirror_data_version(conn: psycopg.Connection, source: str, table: str) -> str:
    """The data version of a table's raw mirror: the id of the last sync run of that table that
    inserted, updated or deleted rows (whatever its final status: a failed run may have committed
    batches), ``"0"`` if none ever did.

    It changes exactly when the mirror's rows do, so a scheduled sync that finds nothing new leaves
    it as it was and the automation does not rebuild the models downstream (they would come out
    the same, and the run would hold the one dbt slot of the run queue that a fresh file waits for).
    """
    row = conn.execute(
        """SELECT max(id) FROM raw.sync_runs
            WHERE source = %s AND table_name = %s
              AND coalesce(rows_inserted, 0) + coalesce(rows_updated, 0) + coalesce(rows_deleted, 0) > 0""",
        (source, table),
    ).fetchone()
    return str(row[0] or 0)


def sync_table(
    spec: TableSpec,
    source: SqlSourceResource,
    conn: psycopg.Connection,
    *,
    run_id: str | None = None,
    logger: logging.Logger | None = None,
    after_batch: Callable[[BatchInfo], None] | None = None,
) -> SyncResult:
    """Sync one table into its raw mirror on ``conn`` (an autocommit psycopg connection)."""
    logger = logger or log
    started = time.monotonic()
    lock = (LOCK_CLASS, f"{spec.source}.{spec.name}")
    conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", lock)
    try:
        conn.execute(
            """UPDATE raw.sync_runs SET status = 'interrupted', finished_at = now(),
                      error = 'the run stopped before finishing (killed or lost its connection)'
                WHERE source = %s AND table_name = %s AND status = 'running'""",
            (spec.source, spec.name),
        )
        engine = source.create_engine()
        reader = choose_reader(source.reader, engine)
        result = SyncResult(spec.source, spec.name, spec.mode, reader)
        run_row = conn.execute(
            """INSERT INTO raw.sync_runs (source, table_name, run_id, mode, status, reader)
               VALUES (%s, %s, %s, %s, 'running', %s) RETURNING id""",
            (spec.source, spec.name, run_id, spec.mode, reader),
        ).fetchone()[0]
        try:
            job = _Job(spec, source, engine, conn, result, run_row, run_id, logger, after_batch)
            job.run()
        except Exception as exc:
            if isinstance(exc, SourceReadError):
                exc = source.unavailable(exc, doing=f"reading {spec.table}")
            elif isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
                exc = source.unavailable(exc)
            message = scrub(f"{type(exc).__name__}: {exc}", source.resolved_url())
            if not conn.closed and not conn.broken:
                conn.execute(
                    """UPDATE raw.sync_runs SET status = 'failed', error = %s, finished_at = now(),
                              warnings = %s WHERE id = %s""",
                    (message[:4000], "\n".join(result.warnings) or None, run_row),
                )
            if isinstance(exc, SourceUnavailable):
                raise exc from None
            raise
        finally:
            engine.dispose()
        result.seconds = round(time.monotonic() - started, 3)
        conn.execute(
            "UPDATE raw.sync_runs SET status = 'success', finished_at = now() WHERE id = %s", (run_row,)
        )
        return result
    finally:
        if not conn.closed and not conn.broken:
            conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", lock)


class _Job:
    """One run of one table; holds the plan, the stage and the counters."""

    def __init__(self, spec, source, engine, conn, result, run_row, run_id, logger, after_batch):
        self.spec: TableSpec = spec
        self.source: SqlSourceResource = source
        self.engine: sa.Engine = engine
        self.conn: psycopg.Connection = conn
        self.result: SyncResult = result
        self.run_row = run_row
        self.run_id = run_id
        self.log = logger
        self.after_batch = after_batch
        self.plan: Plan | None = None

    # --- orchestration ----------------------------------------------------------------------
    def run(self) -> None:
        try:
            self.source.check_connection(self.engine)
            self.plan = build_plan(self.engine, self.spec, self.conn, self.source.resolved_timezone())
        except sa.exc.OperationalError as exc:
            raise self.source.unavailable(exc) from None
        for w in self.plan.warnings:
            self.log.warning(w)
        self.result.warnings.extend(self.plan.warnings)
        self._create_stage()
        try:
            if self.spec.mode == "incremental":
                self._run_incremental()
            else:
                self._run_snapshot()
        finally:
            if not self.conn.closed and not self.conn.broken:
                self.conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(STAGE)))
        for column, kinds in sorted(self.result.conversions.items()):
            self.log.warning(
                f"{self.spec.source}.{column}: loaded with converted values "
                f"({', '.join(f'{kind}: {n} row(s)' for kind, n in sorted(kinds.items()))})"
            )
        if self.result.null_cursor_rows:
            self.log.warning(
                f"{self.spec.source}.{self.spec.table}: {self.result.null_cursor_rows} row(s) have a NULL "
                f"{self.spec.cursor}; loaded, and re-read on every run until the cursor is set"
            )

    def _batches(self, **where):
        return read_batches(self.result.reader, self.engine, self.plan, self.source.batch_size, **where)

    def _run_incremental(self) -> None:
        low = self._low_bound()
        self.log.info(
            f"{self.spec.source}.{self.spec.table}: incremental from "
            f"{'the beginning' if low is None else low} ({self.result.reader})"
        )

        def both_passes():
            for batch in self._batches(null_cursor=True):
                yield batch, True
            for batch in self._batches(low=low):
                yield batch, False

        with prefetched(both_passes) as batches:
            for batch, null_pass in batches:
                try:
                    with self.conn.transaction():
                        self.conn.execute("SET LOCAL synchronous_commit = off")
                        self._stage(batch, truncate=True)
                        stats = self._stage_stats()
                        self._merge(stats)
                        if null_pass:
                            self.result.null_cursor_rows += stats["null_cursor"]
                        self._write_state(stats["max_cursor"])
                        self._write_counters()
                except psycopg.DataError as exc:  # rolled back, stage included: stage the batch again
                    raise self._unloadable(exc, batch) from exc
                self._batch_done(batch, committed=True)
        if self.result.batches == 0:
            with self.conn.transaction():
                self._write_state(None)
                self._write_counters()

    def _run_snapshot(self) -> None:
        self.log.info(f"{self.spec.source}.{self.spec.table}: snapshot ({self.result.reader})")
        with prefetched(lambda: self._batches()) as batches:
            for batch in batches:
                self._stage(batch, truncate=False)
                self._batch_done(batch, committed=False)
        try:
            with self.conn.transaction():
                self.conn.execute("SET LOCAL synchronous_commit = off")
                stats = self._stage_stats()
                self._merge(stats)
                self._delete_missing()
                self.result.raw_rows = self.conn.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(self._raw())
                ).fetchone()[0]
                self._write_state(None)
                self._write_counters()
        except psycopg.DataError as exc:  # the stage (filled outside the transaction) is intact
            raise self._unloadable(exc) from exc

    def _batch_done(self, batch: Batch, *, committed: bool) -> None:
        if self.after_batch is not None:
            self.after_batch(BatchInfo(self.result.batches, batch.rows, committed))

    # --- watermark --------------------------------------------------------------------------
    def _state(self):
        return self.conn.execute(
            """SELECT mode, cursor_column, watermark_ts, watermark_id FROM raw.sync_state
                WHERE source = %s AND table_name = %s""",
            (self.spec.source, self.spec.name),
        ).fetchone()

    def _low_bound(self):
        """Where to start reading at the source: watermark minus the overlap, in the source's terms."""
        state = self._state()
        if state is None or state[0] != "incremental" or state[1] != self.plan.cursor.raw:
            if state is not None:
                self.log.warning(
                    f"{self.spec.source}.{self.spec.table}: mode or cursor changed since the last sync "
                    f"(was {state[0]}/{state[1]}); reading everything again"
                )
            return None
        if self.plan.cursor_kind == "id":
            wm = state[3]
            self.result.watermark = None if wm is None else str(wm)
            return None if wm is None else wm - self.source.overlap_ids
        wm: datetime | None = state[2]
        if wm is None:
            return None
        self.result.watermark = wm.isoformat()
        low = wm - timedelta(seconds=self.source.overlap_seconds)
        if self.plan.cursor.kind == "ts_aware":
            return low
        zone = ZoneInfo("UTC" if self.plan.cursor.kind == "ts_utc" else self.plan.timezone)
        return low.astimezone(zone).replace(tzinfo=None)

    def _write_state(self, max_cursor) -> None:
        wm_ts = max_cursor if self.plan.cursor_kind == "ts" else None
        wm_id = max_cursor if self.plan.cursor_kind == "id" else None
        row = self.conn.execute(
            """INSERT INTO raw.sync_state AS s (source, table_name, mode, cursor_column, watermark_ts,
                                                 watermark_id, rows_total, last_run_id, updated_at)
               VALUES (%(source)s, %(table)s, %(mode)s, %(cursor)s, %(ts)s, %(id)s,
                       COALESCE(%(total)s, %(delta)s), %(run)s, now())
               ON CONFLICT (source, table_name) DO UPDATE SET
                   mode = excluded.mode,
                   cursor_column = excluded.cursor_column,
                   watermark_ts = CASE WHEN s.cursor_column IS DISTINCT FROM excluded.cursor_column
                                       THEN excluded.watermark_ts
                                       ELSE GREATEST(s.watermark_ts, excluded.watermark_ts) END,
                   watermark_id = CASE WHEN s.cursor_column IS DISTINCT FROM excluded.cursor_column
                                       THEN excluded.watermark_id
                                       ELSE GREATEST(s.watermark_id, excluded.watermark_id) END,
                   rows_total = COALESCE(%(total)s, s.rows_total + %(delta)s),
                   last_run_id = excluded.last_run_id,
                   updated_at = now()
               RETURNING watermark_ts, watermark_id, rows_total""",
            {
                "source": self.spec.source,
                "table": self.spec.name,
                "mode": self.spec.mode,
                "cursor": self.plan.cursor.raw if self.plan.cursor else None,
                "ts": wm_ts,
                "id": wm_id,
                "total": self.result.raw_rows,
                "delta": self._delta,
                "run": self.run_id,
            },
        ).fetchone()
        self._delta = 0
        self.result.rows_total = row[2]
        wm = row[0] if self.plan.cursor_kind == "ts" else row[1]
        if wm is not None:
            self.result.watermark = wm.isoformat() if isinstance(wm, datetime) else str(wm)

    _delta = 0  # rows inserted minus deleted since the last state write

    def _write_counters(self) -> None:
        r = self.result
        self.conn.execute(
            """UPDATE raw.sync_runs SET rows_read = %s, rows_upserted = %s, rows_inserted = %s,
                      rows_updated = %s, rows_unchanged = %s, rows_deleted = %s, rows_rejected = %s,
                      rows_duplicate = %s, null_cursor_rows = %s, batches = %s, watermark = %s,
                      warnings = %s, conversions = %s
                WHERE id = %s""",
            (
                r.rows_read,
                r.rows_upserted,
                r.rows_inserted,
                r.rows_updated,
                r.rows_unchanged,
                r.rows_deleted,
                r.rows_rejected,
                r.rows_duplicate,
                r.null_cursor_rows,
                r.batches,
                r.watermark,
                "\n".join(r.warnings) or None,
                Jsonb(r.conversions),
                self.run_row,
            ),
        )

    # --- stage and merge --------------------------------------------------------------------

    def _raw(self) -> sql.Composable:
        schema, table = self.spec.raw_table.split(".")
        return sql.Identifier(schema, table)

    def _create_stage(self) -> None:
        cols = [sql.SQL("{} text").format(sql.Identifier(c.raw)) for c in self.plan.columns]
        cols.append(sql.SQL("{} text[]").format(sql.Identifier(NUL_COLUMNS)))
        self.conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(STAGE)))
        self.conn.execute(
            sql.SQL("CREATE TEMP TABLE {} ({})").format(sql.Identifier(STAGE), sql.SQL(", ").join(cols))
        )

    _nul_staged = False  # a row of the stage had NUL characters removed
    _stage_dirty = True  # the stage may hold a value the date rules convert (known after the stats)

    def _stage(self, batch: Batch, *, truncate: bool, count: bool = True) -> None:
        stage = sql.Identifier(STAGE)
        if truncate:
            self.conn.execute(sql.SQL("TRUNCATE {}").format(stage))
            self._nul_staged = False
        try:
            with self.conn.transaction():  # a savepoint inside an incremental batch's transaction
                self._copy(batch)
        except psycopg.DataError as exc:
            # psycopg refuses a str holding NUL before sending it: clean this batch, copy it again
            if batch.fmt != "rows" or "NUL (0x00)" not in str(exc):
                raise
            names = [c.source for c in self.plan.columns]
            batch = Batch(batch.rows, "rows", strip_nul_rows(batch.payload, names), nul_columns=True)
            self._copy(batch)
        self._nul_staged = self._nul_staged or batch.nul_columns
        if count:
            self.result.batches += 1
            self.result.rows_read += batch.rows

    def _copy(self, batch: Batch) -> None:
        names = [c.raw for c in self.plan.columns]
        if batch.nul_columns:
            names.append(NUL_COLUMNS)
        with self.conn.cursor() as cur:
            if batch.fmt == "csv":
                copy_payload(cur, sql.Identifier(STAGE), names, [batch.payload], fmt="csv")
            else:
                copy_rows(cur, sql.Identifier(STAGE), names, batch.payload)

    def _stage_stats(self) -> dict:
        p = self.plan
        null_key = sql.SQL(" OR ").join(sql.SQL("{} IS NULL").format(sql.Identifier(k)) for k in p.key)
        if p.cursor is not None:
            null_cursor = sql.SQL("count(*) FILTER (WHERE {} IS NULL)").format(sql.Identifier(p.cursor.raw))
            max_cursor = sql.SQL("max({})").format(p.converted(p.cursor))
        else:
            null_cursor, max_cursor = sql.SQL("0"), sql.SQL("NULL")
        lead = p.converted(p.column(p.key[0]))
        dirty = self._dirty("s")
        row = self.conn.execute(
            sql.SQL(
                "SELECT count(*), count(*) FILTER (WHERE {}), {}, {}, min({}), max({}), {} FROM {} AS s"
            ).format(
                null_key,
                null_cursor,
                max_cursor,
                lead,
                lead,
                sql.SQL("0") if dirty is None else sql.SQL("count(*) FILTER (WHERE {})").format(dirty),
                sql.Identifier(STAGE),
            )
        ).fetchone()
        stats = dict(
            zip(
                ("rows", "null_key", "null_cursor", "max_cursor", "key_min", "key_max", "dirty"),
                row,
                strict=True,
            )
        )
        # the merge converts without the date rules when the stage has nothing they would change
        self._stage_dirty = stats["dirty"] > 0
        if stats["null_key"]:
            msg = (
                f"{self.spec.source}.{self.spec.table}: {stats['null_key']} row(s) with a NULL key "
                f"({', '.join(p.key)}) cannot be stored and are counted as rejected"
            )
            self.log.warning(msg)
            if msg not in self.result.warnings:
                self.result.warnings.append(msg)
        return stats

    def _source_rows(self) -> sql.Composable:
        """The stage converted to raw types, without NULL keys, one row per key."""
        p = self.plan
        exprs = sql.SQL(", ").join(
            sql.SQL("{} AS {}").format(p.converted(c, checked=self._stage_dirty), sql.Identifier(c.raw))
            for c in p.columns
        )
        not_null = sql.SQL(" AND ").join(sql.SQL("s.{} IS NOT NULL").format(sql.Identifier(k)) for k in p.key)
        keys = sql.SQL(", ").join(p.converted(p.column(k), checked=self._stage_dirty) for k in p.key)
        distinct = sql.SQL("DISTINCT ON ({}) ").format(keys) if p.dedup else sql.SQL("")
        order = sql.SQL(" ORDER BY {}, s.ctid DESC").format(keys) if p.dedup else sql.SQL("")
        return sql.SQL("SELECT {}{} FROM {} AS s WHERE {}{}").format(
            distinct, exprs, sql.Identifier(STAGE), not_null, order
        )

    def _merge(self, stats: dict) -> None:
        """Write the stage into the mirror; count inserted, updated and unchanged rows.

        A batch whose key range holds no mirror row yet (a first sync, new ids) cannot conflict and
        is a plain ``INSERT``, about twice as fast as the general ``INSERT … ON CONFLICT DO UPDATE``,
        which touches only rows whose values differ (``xmax = 0`` tells inserted from updated).
        Runs of one table are serialised by the advisory lock, so the range check cannot race.
        """
        p = self.plan
        raw = self._raw()
        if stats["dirty"]:
            self._count_conversions()
        src = self._source_rows()
        cols = sql.SQL(", ").join(sql.Identifier(c.raw) for c in p.columns)
        scols = sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(c.raw)) for c in p.columns)
        insert = sql.SQL("INSERT INTO {raw} AS r ({cols}) SELECT {scols} FROM ({src}) AS s").format(
            raw=raw, cols=cols, scols=scols, src=src
        )
        inserted = updated = 0
        if stats["key_min"] is None:
            pass  # nothing storable in this batch
        elif not self._range_has_rows(stats["key_min"], stats["key_max"]):
            inserted = self.conn.execute(insert).rowcount
        else:
            values = [sql.Identifier(c.raw) for c in p.columns if c.raw not in p.key]
            if p.has_synced_at:
                values.append(sql.Identifier("_synced_at"))
            on_conflict = sql.SQL(" ON CONFLICT ({}) ").format(
                sql.SQL(", ").join(sql.Identifier(k) for k in p.key)
            )
            if len(values) > (1 if p.has_synced_at else 0):
                data = [v for v in values if v != sql.Identifier("_synced_at")]
                new = [sql.SQL("excluded.{}").format(v) for v in data]
                if p.has_synced_at:
                    new.append(sql.SQL("now()"))
                action = sql.SQL("DO UPDATE SET ({}) = ROW({}) WHERE ({}) IS DISTINCT FROM ({})").format(
                    sql.SQL(", ").join(values),
                    sql.SQL(", ").join(new),
                    sql.SQL(", ").join(sql.SQL("r.{}").format(v) for v in data),
                    sql.SQL(", ").join(sql.SQL("excluded.{}").format(v) for v in data),
                )
            else:
                action = sql.SQL("DO NOTHING")
            inserted, updated = self.conn.execute(
                sql.SQL(
                    "WITH w AS ({}{}{} RETURNING (xmax = 0) AS ins) "
                    "SELECT count(*) FILTER (WHERE ins), count(*) FILTER (WHERE NOT ins) FROM w"
                ).format(insert, on_conflict, action)
            ).fetchone()
        distinct = stats["rows"] - stats["null_key"]
        if p.dedup:
            distinct = self.conn.execute(sql.SQL("SELECT count(*) FROM ({}) AS d").format(src)).fetchone()[0]
        r = self.result
        r.rows_rejected += stats["null_key"]
        r.rows_duplicate += stats["rows"] - stats["null_key"] - distinct
        r.rows_inserted += inserted
        r.rows_updated += updated
        r.rows_unchanged += distinct - inserted - updated
        self._delta += inserted

    def _range_has_rows(self, low, high) -> bool:
        """Does the mirror hold a row whose leading key column lies in [low, high]? (one index probe)"""
        lead = sql.Identifier(self.plan.key[0])
        return self.conn.execute(
            sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE {} BETWEEN %s AND %s)").format(self._raw(), lead),
            (low, high),
        ).fetchone()[0]

    def _delete_missing(self) -> None:
        p = self.plan
        raw = self._raw()
        before = self.conn.execute(sql.SQL("SELECT count(*) FROM {}").format(raw)).fetchone()[0]
        keys = sql.SQL(" AND ").join(
            sql.SQL("{} = r.{}").format(
                p.converted(p.column(k), checked=self._stage_dirty), sql.Identifier(k)
            )
            for k in p.key
        )
        deleted = self.conn.execute(
            sql.SQL(
                "DELETE FROM {raw} AS r WHERE NOT EXISTS (SELECT 1 FROM {stage} AS s WHERE {keys})"
            ).format(raw=raw, stage=sql.Identifier(STAGE), keys=keys)
        ).rowcount
        limit = self.source.max_delete_fraction
        if before > SMALL_TABLE and deleted > limit * before:
            raise SnapshotGuard(
                f"{self.spec.source}.{self.spec.table}: the snapshot would delete {deleted} of {before} rows "
                f"(more than {limit:.0%}); nothing was changed. If the source really lost those rows, raise "
                "max_delete_fraction for this run"
            )
        if deleted:
            self.log.info(f"{self.spec.source}.{self.spec.table}: {deleted} row(s) deleted at the source")
        self.result.rows_deleted += deleted
        self._delta -= deleted

    # --- dirty values -----------------------------------------------------------------------
    def _dirty(self, alias: str) -> sql.Composable | None:
        """Predicate: the staged row ``alias`` has a value converted on the way in (None: cannot)."""
        p = self.plan
        tests = [
            sql.SQL("{} IS NOT NULL").format(p.date_fault(c, alias)) for c in p.columns if p.checks_dates(c)
        ]
        if self._nul_staged:
            tests.append(
                sql.SQL("{}.{} IS NOT NULL").format(sql.Identifier(alias), sql.Identifier(NUL_COLUMNS))
            )
        return sql.SQL(" OR ").join(tests) if tests else None

    def _count_conversions(self) -> None:
        """Count, per source column and kind, the conversions in the staged rows the merge will
        write (a new key, or values that differ from the mirror's). Runs before the merge, and only
        for a stage that has a converted value."""
        p = self.plan
        keys = [p.converted(p.column(k), "s") for k in p.key]
        not_null = sql.SQL(" AND ").join(sql.SQL("s.{} IS NOT NULL").format(sql.Identifier(k)) for k in p.key)
        if p.dedup:  # the row the merge keeps for a key: the last one staged
            rows = sql.SQL(
                "SELECT DISTINCT ON ({k}) s.* FROM {st} AS s WHERE {nn} ORDER BY {k}, s.ctid DESC"
            ).format(k=sql.SQL(", ").join(keys), st=sql.Identifier(STAGE), nn=not_null)
        else:
            rows = sql.SQL("SELECT s.* FROM {} AS s WHERE {}").format(sql.Identifier(STAGE), not_null)
        same = [sql.SQL("r.{} = {}").format(sql.Identifier(k), p.converted(p.column(k), "d")) for k in p.key]
        data = [c for c in p.columns if c.raw not in p.key]
        if data:
            same.append(
                sql.SQL("({}) IS NOT DISTINCT FROM ({})").format(
                    sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(c.raw)) for c in data),
                    sql.SQL(", ").join(p.converted(c, "d") for c in data),
                )
            )
        arms = [
            sql.SQL("SELECT {} AS col, {} AS kind FROM w").format(sql.Literal(c.source), p.date_fault(c, "w"))
            for c in p.columns
            if p.checks_dates(c)
        ]
        if self._nul_staged:
            arms.append(
                sql.SQL("SELECT n.col, {} AS kind FROM w CROSS JOIN LATERAL unnest(w.{}) AS n(col)").format(
                    sql.Literal(NUL_REMOVED), sql.Identifier(NUL_COLUMNS)
                )
            )
        query = sql.SQL(
            "WITH d AS ({rows}), w AS (SELECT * FROM d WHERE ({dirty}) AND NOT EXISTS "
            "(SELECT 1 FROM {raw} AS r WHERE {same})) "
            "SELECT col, kind, count(*) FROM ({arms}) AS x WHERE kind IS NOT NULL GROUP BY 1, 2"
        ).format(
            rows=rows,
            dirty=self._dirty("d"),
            raw=self._raw(),
            same=sql.SQL(" AND ").join(same),
            arms=sql.SQL(" UNION ALL ").join(arms),
        )
        for col, kind, n in self.conn.execute(query).fetchall():
            counts = self.result.conversions.setdefault(f"{self.spec.table}.{col}", {})
            counts[kind] = counts.get(kind, 0) + n

    def _unloadable(self, exc: psycopg.DataError, batch: Batch | None = None) -> UnloadableValue:
        """The error for a value PostgreSQL refused while merging: find the column and row (on the
        slow path only, after the fast statement failed) and name them. ``batch``: stage it again
        first (an incremental batch's transaction, stage included, was rolled back)."""
        where = f"{self.spec.source}.{self.spec.table}"
        reason = (exc.diag.message_primary or str(exc)).strip()
        found = None
        try:
            if batch is not None:
                self._stage(batch, truncate=True, count=False)
            found = self._find_bad_value()
        except psycopg.Error as again:  # report the original failure, not this one
            self.log.warning(f"{where}: could not locate the value that failed: {again}")
        if found is None:
            return UnloadableValue(
                f"{where}: a value cannot be loaded into {self.spec.raw_table} ({reason}); the row could "
                "not be pinned down"
            )
        col, key, value, reason = found
        shown = value if value is None or len(value) <= 80 else value[:77] + "..."
        return UnloadableValue(
            f"{where}: column {col.source} of the row with {key} holds {shown!r}, which cannot be loaded "
            f"into {self.spec.raw_table}.{col.raw} ({col.raw_type}): {reason}"
        )

    def _find_bad_value(self) -> tuple[Column, str, str | None, str] | None:
        """(column, key description, staged text, PostgreSQL's reason) of the first staged value
        whose conversion fails: each column's conversion over the whole stage, then, for the failing
        one, halve the stage's pages until one is left and try its rows one by one."""
        p = self.plan
        stage = sql.Identifier(STAGE)
        for col in p.columns:
            if col.raw_type == "text" and not p.checks_dates(col):
                continue  # staged text into text cannot fail
            expr = p.converted(col)
            if self._conversion_error(expr) is None:
                continue
            pages = self.conn.execute(
                "SELECT pg_relation_size(%s::regclass) / current_setting('block_size')::int", (STAGE,)
            ).fetchone()[0]
            low, high = 0, max(pages, 1)  # a failing row lies in pages [low, high)
            while high - low > 1:
                mid = (low + high) // 2
                if self._conversion_error(expr, f"({low},0)", f"({mid},0)") is not None:
                    high = mid
                else:
                    low = mid
            tids = self.conn.execute(
                sql.SQL(
                    "SELECT ctid::text FROM {} WHERE ctid >= %s::tid AND ctid < %s::tid ORDER BY ctid"
                ).format(stage),
                (f"({low},0)", f"({low + 1},0)"),
            ).fetchall()
            for (tid,) in tids:
                reason = self._conversion_error(expr, tid)
                if reason is None:
                    continue
                names = [p.column(k) for k in p.key]
                row = self.conn.execute(
                    sql.SQL("SELECT {}, {} FROM {} WHERE ctid = %s::tid").format(
                        sql.SQL(", ").join(sql.Identifier(c.raw) for c in names),
                        sql.Identifier(col.raw),
                        stage,
                    ),
                    (tid,),
                ).fetchone()
                key = ", ".join(
                    f"{c.source}={'NULL' if v is None else repr(v)}" for c, v in zip(names, row, strict=False)
                )
                return col, key, row[-1], reason
        return None

    def _conversion_error(self, expr: sql.Composable, low: str | None = None, high: str | None = None):
        """PostgreSQL's reason if converting the staged rows fails (all rows; the ``ctid`` range
        [low, high); or the one row ``low`` when ``high`` is None), else None. Autocommit: a failure
        ends only this statement. No bound parameters: ``expr`` may hold ``LIKE '…%'``."""
        if low is None:
            where = sql.SQL("true")
        elif high is None:
            where = sql.SQL("s.ctid = {}::tid").format(sql.Literal(low))
        else:
            where = sql.SQL("s.ctid >= {}::tid AND s.ctid < {}::tid").format(
                sql.Literal(low), sql.Literal(high)
            )
        try:
            self.conn.execute(
                sql.SQL("SELECT count({}) FROM {} AS s WHERE {}").format(expr, sql.Identifier(STAGE), where)
            )
        except psycopg.DataError as exc:
            return (exc.diag.message_primary or str(exc)).strip()
        return None
