"""Streaming, vectorised reading of delimited text files (``;``-separated CSV exports and the like).

A file is read a block of whole lines at a time (:data:`BLOCK_BYTES`), so memory does not grow
with the file. Each block is split into columns by pyarrow's CSV parser (C++, no per-line Python)
into an Arrow table of **strings**, one row per line, with the line number of every row; what a
file kind makes of the values (numbers, dates) is its own business, done column-wise too.

Every line is accounted for, as the shared mechanism requires (rows in = loaded + rejected +
skipped):

* a header line (first line equal to the column names, any case, BOM removed) and blank lines
  (nothing but separators and spaces) are **skipped**;
* a line that is not valid UTF-8 is rejected alone (``invalid_utf8``; its text kept with
  replacement characters) and the rest of the block is parsed;
* a line with another number of fields is rejected (``wrong_column_count``);
* a line longer than the kind's ``max_line_bytes`` is rejected (``line_too_long``, first 200 bytes
  kept), and never held whole in memory.

Values are taken literally: there is no quoting (a ``"`` is a character like any other), so one
line is always one row, and a value can contain neither the separator nor a line break. ``\\r\\n``
and ``\\n`` line ends are both accepted, with or without a UTF-8 BOM.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

BLOCK_BYTES = 1 << 20
BOM = b"\xef\xbb\xbf"
EVIDENCE_BYTES = 200


@dataclass(frozen=True)
class LineReject:
    line_no: int
    reason: str
    detail: str
    raw_text: str


@dataclass
class Block:
    """One block of lines: the rows that have the right shape, and what was rejected or skipped."""

    table: pa.Table  # one string column per field, one row per well-formed line
    line_no: np.ndarray  # int64, file line number (1-based) of each row of ``table``
    lines: int  # lines in the block (rows + rejects + skipped)
    skipped: int = 0  # header and blank lines
    rejects: list[LineReject] = field(default_factory=list)


def _decode_replace(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def iter_line_blocks(
    stream: BinaryIO, *, block_bytes: int = BLOCK_BYTES, max_line_bytes: int = 64 << 10
) -> Iterator[tuple[int, bytes, list[LineReject]]]:
    """``(first line number, bytes of whole lines, over-long lines)`` of ``stream``, block by block.

    The BOM of the first block is removed. A line longer than ``max_line_bytes`` is not part of
    any block: it comes back as a ``line_too_long`` reject (its line number counted) and is read
    past, never kept whole.
    """
    line_no = 1
    carry = b""
    skipping: tuple[int, bytes, int] | None = None  # (line number, head, length) of a too-long line
    first = True
    while True:
        chunk = stream.read(block_bytes)
        if first:
            first = False
            if chunk.startswith(BOM):
                chunk = chunk[len(BOM) :]
        if not chunk:
            break
        long_lines: list[LineReject] = []
        if skipping is not None:
            cut = chunk.find(b"\n")
            if cut < 0:
                skipping = (skipping[0], skipping[1], skipping[2] + len(chunk))
                continue
            ln, head, length = skipping
            long_lines.append(_too_long(ln, head, length + cut))
            skipping = None
            line_no = ln + 1
            chunk = chunk[cut + 1 :]
        data = carry + chunk
        last = data.rfind(b"\n")
        if last < 0:
            carry = data
            if len(carry) > max_line_bytes:
                skipping = (line_no, carry[:EVIDENCE_BYTES], len(carry))
                carry = b""
            if long_lines:
                yield line_no, b"", long_lines
            continue
        block, carry = data[: last + 1], data[last + 1 :]
        if len(carry) > max_line_bytes:
            skipping = (line_no + block.count(b"\n"), carry[:EVIDENCE_BYTES], len(carry))
            carry = b""
        yield line_no, block, long_lines
        line_no += block.count(b"\n")
        if skipping is not None:
            line_no = skipping[0]
    if skipping is not None:
        yield skipping[0], b"", [_too_long(*skipping)]
    elif carry:
        yield line_no, carry, []


def _too_long(line_no: int, head: bytes, length: int) -> LineReject:
    return LineReject(
        line_no, "line_too_long", f"line of {length:,} bytes; the limit is lower", _decode_replace(head)
    )


def _count_lines(block: bytes) -> int:
    if not block:
        return 0
    return block.count(b"\n") + (0 if block.endswith(b"\n") else 1)


def _longest_line(data: bytes) -> int:
    """Length of the longest line of ``data`` (line end excluded), without splitting it."""
    if not data:
        return 0
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [len(data)]))
    return int((stops - starts).max())


def _remove_invalid_utf8(block: bytes) -> tuple[bytes, list[tuple[int, bytes]]]:
    """``block`` without its lines that are not valid UTF-8, and those lines (0-based index, bytes)."""
    try:
        codecs.utf_8_decode(block, "strict", True)
        return block, []
    except UnicodeDecodeError:
        pass
    view = memoryview(block)
    kept = bytearray()
    removed: list[tuple[int, bytes]] = []
    start = 0
    while start < len(block):
        try:
            codecs.utf_8_decode(view[start:], "strict", True)
            kept += view[start:]
            break
        except UnicodeDecodeError as exc:
            bad = start + exc.start
            line_start = block.rfind(b"\n", 0, bad) + 1
            line_end = block.find(b"\n", bad)
            line_end = len(block) if line_end < 0 else line_end + 1
            kept += view[start:line_start]
            removed.append((block.count(b"\n", 0, line_start), block[line_start:line_end].rstrip(b"\r\n")))
            start = line_end
    return bytes(kept), removed


class DelimitedReader:
    """Reads the blocks of one file with a fixed list of columns (see the module docstring)."""

    def __init__(self, columns: tuple[str, ...], *, delimiter: str = ";", max_line_bytes: int = 64 << 10):
        self.columns = columns
        self.delimiter = delimiter
        self.max_line_bytes = max_line_bytes
        self._header = delimiter.join(columns).lower()
        self._first = True
        self._read_opts = pacsv.ReadOptions(column_names=list(columns), use_threads=False)
        self._convert = pacsv.ConvertOptions(
            column_types={c: pa.string() for c in columns}, strings_can_be_null=False, check_utf8=False
        )

    def _parse_options(self, invalid: list) -> pacsv.ParseOptions:
        def handler(row) -> str:
            invalid.append((row.number, row.text))
            return "skip"

        return pacsv.ParseOptions(
            delimiter=self.delimiter,
            quote_char=False,
            escape_char=False,
            ignore_empty_lines=False,
            invalid_row_handler=handler,
        )

    def blocks(self, stream: BinaryIO, block_bytes: int = BLOCK_BYTES) -> Iterator[Block]:
        for first_line, data, long_lines in iter_line_blocks(
            stream, block_bytes=block_bytes, max_line_bytes=self.max_line_bytes
        ):
            block = self.parse(first_line, data)
            if long_lines:
                block.rejects[:0] = long_lines
                block.lines += len(long_lines)
            yield block

    def parse(self, first_line: int, data: bytes) -> Block:
        """One block of whole lines, starting at line ``first_line``."""
        n_lines = _count_lines(data)
        skipped = 0
        rejects: list[LineReject] = []
        if self._first and data:
            self._first = False
            end = data.find(b"\n")
            head = data[: end if end >= 0 else len(data)].rstrip(b"\r")
            if head.decode("utf-8", errors="replace").strip().lower().replace(" ", "") == self._header:
                data = data[end + 1 :] if end >= 0 else b""
                first_line += 1
                skipped += 1
        data, bad_utf8 = _remove_invalid_utf8(data)
        kept_lines: np.ndarray | None = None  # data line index -> file line number, when lines were cut
        if bad_utf8:
            removed = [i for i, _ in bad_utf8]
            for i, raw in bad_utf8:
                rejects.append(
                    LineReject(
                        first_line + i,
                        "invalid_utf8",
                        "the line is not valid UTF-8 (shown with replacement characters)",
                        _decode_replace(raw),
                    )
                )
            total = _count_lines(data) + len(removed)
            kept_lines = np.delete(np.arange(total, dtype=np.int64), removed) + first_line
        table, line_no, blank, structural = self._split(data, first_line, kept_lines)
        rejects.extend(structural)
        rejects.sort(key=lambda r: r.line_no)
        return Block(table, line_no, n_lines, skipped + blank, rejects)

    def _split(self, data: bytes, first_line: int, kept_lines: np.ndarray | None):
        """Fields of every line of ``data`` (valid UTF-8): pyarrow, or line by line if it disagrees."""
        n = _count_lines(data)
        to_file = (lambda idx: idx + first_line) if kept_lines is None else (lambda idx: kept_lines[idx])
        if n == 0:
            return self._empty(), np.empty(0, np.int64), 0, []
        invalid: list[tuple[int, str]] = []
        table = None
        if data.count(b"\r") == data.count(b"\r\n"):  # a lone CR would end a row for pyarrow
            try:
                table = pacsv.read_csv(
                    pa.BufferReader(data),
                    read_options=self._read_opts,
                    parse_options=self._parse_options(invalid),
                    convert_options=self._convert,
                )
            except pa.ArrowInvalid:
                table = None
        if table is None or table.num_rows + len(invalid) != n or any(num is None for num, _ in invalid):
            return self._split_lines(data, to_file)
        idx = np.arange(n, dtype=np.int64)
        rejects, blank = [], 0
        if invalid:
            bad_idx = np.array([num - 1 for num, _ in invalid], dtype=np.int64)
            idx = np.delete(idx, bad_idx)
            for (_num, text), i in zip(invalid, bad_idx, strict=True):
                if not text.replace(self.delimiter, "").strip():
                    blank += 1
                elif len(text.rstrip("\r").encode()) > self.max_line_bytes:
                    raw = text.rstrip("\r").encode()
                    rejects.append(_too_long(int(to_file(i)), raw[:EVIDENCE_BYTES], len(raw)))
                else:
                    rejects.append(self._wrong_count(int(to_file(i)), text.rstrip("\r")))
        table, idx, empty = self._drop_blank(table, idx)
        if _longest_line(data) > self.max_line_bytes:
            table, idx = self._drop_long(table, idx, to_file, rejects)
        return table, to_file(idx), blank + empty, rejects

    def _drop_blank(self, table: pa.Table, idx: np.ndarray):
        """Rows whose every field is empty or spaces: blank lines, skipped."""
        import pyarrow.compute as pc

        if table.num_rows == 0:
            return table, idx, 0
        blank = None
        for col in table.columns:
            empty = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(col)), 0)
            blank = empty if blank is None else pc.and_(blank, empty)
            if not pc.any(blank).as_py():  # usually decided by the first column alone
                return table, idx, 0
        n_blank = pc.sum(blank).as_py() or 0
        if not n_blank:
            return table, idx, 0
        keep = pc.invert(blank)
        return table.filter(keep), idx[keep.to_numpy(zero_copy_only=False)], n_blank

    def _drop_long(self, table: pa.Table, idx: np.ndarray, to_file, rejects: list[LineReject]):
        """Rows of lines longer than ``max_line_bytes`` (whatever the block size): rejected."""
        import pyarrow.compute as pc

        if table.num_rows == 0:
            return table, idx
        length = None
        for col in table.columns:
            n = pc.binary_length(col)
            length = n if length is None else pc.add(length, n)
        too_long = pc.greater(length, self.max_line_bytes - table.num_columns + 1)
        if not pc.any(too_long).as_py():
            return table, idx
        mask = too_long.to_numpy(zero_copy_only=False)
        for i in np.flatnonzero(mask):
            text = self.delimiter.join(col[int(i)].as_py() for col in table.columns)
            size = len(text.encode())
            rejects.append(_too_long(int(to_file(idx[i])), text.encode()[:EVIDENCE_BYTES], size))
        keep = pc.invert(too_long)
        return table.filter(keep), idx[~mask]

    def _wrong_count(self, line_no: int, text: str) -> LineReject:
        found = text.count(self.delimiter) + 1
        return LineReject(
            line_no,
            "wrong_column_count",
            f"{found} fields, expected {len(self.columns)} ({self.delimiter.join(self.columns)})",
            text,
        )

    def _split_lines(self, data: bytes, to_file):
        """The same split, in Python (a block pyarrow cannot take: e.g. a carriage return alone)."""
        cols: list[list[str]] = [[] for _ in self.columns]
        kept: list[int] = []
        rejects: list[LineReject] = []
        blank = 0
        lines = data.split(b"\n")
        if data.endswith(b"\n"):
            lines.pop()
        width = len(self.columns)
        for i, raw in enumerate(lines):
            text = raw.removesuffix(b"\r").decode("utf-8")
            fields = text.split(self.delimiter)
            if not text.replace(self.delimiter, "").strip():
                blank += 1
            elif len(raw.removesuffix(b"\r")) > self.max_line_bytes:
                rejects.append(_too_long(int(to_file(i)), raw[:EVIDENCE_BYTES], len(raw.removesuffix(b"\r"))))
            elif len(fields) != width:
                rejects.append(self._wrong_count(int(to_file(i)), text))
            else:
                kept.append(i)
                for c, v in zip(cols, fields, strict=True):
                    c.append(v)
        table = pa.table({name: pa.array(c, pa.string()) for name, c in zip(self.columns, cols, strict=True)})
        return table, to_file(np.array(kept, dtype=np.int64)), blank, rejects

    def _empty(self) -> pa.Table:
        return pa.table({c: pa.array([], pa.string()) for c in self.columns})
