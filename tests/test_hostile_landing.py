"""The landing zone attacked as a hostile plant network, a careless operator and flaky
infrastructure would: every entry ends explained in the ledger, and every valid file of the same
run still loads. Real local folders, a real OpenSSH sshd, a real PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from factory_assets.ingest import ledger
from factory_assets.ingest.files import ingest_version
from factory_assets.ingest.migrate import migrate
from factory_assets.machine_logs.kind import MACHINE_LOGS
from factory_assets.machine_logs.loader import load_machine_log
from factory_assets.resources_config import build_resources
from resources.landing import LandingZoneError
from resources.local_zone import LocalLandingZone
from resources.sftp import SftpLandingZone
from resources.zone import FileEntry
from tests.hostile import unreadable_file
from tests.ingest_helpers import machine_logs_sensor, machine_logs_with
from tests.test_machine_log_ingest import KEY, day_file, ingest, pieces, q, write

PATH = "machine_logs/{}/20241105.LOG"


def ledger_rows(url: str) -> dict[str, tuple]:
    return {
        r[0]: r[1:] for r in q(url, "SELECT path, status, attempts, error FROM raw.ingest_ledger ORDER BY id")
    }


def loaded_centres(url: str) -> list[str]:
    return [r[0] for r in q(url, "SELECT centre FROM raw.machine_logs__sessions ORDER BY 1")]


# --- 1. unreadable files ---------------------------------------------------------------------


def test_an_unreadable_file_gets_a_ledger_row_and_the_other_centres_load(factory_env, monkeypatch):
    monkeypatch.setenv("FACTORY_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("FACTORY_RETRY_BACKOFF_S", "0")
    url, landing = factory_env["warehouse_url"], factory_env["landing"]
    write(landing, PATH.format("DEM12"), day_file("DEM12"))
    write(landing, PATH.format("SU12"), day_file("SU12", seed=2))
    with unreadable_file(landing / PATH.format("DEMALU")):
        first = ingest()
        assert not first.success  # the run says a file could not be loaded ...
        assert loaded_centres(url) == ["DEM12", "SU12"]  # ... but everything else of the day loaded
        status, attempts, error = ledger_rows(url)[PATH.format("DEMALU")]
        assert (status, attempts) == ("retry", 1)
        assert "unreadable" in error and "Permission denied" in error

        # The sensor asks again (attempt 2), never claiming a run in flight that is not.
        instance = dg.DagsterInstance.ephemeral()
        with dg.build_sensor_context(instance=instance, resources=build_resources()) as ctx:
            tick = machine_logs_sensor()(ctx)
        assert len(tick.run_requests) == 1
        assert tick.run_requests[0].run_config["ops"]["machine_logs_ingest"]["config"]["paths"] == [
            PATH.format("DEMALU")
        ]
        second = ingest()
        assert not second.success
        assert ledger_rows(url)[PATH.format("DEMALU")][:2] == ("failed", 2)
        with dg.build_sensor_context(instance=instance, resources=build_resources()) as ctx:
            tick = machine_logs_sensor()(ctx)
        assert tick.run_requests == []
        assert "0 run(s) in flight" in tick.skip_reason.skip_message
        # failed, after the bounded attempts: visible, and a third run does not retry it
        assert ingest().success

    # Readable again (permissions fixed): re-armed by hand, it loads and the unread row is settled.
    with psycopg.connect(url, autocommit=True) as conn:
        assert len(ledger.rearm_failed(conn, "machine_logs")) == 1
    write(landing, PATH.format("DEMALU"), day_file("DEMALU", seed=3))
    assert ingest().success
    assert loaded_centres(url) == ["DEM12", "DEMALU", "SU12"]
    statuses = [r[0] for p, r in ledger_rows(url).items() if "DEMALU" in p]
    assert statuses == ["loaded"] or sorted(statuses) == ["loaded", "superseded"]


def _session_processes(sshd_server) -> list[int]:
    """PIDs of the per-connection processes of the test sshd (its listener's children)."""
    listener = subprocess.run(
        ["pgrep", "-f", f"sshd -D -e -f {sshd_server.workdir / 'sshd_config'}"],
        capture_output=True,
        text=True,
    ).stdout.split()
    kids: list[int] = []
    for pid in listener:
        kids += [
            int(x)
            for x in subprocess.run(["pgrep", "-P", pid], capture_output=True, text=True).stdout.split()
        ]
    return kids


@pytest.mark.sftp
def test_a_dropped_sftp_connection_does_not_stop_the_other_files(
    factory_env, sshd_server, monkeypatch, tmp_path
):
    import tempfile

    monkeypatch.setenv("FACTORY_INGEST_WORKERS", "1")  # one session, so the cut falls between two files

    inbox = Path(tempfile.mkdtemp(prefix="drop_", dir=sshd_server.root))
    for i, centre in enumerate(("C1", "C2", "C3")):
        write(inbox, PATH.format(centre), day_file(centre, seed=i))
    monkeypatch.setenv("FACTORY_LANDING_URL", sshd_server.url_for(inbox))
    monkeypatch.setenv("FACTORY_SFTP_KEY_FILE", str(sshd_server.client_key))
    monkeypatch.setenv("FACTORY_SFTP_KNOWN_HOSTS", str(sshd_server.known_hosts))
    cut = []

    def cut_the_connection_after_the_first_file(ctx):
        counts = load_machine_log(ctx)
        if not cut:  # the SFTP session dies (server side) while the first file is being loaded
            cut.extend(_session_processes(sshd_server))
            for pid in cut:
                os.kill(pid, signal.SIGKILL)
        return counts

    url = factory_env["warehouse_url"]
    result = ingest(kind=machine_logs_with(cut_the_connection_after_the_first_file))
    assert cut, "no SFTP session process found to kill"
    assert not result.success
    rows = ledger_rows(url)
    assert rows[PATH.format("C1")][0] == "loaded"
    assert rows[PATH.format("C2")][0] == "retry" and "connection lost" in rows[PATH.format("C2")][2]
    assert rows[PATH.format("C3")][0] == "loaded"  # attempted after a reconnect, not skipped
    assert ingest().success
    assert loaded_centres(url) == ["C1", "C2", "C3"]


# --- 2-5. links, loops, FIFOs, folders, names ---------------------------------------------------


def test_links_loops_fifos_and_folders_are_quarantined_and_never_opened(factory_env, tmp_path):
    url, landing, archive = factory_env["warehouse_url"], factory_env["landing"], factory_env["archive"]
    outside = tmp_path / "outside.LOG"
    outside.write_bytes(day_file("OUT"))  # a valid log, but outside the landing root
    write(landing, PATH.format("DEM12"), day_file("DEM12"))
    folder = landing / "machine_logs" / "DEM12"
    os.symlink("/etc/passwd", folder / "20241106.LOG")
    os.symlink(outside, folder / "20241107.LOG")
    os.symlink("20241108.LOG", folder / "20241108.LOG")  # a link to itself: a loop
    os.mkfifo(folder / "20241109.LOG")
    (folder / "20241110.LOG").mkdir()
    os.symlink(tmp_path, landing / "machine_logs" / "LINKED")  # a linked centre folder

    for day in ("2024-11-05", "2024-11-06", "2024-11-07", "2024-11-08", "2024-11-09", "2024-11-10"):
        assert ingest(day).success
    rows = ledger_rows(url)
    assert rows[PATH.format("DEM12")][0] == "loaded"
    for name, what in (
        ("20241106", "symlink"),
        ("20241107", "symlink"),
        ("20241108", "symlink"),
        ("20241109", "fifo"),
        ("20241110", "a folder named like a file"),
    ):
        status, _, error = rows[f"machine_logs/DEM12/{name}.LOG"]
        assert status == "quarantined" and error.startswith("not_a_regular_file") and what in error, (
            name,
            error,
        )
    assert rows["machine_logs/LINKED"][0] == "quarantined"
    assert loaded_centres(url) == ["DEM12"]
    # nothing from outside the root reached the archive
    archived = b"".join(p.read_bytes() for p in archive.rglob("*") if p.is_file())
    assert b"root:" not in archived and day_file("OUT") not in archived


def test_a_fifo_swapped_in_after_the_listing_is_refused_at_once(factory_env):
    url, landing = factory_env["warehouse_url"], factory_env["landing"]
    p = write(landing, PATH.format("DEM12"), day_file())
    st = p.stat()
    entry = FileEntry(PATH.format("DEM12"), st.st_size, st.st_mtime)
    p.unlink()
    os.mkfifo(p)  # swapped between listing and reading
    outcome: list = []
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
        t = threading.Thread(
            target=lambda: outcome.append(
                ingest_version(conn, LocalLandingZone(landing), None, MACHINE_LOGS, entry, "r1")
            )
        )
        t.start()
        t.join(timeout=20)
    assert not t.is_alive(), "reading a FIFO must not hang"
    assert outcome[0].status == "quarantined" and "not_a_regular_file: fifo" in outcome[0].error


def test_two_names_for_one_session_never_both_stay_loaded(factory_env):
    url, landing = factory_env["warehouse_url"], factory_env["landing"]
    first, second = day_file(seed=1), day_file(seed=2)
    write(landing, "machine_logs/CASE/20241105.LOG", first, mtime=1_730_800_000)
    assert ingest().success
    write(landing, "machine_logs/CASE/20241105.log", second, mtime=1_730_800_600)
    result = ingest()
    assert result.success
    assert [(c.check_name, c.passed) for c in result.get_asset_check_evaluations()] == [
        ("lines_conserved", True)
    ]
    rows = ledger_rows(url)
    assert rows["machine_logs/CASE/20241105.LOG"][0] == "superseded"
    assert rows["machine_logs/CASE/20241105.log"][0] == "loaded"
    assert "another name" in rows["machine_logs/CASE/20241105.LOG"][2]
    assert q(url, "SELECT path FROM raw.machine_logs__sessions") == [("machine_logs/CASE/20241105.log",)]
    # the older name arriving again (touched) supersedes by the same rule, never two loaded
    write(landing, "machine_logs/CASE/20241105.LOG", first, mtime=1_730_801_200)
    assert ingest().success
    assert q(url, "SELECT count(*) FROM raw.ingest_ledger WHERE status = 'loaded'") == [(1,)]


def test_the_conservation_check_compares_the_ledger_with_the_rows_present(factory_env):
    url, landing = factory_env["warehouse_url"], factory_env["landing"]
    write(landing, PATH.format("DEM12"), day_file())
    assert ingest().success
    with psycopg.connect(url, autocommit=True) as conn:  # rows lost behind the ledger's back
        conn.execute("DELETE FROM raw.machine_logs__sessions")
    from factory_assets.ingest.run import conservation_violations

    with psycopg.connect(url) as conn:
        violations, checked = conservation_violations(conn, MACHINE_LOGS, partition_keys={KEY})
    assert checked == 1 and "rows present" in violations[0]["problems"][0]


# --- 6. memory limits -------------------------------------------------------------------------


def test_a_too_long_line_is_rejected_with_evidence_and_the_rest_loads(factory_env):
    url, landing = factory_env["warehouse_url"], factory_env["landing"]
    data = day_file(malformed=0)
    lines = data.split(b"\n")
    monster = b"20241105 10:00:00|@StukUitgevoerd: " + b"X" * (3 << 20)  # one 3 MiB line
    write(landing, PATH.format("DEM12"), b"\n".join([*lines[:10], monster, *lines[10:]]))
    assert ingest().success
    reason, detail, text, item = q(url, "SELECT reason, detail, raw_text, item_no FROM raw.ingest_rejects")[0]
    assert (reason, item) == ("line_too_long", 11)
    assert text.startswith("20241105 10:00:00|@StukUitgevoerd: XXX") and len(text) <= 500
    assert f"{len(monster):,}" in detail
    assert pieces(url) == data.count(b"StukUitgevoerd")
    (rows_in, rej) = q(url, "SELECT rows_in, rows_rejected FROM raw.ingest_ledger")[0]
    assert rows_in == len([x for x in lines if x]) + 1 and rej == 1


def test_a_file_over_the_size_limit_is_quarantined_whole(factory_env, monkeypatch):
    monkeypatch.setenv("FACTORY_MACHINE_LOGS_MAX_FILE_MB", "0.01")  # 10 KiB
    url, landing = factory_env["warehouse_url"], factory_env["landing"]
    write(landing, PATH.format("DEM12"), day_file())  # ~50 KiB
    write(landing, "machine_logs/TINY/20241105.LOG", b"20241105 06:00:00|@StukUitgevoerd: 1\n")
    assert ingest().success
    rows = ledger_rows(url)
    assert rows[PATH.format("DEM12")][0] == "quarantined"
    assert rows[PATH.format("DEM12")][2].startswith("file_too_large")
    assert loaded_centres(url) == ["TINY"]


# --- 7. versions stuck in 'loading' -----------------------------------------------------------


@pytest.mark.parametrize("then", ["changed", "removed"])
def test_a_version_killed_mid_load_never_stays_loading(factory_env, then):
    url, landing = factory_env["warehouse_url"], factory_env["landing"]
    p = write(landing, PATH.format("DEM12"), day_file(seed=1), mtime=1_730_800_000)
    st = p.stat()

    def killed(ctx):
        load_machine_log(ctx)
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (ctx.cur.connection.info.backend_pid,))
        raise AssertionError("unreachable: the run died")

    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
        entry = FileEntry(PATH.format("DEM12"), st.st_size, st.st_mtime)
        ingest_version(conn, LocalLandingZone(landing), None, machine_logs_with(killed), entry, "dead-run")
    statuses = "SELECT status, error FROM raw.ingest_ledger ORDER BY id"
    assert [r[0] for r in q(url, statuses)] == ["loading"]
    if then == "changed":
        write(landing, PATH.format("DEM12"), day_file(seed=2), mtime=1_730_801_000)
        assert ingest().success
        assert [r[0] for r in q(url, statuses)] == ["superseded", "loaded"]
    else:
        p.unlink()
        assert ingest().success
        ((status, error),) = q(url, statuses)
        assert status == "failed" and error.startswith("file_removed")


