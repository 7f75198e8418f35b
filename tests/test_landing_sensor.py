"""The landing-zone sensor: pure planning, then real PostgreSQL + a real OpenSSH SFTP server."""

from __future__ import annotations

import datetime as dt
import json
import random
import socket
import tempfile
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from factory_assets.demo.machine_logs import generate_day
from factory_assets.ingest import ledger
from factory_assets.machine_logs.kind import partition_of
from factory_assets.resources_config import build_resources
from resources.landing import FileEntry
from sensors.landing_sensor import plan_tick, run_key
from tests.ingest_helpers import machine_logs_asset, machine_logs_sensor

DAY = dt.date(2024, 11, 5)


def entry(path="machine_logs/DEM12/20241105.LOG", size=100, mtime=1000.0) -> FileEntry:
    return FileEntry(path, size, mtime)


def plan(listing, states=None, cursor=None, now=2000.0, settle=60.0, limit=10):
    return plan_tick(
        listing, states or {}, cursor or {}, now=now, settle_s=settle, partition_of=partition_of, limit=limit
    )


# --- pure planning -----------------------------------------------------------------------------


def test_a_file_is_taken_only_after_two_unchanged_looks_settle_apart():
    e = entry()
    ready, _, cursor, settling = plan([e], now=2000.0)
    assert ready == {} and settling == 1
    ready, _, cursor, _ = plan([e], cursor=cursor, now=2030.0)
    assert ready == {}  # 30 s < 60 s
    ready, _, cursor, _ = plan([e], cursor=cursor, now=2061.0)
    assert ready == {"2024-11-05": [(e, 0)]}
    grown = entry(size=200, mtime=1050.0)  # still uploading: the clock restarts
    ready, _, cursor, _ = plan([grown], cursor=cursor, now=2062.0)
    assert ready == {} and cursor["seen"][grown.path][:2] == [200, 1050.0]


def test_temporary_empty_and_done_files_are_not_taken():
    done = entry("machine_logs/DEM12/20241104.LOG")
    listing = [
        entry("machine_logs/DEM12/20241105.LOG.part"),
        entry("machine_logs/DEM12/.20241105.LOG.swp"),
        entry("machine_logs/DEM12/20241105.tmp"),
        entry("machine_logs/SU12/20241105.LOG", size=0),
        done,
    ]
    states = {ledger.identity(done.path, done.size, done.mtime): ledger.LedgerState("loaded", 1, None)}
    ready, bad, cursor, settling = plan(listing, states=states, settle=0)
    assert ready == {} and bad == [] and cursor == {"seen": {}} and settling == 0


def test_bad_names_are_reported_and_work_per_tick_is_bounded():
    listing = [entry(f"machine_logs/C{i:03d}/202411{(i % 28) + 1:02d}.LOG") for i in range(100)]
    listing.append(entry("machine_logs/C001/readme.txt"))
    ready, bad, _, _ = plan(listing, settle=0, limit=5)
    assert list(ready) == ["2024-11-01", "2024-11-02", "2024-11-03", "2024-11-04", "2024-11-05"]
    assert sum(len(v) for v in ready.values()) == 5 * 4  # every centre of those days, none skipped
    assert [b[0].path for b in bad] == ["machine_logs/C001/readme.txt"]


def test_run_key_depends_on_file_identity_and_attempt_never_on_the_clock():
    a = [(entry(), 0)]
    assert run_key("machine_logs", "2024-11-05", a) == run_key("machine_logs", "2024-11-05", list(a))
    assert run_key("machine_logs", "2024-11-05", a) != run_key("machine_logs", "2024-11-05", [(entry(), 1)])
    assert run_key("machine_logs", "2024-11-05", a) != run_key(
        "machine_logs", "2024-11-05", [(entry(size=101), 0)]
    )


# --- real SFTP server + PostgreSQL ---------------------------------------------------------------


@pytest.fixture
def sftp_env(factory_env, sshd_server, monkeypatch):
    root = Path(tempfile.mkdtemp(prefix="landing_", dir=sshd_server.root))
    monkeypatch.setenv("FACTORY_LANDING_URL", sshd_server.url_for(root))
    monkeypatch.setenv("FACTORY_SFTP_KEY_FILE", str(sshd_server.client_key))
    monkeypatch.setenv("FACTORY_SFTP_KNOWN_HOSTS", str(sshd_server.known_hosts))
    return {**factory_env, "sftp_root": root}


