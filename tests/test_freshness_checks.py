"""Freshness checks against a scratch PostgreSQL warehouse with the raw migrations applied, run as
Dagster asset checks on a PostgreSQL-backed Dagster instance."""

import hashlib
import json
import os
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import psycopg
import pytest

from factory_assets.demo.machine_logs import generate_day
from factory_assets.file_kinds import FILE_KINDS
from factory_assets.ingest.migrate import migrate
from factory_assets.machine_logs.kind import MACHINE_LOGS
from factory_assets.monitoring.calendar import parse_working_days, working_hours_between
from factory_assets.monitoring.freshness import (
    CHECK_NAME,
    FRESHNESS_JOB,
    KEY_MARTS,
    build_file_freshness_check,
    build_freshness_job,
    build_freshness_sensor,
    build_mart_freshness_check,
    build_sql_freshness_check,
    file_kind_verdict,
    judge_sync,
    sync_history,
)
from factory_assets.monitoring.sensors import build_check_alert_sensor
from factory_assets.resources_config import build_resources
from factory_assets.sql_sources.tables import table_spec
from resources import settings
from resources.warehouse import WarehouseResource
from tests.alert_receivers import free_port
from tests.ingest_helpers import machine_logs_asset

PARIS = "Europe/Paris"
MON_FRI = parse_working_days("mon-fri")
# Tuesday 1 December 2026, 10:00 in Paris
TUESDAY_10 = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo(PARIS))


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(PARIS))


# --- the calendar ----------------------------------------------------------------------------


def test_working_days_parse_names_ranges_and_wraps():
    assert parse_working_days("mon-fri") == {1, 2, 3, 4, 5}
    assert parse_working_days("Mon, Wed,SAT") == {1, 3, 6}
    assert parse_working_days("sun-thu") == {7, 1, 2, 3, 4}
    assert parse_working_days("mon-sun") == set(range(1, 8))
    with pytest.raises(ValueError, match="FACTORY_WORKING_DAYS"):
        parse_working_days("monday-funday")


def test_a_weekend_does_not_count_and_a_daylight_saving_day_has_23_hours():
    # Friday 21:00 -> Monday 10:00: 3 h of Friday + 10 h of Monday
    assert working_hours_between(paris(2026, 11, 27, 21), paris(2026, 11, 30, 10), PARIS, MON_FRI) == 13
    # the same with a plant working on Saturdays
    six = parse_working_days("mon-sat")
    assert working_hours_between(paris(2026, 11, 27, 21), paris(2026, 11, 30, 10), PARIS, six) == 37
    # Sunday 29 March 2026 has 23 hours in Paris; every day counts
    every = parse_working_days("mon-sun")
    assert working_hours_between(paris(2026, 3, 29, 0), paris(2026, 3, 30, 0), PARIS, every) == 23
    assert working_hours_between(paris(2026, 3, 30, 0), paris(2026, 3, 29, 0), PARIS, every) == 0


# --- landing-zone sources against a real ledger -------------------------------------------------


@pytest.fixture
def wh(warehouse_url):
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        migrate(conn)
        yield conn


def add_file(conn, source: str, path: str, mtime: datetime, status: str = "loaded", loaded_at=None) -> None:
    conn.execute(
        """INSERT INTO raw.ingest_ledger (source, path, size, mtime, sha256, status, loaded_at)
           VALUES (%s, %s, 100, %s, %s, %s, %s)""",
        (
            source,
            path,
            mtime,
            hashlib.sha256(f"{path}{mtime}{status}".encode()).hexdigest(),
            status,
            (loaded_at or mtime) if status in ("loaded", "superseded") else None,
        ),
    )


