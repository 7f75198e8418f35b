"""Machine-log ingestion against a real PostgreSQL: exactly once under reruns, changes, crashes."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import threading
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from factory_assets.demo.machine_logs import generate_day
from factory_assets.ingest import ledger
from factory_assets.ingest.factory import build_ingest_asset
from factory_assets.ingest.files import archive_path, ingest_version
from factory_assets.ingest.migrate import migrate
from factory_assets.machine_logs.kind import machine_log_partitions
from factory_assets.machine_logs.loader import SOURCE, load_machine_log
from factory_assets.machine_logs.parser import parse_log
from factory_assets.resources_config import build_resources
from resources.landing import FileEntry, LocalLandingZone
from tests.ingest_helpers import machine_logs_asset, machine_logs_with

DAY = dt.date(2024, 11, 5)  # a Tuesday
KEY = DAY.isoformat()


def write(landing: Path, rel: str, data: bytes, mtime: float | None = None) -> Path:
    p = landing / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    if mtime is not None:
        import os

        os.utime(p, (mtime, mtime))
    return p


def day_file(centre: str = "DEM12", day: dt.date = DAY, seed: int = 1, malformed: int = 2) -> bytes:
    return generate_day(centre, day, random.Random(seed), malformed=malformed)


def ingest(
    partition: str = KEY, instance: dg.DagsterInstance | None = None, kind=None
) -> dg.ExecuteInProcessResult:
    asset = machine_logs_asset() if kind is None else build_ingest_asset(kind, machine_log_partitions())
    return dg.materialize(
        [asset],
        partition_key=partition,
        resources=build_resources(),
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def q(url: str, sql: str, params=()):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def session_rows(url: str):
    return q(
        url, "SELECT centre, production_date, sha256, lines_in FROM raw.machine_logs__sessions ORDER BY 1"
    )


def pieces(url: str, centre: str = "DEM12") -> int:
    return q(url, "SELECT count(*) FROM raw.machine_logs__pieces WHERE centre = %s", (centre,))[0][0]


def test_first_load_archives_and_accounts_every_line(factory_env):
    data = day_file("DEM12", malformed=3)
    write(factory_env["landing"], "machine_logs/DEM12/20241105.LOG", data)
    write(factory_env["landing"], "machine_logs/SU12/20241105.LOG", day_file("SU12", seed=2))
    result = ingest()
    assert result.success
    url = factory_env["warehouse_url"]

    expected = parse_log(data, "DEM12", DAY, "Europe/Paris")
    assert [r[0] for r in session_rows(url)] == ["DEM12", "SU12"]
    assert pieces(url) == len(expected.pieces) > 300
    rejected = q(
        url,
        "SELECT r.reason FROM raw.ingest_rejects r JOIN raw.machine_logs__sessions s "
        "ON s.file_version_id = r.file_version_id WHERE s.centre = 'DEM12'",
    )
    assert len(rejected) == expected.lines_rejected >= 1
    (rows_in, loaded, rej, skipped, status, archived) = q(
        url,
        "SELECT rows_in, rows_loaded, rows_rejected, rows_skipped, status, archived_path "
        "FROM raw.ingest_ledger WHERE path = 'machine_logs/DEM12/20241105.LOG'",
    )[0]
    assert status == "loaded"
    assert rows_in == loaded + rej + skipped == expected.lines_in
    sha = hashlib.sha256(data).hexdigest()
    assert archived == archive_path("machine_logs/DEM12/20241105.LOG", sha)
    assert (factory_env["archive"] / archived).read_bytes() == data

    checks = result.get_asset_check_evaluations()
    assert [(c.check_name, c.passed) for c in checks] == [("lines_conserved", True)]
    mat = {m.asset_key.to_user_string(): m for m in result.get_asset_materialization_events()}
    assert mat["machine_logs/sessions"].materialization.metadata["files_loaded"].value == 2


def test_rerun_and_lost_dagster_state_load_nothing_twice(factory_env):
    write(factory_env["landing"], "machine_logs/DEM12/20241105.LOG", day_file())
    url = factory_env["warehouse_url"]
    assert ingest().success
    before = (pieces(url), q(url, "SELECT id, status, attempts FROM raw.ingest_ledger"))
    # A new ephemeral instance = Dagster's run storage and cursors lost: the ledger still decides.
    assert ingest(instance=dg.DagsterInstance.ephemeral()).success
    assert (pieces(url), q(url, "SELECT id, status, attempts FROM raw.ingest_ledger")) == before


def test_grown_file_replaces_its_session_atomically(factory_env):
    full = day_file(malformed=0)
    lines = full.split(b"\n")
    half = b"\n".join(lines[: len(lines) // 2]) + b"\n"
    path = "machine_logs/DEM12/20241105.LOG"
    write(factory_env["landing"], path, half, mtime=1_730_800_000)
    assert ingest().success
    url = factory_env["warehouse_url"]
    first = pieces(url)
    write(factory_env["landing"], path, full, mtime=1_730_800_600)
    assert ingest().success
    assert pieces(url) == len(parse_log(full, "DEM12", DAY, "Europe/Paris").pieces) > first
    assert session_rows(url)[0][2] == hashlib.sha256(full).hexdigest()
    assert q(url, "SELECT status, shrunk FROM raw.ingest_ledger ORDER BY id") == [
        ("superseded", False),
        ("loaded", False),
    ]
    # Shrinking (e.g. the controller rewrote the file) is a new version too, flagged in the ledger.
    write(factory_env["landing"], path, half, mtime=1_730_801_200)
    assert ingest().success
    assert pieces(url) == first
    assert q(url, "SELECT status, shrunk FROM raw.ingest_ledger ORDER BY id") == [
        ("loaded", True),
        ("superseded", False),
    ]


def test_same_content_under_another_name_is_a_duplicate(factory_env):
    data = day_file()
    write(factory_env["landing"], "machine_logs/DEM12/20241105.LOG", data)
    assert ingest().success
    write(factory_env["landing"], "machine_logs/DEM12B/20241105.LOG", data)
    assert ingest().success
    url = factory_env["warehouse_url"]
    assert [r[0] for r in session_rows(url)] == ["DEM12"]
    rows = q(url, "SELECT path, status, duplicate_of FROM raw.ingest_ledger ORDER BY id")
    assert rows[1][1] == "duplicate" and rows[1][2] is not None


def test_bad_names_and_garbage_files_are_quarantined_with_reasons(factory_env):
    landing = factory_env["landing"]
    write(landing, "machine_logs/DEM12/20241105.LOG", b"\x00\x01 not a log at all\n\xff\xfe garbage\n")
    write(landing, "machine_logs/DEM12/notes.txt", b"operator notes")
    write(landing, "machine_logs/DEM12/20241332.LOG", day_file())
    write(landing, "machine_logs/DEM12/20241105.LOG.part", day_file())  # still uploading: ignored
    write(landing, "machine_logs/DEM12/20241106.LOG", b"")  # empty: not taken yet
    assert ingest().success
    url = factory_env["warehouse_url"]
    rows = dict(q(url, "SELECT path, status || ': ' || error FROM raw.ingest_ledger"))
    assert rows["machine_logs/DEM12/20241105.LOG"].startswith("quarantined: no_valid_events")
    assert rows["machine_logs/DEM12/notes.txt"].startswith("quarantined: bad_file_name")
    assert "not a calendar date" in rows["machine_logs/DEM12/20241332.LOG"]
    assert len(rows) == 3
    assert session_rows(url) == []
    # Idempotent: a rerun adds no ledger row.
    assert ingest().success
    assert len(q(url, "SELECT 1 FROM raw.ingest_ledger")) == 3


def test_deleted_file_keeps_its_data(factory_env):
    p = write(factory_env["landing"], "machine_logs/DEM12/20241105.LOG", day_file())
    assert ingest().success
    p.unlink()
    assert ingest().success
    assert len(session_rows(factory_env["warehouse_url"])) == 1


def _zone_and_entry(factory_env, data: bytes) -> tuple[LocalLandingZone, FileEntry]:
    path = "machine_logs/DEM12/20241105.LOG"
    p = write(factory_env["landing"], path, data)
    st = p.stat()
    return LocalLandingZone(factory_env["landing"]), FileEntry(path, st.st_size, st.st_mtime)


def test_connection_cut_mid_load_leaves_no_rows_then_loads_once(factory_env):
    url = factory_env["warehouse_url"]
    zone, entry = _zone_and_entry(factory_env, day_file())

    def cut_after_writing(ctx):
        counts = load_machine_log(ctx)  # rows written, transaction not committed
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (ctx.cur.connection.info.backend_pid,))
        return counts

    conn = psycopg.connect(url, autocommit=True)
    migrate(conn)
    outcome = ingest_version(conn, zone, None, machine_logs_with(cut_after_writing), entry, "run-1")
    assert outcome.status == "retry"
    assert "terminat" in (outcome.error or "").lower() or "connection" in (outcome.error or "").lower()
    for table in ("machine_logs__sessions", "machine_logs__pieces", "machine_logs__waits", "machine_logs__stops",
                  "machine_logs__job_profiles", "ingest_rejects"):  # fmt: skip
        assert q(url, f"SELECT count(*) FROM raw.{table}")[0][0] == 0
    # The ledger row says 'loading' but its run's liveness lock died with the connection.
    with psycopg.connect(url) as c2:
        states = ledger.ledger_states(c2, SOURCE)
    state = states[ledger.identity(entry.path, entry.size, entry.mtime)]
    assert (state.status, state.alive, state.attempts) == ("loading", False, 1)
    assert ledger.is_due(state, dt.datetime.now(dt.UTC), backoff=False)

    assert ingest().success  # the next attempt loads it, once
    assert pieces(url) == len(parse_log(day_file(), "DEM12", DAY, "Europe/Paris").pieces)
    assert q(url, "SELECT status, attempts FROM raw.ingest_ledger") == [("loaded", 2)]


def test_failing_loader_is_retried_a_bounded_number_of_times(factory_env, monkeypatch):
    monkeypatch.setenv("FACTORY_MAX_ATTEMPTS", "3")
    url = factory_env["warehouse_url"]
    zone, entry = _zone_and_entry(factory_env, day_file())

    def broken(ctx):
        load_machine_log(ctx)
        raise RuntimeError("disk full")

    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
        statuses = [
            ingest_version(conn, zone, None, machine_logs_with(broken), entry, f"r{i}").status
            for i in range(4)
        ]
    assert statuses == ["retry", "retry", "failed", "already"]
    assert q(url, "SELECT status, attempts, error FROM raw.ingest_ledger") == [
        ("failed", 3, "RuntimeError: disk full")
    ]
    assert pieces(url) == 0
    # 'failed' is visible and final for sensors.
    with psycopg.connect(url) as conn:
        assert ledger.pending_entries(conn, SOURCE, [entry]) == []

    # Re-armed from the UI (a job with config), the version is taken again and loads.
    from factory_assets.ingest.definitions import rearm_failed_versions_job

    rearm = rearm_failed_versions_job.execute_in_process(
        run_config={"ops": {"rearm_failed_versions": {"config": {"source": SOURCE, "paths": [entry.path]}}}},
        resources={"warehouse": build_resources()["warehouse"]},
    )
    assert rearm.success and rearm.output_for_node("rearm_failed_versions") == 1
    assert q(url, "SELECT status, attempts FROM raw.ingest_ledger") == [("retry", 0)]
    assert ingest().success
    assert q(url, "SELECT status, attempts FROM raw.ingest_ledger") == [("loaded", 1)]
    assert pieces(url) > 0


def test_concurrent_runs_serialise_on_the_ledger_row(factory_env):
    url = factory_env["warehouse_url"]
    data = day_file()
    zone, entry = _zone_and_entry(factory_env, data)
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
    inside, go = threading.Event(), threading.Event()
    outcomes = []

    def slow_loader(ctx):
        inside.set()
        assert go.wait(timeout=20)  # hold the transaction open while the second run arrives
        return load_machine_log(ctx)

    def run(i):
        with psycopg.connect(url, autocommit=True) as conn:
            outcomes.append(
                ingest_version(conn, zone, None, machine_logs_with(slow_loader), entry, f"run-{i}").status
            )

    first = threading.Thread(target=run, args=(0,))
    first.start()
    assert inside.wait(timeout=20)
    second = threading.Thread(target=run, args=(1,))
    second.start()
    second.join(timeout=1.5)
    assert second.is_alive(), "the second run must wait for the first, not load in parallel"
    go.set()
    first.join(timeout=30)
    second.join(timeout=30)
    assert sorted(outcomes) == ["already", "loaded"]
    assert pieces(url) == len(parse_log(data, "DEM12", DAY, "Europe/Paris").pieces)


def test_migrations_are_versioned_and_idempotent(warehouse_url):
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        first = migrate(conn)
        assert first[:2] == ["0001_ingest_ledger", "0002_machine_logs"]
        assert migrate(conn) == []
        conn.execute("UPDATE raw.schema_migrations SET checksum = 'x' WHERE name = '0001_ingest_ledger'")
        with pytest.raises(RuntimeError, match="changed after it was applied"):
            migrate(conn)


@pytest.mark.parametrize("day", [DAY, dt.date(2024, 10, 27), dt.date(2024, 3, 31)])  # normal, autumn, spring
def test_loaded_pieces_are_exactly_the_parsers_rows(factory_env, day):
    """The loader streams pieces as COPY text built from the raw line; what lands in the table is
    exactly what the (tuple-producing) parser gives, on ordinary and daylight-saving days, with
    details that need escaping and pieces before and after job profiles."""
    data = generate_day("DEM12", day, random.Random(11), malformed=3)
    data += f"{day:%Y%m%d} 21:00:00|@StukUitgevoerd: tab\there back\\slash\n".encode()
    data += f"{day:%Y%m%d} 21:00:01|@StukUitgevoerd:\n".encode()
    data += f"{day:%Y%m%d} 21:00:02|@JobProfiel: L:6500 C:7016\n".encode()  # invalid: no reference
    data += f"{day:%Y%m%d} 21:00:03|@StukUitgevoerd: after a bad profile\n".encode()
    write(factory_env["landing"], f"machine_logs/DEM12/{day:%Y%m%d}.LOG", data)
    assert ingest(day.isoformat()).success
    expected = parse_log(data, "DEM12", day, "Europe/Paris")
    got = q(
        factory_env["warehouse_url"],
        "SELECT line_no, event_at, job_profile_line_no, reference, details FROM raw.machine_logs__pieces "
        "ORDER BY line_no",
    )
    assert got == [tuple(p) for p in expected.pieces]
    first, last = q(
        factory_env["warehouse_url"], "SELECT first_event_at, last_event_at FROM raw.machine_logs__sessions"
    )[0]
    assert (first, last) == (expected.first_event_at, expected.last_event_at)