# --- 11. SFTP messages -------------------------------------------------------------------------


@pytest.mark.sftp
def test_a_silent_ssh_server_is_named_with_its_step_and_timeout(sshd_server):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    port = server.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    try:
        with pytest.raises(LandingZoneError) as err:
            SftpLandingZone.connect(
                f"sftp://me@127.0.0.1:{port}/in",
                key_file=str(sshd_server.client_key),
                known_hosts=str(sshd_server.known_hosts),
                timeout_s=1.5,
            )
    finally:
        server.close()
    msg = str(err.value)
    assert f"127.0.0.1:{port}" in msg and "step: banner" in msg and "1.5 s" in msg
    assert "No existing session" not in msg


@pytest.mark.sftp
def test_a_frozen_sftp_session_times_out_with_a_clear_message(sshd_server):
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="frozen_", dir=sshd_server.root))
    (folder / "f.LOG").write_bytes(b"x" * 100_000)
    zone = SftpLandingZone.connect(
        sshd_server.url_for(folder),
        key_file=str(sshd_server.client_key),
        known_hosts=str(sshd_server.known_hosts),
        timeout_s=1.5,
    )
    frozen = _session_processes(sshd_server)
    try:
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        started = time.monotonic()
        with pytest.raises(LandingZoneError) as err:
            with zone.open_read("f.LOG") as f:
                f.read()
        assert time.monotonic() - started < 30
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
        zone.close()
    msg = str(err.value)
    assert "127.0.0.1" in msg and "timed out" in msg and "1.5 s" in msg and "step:" in msg