def test_machine_logs_are_judged_per_centre_in_working_hours(wh, monkeypatch):
    monkeypatch.setenv("FACTORY_TIMEZONE", PARIS)
    monkeypatch.delenv("FACTORY_WORKING_DAYS", raising=False)
    monkeypatch.delenv("FACTORY_MACHINE_LOGS_FRESHNESS_H", raising=False)
    # DEM12 last wrote on Friday evening: 3 + 24 (Monday) + 10 = 37 working hours by Tuesday 10:00
    add_file(wh, "machine_logs", "machine_logs/DEM12/20261126.LOG", paris(2026, 11, 26, 21))
    add_file(wh, "machine_logs", "machine_logs/DEM12/20261127.LOG", paris(2026, 11, 27, 21))
    # SU12 sent Monday evening's file: 3 + 10 = 13 working hours
    add_file(wh, "machine_logs", "machine_logs/SU12/20261130.LOG", paris(2026, 11, 30, 21))
    # other sources never count for machine logs
    add_file(wh, "operations", "operations/drop.json", paris(2026, 12, 1, 9))
    verdict = file_kind_verdict(wh, MACHINE_LOGS, now=TUESDAY_10)
    assert not verdict.passed
    assert verdict.metadata["stale"] == ["DEM12"]
    assert verdict.metadata["groups"]["DEM12"]["age_working_hours"] == 37
    assert verdict.metadata["groups"]["SU12"]["age_working_hours"] == 13
    assert "DEM12" in verdict.description and "SU12" not in verdict.description

    # on Monday morning the weekend does not make Friday's file late
    monday = file_kind_verdict(wh, MACHINE_LOGS, now=paris(2026, 11, 30, 9))
    assert monday.passed, monday.description

    # a fresh DEM12 file: every centre fresh again
    add_file(wh, "machine_logs", "machine_logs/DEM12/20261201.LOG", paris(2026, 12, 1, 8))
    assert file_kind_verdict(wh, MACHINE_LOGS, now=TUESDAY_10).passed

    # the limit is configurable
    monkeypatch.setenv("FACTORY_MACHINE_LOGS_FRESHNESS_H", "12")
    assert file_kind_verdict(wh, MACHINE_LOGS, now=TUESDAY_10).metadata["stale"] == ["SU12"]

    # a centre taken out of service is no longer judged
    monkeypatch.setenv("FACTORY_MACHINE_LOGS_FRESHNESS_IGNORE", "SU12, OLD1")
    assert file_kind_verdict(wh, MACHINE_LOGS, now=TUESDAY_10).passed


def test_a_sender_whose_clock_runs_ahead_is_judged_by_when_its_file_was_loaded(wh, monkeypatch):
    monkeypatch.setenv("FACTORY_TIMEZONE", PARIS)
    monkeypatch.delenv("FACTORY_WORKING_DAYS", raising=False)
    monkeypatch.delenv("FACTORY_MACHINE_LOGS_FRESHNESS_H", raising=False)
    # written "next year" by its clock, loaded last Thursday: 2 working days + 10 h ago
    add_file(
        wh,
        "machine_logs",
        "machine_logs/DEMALU/20261126.LOG",
        paris(2027, 11, 26, 21),
        loaded_at=paris(2026, 11, 26, 23),
    )
    # a file of another kind under a look-alike prefix (LIKE's '_' would match it) is not a centre
    add_file(wh, "machine_logs", "machineXlogs/ZZ/20261201.LOG", paris(2026, 12, 1, 9), status="quarantined")
    verdict = file_kind_verdict(wh, MACHINE_LOGS, now=TUESDAY_10)
    assert not verdict.passed and verdict.metadata["stale"] == ["DEMALU"]
    assert verdict.metadata["groups"]["DEMALU"]["age_working_hours"] == 1 + 24 + 24 + 10


def test_a_centre_whose_files_were_all_refused_is_stale_and_an_unused_source_passes(wh, monkeypatch):
    monkeypatch.setenv("FACTORY_TIMEZONE", PARIS)
    assert file_kind_verdict(wh, MACHINE_LOGS, now=TUESDAY_10).passed  # nothing seen: not in use
    add_file(
        wh, "machine_logs", "machine_logs/DEMALU/20261201.LOG", paris(2026, 12, 1, 9), status="quarantined"
    )
    add_file(wh, "machine_logs", "machine_logs/SU12/20261201.LOG", paris(2026, 12, 1, 9))
    verdict = file_kind_verdict(wh, MACHINE_LOGS, now=TUESDAY_10)
    assert not verdict.passed and verdict.metadata["stale"] == ["DEMALU"]
    assert "nothing loaded yet" in verdict.description


