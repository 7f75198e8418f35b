"""COPY into PostgreSQL: the one place that knows how rows and payloads are bulk-loaded.

Every loader (machine logs, operations, logistics) and the SQL-source sync write through these
helpers, inside the caller's transaction.

* :func:`copy_rows` streams Python row tuples. With ``binary_types`` it uses the binary COPY
  format, which costs much less CPU on both sides for wide numeric/timestamp rows (no text
  formatting on the client, no text parsing on the server).
* :func:`copy_payload` streams ready-made COPY data (text, CSV) chunk by chunk, e.g. the CSV
  produced by a vectorised reader.
* :func:`copy_arrow` streams Arrow record batches (from a vectorised reader) in the binary COPY
  format, encoded column-wise with no per-row Python (:func:`arrow_binary_rows`): cheaper than
  CSV for the client and for the server, which parses no text.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa


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


# --- Arrow -> binary COPY -------------------------------------------------------------------------

BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"  # signature, flags, ext
BINARY_TRAILER = b"\xff\xff"
_PG_EPOCH_DAYS = 10_957  # 2000-01-01 - 1970-01-01
_PG_EPOCH_US = _PG_EPOCH_DAYS * 86_400 * 1_000_000


def _fixed_fields(values, dtype: str, valid=None):
    """Binary COPY fields (int32 length + big-endian value) of a fixed-width numpy array."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(values)
    rec = np.empty(n, dtype=[("len", ">i4"), ("v", dtype)])
    rec["len"] = np.dtype(dtype).itemsize
    rec["v"] = values
    arr = pa.FixedSizeBinaryArray.from_buffers(pa.binary(rec.dtype.itemsize), n, [None, pa.py_buffer(rec)])
    arr = arr.cast(pa.binary())
    if valid is not None:  # NULL: length -1, no value
        arr = pc.if_else(valid, arr, pa.scalar(b"\xff\xff\xff\xff", pa.binary()))
    return arr


def arrow_binary_rows(batch: pa.RecordBatch | pa.Table) -> memoryview:
    """The rows of ``batch`` as binary COPY tuples (no header, no trailer), built column-wise.

    Supported Arrow types and the PostgreSQL column types they load into: int64 (bigint), int32
    (integer), int16 (smallint), float64 (double precision), bool (boolean), date32 (date),
    timestamp without zone (timestamp) or with one (timestamptz), string (text, varchar).
    Nulls are written as SQL NULL.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = batch.num_rows
    count = np.full(n, batch.num_columns, dtype=">i2")
    fields = [
        pa.FixedSizeBinaryArray.from_buffers(pa.binary(2), n, [None, pa.py_buffer(count)]).cast(pa.binary())
    ]
    for col in batch.columns:
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        t = col.type
        valid = col.is_valid() if col.null_count else None
        if pa.types.is_int64(t) or pa.types.is_int32(t) or pa.types.is_int16(t):
            fields.append(_fixed_fields(col.fill_null(0).to_numpy(), f">i{t.bit_width // 8}", valid))
        elif pa.types.is_float64(t):
            fields.append(_fixed_fields(col.fill_null(0).to_numpy(), ">f8", valid))
        elif pa.types.is_boolean(t):
            fields.append(_fixed_fields(col.fill_null(False).to_numpy(zero_copy_only=False), "?", valid))
        elif pa.types.is_date32(t):
            days = col.cast(pa.int32()).fill_null(0).to_numpy() - _PG_EPOCH_DAYS
            fields.append(_fixed_fields(days, ">i4", valid))
        elif pa.types.is_timestamp(t):
            us = col.cast(pa.timestamp("us", t.tz)).cast(pa.int64()).fill_null(0).to_numpy() - _PG_EPOCH_US
            fields.append(_fixed_fields(us, ">i8", valid))
        elif pa.types.is_string(t) or pa.types.is_large_string(t):
            data = col.cast(pa.binary()).fill_null(b"")
            lengths = pc.binary_length(data).to_numpy().astype(">i4")
            prefix = pa.FixedSizeBinaryArray.from_buffers(pa.binary(4), n, [None, pa.py_buffer(lengths)])
            text = pc.binary_join_element_wise(prefix.cast(pa.binary()), data, b"")
            if valid is not None:
                text = pc.if_else(valid, text, pa.scalar(b"\xff\xff\xff\xff", pa.binary()))
            fields.append(text)
        else:
            raise TypeError(f"no binary COPY encoding for Arrow type {t}")
    rows = pc.binary_join_element_wise(*fields, b"")
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32, count=n + 1, offset=rows.offset * 4)
    return memoryview(rows.buffers()[2])[offsets[0] : offsets[-1]]


def copy_arrow(
    cur: psycopg.Cursor,
    table: str | sql.Composable,
    batches: Iterable[pa.RecordBatch | pa.Table],
    columns: Sequence[str] | None = None,
) -> int:
    """COPY Arrow batches (binary format) into ``table``; columns = the batches' column names
    unless given. Batches are encoded one at a time, so memory stays that of one batch; a
    generator can parse the next batch while the server ingests the previous one. Returns the
    number of rows written."""
    n = 0
    with contextlib.ExitStack() as stack:
        cp = None
        for batch in batches:
            if cp is None:
                names = list(columns or batch.schema.names)
                stmt = sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(_target(table, names))
                cp = stack.enter_context(cur.copy(stmt))
                cp.write(BINARY_HEADER)
            if batch.num_rows:
                cp.write(arrow_binary_rows(batch))
                n += batch.num_rows
        if cp is not None:
            cp.write(BINARY_TRAILER)
    return n