# --- the hostile landing zone, end to end ---------------------------------------------------


def test_the_hostile_landing_zone_end_to_end(factory_env, tmp_path, monkeypatch):
    """One production date: valid logs, a link to /etc/passwd, a link loop, a case-variant name,
    a folder named like a log, a FIFO, and a file whose reads fail. The ingestion (as the sensor
    and `factory materialize` run it) loads every valid log; the archive holds no byte from
    outside the landing root; the ledger explains every other entry."""
    monkeypatch.setenv("FACTORY_MAX_ATTEMPTS", "1")
    url, landing, archive = factory_env["warehouse_url"], factory_env["landing"], factory_env["archive"]
    valid = {c: day_file(c, seed=i) for i, c in enumerate(("DEM12", "SU12", "DEMALU"))}
    for centre, data in valid.items():
        write(landing, PATH.format(centre), data, mtime=1_730_800_000)
    write(landing, "machine_logs/SU12/20241105.log", day_file("SU12", seed=9), mtime=1_730_700_000)  # older
    hostile = landing / "machine_logs" / "EVIL"
    hostile.mkdir()
    os.symlink("/etc/passwd", hostile / "20241105.LOG")
    os.symlink("loop.LOG", hostile / "loop.LOG")
    (landing / "machine_logs" / "DIR" / "20241105.LOG").mkdir(parents=True)
    (landing / "machine_logs" / "PIPE").mkdir()
    os.mkfifo(landing / "machine_logs" / "PIPE" / "20241105.LOG")
    with unreadable_file(landing / PATH.format("LOCKED")):
        # the sensor's tick: requests exactly one run for the date, with the takeable files
        instance = dg.DagsterInstance.ephemeral()
        with dg.build_sensor_context(instance=instance, resources=build_resources()) as ctx:
            tick = machine_logs_sensor()(ctx)
        assert [r.partition_key for r in tick.run_requests] == [KEY]
        paths = tick.run_requests[0].run_config["ops"]["machine_logs_ingest"]["config"]["paths"]
        assert "machine_logs/EVIL/20241105.LOG" not in paths and PATH.format("DEM12") in paths
        result = ingest()
    assert not result.success  # the unreadable file is reported as a failure of the run ...
    assert loaded_centres(url) == ["DEM12", "DEMALU", "SU12"]  # ... every valid log loaded
    assert q(url, "SELECT path FROM raw.machine_logs__sessions WHERE centre = 'SU12'") == [
        (PATH.format("SU12"),)
    ]

    rows = ledger_rows(url)
    explained = {
        "machine_logs/EVIL/20241105.LOG": ("quarantined", "not_a_regular_file: symlink"),
        "machine_logs/EVIL/loop.LOG": ("quarantined", "not_a_regular_file: symlink"),
        "machine_logs/DIR/20241105.LOG": ("quarantined", "not_a_regular_file: a folder"),
        "machine_logs/PIPE/20241105.LOG": ("quarantined", "not_a_regular_file: fifo"),
        PATH.format("LOCKED"): ("failed", "unreadable"),
        # the older of two names for one session ends superseded, whichever was loaded first
        "machine_logs/SU12/20241105.log": ("superseded", ""),
    }
    for path, (status, reason) in explained.items():
        assert rows[path][0] == status and reason in (rows[path][2] or ""), (path, rows[path])
    for centre in valid:
        assert rows[PATH.format(centre)][0] == "loaded"
    assert set(rows) == set(explained) | {PATH.format(c) for c in valid}
    archived = b"".join(p.read_bytes() for p in archive.rglob("*") if p.is_file())
    assert b"root:" not in archived
    assert sorted(p.name.split(".")[0] for p in archive.rglob("*.LOG")) == ["20241105"] * 3