def run_checks(instance, warehouse_url, checks, assets=()):
    defs = dg.Definitions(
        assets=list(assets),
        asset_checks=checks,
        jobs=[build_freshness_job(checks)],
        resources={"warehouse": WarehouseResource(url=warehouse_url)},
    )
    result = defs.resolve_job_def(FRESHNESS_JOB).execute_in_process(instance=instance)
    assert result.success
    return {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()}


@pytest.fixture
def instance(tmp_path, warehouse_url):
    """A Dagster instance on PostgreSQL (as deployed: dagster-postgres), in the scratch database."""
    (tmp_path / "dagster").mkdir()
    storage = {"postgres": {"postgres_url": settings.psycopg2_url(warehouse_url)}}
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster"), overrides={"storage": storage}) as inst:
        yield inst


def test_the_file_freshness_check_fails_for_a_stale_centre_and_passes_once_it_sends(
    wh, warehouse_url, instance, monkeypatch, tmp_path
):
    # every day a working day, so the result does not depend on the weekday the test runs
    monkeypatch.setenv("FACTORY_WORKING_DAYS", "mon-sun")
    monkeypatch.setenv("FACTORY_MACHINE_LOGS_FRESHNESS_H", "26")
    monkeypatch.setenv("FACTORY_HOME", str(tmp_path / "home"))
    for var in ("FACTORY_ALERT_WEBHOOK_URL", "FACTORY_ALERT_SMTP_URL"):
        monkeypatch.delenv(var, raising=False)
    now = datetime.now(UTC)
    add_file(wh, "machine_logs", "machine_logs/DEM12/old.LOG", now - timedelta(hours=30))
    add_file(wh, "machine_logs", "machine_logs/SU12/new.LOG", now - timedelta(hours=1))
    check = build_file_freshness_check(FILE_KINDS)
    alerts = build_check_alert_sensor(30)
    cursor = alerts.evaluate_tick(dg.build_sensor_context(instance=instance)).cursor

    evaluations = run_checks(instance, warehouse_url, [check])
    assert set(evaluations) == {f"{k.key_prefix}/{k.tables[0]}" for k in FILE_KINDS}
    stale = evaluations["machine_logs/sessions"]
    assert stale.check_name == CHECK_NAME and not stale.passed
    assert stale.severity == dg.AssetCheckSeverity.WARN
    assert "DEM12" in stale.description and "SU12" not in stale.description
    assert evaluations["operations/operations"].passed  # never sent a file: not in use here

    # the failing freshness check reaches the alert log once, however often it is evaluated
    run_checks(instance, warehouse_url, [check])
    for _ in range(2):
        cursor = alerts.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor)).cursor
    log = tmp_path / "home" / "logs" / "alerts.log"
    alerts_sent = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(a["kind"], a["asset"], a["check"]) for a in alerts_sent] == [
        ("check_failed", "machine_logs/sessions", CHECK_NAME)
    ]

    add_file(wh, "machine_logs", "machine_logs/DEM12/today.LOG", now - timedelta(minutes=5))
    assert run_checks(instance, warehouse_url, [check])["machine_logs/sessions"].passed
    alerts.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor))
    assert [json.loads(line)["kind"] for line in log.read_text().splitlines()] == [
        "check_failed",
        "check_recovered",
    ]


# --- SQL sources ---------------------------------------------------------------------------------


def add_sync(conn, source: str, table: str, status: str, finished: datetime, changed: int = 1) -> None:
    conn.execute(
        """INSERT INTO raw.sync_runs (source, table_name, mode, status, started_at, finished_at, rows_inserted)
           VALUES (%s, %s, 'snapshot', %s, %s, %s, %s)""",
        (source, table, status, finished - timedelta(minutes=1), finished, changed),
    )


