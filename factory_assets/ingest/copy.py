"""COPY into PostgreSQL: the one place that knows how rows and payloads are bulk-loaded.

Every loader (machine logs, operations, logistics) and the SQL-source sync write through these
helpers, inside the caller's transaction.

* :func:`copy_rows` streams Python row tuples. With ``binary_types`` it uses the binary COPY
  format, which costs much less CPU on both sides for wide numeric/timestamp rows (no text
  formatting on the client, no text parsing on the server).
* :func:`copy_payload` streams ready-made COPY data (text, CSV) chunk by chunk, e.g. the CSV
  produced by a vectorised reader.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import psycopg
from psycopg import sql


def _target(table: str | sql.Composable, columns: Sequence[str]) -> sql.Composable:
    if isinstance(table, str):
        schema, _, name = table.rpartition(".")
        table = sql.Identifier(schema, name) if schema else sql.Identifier(name)
    return sql.SQL("{} ({})").format(table, sql.SQL(", ").join(sql.Identifier(c) for c in columns))


def copy_rows(
    cur: psycopg.Cursor,
    table: str | sql.Composable,
    columns: Sequence[str],
    rows: Iterable[Sequence],
    *,
    binary_types: Sequence[str] | None = None,
) -> int:
    """COPY ``rows`` into ``table (columns)``; returns the number of rows written."""
    options = sql.SQL(" (FORMAT BINARY)") if binary_types else sql.SQL("")
    n = 0
    with cur.copy(sql.SQL("COPY {} FROM STDIN{}").format(_target(table, columns), options)) as cp:
        if binary_types:
            cp.set_types(list(binary_types))
        write_row = cp.write_row
        for row in rows:
            write_row(row)
            n += 1
    return n


def copy_payload(
    cur: psycopg.Cursor,
    table: str | sql.Composable,
    columns: Sequence[str],
    chunks: Iterable[bytes | str],
    *,
    fmt: str = "csv",
    options: str = "",
) -> None:
    """COPY ready-made data (``fmt`` = ``csv`` or ``text``) into ``table (columns)``."""
    extra = f", {options}" if options else ""
    stmt = sql.SQL("COPY {} FROM STDIN (FORMAT {}{})").format(
        _target(table, columns), sql.SQL(fmt), sql.SQL(extra)
    )
    with cur.copy(stmt) as cp:
        for chunk in chunks:
            cp.write(chunk)
