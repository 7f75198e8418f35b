"""dbt project, OEE marts (DESIGN.md §6.2): oee_daily, machine_stops, stop_pareto on PostgreSQL.

Two throw-away databases, each migrated with the real migrations and built with `dbt build`
restricted to the machine-log marts and everything upstream (seeds, staging, intermediate,
their data tests; the unit tests run in test_dbt_unit_tests.py):

* ``fixture``: hand-built raw rows for one centre over three days (a day with overlapping
  waits and stops, a stop across the shift change, a stop before the first shift, a stop closed
  at end of file, pieces of a reference without its own ideal cycle time; a day without a
  log; a day whose log ends in the morning) plus plant production rows for quality; and a
  second centre, SU12, over three days for the shift rules of DESIGN.md §6.2 (a stop and a wait
  across the shift change, zero-length stops, shifts without a stop, a shift without any event
  on a logged day). Every figure of marts.oee_daily is computed by hand below, with the shipped
  seeds (ideal cycle times DEM12/6112 = 40 s, DEM12 default = 42 s, SU12/6112 = 48 s;
  DEM12 -> PLANT-01/LINE-A/DEM12; no plant data for SU12).
* ``demo``: a week of generated log files (factory_assets.demo.machine_logs) loaded through
  the real ingestion path (ledger + parser + loader), one file left out to leave a gap.

Server: 127.0.0.1:5432 as postgres (trust auth) unless FACTORY_TEST_PG_HOST / _PORT / _USER say
otherwise.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from factory_assets.demo.machine_logs import write_machine_logs
from factory_assets.ingest.files import ingest_version
from factory_assets.machine_logs.loader import load_machine_log
from resources.landing import LocalLandingZone
from tests.dbt_harness import TIMEZONE as TZ
from tests.dbt_harness import connect as _connect
from tests.dbt_harness import rows as _rows
from tests.dbt_harness import run_dbt, scratch_database
from tests.ingest_helpers import machine_logs_with

# The machine-log marts and everything they are built from (seeds, staging, intermediate).
DBT_SELECT = "+path:models/marts/machine_logs"

MON, TUE, WED = dt.date(2026, 3, 2), dt.date(2026, 3, 3), dt.date(2026, 3, 4)  # winter: UTC+01


# --------------------------------------------------------------------------- helpers


def _dbt_build(dbname: str, work: Path, dbt_vars: dict | None = None) -> dict:
    """`dbt build` of the machine-log marts; returns run_results.json (asserts success)."""
    # only tests whose every parent is selected: a relationships test towards another
    # domain's model (e.g. production_rejects -> stg_plant__production_raw) is that domain's
    run_dbt(dbname, work, "build", select=DBT_SELECT, cautious=True, dbt_vars=dbt_vars)
    return json.loads((work / "target" / "run_results.json").read_text())


def _ts(day: dt.date, hhmmss: str) -> str:
    """Plant-local winter timestamp literal (Europe/Paris = UTC+01 in early March)."""
    return f"{day.isoformat()} {hhmmss}+01"


def _minutes_from(day: dt.date, hhmm: str, n: int) -> list[str]:
    """``n`` timestamps one minute apart from ``hhmm`` on ``day``."""
    start = dt.datetime.combine(day, dt.time.fromisoformat(hhmm))
    return [_ts(day, (start + dt.timedelta(minutes=i)).strftime("%H:%M:%S")) for i in range(n)]


# --------------------------------------------------------------------------- hand-built fixture


def _load_fixture(conn: psycopg.Connection) -> None:
    """DEM12 on Mon 2 March (full day), nothing on Tue 3, a morning-only log on Wed 4."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO raw.ingest_ledger (id, source, path, size, mtime, sha256, status)"
            " VALUES (%s, 'machine_logs', %s, 100, now(), md5(%s), 'loaded')",
            [(1, "machine_logs/DEM12/20260302.LOG", "a"), (2, "machine_logs/DEM12/20260304.LOG", "b")],
        )
        sessions = [
            # ledger id, day, first event, last event, closed at EOF
            (1, MON, _ts(MON, "04:30:00"), _ts(MON, "20:00:00"), True),
            (2, WED, _ts(WED, "05:00:00"), _ts(WED, "05:59:00"), False),
        ]
        cur.executemany(
            "INSERT INTO raw.machine_logs__sessions (centre, production_date, file_version_id, path,"
            " sha256, lines_in, lines_parsed, lines_blank, lines_rejected, first_event_at,"
            " last_event_at, open_stop_closed_at_eof, parser_version)"
            " VALUES ('DEM12', %s, %s, 'p', 's', 1, 1, 0, 0, %s, %s, %s, 'test')",
            [(day, fv, first, last, eof) for fv, day, first, last, eof in sessions],
        )

        pieces = (
            # Monday morning: 400 pieces of 6112 (own ideal cycle 40 s), 05:00 .. 11:39
            [(MON, t, "6112") for t in _minutes_from(MON, "05:00", 400)]
            # Monday afternoon: 300 of ZZZ999 (not in the seed -> DEM12 default 42 s),
            # 13:30 .. 18:29, then 10 before any job profile (NULL reference -> 42 s too)
            + [(MON, t, "ZZZ999") for t in _minutes_from(MON, "13:30", 300)]
            + [(MON, t, None) for t in _minutes_from(MON, "18:40", 10)]
            # Wednesday: 60 pieces of 6112, 05:00 .. 05:59
            + [(WED, t, "6112") for t in _minutes_from(WED, "05:00", 60)]
        )
        cur.executemany(
            "INSERT INTO raw.machine_logs__pieces (centre, production_date, line_no, event_at, reference)"
            " VALUES ('DEM12', %s, %s, %s, %s)",
            [(day, 1000 + i, t, ref) for i, (day, t, ref) in enumerate(pieces)],
        )

        stops = [
            # line, start, end, closed at EOF
            (10, "04:30:00", "04:50:00", False),  # before the first shift: 'outside'
            (20, "07:00:00", "07:30:00", False),
            (30, "12:40:00", "13:20:00", False),  # across the shift change
            (40, "15:00:00", "15:05:00", False),
            (50, "16:00:00", "16:01:00", False),  # 60 s: micro-stop
            (60, "19:59:00", "20:00:00", True),  # trailing MachineStop closed at EOF
        ]
        cur.executemany(
            "INSERT INTO raw.machine_logs__stops (centre, production_date, line_no, end_line_no,"
            " started_at, ended_at, seconds, closed_at_eof)"
            " VALUES ('DEM12', %s, %s, %s, %s, %s, extract(epoch from %s::timestamptz - %s::timestamptz), %s)",
            [
                (MON, n, None if eof else n + 1, _ts(MON, a), _ts(MON, b), _ts(MON, b), _ts(MON, a), eof)
                for n, a, b, eof in stops
            ],
        )
        waits = [(100, "07:20:00", 1200), (110, "14:00:00", 30)]  # the first overlaps stop 20
        cur.executemany(
            "INSERT INTO raw.machine_logs__waits (centre, production_date, line_no, started_at, ended_at, seconds)"
            " VALUES ('DEM12', %s, %s, %s, %s::timestamptz + make_interval(secs => %s), %s)",
            [(MON, n, _ts(MON, a), _ts(MON, a), s, s) for n, a, s in waits],
        )

        cur.executemany(
            "INSERT INTO raw.plant__production_raw"
            " (id, plant, line, machine_id, production_date, produced_qty, scrap_qty, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, now())",
            [
                (1, "PLANT-01", "LINE-A", "DEM12", MON, 700, 14),
                (2, "PLANT-01", "LINE-A", "DEM12", MON, 300, 6),
                (3, "PLANT-01", "LINE-A", "DEM12", MON, 10, 50),  # SCRAP_GT_PRODUCTION: not counted
                (4, "PLANT-01", "LINE-A", "DEM12", WED, 60, None),  # scrap unknown -> quality NULL
            ],
        )
    _load_su12(conn)