def test_secrets_in_warehouse_urls_are_never_shown(factory_env, monkeypatch):
    from resources.warehouse import WarehouseUnavailable, connect

    secret = "Sup3r:S3cr@t?x"
    for url in (
        f"postgresql://factory@127.0.0.1:1/db?password={secret}&sslmode=disable",
        f"postgresql://factory:{secret}@127.0.0.1:1/db",
    ):
        with pytest.raises(WarehouseUnavailable) as err:
            connect(url, connect_timeout=2)
        for part in (secret, "S3cr@t", "Sup3r"):
            assert part not in str(err.value)


def test_a_run_in_another_database_of_the_server_is_not_mistaken_for_ours(factory_env):
    """Liveness locks are per database: a site with several warehouses on one server (or the
    test suite) must not see another database's run as alive."""
    from factory_assets.ingest.ledger import LIVENESS_LOCK

    url = factory_env["warehouse_url"]
    p = write(factory_env["landing"], PATH.format("DEM12"), day_file())
    st = p.stat()
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
        conn.execute(
            "INSERT INTO raw.ingest_ledger (id, source, path, size, mtime, sha256, status, attempts) "
            "VALUES (1, 'machine_logs', %s, %s, to_timestamp(%s), 'x', 'loading', 1)",
            (PATH.format("DEM12"), st.st_size, st.st_mtime),
        )
    # another database on the same server, whose run holds the lock for its own version 1
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s, 1)", (LIVENESS_LOCK,))
        with psycopg.connect(url) as conn:
            (state,) = ledger.ledger_states(conn, "machine_logs").values()
        assert state.status == "loading" and not state.alive