def test_sql_tables_are_judged_by_their_last_successful_sync(wh, warehouse_url, instance, monkeypatch):
    for var in ("FACTORY_PLANT_FRESHNESS_H", "FACTORY_MES_FRESHNESS_H", "FACTORY_ERP_FRESHNESS_H"):
        monkeypatch.delenv(var, raising=False)
    now = datetime.now(UTC)
    add_sync(wh, "plant", "production_raw", "success", now - timedelta(hours=5))  # hourly source: late
    add_sync(wh, "plant", "production_raw", "failed", now - timedelta(minutes=30))
    add_sync(wh, "mes", "ordine", "success", now - timedelta(minutes=10))
    add_sync(wh, "erp", "a_kopf", "failed", now - timedelta(minutes=10))  # never succeeded
    evaluations = run_checks(instance, warehouse_url, [build_sql_freshness_check()])
    assert not evaluations["plant/production_raw"].passed
    assert "last run: failed" in evaluations["plant/production_raw"].description
    assert evaluations["mes/ordine"].passed
    assert not evaluations["erp/a_kopf"].passed
    assert evaluations["oltp/transacciones"].passed  # never synced yet: nothing to judge

    monkeypatch.setenv("FACTORY_PLANT_FRESHNESS_H", "6")
    assert run_checks(instance, warehouse_url, [build_sql_freshness_check()])["plant/production_raw"].passed
    history = sync_history(wh)
    assert (
        judge_sync(
            table_spec("plant", "production_raw"),
            history[("plant", "production_raw")],
            now=now + timedelta(hours=2),
            limit_h=6,
        ).passed
        is False
    )


# --- key marts -------------------------------------------------------------------------------------


def test_a_mart_not_rebuilt_since_new_raw_data_beyond_the_grace_period_fails(
    wh, warehouse_url, instance, monkeypatch
):
    monkeypatch.setenv("FACTORY_MART_FRESHNESS_H", "2")
    now = datetime.now(UTC)
    marts = {"machine_sessions": ("machine_logs",), "production_fact": ("plant",)}
    check = build_mart_freshness_check(marts)

    # stand-ins for the dbt models: the check reads only their last materialisation in Dagster
    @dg.asset(key=["marts", "machine_sessions"])
    def machine_sessions():
        return None

    @dg.asset(key=["marts", "production_fact"])
    def production_fact():
        return None

    assets = [machine_sessions, production_fact]
    first = run_checks(instance, warehouse_url, [check], assets)
    assert first["marts/machine_sessions"].passed and first["marts/production_fact"].passed  # no raw data

    add_file(
        wh,
        "machine_logs",
        "machine_logs/DEM12/a.LOG",
        now - timedelta(hours=4),
        loaded_at=now - timedelta(hours=3),
    )
    add_sync(wh, "plant", "production_raw", "success", now - timedelta(minutes=30))  # within grace
    add_sync(wh, "plant", "production_raw", "success", now - timedelta(hours=5))
    later = run_checks(instance, warehouse_url, [check], assets)
    assert not later["marts/machine_sessions"].passed
    assert "never built" in later["marts/machine_sessions"].description
    assert later["marts/production_fact"].passed  # newest plant data is 30 min old: within grace

    dg.materialize([machine_sessions], instance=instance)
    assert run_checks(instance, warehouse_url, [check], assets)["marts/machine_sessions"].passed

    # a sync that changed nothing is no new data; one older than the grace that changed rows is
    wh.execute(
        "UPDATE raw.sync_runs SET finished_at = finished_at - interval '3 hours' WHERE source = 'plant'"
    )
    assert not run_checks(instance, warehouse_url, [check], assets)["marts/production_fact"].passed
    wh.execute("UPDATE raw.sync_runs SET rows_inserted = 0 WHERE source = 'plant'")
    assert run_checks(instance, warehouse_url, [check], assets)["marts/production_fact"].passed


# --- the code location -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from factory_assets.definitions import defs as lazy

    return lazy()


def test_every_ingestion_sql_table_and_key_mart_has_a_freshness_check_evaluated_by_a_running_sensor(defs):
    graph = defs.resolve_asset_graph()
    checked = {c.asset_key.to_user_string() for c in graph.asset_check_keys if c.name == CHECK_NAME}
    assert {f"{k.key_prefix}/{k.tables[0]}" for k in FILE_KINDS} <= checked
    assert {"erp/a_kopf", "mes/ordine", "plant/production_raw", "oltp/transacciones"} <= checked
    assert {f"marts/{m}" for m in KEY_MARTS} <= checked
    job = defs.resolve_job_def(FRESHNESS_JOB)
    assert job.asset_layer.asset_graph.asset_check_keys  # the job evaluates checks ...
    assert not list(job.asset_layer.executable_asset_keys)  # ... and materialises nothing
    sensors = {s.name: s for s in defs.sensors}
    for name in ("freshness_checks_sensor", "alert_on_run_failure", "alert_on_check_failure"):
        assert sensors[name].default_status == dg.DefaultSensorStatus.RUNNING


