"""Date-partitioned machine-log dbt models (DESIGN.md §8): a run for one day rewrites that day only.

A throw-away database with two days of DEM12 sessions is built in full with `dbt build` (no
vars: every date). Then the raw rows of BOTH days change, and the partitioned dbt asset
definition is materialised through Dagster for the second day only (``partition_key``), which
runs ``dbt build --vars '{"min_date": ..., "max_date": ...}'``: the second day's mart rows follow
the new raw rows (including a stop that disappeared), the first day's rows stay exactly as they
were. A final full build (no vars) gives the second day the same rows as the partitioned run.

Server: 127.0.0.1:5432 as postgres (trust auth) unless FACTORY_TEST_PG_HOST / _PORT / _USER say
otherwise.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import psycopg
import pytest

from factory_assets.dbt_assets import build_dbt_assets, dbt_resource
from factory_assets.machine_logs.kind import machine_log_partitions
from resources import settings
from resources.warehouse import WarehouseResource
from tests.dbt_harness import PG_HOST, PG_PORT, PG_USER, TIMEZONE, run_dbt, scratch_database
from tests.dbt_harness import connect as _connect
from tests.dbt_harness import rows as _rows

MON, TUE = dt.date(2026, 3, 2), dt.date(2026, 3, 3)  # winter: Europe/Paris is UTC+01
DBT_SELECT = "+path:models/marts/machine_logs"


def _ts(day: dt.date, hhmmss: str) -> str:
    return f"{day.isoformat()} {hhmmss}+01"


def _load_day(cur: psycopg.Cursor, fv: int, day: dt.date) -> None:
    """A DEM12 session on ``day``: 120 pieces 06:00 .. 07:59, two stops, one wait."""
    cur.execute(
        "INSERT INTO raw.ingest_ledger (id, source, path, size, mtime, sha256, status)"
        " VALUES (%s, 'machine_logs', %s, 100, now(), md5(%s), 'loaded')",
        (fv, f"machine_logs/DEM12/{day:%Y%m%d}.LOG", str(fv)),
    )
    cur.execute(
        "INSERT INTO raw.machine_logs__sessions (centre, production_date, file_version_id, path,"
        " sha256, lines_in, lines_parsed, lines_blank, lines_rejected, first_event_at,"
        " last_event_at, open_stop_closed_at_eof, parser_version)"
        " VALUES ('DEM12', %s, %s, 'p', 's', 1, 1, 0, 0, %s, %s, false, 'test')",
        (day, fv, _ts(day, "06:00:00"), _ts(day, "08:00:00")),
    )
    start = dt.datetime.combine(day, dt.time(6, 0))
    cur.executemany(
        "INSERT INTO raw.machine_logs__pieces (centre, production_date, line_no, event_at, reference)"
        " VALUES ('DEM12', %s, %s, %s, '6112')",
        [(day, 1000 + i, f"{start + dt.timedelta(minutes=i):%Y-%m-%d %H:%M:%S}+01") for i in range(120)],
    )
    cur.executemany(
        "INSERT INTO raw.machine_logs__stops (centre, production_date, line_no, end_line_no,"
        " started_at, ended_at, seconds, closed_at_eof)"
        " VALUES ('DEM12', %s, %s, %s, %s, %s, %s, false)",
        [
            (day, 10, 11, _ts(day, "06:30:00"), _ts(day, "06:40:00"), 600),
            (day, 20, 21, _ts(day, "07:00:00"), _ts(day, "07:05:00"), 300),
        ],
    )
    cur.execute(
        "INSERT INTO raw.machine_logs__waits (centre, production_date, line_no, started_at, ended_at, seconds)"
        " VALUES ('DEM12', %s, 30, %s, %s, 60)",
        (day, _ts(day, "07:30:00"), _ts(day, "07:31:00")),
    )


def _change_raw(cur: psycopg.Cursor, day: dt.date) -> None:
    """A new version of ``day``: stop 20 gone, 30 more pieces up to 08:29, session to 08:30."""
    cur.execute("DELETE FROM raw.machine_logs__stops WHERE production_date = %s AND line_no = 20", (day,))
    start = dt.datetime.combine(day, dt.time(8, 0))
    cur.executemany(
        "INSERT INTO raw.machine_logs__pieces (centre, production_date, line_no, event_at, reference)"
        " VALUES ('DEM12', %s, %s, %s, '6112')",
        [(day, 2000 + i, f"{start + dt.timedelta(minutes=i):%Y-%m-%d %H:%M:%S}+01") for i in range(30)],
    )
    cur.execute(
        "UPDATE raw.machine_logs__sessions SET last_event_at = %s WHERE production_date = %s",
        (_ts(day, "08:30:00"), day),
    )


def _marts(dbname: str, day: dt.date) -> dict[str, list[dict]]:
    return {
        "sessions": _rows(dbname, "SELECT * FROM marts.machine_sessions WHERE production_date = %s", (day,)),
        "stops": _rows(
            dbname,
            "SELECT * FROM marts.machine_stops WHERE production_date = %s ORDER BY kind, line_no",
            (day,),
        ),
    }


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> dict:
    with scratch_database("test_dbt_part") as dbname:
        with _connect(dbname) as conn, conn.cursor() as cur:
            _load_day(cur, 1, MON)
            _load_day(cur, 2, TUE)
        work = tmp_path_factory.mktemp("dbt_part")
        run_dbt(dbname, work, "build", select=DBT_SELECT, cautious=True)
        full = {day: _marts(dbname, day) for day in (MON, TUE)}

        with _connect(dbname) as conn, conn.cursor() as cur:
            _change_raw(cur, MON)
            _change_raw(cur, TUE)

        url = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{dbname}"
        with pytest.MonkeyPatch.context() as mp:
            # the asset exports the profile variables into os.environ: restore them afterwards
            for name, value in {**settings.dbt_env(url), "FACTORY_TIMEZONE": TIMEZONE}.items():
                mp.setenv(name, value)
            result = dg.materialize(
                [build_dbt_assets({"machine_logs": machine_log_partitions()})[0]],
                partition_key=TUE.isoformat(),
                resources={"dbt": dbt_resource(), "warehouse": WarehouseResource(url=url)},
            )
        assert result.success
        partitioned = {day: _marts(dbname, day) for day in (MON, TUE)}
        materialized = {
            (e.asset_key.to_user_string(), e.partition)
            for e in result.get_asset_materialization_events()
            for e in [e.event_specific_data.materialization]
        }

        run_dbt(dbname, work, "build", select=DBT_SELECT, cautious=True)
        rebuilt = {day: _marts(dbname, day) for day in (MON, TUE)}
        yield {
            "full": full,
            "partitioned": partitioned,
            "rebuilt": rebuilt,
            "materialized": materialized,
            "dbname": dbname,
            "work": work,
        }


def test_one_day_run_materializes_that_partition(scenario):
    assert ("marts/machine_sessions", TUE.isoformat()) in scenario["materialized"]
    assert ("marts/machine_stops", TUE.isoformat()) in scenario["materialized"]
    assert {p for _, p in scenario["materialized"]} == {TUE.isoformat()}


def test_one_day_run_rewrites_that_day(scenario):
    before, after = scenario["full"][TUE], scenario["partitioned"][TUE]
    assert before["sessions"][0]["pieces"] == 120
    assert after["sessions"][0]["pieces"] == 150
    assert after["sessions"][0]["last_piece_at"] > before["sessions"][0]["last_piece_at"]
    # the stop that disappeared from the new version is gone (not only keys still produced)
    assert [(r["kind"], r["line_no"]) for r in before["stops"]] == [("stop", 10), ("stop", 20), ("wait", 30)]
    assert [(r["kind"], r["line_no"]) for r in after["stops"]] == [("stop", 10), ("wait", 30)]


def test_one_day_run_leaves_other_days_untouched(scenario):
    # Monday's raw rows changed too, but only Tuesday was run: Monday's rows are as built
    assert scenario["partitioned"][MON] == scenario["full"][MON]
    assert scenario["partitioned"][MON]["sessions"][0]["pieces"] == 120
    assert len(scenario["partitioned"][MON]["stops"]) == 3


def test_full_build_without_vars_equals_the_partitioned_run(scenario):
    assert scenario["rebuilt"][TUE] == scenario["partitioned"][TUE]
    assert scenario["rebuilt"][MON]["sessions"][0]["pieces"] == 150
    assert len(scenario["rebuilt"][MON]["stops"]) == 2


def test_a_partitioned_run_tests_its_own_dates_only(scenario, monkeypatch):
    """The data tests of a partitioned model read the run's window (macros/tests/
    partition_window_tests.sql): a bad row on Monday fails Monday's run and a run without a
    window, not Tuesday's, whose tests no longer re-read every day of history."""
    dbname, work = scenario["dbname"], scenario["work"]
    with _connect(dbname) as conn:  # a wait that ends before it starts, on Monday
        conn.execute(
            "INSERT INTO raw.machine_logs__waits (centre, production_date, line_no, started_at, ended_at, seconds)"
            " VALUES ('DEM12', %s, 31, %s, %s, 60)",
            (MON, _ts(MON, "07:40:00"), _ts(MON, "07:39:00")),
        )
    try:
        select = "stg_machine_logs__waits"
        monkeypatch.setenv("FACTORY_DBT_MIN_DATE", TUE.isoformat())
        monkeypatch.setenv("FACTORY_DBT_MAX_DATE", TUE.isoformat())
        run_dbt(dbname, work, "test", select=select)  # Tuesday: passes
        compiled = "\n".join(p.read_text() for p in (work / "target" / "compiled").rglob("*waits*.sql"))
        assert f"between '{TUE.isoformat()}'::date and '{TUE.isoformat()}'::date" in compiled

        monkeypatch.setenv("FACTORY_DBT_MIN_DATE", MON.isoformat())
        monkeypatch.setenv("FACTORY_DBT_MAX_DATE", TUE.isoformat())
        with pytest.raises(AssertionError, match="expression_is_true_stg_machine_logs__waits"):
            run_dbt(dbname, work, "test", select=select)

        monkeypatch.delenv("FACTORY_DBT_MIN_DATE")
        monkeypatch.delenv("FACTORY_DBT_MAX_DATE")
        with pytest.raises(AssertionError, match="expression_is_true_stg_machine_logs__waits"):
            run_dbt(dbname, work, "test", select=select)  # no window: every date, as before
    finally:
        with _connect(dbname) as conn:
            conn.execute("DELETE FROM raw.machine_logs__waits WHERE line_no = 31")


def test_the_first_partitioned_build_on_a_fresh_warehouse_builds_the_seeds_it_needs():
    """A new site: raw data, no seed built yet (nobody ran `factory materialize`). The daemon's
    first automation run of the machine-log models must succeed, unit tests included."""
    with scratch_database("test_dbt_fresh") as dbname:
        with _connect(dbname) as conn, conn.cursor() as cur:
            _load_day(cur, 1, MON)
        url = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{dbname}"
        with pytest.MonkeyPatch.context() as mp:
            for name, value in {**settings.dbt_env(url), "FACTORY_TIMEZONE": TIMEZONE}.items():
                mp.setenv(name, value)
            result = dg.materialize(
                [build_dbt_assets({"machine_logs": machine_log_partitions()})[0]],
                partition_key=MON.isoformat(),
                resources={"dbt": dbt_resource(), "warehouse": WarehouseResource(url=url)},
                raise_on_error=False,
            )
        assert result.success
        with _connect(dbname) as conn:
            assert conn.execute("SELECT count(*) FROM seeds.shift_calendar").fetchone()[0] > 0
            assert conn.execute("SELECT count(*) FROM marts.machine_sessions").fetchone()[0] == 1