def _load_su12(conn: psycopg.Connection) -> None:
    """SU12 on Mon 2, Tue 3 and Wed 4 March: the shift rules of DESIGN.md §6.2.

    * Monday: a stop 12:50-13:20 and a wait 12:55 + 600 s (inside the stop) across the change
      of shift (05:00-13:00 / 13:00-21:00);
    * Tuesday: a real stop 08:00-08:10, a zero-length stop 09:00:00-09:00:00 (MachineStop and
      MachineStart in the same second) and a trailing MachineStop at 15:00:00, the file's last
      event, closed at its own instant;
    * Wednesday: the log ends at 08:59 (no stop, one wait); the afternoon has no event at all.

    Pieces are all of reference 6112 (SU12 ideal cycle 48 s); no plant data for SU12.
    """
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO raw.ingest_ledger (id, source, path, size, mtime, sha256, status)"
            " VALUES (%s, 'machine_logs', %s, 100, now(), md5(%s), 'loaded')",
            [
                (fv, f"machine_logs/SU12/{d:%Y%m%d}.LOG", f"su12-{d}")
                for fv, d in ((10, MON), (11, TUE), (12, WED))
            ],
        )
        sessions = [
            # ledger id, day, first event, last event, closed at EOF
            (10, MON, _ts(MON, "05:00:00"), _ts(MON, "18:59:00"), False),
            (11, TUE, _ts(TUE, "05:00:00"), _ts(TUE, "15:00:00"), True),
            (12, WED, _ts(WED, "05:00:00"), _ts(WED, "08:59:00"), False),
        ]
        cur.executemany(
            "INSERT INTO raw.machine_logs__sessions (centre, production_date, file_version_id, path,"
            " sha256, lines_in, lines_parsed, lines_blank, lines_rejected, first_event_at,"
            " last_event_at, open_stop_closed_at_eof, parser_version)"
            " VALUES ('SU12', %s, %s, 'p', 's', 1, 1, 0, 0, %s, %s, %s, 'test')",
            [(day, fv, first, last, eof) for fv, day, first, last, eof in sessions],
        )
        runs = [
            (MON, "05:00", 300),  # 05:00 .. 09:59
            (MON, "14:00", 300),  # 14:00 .. 18:59
            (TUE, "05:00", 300),  # 05:00 .. 09:59
            (TUE, "13:00", 120),  # 13:00 .. 14:59
            (WED, "05:00", 240),  # 05:00 .. 08:59
        ]
        pieces = [(day, t) for day, hhmm, n in runs for t in _minutes_from(day, hhmm, n)]
        cur.executemany(
            "INSERT INTO raw.machine_logs__pieces (centre, production_date, line_no, event_at, reference)"
            " VALUES ('SU12', %s, %s, %s, '6112')",
            [(day, 1000 + i, t) for i, (day, t) in enumerate(pieces)],
        )
        stops = [
            # day, line, start, end, closed at EOF
            (MON, 30, "12:50:00", "13:20:00", False),  # across the shift change
            (TUE, 10, "08:00:00", "08:10:00", False),
            (TUE, 20, "09:00:00", "09:00:00", False),  # zero length: MachineStart in the same second
            (TUE, 99, "15:00:00", "15:00:00", True),  # trailing stop closed at its own instant
        ]
        cur.executemany(
            "INSERT INTO raw.machine_logs__stops (centre, production_date, line_no, end_line_no,"
            " started_at, ended_at, seconds, closed_at_eof)"
            " VALUES ('SU12', %s, %s, %s, %s, %s, extract(epoch from %s::timestamptz - %s::timestamptz), %s)",
            [
                (day, n, None if eof else n + 1, _ts(day, a), _ts(day, b), _ts(day, b), _ts(day, a), eof)
                for day, n, a, b, eof in stops
            ],
        )
        waits = [(MON, 31, "12:55:00", 600), (WED, 50, "06:00:00", 120)]
        cur.executemany(
            "INSERT INTO raw.machine_logs__waits (centre, production_date, line_no, started_at, ended_at, seconds)"
            " VALUES ('SU12', %s, %s, %s, %s::timestamptz + make_interval(secs => %s), %s)",
            [(day, n, _ts(day, a), _ts(day, a), s, s) for day, n, a, s in waits],
        )


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory) -> Iterator[str]:
    with scratch_database("test_dbt_oee_fix") as dbname:
        with _connect(dbname) as conn:
            _load_fixture(conn)  # committed when the block exits
        # as_of_date pins the production rules' "today" (FUTURE_DATE) for the fixture's dates
        _dbt_build(dbname, tmp_path_factory.mktemp("dbt_fix"), {"as_of_date": "2026-03-05"})
        yield dbname