def test_key_marts_are_built_from_the_sources_their_freshness_is_measured_against(defs):
    graph = defs.resolve_asset_graph()
    kinds = {k.source: k for k in FILE_KINDS}
    for mart, sources in KEY_MARTS.items():
        upstream = set(graph.upstream_key_iterator(dg.AssetKey(["marts", mart])))
        for source in sources:
            if source in kinds:
                kind = kinds[source]
                expected = {dg.AssetKey([kind.key_prefix, t]) for t in kind.tables} | {
                    dg.AssetKey(["ingest", "rejects"])
                }
            else:
                expected = {k for k in upstream if k.path[0] == source}
            assert upstream & expected, f"marts.{mart} is not built from {source}"


def test_the_freshness_sensor_starts_a_run_unless_one_is_in_progress(instance):
    checks = [build_sql_freshness_check()]
    sensor = build_freshness_sensor(build_freshness_job(checks), 600)
    assert sensor.minimum_interval_seconds == 600
    data = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
    assert len(data.run_requests) == 1
    instance.add_run(dg.DagsterRun(job_name=FRESHNESS_JOB, run_id="r1", status=dg.DagsterRunStatus.STARTED))
    data = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
    assert data.run_requests == [] and "still in progress" in data.skip_message


def test_an_unreachable_warehouse_fails_the_checks_with_the_reason_and_not_the_run(instance):
    closed = f"postgresql://loader:pw-s3cret@127.0.0.1:{free_port()}/factory"
    evaluations = run_checks(instance, closed, [build_sql_freshness_check()])
    assert evaluations and not any(e.passed for e in evaluations.values())
    description = evaluations["plant/production_raw"].description
    assert "could not be evaluated" in description and "pw-s3cret" not in description


def test_ingestion_and_dbt_jobs_evaluate_the_freshness_of_what_they_build(defs):
    refresh = defs.resolve_job_def("machine_logs_refresh_job")
    checks = {
        (k.asset_key.to_user_string(), k.name) for k in refresh.asset_layer.asset_graph.asset_check_keys
    }
    assert ("machine_logs/sessions", CHECK_NAME) in checks
    assert ("marts/machine_sessions", CHECK_NAME) in checks
    assert ("erp/a_kopf", CHECK_NAME) not in checks  # only the freshness of what the job builds


def test_an_ingestion_run_re_evaluates_machine_log_freshness_with_what_it_just_loaded(
    factory_env, instance, monkeypatch
):
    """The real machine-log ingestion asset and the freshness check in one partitioned run."""
    monkeypatch.setenv("FACTORY_WORKING_DAYS", "mon-sun")
    monkeypatch.delenv("FACTORY_MACHINE_LOGS_FRESHNESS_H", raising=False)
    landing = factory_env["landing"]
    today = datetime.now(ZoneInfo(PARIS)).date()
    old = today - timedelta(days=3)

    def drop(centre: str, day, age: timedelta) -> None:
        path = landing / "machine_logs" / centre / f"{day:%Y%m%d}.LOG"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(generate_day(centre, day, random.Random(7), malformed=0))
        stamp = (datetime.now(UTC) - age).timestamp()
        os.utime(path, (stamp, stamp))

    asset = machine_logs_asset()
    check = build_file_freshness_check([MACHINE_LOGS])

    def ingest(day) -> dg.AssetCheckEvaluation:
        result = dg.materialize(
            [asset, check], partition_key=day.isoformat(), resources=build_resources(), instance=instance
        )
        assert result.success
        (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == CHECK_NAME]
        return evaluation

    drop("SU12", old, timedelta(hours=60))
    stale = ingest(old)
    assert not stale.passed and "SU12" in stale.description
    drop("SU12", today, timedelta(minutes=5))
    assert ingest(today).passed
