"""dbt project, machine-log models: build on a real PostgreSQL and check hand-computed figures.

Creates a throw-away database, applies the raw migrations, loads one hand-built session per
centre (overlapping waits and stops, periods outside the production span, a stop closed at end
of file, a one-piece session, rejected lines, a quarantined and a failed file version), runs
`dbt build` (models and data tests; the unit tests run in test_dbt_unit_tests.py) and checks marts.machine_sessions and
marts.data_quality_daily against figures computed by hand below.

Server: 127.0.0.1:5432 as postgres (trust auth) unless FACTORY_TEST_PG_HOST / _PORT / _USER say
otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import psycopg
import pytest

from tests.dbt_harness import connect, run_dbt, scratch_database
from tests.dbt_harness import rows as _rows

DAY = date(2026, 3, 2)  # a Monday in winter: Europe/Paris is UTC+01


@pytest.fixture(scope="module")
def warehouse() -> Iterator[str]:
    """A uniquely named database with the raw migrations applied; dropped afterwards."""
    with scratch_database("test_dbt_ml") as dbname:
        yield dbname


def _ts(hhmmss: str, day: date = DAY) -> str:
    """Plant-local (Europe/Paris, UTC+01 in March) timestamp literal."""
    return f"{day.isoformat()} {hhmmss}+01"


def _load_raw(conn: psycopg.Connection) -> None:
    """Hand-built raw rows, as the machine-log loader would write them."""
    ledger = [
        # id, source, path, status, updated_at, partition_key, rows_in
        (1, "machine_logs", "machine_logs/DEM12/20260302.LOG", "loaded", _ts("21:00:00"), "2026-03-02", 20),
        (2, "machine_logs", "machine_logs/SU12/20260302.LOG", "loaded", _ts("21:00:00"), "2026-03-02", 3),
        # 23:30 UTC on March 2nd is 00:30 on March 3rd in Paris: the plant day is the 3rd.
        (3, "machine_logs", "machine_logs/DEMALU/20260302.LOG", "quarantined", "2026-03-02 23:30:00+00", "2026-03-02", None),
        (4, "operations", "operations/drop-17.json", "failed", _ts("10:00:00"), None, None),
        (5, "operations", "operations/drop-18.json", "failed", _ts("11:00:00"), None, None),
        # neither of these is a rejection
        (6, "machine_logs", "machine_logs/DEM12/20260301.LOG", "duplicate", _ts("09:00:00"), "2026-03-01", None),
        (7, "operations", "operations/drop-19.json", "retry", _ts("12:00:00"), None, None),
        # a drop loaded that day: one of the 3 operations versions settled on 03-02 (7 is not settled)
        (8, "operations", "operations/drop-16.json", "loaded", _ts("09:00:00"), None, 0),
    ]  # fmt: skip
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO raw.ingest_ledger (id, source, path, size, mtime, sha256, status, updated_at,"
            " partition_key, rows_in) VALUES (%s, %s, %s, 100, now(), md5(%s), %s, %s, %s, %s)",
            [(i, src, path, path, status, upd, pk, n) for i, src, path, status, upd, pk, n in ledger],
        )

        # --- DEM12: span 06:00 -> 07:00 = 3600 s -----------------------------------------
        # 21 lines: 4 pieces, 1 job profile, 5 waits, 4 stops + 3 starts = 17 parsed,
        # 1 blank, 2 rejected (bad_timestamp).
        cur.execute(
            "INSERT INTO raw.machine_logs__sessions (centre, production_date, file_version_id, path,"
            " sha256, lines_in, lines_parsed, lines_blank, lines_rejected, first_event_at,"
            " last_event_at, open_stop_closed_at_eof, parser_version, loaded_at)"
            " VALUES ('DEM12', %s, 1, 'machine_logs/DEM12/20260302.LOG', md5('a'), 20, 17, 1, 2,"
            " %s, %s, true, 'test', %s)",
            (DAY, _ts("05:40:00"), _ts("07:20:00"), _ts("21:00:00")),
        )
        cur.execute(
            "INSERT INTO raw.machine_logs__job_profiles"
            " (centre, production_date, line_no, event_at, reference, length_mm, colour, details)"
            " VALUES ('DEM12', %s, 2, %s, '6112', 6500, '7016', 'R:6112 L:6500 C:7016')",
            (DAY, _ts("05:59:00")),
        )
        cur.executemany(
            "INSERT INTO raw.machine_logs__pieces"
            " (centre, production_date, line_no, event_at, job_profile_line_no, reference)"
            " VALUES ('DEM12', %s, %s, %s, 2, '6112')",
            [
                (DAY, n, _ts(t))
                for n, t in [(5, "06:00:00"), (8, "06:10:00"), (12, "06:30:00"), (16, "07:00:00")]
            ],
        )
        waits = [
            # line, start, end                        clipped to the span
            (3, "05:50:00", "06:05:00"),  # -> 06:00-06:05
            (6, "06:03:00", "06:08:00"),  # overlaps the previous one: union 06:00-06:08 = 480 s
            (9, "06:20:00", "06:22:00"),  # 120 s, overlaps stop 06:21-06:25
            (15, "06:58:00", "07:05:00"),  # -> 06:58-07:00 = 120 s
            (17, "07:10:00", "07:12:00"),  # after the last piece: 0 s
        ]
        cur.executemany(
            "INSERT INTO raw.machine_logs__waits (centre, production_date, line_no, started_at, ended_at, seconds)"
            " VALUES ('DEM12', %s, %s, %s, %s, extract(epoch from %s::timestamptz - %s::timestamptz))",
            [(DAY, n, _ts(a), _ts(b), _ts(b), _ts(a)) for n, a, b in waits],
        )
        stops = [
            # line, end line, start, end, closed at EOF
            (1, 4, "05:40:00", "06:02:00", False),  # began before the first piece -> 06:00-06:02
            (10, 11, "06:21:00", "06:25:00", False),  # 240 s
            (13, 14, "06:40:00", "06:50:00", False),  # 600 s
            (18, None, "07:15:00", "07:20:00", True),  # trailing stop closed at EOF, after the span
        ]
        cur.executemany(
            "INSERT INTO raw.machine_logs__stops (centre, production_date, line_no, end_line_no,"
            " started_at, ended_at, seconds, closed_at_eof)"
            " VALUES ('DEM12', %s, %s, %s, %s, %s, extract(epoch from %s::timestamptz - %s::timestamptz), %s)",
            [(DAY, n, e, _ts(a), _ts(b), _ts(b), _ts(a), eof) for n, e, a, b, eof in stops],
        )
        cur.executemany(
            "INSERT INTO raw.ingest_rejects"
            " (data_date, file_version_id, item_no, reason, detail, raw_text, source)"
            " VALUES (%s, 1, %s, 'bad_timestamp', 'hour 25', %s, 'machine_logs')",
            [(DAY, 7, "20260302 25:00:00|@StukUitgevoerd"), (DAY, 19, "20260302 06:6:00|@MachineStart")],
        )

        # --- SU12: a single piece -> zero span ------------------------------------------
        cur.execute(
            "INSERT INTO raw.machine_logs__sessions (centre, production_date, file_version_id, path,"
            " sha256, lines_in, lines_parsed, lines_blank, lines_rejected, first_event_at,"
            " last_event_at, parser_version, loaded_at)"
            " VALUES ('SU12', %s, 2, 'machine_logs/SU12/20260302.LOG', md5('b'), 3, 2, 0, 1,"
            " %s, %s, 'test', %s)",
            (DAY, _ts("08:00:00"), _ts("08:01:00"), _ts("21:00:00")),
        )
        cur.execute(
            "INSERT INTO raw.machine_logs__pieces (centre, production_date, line_no, event_at)"
            " VALUES ('SU12', %s, 1, %s)",
            (DAY, _ts("08:00:00")),
        )
        cur.execute(
            "INSERT INTO raw.machine_logs__waits (centre, production_date, line_no, started_at, ended_at, seconds)"
            " VALUES ('SU12', %s, 2, %s, %s, 60)",
            (DAY, _ts("08:00:00"), _ts("08:01:00")),
        )
        cur.execute(
            "INSERT INTO raw.ingest_rejects"
            " (data_date, file_version_id, item_no, reason, detail, raw_text, source)"
            " VALUES (%s, 2, 3, 'unknown_event', '@Foo', '20260302 08:02:00|@Foo', 'machine_logs')",
            (DAY,),
        )


@pytest.fixture(scope="module")
def built(warehouse, tmp_path_factory) -> str:
    """Raw rows loaded and `dbt build` run successfully; returns the database name."""
    with connect(warehouse) as conn:
        _load_raw(conn)  # committed when the block exits

    run_dbt(warehouse, tmp_path_factory.mktemp("dbt"), "build")  # unit tests: test_dbt_unit_tests.py
    return warehouse


def test_machine_sessions_hand_computed(built):
    rows = {r["centre"]: r for r in _rows(built, "SELECT * FROM marts.machine_sessions ORDER BY centre")}
    assert set(rows) == {"DEM12", "SU12"}

    dem = rows["DEM12"]
    # span 06:00 -> 07:00 = 3600 s
    # waits (clipped):  06:00-06:08 (two overlapping) 480 + 06:20-06:22 120 + 06:58-07:00 120 = 720 s
    # stops (clipped):  06:00-06:02 120 + 06:21-06:25 240 + 06:40-06:50 600 = 960 s
    # downtime union:   06:00-06:08 480 + 06:20-06:25 300 + 06:40-06:50 600 + 06:58-07:00 120 = 1500 s
    # effective:        3600 - 1500 = 2100 s
    assert dem["production_date"] == DAY
    assert dem["pieces"] == 4
    assert dem["job_profiles"] == 1
    assert dem["first_piece_at"].isoformat() == "2026-03-02T05:00:00+00:00"
    assert dem["last_piece_at"].isoformat() == "2026-03-02T06:00:00+00:00"
    assert dem["production_span_h"] == Decimal("1.0000")
    assert dem["wait_h"] == Decimal("0.2000")  # 720 / 3600
    assert dem["stop_h"] == Decimal("0.2667")  # 960 / 3600 = 0.26667
    assert dem["downtime_h"] == Decimal("0.4167")  # 1500 / 3600 = 0.41667
    assert dem["effective_h"] == Decimal("0.5833")  # 2100 / 3600 = 0.58333
    assert dem["occupation_rate_pct"] == Decimal("58.33")
    assert dem["wait_rate_pct"] == Decimal("20.00")
    assert dem["stop_rate_pct"] == Decimal("26.67")
    assert dem["waits"] == 5
    assert dem["stops"] == 4
    assert dem["lines_in"] == 20
    assert dem["lines_rejected"] == 2
    assert dem["open_stop_closed_at_eof"] is True
    assert dem["file_version_id"] == 1

    su = rows["SU12"]
    # one piece: zero span, its wait clipped away, rates undefined
    assert su["pieces"] == 1
    assert su["job_profiles"] == 0
    assert su["production_span_h"] == su["wait_h"] == su["stop_h"] == su["effective_h"] == Decimal("0")
    assert su["occupation_rate_pct"] is None
    assert su["wait_rate_pct"] is None
    assert su["stop_rate_pct"] is None
    assert (su["waits"], su["stops"]) == (1, 0)
    assert su["open_stop_closed_at_eof"] is False


def test_data_quality_daily_hand_computed(built):
    got = {
        (r["day"].isoformat(), r["source"], r["reason"]): (r["rejected_rows"], r["file_versions"])
        for r in _rows(built, "SELECT * FROM marts.data_quality_daily")
    }
    assert got == {
        ("2026-03-02", "machine_logs", "bad_timestamp"): (2, 1),  # DEM12 lines 7 and 19
        ("2026-03-02", "machine_logs", "unknown_event"): (1, 1),  # SU12 line 3
        ("2026-03-03", "machine_logs", "file_quarantined"): (1, 1),  # 23:30 UTC = 00:30 Paris
        ("2026-03-02", "operations", "file_failed"): (2, 2),
        # 'duplicate' and 'retry' versions are not rejections
    }
    share = {
        (r["day"].isoformat(), r["source"], r["reason"]): (r["rows_in"], r["share_of_rows"])
        for r in _rows(built, "SELECT * FROM marts.data_quality_daily")
    }
    # rows: lines of the two versions loaded for 03-02 (DEM12 20 + SU12 3)
    assert share[("2026-03-02", "machine_logs", "bad_timestamp")][0] == 23
    assert float(share[("2026-03-02", "machine_logs", "bad_timestamp")][1]) == pytest.approx(2 / 23)
    assert float(share[("2026-03-02", "machine_logs", "unknown_event")][1]) == pytest.approx(1 / 23)
    # file versions: 03-03 settled only the quarantined DEMALU; 03-02 settled 4, 5 (failed) and 8
    assert share[("2026-03-03", "machine_logs", "file_quarantined")] == (1, Decimal("1"))
    assert share[("2026-03-02", "operations", "file_failed")][0] == 3
    assert float(share[("2026-03-02", "operations", "file_failed")][1]) == pytest.approx(2 / 3)


def test_marts_have_contracts_and_docs(built):
    """Contracted marts carry their primary key and column comments (persist_docs) for BI tools."""
    pk = _rows(
        built,
        "SELECT conrelid::regclass::text AS rel FROM pg_constraint"
        " WHERE contype = 'p' AND connamespace = 'marts'::regnamespace ORDER BY 1",
    )
    assert {"marts.data_quality_daily", "marts.machine_sessions"} <= {r["rel"] for r in pk}
    comments = _rows(
        built,
        "SELECT col_description('marts.machine_sessions'::regclass, attnum) AS c FROM pg_attribute"
        " WHERE attrelid = 'marts.machine_sessions'::regclass AND attname = 'occupation_rate_pct'",
    )
    assert "percent" in comments[0]["c"]