def _oee(dbname: str, centre: str = "DEM12") -> dict[tuple[dt.date, str], dict]:
    rows = _rows(dbname, "SELECT * FROM marts.oee_daily ORDER BY centre, shift_date, shift_start_at")
    return {(r["shift_date"], r["shift_name"]): r for r in rows if r["centre"] == centre}


def test_oee_daily_hand_computed(fixture_db):
    oee = _oee(fixture_db)
    # every calendar shift of every date from the first to the last session, logged or not
    assert list(oee) == [(d, s) for d in (MON, TUE, WED) for s in ("morning", "afternoon")]
    for r in oee.values():
        assert r["planned_busy_time_s"] == 28800  # 8 h shifts (PBT)
        assert r["planned_busy_time_h"] == Decimal("8")

    m = oee[(MON, "morning")]
    # stops clipped to 05:00-13:00: 07:00-07:30 (1800) + 12:40-13:00 (1200) = 3000 s
    # (04:30-04:50 lies before the shift); wait 07:20-07:40 = 1200 s;
    # down time = union 07:00-07:40 (2400) + 12:40-13:00 (1200) = 3600 s; APT = 28800 - 3600 = 25200
    # A = 25200 / 28800 = 0.875; P = 400 x 40 / 25200 = 16000 / 25200 = 0.634921
    # Q = (1000 - 20) / 1000 = 0.98 (row 3 rejected); OEE = 16000 / 28800 x 0.98 = 0.544444
    # MTBF = 25200 / 2 stops = 12600 s; MTTR = 3000 / 2 = 1500 s
    assert m["has_log"] is True
    assert (m["stop_time_s"], m["wait_time_s"], m["down_time_s"]) == (3000, 1200, 3600)
    assert m["actual_production_time_s"] == 25200
    assert m["actual_production_time_h"] == Decimal("7.0000")
    assert (m["stops"], m["waits"], m["pieces"], m["pieces_at_default_cycle"]) == (2, 1, 400, 0)
    assert m["ideal_production_time_s"] == 16000
    assert (m["plant_produced_qty"], m["plant_scrap_qty"]) == (1000, 20)
    assert m["availability"] == Decimal("0.8750")
    assert m["performance"] == Decimal("0.6349")
    assert m["quality"] == Decimal("0.9800")
    assert m["oee"] == Decimal("0.5444")
    assert m["oee_excluding_quality"] == Decimal("0.5556")
    assert (m["mtbf_s"], m["mttr_s"]) == (Decimal("12600.00"), Decimal("1500.00"))

    a = oee[(MON, "afternoon")]
    # stops clipped to 13:00-21:00: 13:00-13:20 (1200) + 15:00-15:05 (300) + 16:00-16:01 (60)
    # + 19:59-20:00 (60) = 1620 s; wait 14:00:00-14:00:30 = 30 s; down = 1650; APT = 27150
    # stops overlapping the shift for a positive time: 12:40 (also counted in the morning),
    # 15:00, 16:00, 19:59 = 4
    # pieces: 300 ZZZ999 + 10 without reference, all at the DEM12 default 42 s = 13020 s
    # A = 27150 / 28800 = 0.942708; P = 13020 / 27150 = 0.479558
    # OEE = 13020 / 28800 x 0.98 = 0.452083 x 0.98 = 0.443042
    # MTBF = 27150 / 4 = 6787.5 s; MTTR = 1620 / 4 = 405 s
    assert (a["stop_time_s"], a["wait_time_s"], a["down_time_s"]) == (1620, 30, 1650)
    assert a["actual_production_time_s"] == 27150
    assert (a["stops"], a["waits"], a["pieces"], a["pieces_at_default_cycle"]) == (4, 1, 310, 310)
    assert a["ideal_production_time_s"] == 13020
    assert a["availability"] == Decimal("0.9427")
    assert a["performance"] == Decimal("0.4796")
    assert a["quality"] == Decimal("0.9800")
    assert a["oee"] == Decimal("0.4430")
    assert a["oee_excluding_quality"] == Decimal("0.4521")
    assert (a["mtbf_s"], a["mttr_s"]) == (Decimal("6787.50"), Decimal("405.00"))

    # Tuesday: no log at all -> flagged, nothing measured, no OEE
    for shift in ("morning", "afternoon"):
        t = oee[(TUE, shift)]
        assert t["has_log"] is False
        assert t["availability"] is t["performance"] is t["oee"] is t["oee_excluding_quality"] is None
        assert t["pieces"] is t["stops"] is t["actual_production_time_s"] is None
        assert t["quality"] is None  # no plant data either

    w = oee[(WED, "morning")]
    # 60 pieces x 40 s = 2400 s, no stop: A = 1, P = 2400 / 28800 = 0.083333;
    # scrap not reported -> quality and OEE NULL, A x P still given; no stop -> MTBF/MTTR NULL
    assert w["has_log"] is True
    assert w["availability"] == Decimal("1.0000")
    assert w["performance"] == Decimal("0.0833")
    assert w["quality"] is None and w["oee"] is None
    assert w["oee_excluding_quality"] == Decimal("0.0833")
    assert w["stops"] == 0 and w["mtbf_s"] is None and w["mttr_s"] is None
    # the Wednesday log ends at 05:59, but a log exists for that day: the afternoon is covered,
    # with no event: available time with no output, A = 1, P = 0, no stop
    wa = oee[(WED, "afternoon")]
    assert wa["has_log"] is True
    assert wa["actual_production_time_s"] == 28800 and wa["pieces"] == 0
    assert (wa["availability"], wa["performance"], wa["oee_excluding_quality"]) == (
        Decimal("1.0000"),
        Decimal("0.0000"),
        Decimal("0.0000"),
    )
    assert wa["stops"] == 0 and wa["mtbf_s"] is None and wa["mttr_s"] is None


