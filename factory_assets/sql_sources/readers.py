"""Reading a source table in bounded batches, ready for ``COPY`` into the text stage.

Three readers, one contract (an iterator of :class:`Batch`, never the whole table in memory):

* ``sqlalchemy`` — portable: any dialect, ``stream_results`` + ``yield_per`` (a server-side cursor:
  a named cursor on PostgreSQL, ``SSCursor`` on MySQL). Values are Python objects; psycopg renders
  them as text.
* ``pymysql`` — MySQL, portable and about 2.5x faster than the above: an unbuffered ``SSCursor``
  with pymysql's per-value decoders switched off, so rows arrive as the server's own text and go to
  ``COPY`` untouched (decoding strings into ``datetime``/``Decimal`` only to print them again was
  most of the cost).
* ``connectorx`` — MySQL fast path: a Rust client streaming Arrow record batches
  (``return_type="arrow_stream"``), written as CSV by Arrow's C++ writer; neither step holds the
  GIL, so reading overlaps with the warehouse's work. Temporal and decimal columns are selected
  as ``CAST(… AS CHAR)``: connectorx aborts on MySQL zero dates and on ``TIME`` values outside a
  day, and turns decimals into ``decimal128(38, 10)`` (scale changed, digits beyond 10 lost); the
  text is then exactly what the pymysql reader sees.

:func:`prefetched` runs a reader in a thread so the next batch is read while the warehouse merges
the current one.
"""

from __future__ import annotations

import contextlib
import functools
import io
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pymysql.cursors
import sqlalchemy as sa

from factory_assets.sql_sources.mapping import Plan
from resources.sql_source import MYSQL_SESSION_INIT

# Optional fast path. Imported at module load, not lazily from the reader thread, so a first import
# never runs concurrently with imports in the main thread.
try:
    import connectorx
    import pyarrow.csv as pacsv
except ImportError:  # pragma: no cover - depends on the install
    connectorx = pacsv = None


@dataclass
class Batch:
    rows: int
    fmt: str  # "rows": sequences of values for psycopg's write_row; "csv": bytes in CSV format
    payload: Any


class SourceReadError(RuntimeError):
    """The source failed while being read (connection lost, query error)."""


def connectorx_available() -> bool:
    return connectorx is not None


def choose_reader(requested: str, engine: sa.Engine) -> str:
    """``auto`` -> connectorx for MySQL when installed and the URL has no options, else pymysql;
    sqlalchemy for every other dialect."""
    mysql = engine.dialect.name in ("mysql", "mariadb")
    if requested == "auto":
        if not mysql:
            return "sqlalchemy"
        # connectorx gets host, port, user, password and database only: a URL with options (TLS,
        # socket, charset) keeps the pymysql reader, which honours them all.
        plain = not engine.url.query
        return "connectorx" if connectorx_available() and plain else "pymysql"
    if requested in ("connectorx", "pymysql") and not mysql:
        raise ValueError(f"reader {requested!r} reads MySQL/MariaDB only; use 'sqlalchemy' or 'auto'")
    if requested == "connectorx" and not connectorx_available():
        raise ValueError(
            "reader 'connectorx' needs the connectorx and pyarrow packages (pip install connectorx pyarrow)"
        )
    if requested not in ("connectorx", "pymysql", "sqlalchemy"):
        raise ValueError(f"unknown reader {requested!r}")
    return requested


def select_statement(plan: Plan, *, low=None, null_cursor: bool = False, as_text: bool = False):
    """``SELECT`` of the mapped columns: all rows, rows with a NULL cursor, or rows from ``low`` on,
    ordered by cursor then key so a batch's maximum is a safe watermark."""
    cols = []
    for c in plan.columns:
        col = plan.table.c[c.source]
        text = as_text and (c.temporal or c.kind == "numeric")
        cols.append(sa.cast(col, sa.CHAR).label(c.source) if text else col)
    stmt = sa.select(*cols)
    if plan.cursor is not None:
        cursor = plan.table.c[plan.cursor.source]
        if null_cursor:
            stmt = stmt.where(cursor.is_(None))
        else:
            stmt = stmt.where(cursor.is_not(None))
            if low is not None:
                stmt = stmt.where(cursor >= low)
            stmt = stmt.order_by(cursor)
        stmt = stmt.order_by(*[plan.table.c[plan.column(k).source] for k in plan.key])
    return stmt


