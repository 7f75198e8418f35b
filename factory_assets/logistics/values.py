"""Values of the field-service exports (DESIGN.md §6.7): ids and the five date formats.

The rules are defined once, by the plain-Python functions :func:`parse_id` and :func:`parse_date`;
the column-wise functions (:func:`ids_column`, :func:`dates_column`) give exactly the same result
for a whole Arrow column, much faster: a strict fast path handles the usual spellings with Arrow
kernels (no per-value Python), and only the values it does not take go through the Python rule.

Dates: ``DD/MM/YYYY``, ``DD/MM/YYYY HH:MM``, ``DD/MM/YYYY HH:MM:SS``, ``YYYY-MM-DD``,
``YYYY-MM-DD HH:MM[:SS]`` (also with a ``T``). Slash dates are **day-first**: ``03/04/2021`` is
3 April 2021, never March 4; day and month may have one digit (``3/4/2021``). Spaces around a value
are ignored. A date that does not exist (``31/02/2021``, hour 24) or any other spelling is
unparseable: the row is rejected with the value, never loaded with a NULL date. A date-only value
has no time (NULL), it is not midnight.

Ids: digits only (spaces around ignored), at most 18 digits (they fit a bigint).
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_DATE = re.compile(
    r"\s*(?:(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?"
    r"|(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?)\s*",
    re.ASCII,
)
# The fast path: the usual spellings only (two-digit day and month, one space, nothing around).
_FAST_DATE = (
    r"^(?:\d{2}/\d{2}/\d{4}(?: \d{2}:\d{2}(?::\d{2})?)?|\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?)$"
)
_FAST_ID = r"^\d{1,18}$"
MAX_ID_DIGITS = 18


def parse_id(text: str) -> int | None:
    """The id written in ``text``, or None if it is not one (empty, not digits, too long)."""
    s = text.strip()
    if not s or len(s) > MAX_ID_DIGITS or not (s.isascii() and s.isdigit()):
        return None
    return int(s)


def parse_date(text: str) -> tuple[dt.date, dt.datetime | None] | None:
    """(date, date-time or None for a date-only value) written in ``text``, or None."""
    m = _DATE.fullmatch(text)
    if not m:
        return None
    g = m.groups()
    if g[0] is not None:
        day, month, year, hh, mi, ss = g[0], g[1], g[2], g[3], g[4], g[5]
    else:
        year, month, day, hh, mi, ss = g[6], g[7], g[8], g[9], g[10], g[11]
    try:
        d = dt.date(int(year), int(month), int(day))
        if hh is None:
            return d, None
        return d, dt.datetime(d.year, d.month, d.day, int(hh), int(mi), int(ss or 0))
    except ValueError:
        return None


def _cast_or_bisect(arr: pa.Array, typ: pa.DataType) -> tuple[pa.Array, list[int]]:
    """``arr`` cast to ``typ``; values that cannot be cast become null and their indices are
    returned. Bisects on failure: k bad values cost O(n + k log n) casts, not n."""
    try:
        return pc.cast(arr, typ), []
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if len(arr) == 1:
            return pa.nulls(1, typ), [0]
    mid = len(arr) // 2
    left, bad_left = _cast_or_bisect(arr.slice(0, mid), typ)
    right, bad_right = _cast_or_bisect(arr.slice(mid), typ)
    return pa.concat_arrays([left, right]), bad_left + [mid + i for i in bad_right]


def _as_array(col) -> pa.Array:
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


def ids_column(col, *, allow_empty: bool = False) -> tuple[pa.Array, np.ndarray]:
    """(int64 ids, bool mask of the values that are not ids) of a string column.

    With ``allow_empty`` an empty value is a NULL id, not an error.
    """
    col = _as_array(col)
    fast = pc.match_substring_regex(col, _FAST_ID)
    if pc.all(fast).as_py():
        return pc.cast(col, pa.int64()), np.zeros(len(col), dtype=bool)
    values = pc.cast(pc.if_else(fast, col, pa.scalar(None, pa.string())), pa.int64())
    bad = np.zeros(len(col), dtype=bool)
    slow = np.flatnonzero(~fast.to_numpy(zero_copy_only=False))
    fixes = {}
    for i in slow:
        text = col[int(i)].as_py()
        parsed = parse_id(text)
        if parsed is not None:
            fixes[int(i)] = parsed
        elif not (allow_empty and not text.strip()):
            bad[i] = True
    if fixes:
        values = _patch(values, fixes, pa.int64())
    return values, bad


def _patch(values: pa.Array, fixes: dict[int, object], typ: pa.DataType) -> pa.Array:
    mask = np.zeros(len(values), dtype=bool)
    mask[list(fixes)] = True
    return pc.replace_with_mask(values, pa.array(mask), pa.array([fixes[i] for i in sorted(fixes)], typ))


def dates_column(col) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """(date32, timestamp[s] or null when no time was given, bool mask of unparseable values)."""
    col = _as_array(col)
    n = len(col)
    fast = pc.match_substring_regex(col, _FAST_DATE)
    all_fast = pc.all(fast).as_py()
    src = col if all_fast else pc.if_else(fast, col, pa.scalar(None, pa.string()))
    # DD/MM/YYYY... -> YYYY-MM-DD...: day-first, whatever the locale.
    iso = pc.replace_substring_regex(src, r"^(\d{2})/(\d{2})/(\d{4})", r"\3-\2-\1")
    ts, bad_cast = _cast_or_bisect(iso, pa.timestamp("s"))
    has_time = pc.greater(pc.utf8_length(iso), 10)
    bad = np.zeros(n, dtype=bool)
    if bad_cast:
        bad[bad_cast] = True
    fixes_d, fixes_t = {}, {}
    if not all_fast:
        for i in np.flatnonzero(~fast.to_numpy(zero_copy_only=False)):
            parsed = parse_date(col[int(i)].as_py())
            if parsed is None:
                bad[i] = True
            else:
                fixes_d[int(i)] = parsed[0]
                fixes_t[int(i)] = parsed[1]
    dates = pc.cast(ts, pa.date32())
    times = pc.if_else(has_time, ts, pa.scalar(None, pa.timestamp("s")))
    if fixes_d:
        dates = _patch(dates, fixes_d, pa.date32())
        times = _patch(times, fixes_t, pa.timestamp("s"))
    return dates, times, bad


# pyarrow imports pandas the first time a compute function is called (to recognise pandas
# arguments): about a second and 50 MB, once per process. Pay it when this module is imported,
# like any other import, rather than in the middle of the first file's load.
pc.utf8_length(pa.array([""]))