# SU12 (DESIGN.md §6.2 shift rules). Shifts 05:00-13:00 and 13:00-21:00, PBT 28800 s each;
# pieces of 6112 at the SU12 ideal cycle 48 s; no plant data for SU12, so quality and OEE are
# NULL and oee_excluding_quality = A x P is the figure to read.


def test_oee_stop_across_shift_change_counts_in_both_shifts(fixture_db):
    su = _oee(fixture_db, "SU12")
    # Monday stop 12:50-13:20 (1800 s) overlaps both shifts for a positive time: it is clipped
    # to 600 s in the morning and 1200 s in the afternoon and counts as ONE stop in EACH shift.
    # The wait 12:55 + 600 s lies inside the stop: 300 s of wait in each shift, no extra down
    # time, and it too counts once in each shift.
    m = su[(MON, "morning")]
    # 300 pieces 05:00 .. 09:59 x 48 s = 14400 s; APT = 28800 - 600 = 28200
    # A = 28200 / 28800 = 0.979167; P = 14400 / 28200 = 0.510638; A x P = 14400 / 28800 = 0.5
    # MTBF = 28200 / 1; MTTR = 600 / 1
    assert m["has_log"] is True
    assert (m["stop_time_s"], m["wait_time_s"], m["down_time_s"]) == (600, 300, 600)
    assert m["actual_production_time_s"] == 28200
    assert (m["stops"], m["waits"], m["pieces"], m["ideal_production_time_s"]) == (1, 1, 300, 14400)
    assert (m["availability"], m["performance"]) == (Decimal("0.9792"), Decimal("0.5106"))
    assert m["quality"] is None and m["oee"] is None
    assert m["oee_excluding_quality"] == Decimal("0.5000")
    assert (m["mtbf_s"], m["mttr_s"]) == (Decimal("28200.00"), Decimal("600.00"))

    a = su[(MON, "afternoon")]
    # 300 pieces 14:00 .. 18:59 x 48 s = 14400 s; APT = 28800 - 1200 = 27600
    # A = 27600 / 28800 = 0.958333; P = 14400 / 27600 = 0.521739; A x P = 0.5
    # MTBF = 27600 / 1; MTTR = 1200 / 1
    assert a["has_log"] is True
    assert (a["stop_time_s"], a["wait_time_s"], a["down_time_s"]) == (1200, 300, 1200)
    assert a["actual_production_time_s"] == 27600
    assert (a["stops"], a["waits"], a["pieces"], a["ideal_production_time_s"]) == (1, 1, 300, 14400)
    assert (a["availability"], a["performance"]) == (Decimal("0.9583"), Decimal("0.5217"))
    assert a["oee_excluding_quality"] == Decimal("0.5000")
    assert (a["mtbf_s"], a["mttr_s"]) == (Decimal("27600.00"), Decimal("1200.00"))

    # marts.machine_stops keeps its own rule: a period carries the shift in which it starts
    periods = _rows(
        fixture_db,
        "SELECT kind, line_no, seconds, shift_date, shift_name FROM marts.machine_stops"
        " WHERE centre = 'SU12' AND production_date = %s ORDER BY line_no",
        (MON,),
    )
    assert [tuple(r.values()) for r in periods] == [
        ("stop", 30, 1800, MON, "morning"),
        ("wait", 31, 600, MON, "morning"),
    ]