def tick(instance, cursor=None):
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor, resources=build_resources())
    return machine_logs_sensor()(ctx), ctx


def drop(root: Path, rel: str, data: bytes) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)


@pytest.mark.sftp
def test_new_sftp_file_gives_exactly_one_run_then_none(sftp_env):
    instance = dg.DagsterInstance.ephemeral()
    drop(
        sftp_env["sftp_root"], "machine_logs/DEM12/20241105.LOG", generate_day("DEM12", DAY, random.Random(3))
    )

    result, ctx = tick(instance)
    assert [(r.partition_key, r.tags["factory/files"]) for r in result.run_requests] == [("2024-11-05", "1")]
    request = result.run_requests[0]
    # Run what the sensor asked for, with its run key, as the daemon would.
    run = dg.materialize(
        [machine_logs_asset()],
        partition_key=request.partition_key,
        resources=build_resources(),
        instance=instance,
        tags={"dagster/run_key": request.run_key},
    )
    assert run.success
    with psycopg.connect(sftp_env["warehouse_url"]) as conn:
        assert conn.execute("SELECT status FROM raw.ingest_ledger").fetchall() == [("loaded",)]
        assert conn.execute("SELECT count(*) FROM raw.machine_logs__sessions").fetchone()[0] == 1
    # The archive keeps a copy although the inbox is on SFTP.
    assert len(list(sftp_env["archive"].rglob("*.LOG"))) == 1

    result2, _ = tick(instance, cursor=result.cursor)
    assert result2.run_requests == [] and "none new" in result2.skip_reason.skip_message
    # Cursor lost too: still nothing, because the ledger is the truth.
    result3, _ = tick(instance, cursor=None)
    assert result3.run_requests == []


@pytest.mark.sftp
def test_a_request_whose_run_is_in_flight_is_not_repeated(sftp_env):
    instance = dg.DagsterInstance.ephemeral()
    drop(sftp_env["sftp_root"], "machine_logs/SU12/20241105.LOG", generate_day("SU12", DAY, random.Random(4)))
    result, _ = tick(instance)
    key = result.run_requests[0].run_key
    job = dg.Definitions(
        assets=[machine_logs_asset()], resources=build_resources()
    ).resolve_implicit_global_asset_job_def()
    instance.create_run_for_job(job, tags={"dagster/run_key": key}, status=dg.DagsterRunStatus.STARTED)
    again, _ = tick(instance, cursor=result.cursor)
    assert again.run_requests == [] and "1 run(s) in flight" in again.skip_reason.skip_message


@pytest.mark.sftp
def test_changed_file_is_requested_again(sftp_env):
    instance = dg.DagsterInstance.ephemeral()
    root = sftp_env["sftp_root"]
    drop(root, "machine_logs/DEM12/20241105.LOG", b"20241105 06:00:00|@StukUitgevoerd\n")
    first, _ = tick(instance)
    dg.materialize(
        [machine_logs_asset()], partition_key="2024-11-05", resources=build_resources(), instance=instance
    )
    drop(root, "machine_logs/DEM12/20241105.LOG", b"20241105 06:00:00|@StukUitgevoerd\n" * 2)
    second, _ = tick(instance, cursor=first.cursor)
    assert len(second.run_requests) == 1
    assert second.run_requests[0].run_key != first.run_requests[0].run_key


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.sftp
def test_unreachable_sftp_server_is_a_skip_not_a_crash(factory_env, sshd_server, monkeypatch):
    monkeypatch.setenv("FACTORY_LANDING_URL", f"sftp://{sshd_server.user}@127.0.0.1:{_free_port()}/landing")
    monkeypatch.setenv("FACTORY_SFTP_KEY_FILE", str(sshd_server.client_key))
    monkeypatch.setenv("FACTORY_SFTP_KNOWN_HOSTS", str(sshd_server.known_hosts))
    result, _ = tick(dg.DagsterInstance.ephemeral(), cursor=json.dumps({"seen": {}}))
    assert isinstance(result, dg.SkipReason)
    assert "unreachable" in result.skip_message and "127.0.0.1" in result.skip_message