def literal_sql(stmt, engine: sa.Engine) -> str:
    """SQL text with values inlined (only ids and timestamps computed by the sync are bound)."""
    return str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))


def source_errors(reader):
    """Re-raise anything the source side raises (driver errors, connectorx panics, which derive from
    ``BaseException``) as :class:`SourceReadError`, so the sync can name the source."""

    @functools.wraps(reader)
    def wrapper(*args, **kwargs):
        try:
            yield from reader(*args, **kwargs)
        except (GeneratorExit, KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001
            detail = getattr(exc, "orig", None) or exc
            raise SourceReadError(f"{type(detail).__name__}: {str(detail).strip()}") from exc

    return wrapper


@source_errors
def read_sqlalchemy(engine: sa.Engine, stmt, batch_size: int) -> Iterator[Batch]:
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch_size).execute(stmt)
        try:
            for part in result.partitions():
                yield Batch(len(part), "rows", part)
        except BaseException:
            conn.invalidate()  # do not drain an unfinished server-side cursor
            raise


@source_errors
def read_pymysql(engine: sa.Engine, stmt, batch_size: int) -> Iterator[Batch]:
    raw = engine.raw_connection()
    dbapi = raw.driver_connection
    saved = dbapi.decoders
    dbapi.decoders = {}  # every value as the server's text (bytes for binary columns)
    try:
        cur = dbapi.cursor(pymysql.cursors.SSCursor)
        cur.execute(literal_sql(stmt, engine))
        while rows := cur.fetchmany(batch_size):
            yield Batch(len(rows), "rows", rows)
        cur.close()
    except BaseException:
        raw.invalidate()  # closing an SSCursor would first read the rest of the result
        raise
    finally:
        dbapi.decoders = saved
    raw.close()


def connectorx_url(engine: sa.Engine) -> str:
    url = engine.url.set(drivername="mysql", query={})
    return url.render_as_string(hide_password=False)


@source_errors
def read_connectorx(engine: sa.Engine, stmt, batch_size: int) -> Iterator[Batch]:
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    reader = connectorx.read_sql(
        connectorx_url(engine),
        literal_sql(stmt, engine),
        return_type="arrow_stream",
        batch_size=batch_size,
        pre_execution_query=[MYSQL_SESSION_INIT],
    )
    for record_batch in reader:
        if record_batch.num_rows == 0:
            continue
        buf = io.BytesIO()
        pacsv.write_csv(record_batch, buf, options)
        yield Batch(record_batch.num_rows, "csv", buf.getvalue())


READERS: dict[str, Callable[..., Iterator[Batch]]] = {
    "sqlalchemy": read_sqlalchemy,
    "pymysql": read_pymysql,
    "connectorx": read_connectorx,
}


def read_batches(reader: str, engine: sa.Engine, plan: Plan, batch_size: int, **where) -> Iterator[Batch]:
    stmt = select_statement(plan, as_text=reader == "connectorx", **where)
    return READERS[reader](engine, stmt, batch_size)


_DONE = object()


@contextlib.contextmanager
def prefetched(make: Callable[[], Iterator], depth: int = 2) -> Iterator[Iterator]:
    """Run the iterator ``make()`` in a thread, ``depth`` items ahead of the consumer.

    An exception in the producer is re-raised in the consumer; if the consumer stops early (or
    fails), the producer is told to stop and its generator is closed in its own thread, so source
    connections are released by the thread that opened them.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        it = None
        try:
            it = make()
            for item in it:
                if not put((item, None)):
                    break
            else:
                put((_DONE, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put((_DONE, exc))
        finally:
            if it is not None and hasattr(it, "close"):
                with contextlib.suppress(Exception):
                    it.close()

    thread = threading.Thread(target=produce, name="sql-source-reader", daemon=True)
    thread.start()

    def consume():
        while True:
            item, exc = q.get()
            if exc is not None:
                raise exc
            if item is _DONE:
                return
            yield item

    try:
        yield consume()
    finally:
        stop.set()
        thread.join(timeout=60)