def test_oee_zero_length_stop_is_not_a_failure(fixture_db):
    su = _oee(fixture_db, "SU12")
    # Tuesday morning: stop 08:00-08:10 (600 s) and a zero-length stop at 09:00:00. Only the
    # first is a failure event: stops = 1, MTBF = APT / 1, MTTR = 600 / 1 (not / 2).
    # 300 pieces x 48 s = 14400 s; APT = 28800 - 600 = 28200; P = 14400 / 28200 = 0.510638
    m = su[(TUE, "morning")]
    assert (m["stops"], m["stop_time_s"], m["down_time_s"]) == (1, 600, 600)
    assert m["actual_production_time_s"] == 28200
    assert (m["availability"], m["performance"]) == (Decimal("0.9792"), Decimal("0.5106"))
    assert (m["mtbf_s"], m["mttr_s"]) == (Decimal("28200.00"), Decimal("600.00"))

    # Tuesday afternoon: the only stop is the trailing MachineStop at 15:00:00 closed at its own
    # instant (the file's last event): no failure event, no time lost -> stops 0, MTBF and MTTR
    # NULL (not APT / 1 and 0). 120 pieces x 48 s = 5760 s; A = 1; P = 5760 / 28800 = 0.2
    a = su[(TUE, "afternoon")]
    assert a["has_log"] is True
    assert (a["stops"], a["stop_time_s"], a["down_time_s"]) == (0, 0, 0)
    assert a["actual_production_time_s"] == 28800
    assert (a["pieces"], a["ideal_production_time_s"]) == (120, 5760)
    assert (a["availability"], a["performance"]) == (Decimal("1.0000"), Decimal("0.2000"))
    assert a["mtbf_s"] is None and a["mttr_s"] is None

    # both zero-length stops are still listed (seconds 0) in marts.machine_stops
    zero = _rows(
        fixture_db,
        "SELECT line_no, seconds, shift_name, closed_at_eof FROM marts.machine_stops"
        " WHERE centre = 'SU12' AND production_date = %s AND seconds = 0 ORDER BY line_no",
        (TUE,),
    )
    assert [tuple(r.values()) for r in zero] == [(20, 0, "morning", False), (99, 0, "afternoon", True)]


