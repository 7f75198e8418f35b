"""Logistics exports, the pure rules: the five date formats, day-first slash dates, ids, and the
block reader's accounting of every line (header, BOM, CRLF, blank, not UTF-8, wrong field count,
too long). No database here; tests/test_logistics_ingest.py loads real files into PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factory_assets.ingest.copy import arrow_binary_rows
from factory_assets.ingest.delimited import DelimitedReader
from factory_assets.logistics.pii import Pseudonymiser
from factory_assets.logistics.values import dates_column, ids_column, parse_date, parse_id

D = dt.date
T = dt.datetime


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("03/04/2021", (D(2021, 4, 3), None)),  # DD/MM/YYYY
        ("03/04/2021 14:05", (D(2021, 4, 3), T(2021, 4, 3, 14, 5))),  # DD/MM/YYYY HH:MM
        ("03/04/2021 14:05:09", (D(2021, 4, 3), T(2021, 4, 3, 14, 5, 9))),  # DD/MM/YYYY HH:MM:SS
        ("2021-04-03", (D(2021, 4, 3), None)),  # YYYY-MM-DD
        ("2021-04-03 14:05:09", (D(2021, 4, 3), T(2021, 4, 3, 14, 5, 9))),  # YYYY-MM-DD HH:MM:SS
        ("2021-04-03T14:05", (D(2021, 4, 3), T(2021, 4, 3, 14, 5))),
        (" 3/4/2021 ", (D(2021, 4, 3), None)),  # one-digit day and month, spaces around
        ("29/02/2024", (D(2024, 2, 29), None)),
    ],
)
def test_each_date_format_is_understood(text, expected):
    assert parse_date(text) == expected
    dates, times, bad = dates_column(pa.array([text]))
    assert (dates[0].as_py(), times[0].as_py()) == expected and not bad[0]


@pytest.mark.parametrize(
    ("text", "day", "month"),
    [("03/04/2021", 3, 4), ("12/01/2022", 12, 1), ("01/12/2022", 1, 12), ("05/06/2023 08:00", 5, 6)],
)
def test_slash_dates_are_day_first_never_month_first(text, day, month):
    (d, _), vec = parse_date(text), dates_column(pa.array([text]))[0][0].as_py()
    assert (d.day, d.month) == (day, month) == (vec.day, vec.month)


@pytest.mark.parametrize(
    "text",
    [
        "31/02/2021",  # no 31 February (pyarrow's strptime would silently make it 3 March)
        "29/02/2023",
        "13/13/2021",
        "2021-02-30",
        "2021-04-03 24:00:00",
        "2021-04-03 10:00:60",
        "04/03/21",  # two-digit year
        "03-04-2021",
        "ontem",
        "",
        "2021/04/03",
        "2021-04-03 10:00:00+02:00",
    ],
)
def test_an_impossible_or_unknown_date_is_unparseable(text):
    assert parse_date(text) is None
    dates, times, bad = dates_column(pa.array([text]))
    assert bad[0] and dates[0].as_py() is None


def test_ids_digits_only():
    texts = ["1", "007", " 12 ", "-5", "+5", "1e3", "", "12a", "123456789012345678", "1234567890123456789"]
    values, bad = ids_column(pa.array(texts))
    assert [None if b else v for v, b in zip(values.to_pylist(), bad, strict=True)] == [
        1, 7, 12, None, None, None, None, None, 123456789012345678, None
    ]  # fmt: skip
    assert [parse_id(t) for t in texts] == [
        None if b else v for v, b in zip(values.to_pylist(), bad, strict=True)
    ]
    values, bad = ids_column(pa.array(["", "  ", "4"]), allow_empty=True)
    assert values.to_pylist() == [None, None, 4] and not bad.any()


_date_text = st.one_of(
    st.text(alphabet="0123456789/-: T", max_size=22),
    st.builds(
        lambda d, h, m, s, f: (
            d.strftime(f).replace("HH", f"{h:02d}").replace("MM", f"{m:02d}").replace("SS", f"{s:02d}")
        ),
        st.dates(D(1900, 1, 1), D(2100, 12, 31)),
        st.integers(0, 25),
        st.integers(0, 61),
        st.integers(0, 61),
        st.sampled_from(["%d/%m/%Y", "%d/%m/%Y HH:MM", "%d/%m/%Y HH:MM:SS", "%Y-%m-%d", "%Y-%m-%d HH:MM:SS"]),
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_date_text, min_size=1, max_size=40))
def test_the_vectorised_date_path_agrees_with_the_rule(texts):
    dates, times, bad = dates_column(pa.array(texts))
    for i, text in enumerate(texts):
        got = None if bad[i] else (dates[i].as_py(), times[i].as_py())
        assert got == parse_date(text), text


def _read(data: bytes, columns=("a", "b", "c"), block_bytes=1 << 20, max_line_bytes=1000):
    reader = DelimitedReader(columns, max_line_bytes=max_line_bytes)
    rows, lines, skipped, rejects = [], 0, 0, []
    for b in reader.blocks(io.BytesIO(data), block_bytes=block_bytes):
        rows += list(zip(b.line_no.tolist(), *(c.to_pylist() for c in b.table.columns), strict=True))
        lines, skipped = lines + b.lines, skipped + b.skipped
        rejects += [(r.line_no, r.reason, r.raw_text) for r in b.rejects]
    return rows, lines, skipped, rejects


@pytest.mark.parametrize("block_bytes", [1 << 20, 5, 23])
def test_every_line_is_a_row_a_reject_or_skipped_whatever_the_block_size(block_bytes):
    data = (
        b"\xef\xbb\xbfa;B;c\r\n"  # BOM + header (any case): skipped
        b"1;x;y\r\n"
        b"\r\n"  # blank: skipped
        b"2;x\r\n"  # wrong_column_count
        b"3;Jos\xe9;z\r\n"  # latin-1: invalid_utf8, rejected alone
        b";;\r\n"  # nothing but separators: blank
        b'4;"q;r";z\r\n'  # no quoting: 4 fields
        b"5;Jos\xc3\xa9;z\r\n"  # valid UTF-8
        b"6;" + b"L" * 2000 + b";z\r\n"  # line_too_long
        b"7;a;b"  # last line without a line end
    )
    rows, lines, skipped, rejects = _read(data, block_bytes=block_bytes)
    assert rows == [(2, "1", "x", "y"), (8, "5", "José", "z"), (10, "7", "a", "b")]
    assert [(n, r) for n, r, _ in rejects] == [
        (4, "wrong_column_count"),
        (5, "invalid_utf8"),
        (7, "wrong_column_count"),
        (9, "line_too_long"),
    ]
    assert rejects[1][2] == "3;Jos\ufffd;z" and rejects[0][2] == "2;x"
    assert lines == 10 and skipped == 3
    assert lines == len(rows) + len(rejects) + skipped


def test_no_header_and_lf_line_ends():
    rows, lines, skipped, rejects = _read(b"10;n;e\n11;m;f\n", columns=("id_cliente", "name", "email"))
    assert rows == [(1, "10", "n", "e"), (2, "11", "m", "f")] and skipped == 0 and not rejects


def test_a_lone_carriage_return_stays_inside_its_value():
    rows, *_ = _read(b"1;a\rb;c\n2;x;y\n")
    assert rows == [(1, "1", "a\rb", "c"), (2, "2", "x", "y")]


def test_pseudonyms_are_hmac_sha256_and_never_the_value():
    import hashlib
    import hmac

    p = Pseudonymiser(b"k" * 20)
    assert p.customer(42) == hmac.new(b"k" * 20, b"customer:42", hashlib.sha256).hexdigest()
    assert p.customers([42, 43]) == [p.customer(42), p.customer(43)]
    assert p.technician(" José  da Silva ") == p.technician("JOSÉ DA SILVA") != p.customer(42)
    assert p.erased_fingerprint(42) != p.customer(42)
    assert Pseudonymiser(b"other-key-123456").customer(42) != p.customer(42)


def test_arrow_rows_load_through_binary_copy_unchanged(warehouse_url):
    import psycopg

    from factory_assets.ingest.copy import copy_arrow

    table = pa.table(
        {
            "i": pa.array([1, None, -(2**40)], pa.int64()),
            "n": pa.array([7, 8, None], pa.int32()),
            "t": pa.array(["é;x", None, ""], pa.string()),
            "d": pa.array([D(2000, 1, 1), D(1999, 12, 31), None], pa.date32()),
            "ts": pa.array([T(2021, 4, 3, 10, 0, 5), None, T(1970, 1, 1)], pa.timestamp("s")),
            "f": pa.array([1.5, None, -0.0], pa.float64()),
            "b": pa.array([True, False, None]),
        }
    )
    assert len(arrow_binary_rows(table)) > 0
    with psycopg.connect(warehouse_url) as conn, conn.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE x (i bigint, n integer, t text, d date, ts timestamp, f float8, b boolean)"
        )
        assert copy_arrow(cur, "x", [table.slice(0, 2), table.slice(2)]) == 3
        cur.execute("SELECT * FROM x")
        assert cur.fetchall() == [
            (1, 7, "é;x", D(2000, 1, 1), T(2021, 4, 3, 10, 0, 5), 1.5, True),
            (None, 8, None, D(1999, 12, 31), None, None, False),
            (-(2**40), None, "", None, T(1970, 1, 1), -0.0, None),
        ]


def test_demo_exports_have_the_real_shapes(tmp_path):
    from factory_assets.demo.logistics import BASES, VISITS_HEADER, write_logistics

    visits, customers = write_logistics(
        tmp_path, visits=3000, customers=1000, end=D(2024, 6, 30), bad_rows=12
    )
    v, c = visits.read_bytes(), customers.read_bytes()
    assert v.startswith(b"\xef\xbb\xbf" + VISITS_HEADER.encode() + b"\r\n") and v.count(b"\r\n") == 3001
    assert not c.startswith(b"\xef\xbb\xbf") and b"\r\n" not in c and c.count(b"\n") == 1000
    assert c.split(b"\n")[0].count(b";") == 3 and not c.startswith(b"id")
    lines = [x for x in v.split(b"\r\n")[1:] if x]
    good = [x.decode().split(";") for x in lines if x.count(b";") == 5 and b"ontem" not in x and x.isascii()]
    assert {row[3] for row in good} <= set(BASES) | {"CE - JUAZEIRO DO NORTE"} and len(
        {row[3] for row in good}
    ) >= 5
    assert all(len(row[2].split()) >= 3 for row in good[:50])  # technicians' full names
    shapes = {len(row[5]) for row in good} | {len(row[4]) for row in good}
    assert {10, 16, 19} <= shapes  # date-only and date-time forms
    assert any("/" in row[5] for row in good) and any("-" in row[5][:10] for row in good)
    bad = [
        x for x in lines if x.count(b";") != 5 or b"ontem" in x or b"31/02" in x or b"V" in x.split(b";")[0]
    ]
    assert len(bad) >= 4
    with pytest.raises(UnicodeDecodeError):
        v.decode("utf-8")  # one row saved in latin-1
