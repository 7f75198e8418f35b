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

NUL characters (legal in MySQL strings, refused by PostgreSQL text) are removed before ``COPY`` and
the row is marked with the columns that had them (the extra stage column ``_nul_columns``, see
:mod:`.mapping`): the connectorx reader checks each CSV payload for a NUL byte (one ``memchr``) and
cleans the Arrow batch only then; for ``rows`` batches psycopg itself refuses the NUL while copying,
and the sync then cleans that batch with :func:`strip_nul_rows` and copies it again. Clean batches
pay nothing.

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
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
except ImportError:  # pragma: no cover - depends on the install
    connectorx = pa = pc = pacsv = None


@dataclass
class Batch:
    rows: int
    fmt: str  # "rows": sequences of values for psycopg's write_row; "csv": bytes in CSV format
    payload: Any
    # NUL characters were removed: every row carries one more, last value, the ``_nul_columns``
    # array (source names of its cleaned columns, NULL for clean rows)
    nul_columns: bool = False


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
        payload = buf.getvalue()
        if b"\x00" in payload and (clean := strip_nul_arrow(record_batch)) is not None:
            buf = io.BytesIO()
            pacsv.write_csv(clean, buf, options)
            yield Batch(record_batch.num_rows, "csv", buf.getvalue(), nul_columns=True)
        else:
            yield Batch(record_batch.num_rows, "csv", payload)


def pg_text_array(items: list[str]) -> str:
    """A PostgreSQL ``text[]`` literal, every element quoted (column names may hold anything)."""
    quoted = ('"' + i.replace("\\", "\\\\").replace('"', '\\"') + '"' for i in items)
    return "{" + ",".join(quoted) + "}"


def strip_nul_arrow(batch):
    """``batch`` (a pyarrow RecordBatch) without NUL characters in its strings, plus the
    ``_nul_columns`` column; ``None`` if no string holds one."""
    columns = list(batch.columns)
    cleaned: dict[str, Any] = {}
    for i, (name, col) in enumerate(zip(batch.schema.names, batch.columns, strict=True)):
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            mask = pc.match_substring(col, "\x00")
            if pc.any(mask).as_py():
                cleaned[name] = mask
                columns[i] = pc.replace_substring(col, "\x00", "")
    if not cleaned:
        return None
    marks: dict[int, list[str]] = {}
    for name, mask in cleaned.items():
        for row in pc.indices_nonzero(mask).to_pylist():
            marks.setdefault(row, []).append(name)
    nul = pa.array(
        [pg_text_array(marks[i]) if i in marks else None for i in range(batch.num_rows)], pa.string()
    )
    return pa.RecordBatch.from_arrays([*columns, nul], names=[*batch.schema.names, "_nul_columns"])


def strip_nul_rows(rows, names: list[str]) -> list[tuple]:
    """``rows`` without NUL characters in their strings, each with its ``_nul_columns`` value
    appended (the source names ``names[i]`` of the cleaned values, or None)."""
    out = []
    for row in rows:
        marks = [names[i] for i, v in enumerate(row) if type(v) is str and "\x00" in v]
        if marks:
            row = [v.replace("\x00", "") if type(v) is str else v for v in row]
            out.append((*row, marks))
        else:
            out.append((*row, None))
    return out


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