def test_oee_shift_without_stop_has_null_mtbf_and_mttr(fixture_db):
    su = _oee(fixture_db, "SU12")
    # a shift with no stop (DESIGN.md §6.2): stop count and stop time are 0, MTBF and MTTR are
    # NULL (never 0, never APT / 1), whatever else happened in the shift:
    #   Tue afternoon: only a zero-length stop; Wed morning: pieces and a wait, no stop at all;
    #   Wed afternoon: no event at all (the log ends at 08:59)
    for key in ((TUE, "afternoon"), (WED, "morning"), (WED, "afternoon")):
        r = su[key]
        assert r["has_log"] is True, key
        assert (r["stops"], r["stop_time_s"]) == (0, 0), key
        assert r["mtbf_s"] is None and r["mttr_s"] is None, key
        assert r["actual_production_time_s"] is not None and r["availability"] is not None, key

    w = su[(WED, "morning")]
    # 240 pieces 05:00 .. 08:59 x 48 s = 11520 s; wait 06:00 + 120 s; APT = 28800 - 120 = 28680
    # A = 28680 / 28800 = 0.995833; P = 11520 / 28680 = 0.401674; A x P = 11520 / 28800 = 0.4
    assert (w["wait_time_s"], w["down_time_s"], w["waits"], w["pieces"]) == (120, 120, 1, 240)
    assert w["actual_production_time_s"] == 28680
    assert (w["availability"], w["performance"]) == (Decimal("0.9958"), Decimal("0.4017"))
    assert w["oee_excluding_quality"] == Decimal("0.4000")


def test_oee_shift_without_event_on_logged_day_is_covered(fixture_db):
    # SU12's Wednesday log ends at 08:59: the afternoon has no event, but a log exists for that
    # centre and day, so the shift is covered and its time is available time with no output
    # (a performance loss): APT = PBT = 28800, A = 1, nothing produced -> P = 0 / 28800 = 0,
    # A x P = 0; no stop -> MTBF and MTTR NULL; no plant data -> quality and OEE NULL.
    r = _oee(fixture_db, "SU12")[(WED, "afternoon")]
    assert r["has_log"] is True
    assert r["planned_busy_time_s"] == 28800
    assert (r["wait_time_s"], r["stop_time_s"], r["down_time_s"]) == (0, 0, 0)
    assert r["actual_production_time_s"] == 28800
    assert r["actual_production_time_h"] == Decimal("8.0000")
    assert (r["stops"], r["waits"], r["pieces"]) == (0, 0, 0)
    assert (
        r["pieces_at_default_cycle"] == r["pieces_without_ideal_cycle"] == r["ideal_production_time_s"] == 0
    )
    assert r["availability"] == Decimal("1.0000")
    assert r["performance"] == Decimal("0.0000")
    assert r["oee_excluding_quality"] == Decimal("0.0000")
    assert r["quality"] is None and r["oee"] is None
    assert r["mtbf_s"] is None and r["mttr_s"] is None

    # every covered shift of the fixture has its figures; only the day without a log (DEM12,
    # Tuesday) is flagged and left unmeasured
    rows = _rows(fixture_db, "SELECT * FROM marts.oee_daily ORDER BY centre, shift_date, shift_start_at")
    assert sorted((r["centre"], r["shift_date"]) for r in rows if not r["has_log"]) == [
        ("DEM12", TUE),
        ("DEM12", TUE),
    ]
    for r in rows:
        if r["has_log"]:
            measured = ("actual_production_time_s", "stops", "waits", "pieces", "availability", "performance")
            assert all(r[c] is not None for c in measured), r


def test_machine_stops_hand_computed(fixture_db):
    rows = _rows(
        fixture_db,
        "SELECT kind, line_no, seconds, shift_date, shift_name, start_hour, duration_bucket,"
        " is_micro_stop, closed_at_eof FROM marts.machine_stops WHERE centre = 'DEM12'"
        " ORDER BY started_at, kind",
    )
    assert [tuple(r.values()) for r in rows] == [
        ("stop", 10, 1200, None, "outside", 4, "15-60 min", False, False),
        ("stop", 20, 1800, MON, "morning", 7, "15-60 min", False, False),
        ("wait", 100, 1200, MON, "morning", 7, "15-60 min", False, False),
        ("stop", 30, 2400, MON, "morning", 12, "15-60 min", False, False),  # starts in the morning
        ("wait", 110, 30, MON, "afternoon", 14, "< 1 min", True, False),
        ("stop", 40, 300, MON, "afternoon", 15, "5-15 min", False, False),
        ("stop", 50, 60, MON, "afternoon", 16, "1-5 min", True, False),
        ("stop", 60, 60, MON, "afternoon", 19, "1-5 min", True, True),
    ]