@pytest.mark.sftp
def test_wrong_host_key_is_refused_with_a_clear_reason(sftp_env, tmp_path, monkeypatch):
    wrong = tmp_path / "known_hosts"
    wrong.write_text(
        f"[127.0.0.1]:{sftp_env['sftp_root'] and _port(sftp_env)} ssh-ed25519 "
        "AAAAC3NzaC1lZDI1NTE5AAAAIBmlTmFbeMVaX4GZpxXVjJJ6TdExLIBj0dCsv6JDWpLG\n"
    )
    monkeypatch.setenv("FACTORY_SFTP_KNOWN_HOSTS", str(wrong))
    result, _ = tick(dg.DagsterInstance.ephemeral())
    assert isinstance(result, dg.SkipReason)
    assert "known_hosts" in result.skip_message and "SHA256:" in result.skip_message


def _port(env) -> int:
    import os

    return int(os.environ["FACTORY_LANDING_URL"].split("@", 1)[1].split("/", 1)[0].split(":")[1])


@pytest.mark.sftp
def test_file_events_over_sftp_grow_duplicate_delete_and_partial_upload(sftp_env):
    """The same exactly-once rules hold when the inbox is a real SFTP server."""
    root, url = sftp_env["sftp_root"], sftp_env["warehouse_url"]
    full = generate_day("DEM12", DAY, random.Random(21), malformed=1)
    lines = full.split(b"\n")
    half = b"\n".join(lines[: len(lines) // 3]) + b"\n"

    def ingest_day():
        result = dg.materialize(
            [machine_logs_asset()],
            partition_key="2024-11-05",
            resources=build_resources(),
            instance=dg.DagsterInstance.ephemeral(),
        )
        assert result.success
        with psycopg.connect(url) as conn:
            return (
                conn.execute("SELECT path, status, shrunk FROM raw.ingest_ledger ORDER BY id").fetchall(),
                conn.execute("SELECT count(*) FROM raw.machine_logs__pieces").fetchone()[0],
            )

    drop(root, "machine_logs/DEM12/20241105.LOG", half)
    drop(root, "machine_logs/SU12/20241105.LOG.part", full)  # still uploading: never taken
    ledger_rows, first = ingest_day()
    assert ledger_rows == [("machine_logs/DEM12/20241105.LOG", "loaded", False)]

    import os
    import time

    time.sleep(1.1)  # SFTP mtimes have whole seconds: make the grown version visibly newer
    drop(root, "machine_logs/DEM12/20241105.LOG", full)  # the controller appended the rest of the day
    os.utime(root / "machine_logs/DEM12/20241105.LOG")
    ledger_rows, grown = ingest_day()
    assert [r[1] for r in ledger_rows] == ["superseded", "loaded"] and grown > first

    drop(root, "machine_logs/DEM12B/20241105.LOG", full)  # same bytes, other name
    (root / "machine_logs/DEM12/20241105.LOG").unlink()  # removed from the inbox after ingestion
    ledger_rows, after = ingest_day()
    assert ledger_rows[-1][:2] == ("machine_logs/DEM12B/20241105.LOG", "duplicate")
    assert after == grown  # duplicate not loaded again, deleted file's data kept


def test_the_sensor_requests_the_refresh_run_with_its_models_and_their_checks(factory_env):
    """The run names its assets (so the automation does not start a second run for the models)
    and its checks (the ingestion's and the models' dbt tests, nothing of another domain)."""
    from factory_assets.definitions import defs

    repo = defs().get_repository_def()
    sensor = repo.get_sensor_def("machine_logs_landing_sensor")
    drop(
        factory_env["landing"],
        "machine_logs/DEM12/20241105.LOG",
        generate_day("DEM12", DAY, random.Random(3)),
    )
    instance = dg.DagsterInstance.ephemeral()
    cursor, requests = None, []
    for _ in range(3):  # first look, then the second look that finds it stable
        ctx = dg.build_sensor_context(
            instance=instance, cursor=cursor, repository_def=repo, resources=build_resources()
        )
        result = sensor(ctx)
        cursor, requests = result.cursor, result.run_requests
        if requests:
            break
    assert len(requests) == 1
    request = requests[0]
    assert dg.AssetKey(["marts", "machine_sessions"]) in request.asset_selection
    assert dg.AssetKey(["marts", "oee_daily"]) in request.asset_selection
    names = {k.name for k in request.asset_check_keys}
    assert {"lines_conserved", "freshness"} <= names  # the ingestion's, and the models' dbt tests:
    assert any(k.asset_key == dg.AssetKey(["marts", "machine_sessions"]) for k in request.asset_check_keys)
    assert not any(k.asset_key == dg.AssetKey(["marts", "operations"]) for k in request.asset_check_keys)