def test_stop_pareto_hand_computed(fixture_db):
    rows = _rows(
        fixture_db,
        "SELECT kind, duration_bucket, start_hour, periods, total_s, pareto_rank, share, cumulative_share"
        " FROM marts.stop_pareto WHERE centre = 'DEM12' ORDER BY kind, pareto_rank",
    )
    # stops: 2400 (12 h) + 1800 (7 h) + 1200 (4 h) + 300 + 60 + 60 = 5820 s
    #   2400 / 5820 = 0.412371; (2400 + 1800) / 5820 = 0.721649; 5400 / 5820 = 0.927835;
    #   the two 60 s groups tie and are ordered by hour
    # waits: 1200 + 30 = 1230 s; 1200 / 1230 = 0.975610
    assert [tuple(r.values()) for r in rows] == [
        ("stop", "15-60 min", 12, 1, 2400, 1, Decimal("0.4124"), Decimal("0.4124")),
        ("stop", "15-60 min", 7, 1, 1800, 2, Decimal("0.3093"), Decimal("0.7216")),
        ("stop", "15-60 min", 4, 1, 1200, 3, Decimal("0.2062"), Decimal("0.9278")),
        ("stop", "5-15 min", 15, 1, 300, 4, Decimal("0.0515"), Decimal("0.9794")),
        ("stop", "1-5 min", 16, 1, 60, 5, Decimal("0.0103"), Decimal("0.9897")),
        ("stop", "1-5 min", 19, 1, 60, 6, Decimal("0.0103"), Decimal("1.0000")),
        ("wait", "15-60 min", 7, 1, 1200, 1, Decimal("0.9756"), Decimal("0.9756")),
        ("wait", "< 1 min", 14, 1, 30, 2, Decimal("0.0244"), Decimal("1.0000")),
    ]


def test_oee_marts_have_contracts_and_docs(fixture_db):
    keys = _rows(
        fixture_db,
        "SELECT conrelid::regclass::text AS rel, contype FROM pg_constraint"
        " WHERE connamespace = 'marts'::regnamespace AND contype = 'u' ORDER BY 1",
    )
    assert {r["rel"] for r in keys} >= {"marts.oee_daily", "marts.machine_stops", "marts.stop_pareto"}
    comment = _rows(
        fixture_db,
        "SELECT col_description('marts.oee_daily'::regclass, attnum) AS c FROM pg_attribute"
        " WHERE attrelid = 'marts.oee_daily'::regclass AND attname = 'availability'",
    )
    assert "APT / PBT" in comment[0]["c"]


# --------------------------------------------------------------------------- demo data

DEMO_END = dt.date(2026, 3, 14)  # a Saturday; the week runs Sat 7 .. Sat 14 (no Sunday files)
DEMO_GAP = ("DEMALU", dt.date(2026, 3, 11))  # file removed: both Wednesday shifts have no log


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Iterator[tuple[str, dict]]:
    with scratch_database("test_dbt_oee_demo") as dbname:
        yield dbname, _load_demo(dbname, tmp_path_factory)


def _load_demo(dbname: str, tmp_path_factory) -> dict:
    """The demo week loaded through the real ingestion path, built; returns run_results.json."""
    landing = tmp_path_factory.mktemp("landing")
    write_machine_logs(landing, days=8, end=DEMO_END, seed=42, with_partial_upload=False)
    centre, day = DEMO_GAP
    (landing / "machine_logs" / centre / f"{day:%Y%m%d}.LOG").unlink()

    zone = LocalLandingZone(landing)
    loader = functools.partial(load_machine_log, tz=ZoneInfo(TZ))
    with _connect(dbname, autocommit=True) as conn:
        entries = zone.list_files("machine_logs")
        assert len(entries) == 7 * 3 - 1
        for entry in entries:
            outcome = ingest_version(conn, zone, None, machine_logs_with(loader), entry, "test-oee")
            assert outcome.status == "loaded", outcome
    return _dbt_build(dbname, tmp_path_factory.mktemp("dbt_demo"))


def test_demo_occupation_and_availability_are_realistic(demo_db):
    dbname, _ = demo_db
    sessions = _rows(
        dbname, "SELECT centre, production_date, occupation_rate_pct FROM marts.machine_sessions"
    )
    assert len(sessions) == 20
    for s in sessions:  # DESIGN.md §6.1: occupation 60-72 % in the real plant
        assert Decimal(60) <= s["occupation_rate_pct"] <= Decimal(72), s

    oee = _rows(dbname, "SELECT * FROM marts.oee_daily ORDER BY centre, shift_date, shift_start_at")
    # 3 centres x 7 working days (Sat 7, Mon 9 .. Sat 14) x 2 shifts; no Sunday shift
    assert len(oee) == 3 * 7 * 2
    assert {r["shift_date"] for r in oee} == {DEMO_END - dt.timedelta(days=i) for i in range(8)} - {
        dt.date(2026, 3, 8)
    }
    logged = [r for r in oee if r["has_log"]]
    assert len(logged) == len(oee) - 2
    for r in logged:
        assert Decimal(0) <= r["availability"] <= Decimal(1), r
        # the shipped ideal cycle times are below the demo centres' real cycles
        assert Decimal("0.3") < r["performance"] <= Decimal(1), r
        # no plant production data loaded: quality unknown, OEE NULL, A x P given
        assert r["quality"] is None and r["oee"] is None
        # A x P from unrounded components, so only close to the product of the rounded ones
        assert abs(r["oee_excluding_quality"] - r["availability"] * r["performance"]) < Decimal("0.0002")
        assert r["stops"] >= 1 and r["mtbf_s"] > 0 and r["mttr_s"] > 0
        assert r["pieces_without_ideal_cycle"] == 0

    # availability over a whole day (both shifts) is in the region of the occupation rate
    day_avail = _rows(
        dbname,
        "SELECT centre, shift_date, sum(actual_production_time_s) / sum(planned_busy_time_s) AS a"
        " FROM marts.oee_daily WHERE has_log GROUP BY 1, 2",
    )
    for r in day_avail:
        assert Decimal("0.5") < r["a"] < Decimal("0.85"), r


def test_demo_shifts_without_log_are_flagged(demo_db):
    dbname, _ = demo_db
    centre, day = DEMO_GAP
    gap = _rows(dbname, "SELECT * FROM marts.oee_daily WHERE NOT has_log")
    assert sorted((r["centre"], r["shift_date"], r["shift_name"]) for r in gap) == [
        (centre, day, "afternoon"),
        (centre, day, "morning"),
    ]
    for r in gap:
        assert r["planned_busy_time_s"] == 28800
        assert r["availability"] is None and r["pieces"] is None and r["oee_excluding_quality"] is None


def test_demo_stops_and_pareto_account_for_every_period(demo_db):
    dbname, results = demo_db
    (totals,) = _rows(dbname, "SELECT sum(stops) AS stops, sum(waits) AS waits FROM marts.machine_sessions")
    kinds = {
        r["kind"]: r["n"]
        for r in _rows(dbname, "SELECT kind, count(*) AS n FROM marts.machine_stops GROUP BY 1")
    }
    assert kinds == {"stop": totals["stops"], "wait": totals["waits"]}
    # oee_daily counts a stop (a wait) once in every shift it overlaps for a positive time:
    # the (period, shift) pairs with a positive overlap, counted here from marts.machine_stops
    pairs = {
        r["kind"]: r["n"]
        for r in _rows(
            dbname,
            "SELECT s.kind, count(*) AS n FROM marts.machine_stops AS s JOIN marts.oee_daily AS o"
            " ON o.centre = s.centre AND s.started_at < o.shift_end_at AND s.ended_at > o.shift_start_at"
            " WHERE s.ended_at > s.started_at GROUP BY 1",
        )
    }
    (counted,) = _rows(dbname, "SELECT sum(stops) AS stops, sum(waits) AS waits FROM marts.oee_daily")
    assert (counted["stops"], counted["waits"]) == (pairs["stop"], pairs["wait"])
    # so at least every stop of positive length that starts in a shift is counted
    (starting,) = _rows(
        dbname,
        "SELECT count(*) AS n FROM marts.machine_stops"
        " WHERE kind = 'stop' AND shift_name <> 'outside' AND seconds > 0",
    )
    assert counted["stops"] >= starting["n"]

    pareto = _rows(
        dbname,
        "SELECT centre, kind, sum(periods) AS periods, max(cumulative_share) AS top"
        " FROM marts.stop_pareto GROUP BY 1, 2",
    )
    assert sum(r["periods"] for r in pareto) == totals["stops"] + totals["waits"]
    assert all(r["top"] == Decimal("1.0000") for r in pareto)

    # the performance <= 1 check is a warning; with the shipped seed it must not fire
    perf = [
        r
        for r in results["results"]
        if r["unique_id"].startswith("test.") and "oee_daily_performance" in r["unique_id"]
    ]
    assert perf and all(r["status"] == "pass" for r in perf), perf
