"""The `factory` command on a site install: landing zone and archive from the environment
(``file://`` and ``sftp://``), no embedded PostgreSQL, the code location's own jobs; re-arming
failed versions; secrets never printed."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import uuid
from datetime import date
from pathlib import Path

import psycopg
import pytest

from factory_assets.demo.machine_logs import generate_day
from tests.hostile import unreadable_file
from tests.services import PG_URL

FACTORY = str(Path(sys.executable).with_name("factory"))
DAY = date(2024, 11, 5)


@pytest.fixture
def dagster_storage_url():
    name = f"factory_test_dagster_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _site_env(factory_env, dagster_storage_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACTORY_")}
    env.update(
        FACTORY_HOME=str(factory_env["home"]),
        FACTORY_WAREHOUSE_URL=factory_env["warehouse_url"],
        FACTORY_DAGSTER_STORAGE_URL=dagster_storage_url,
        FACTORY_LANDING_URL=os.environ["FACTORY_LANDING_URL"],
        FACTORY_ARCHIVE_URL=os.environ["FACTORY_ARCHIVE_URL"],
        FACTORY_TIMEZONE="Europe/Paris",
        FACTORY_SETTLE_S="0",
        DO_NOT_TRACK="1",
    )
    env.update(extra)
    return env


def _factory(env: dict[str, str], *args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FACTORY, *args], env=env, capture_output=True, text=True, timeout=timeout)


def _logs(folder: Path) -> None:
    for centre, seed in (("DEM12", 1), ("SU12", 2)):
        p = folder / "machine_logs" / centre / f"{DAY:%Y%m%d}.LOG"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(generate_day(centre, DAY, random.Random(seed), malformed=1))


def test_materialize_with_a_local_landing_url_and_archive_url(factory_env, dagster_storage_url):
    """`factory materialize` on a site install, with a hostile landing zone for the same date: every
    valid log loads, nothing from outside the root is archived, the ledger explains the rest."""
    landing = factory_env["landing"]
    _logs(landing)
    evil = landing / "machine_logs" / "EVIL"
    evil.mkdir()
    os.symlink("/etc/passwd", evil / f"{DAY:%Y%m%d}.LOG")
    os.symlink("loop.LOG", evil / "loop.LOG")
    os.mkfifo(landing / "machine_logs" / "SU12" / f"{DAY:%Y%m%d}.log.fifo")
    (landing / "machine_logs" / "DIR" / f"{DAY:%Y%m%d}.LOG").mkdir(parents=True)
    env = _site_env(factory_env, dagster_storage_url, FACTORY_MAX_ATTEMPTS="1")
    with unreadable_file(landing / "machine_logs" / "LOCKED" / f"{DAY:%Y%m%d}.LOG"):
        out = _factory(env, "materialize", "--ingest-only")  # dbt through the CLI: test_end_to_end
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "unsupported landing-zone URL scheme" not in out.stdout + out.stderr
    assert "machine_logs_ingest_job for 1 day(s)" in out.stdout
    assert "erp_sql_sync: source not configured" in out.stdout  # not a demo: unset sources are skipped
    with psycopg.connect(factory_env["warehouse_url"]) as conn:
        assert conn.execute("SELECT count(*) FROM raw.machine_logs__sessions").fetchone()[0] == 2
        ledger = dict(
            conn.execute("SELECT path, status || ': ' || coalesce(error, '') FROM raw.ingest_ledger")
        )
    archived = sorted(p.name for p in factory_env["archive"].rglob("*.LOG"))
    assert len(archived) == 2 and all(n.startswith("20241105.") for n in archived)
    assert b"root:" not in b"".join(p.read_bytes() for p in factory_env["archive"].rglob("*") if p.is_file())
    assert ledger["machine_logs/EVIL/20241105.LOG"].startswith("quarantined: not_a_regular_file")
    assert ledger["machine_logs/EVIL/loop.LOG"].startswith("quarantined: not_a_regular_file")
    assert ledger["machine_logs/DIR/20241105.LOG"].startswith("quarantined: not_a_regular_file")
    assert ledger["machine_logs/SU12/20241105.log.fifo"].startswith("quarantined: not_a_regular_file")
    assert ledger["machine_logs/LOCKED/20241105.LOG"].startswith("failed: unreadable")


@pytest.mark.sftp
def test_materialize_and_up_with_an_sftp_landing_zone(factory_env, dagster_storage_url, sshd_server):
    inbox = Path(tempfile.mkdtemp(prefix="cli_inbox_", dir=sshd_server.root))
    archive = Path(tempfile.mkdtemp(prefix="cli_archive_", dir=sshd_server.root))
    _logs(inbox)
    env = _site_env(
        factory_env,
        dagster_storage_url,
        FACTORY_LANDING_URL=sshd_server.url_for(inbox),
        FACTORY_ARCHIVE_URL=sshd_server.url_for(archive),
        FACTORY_SFTP_KEY_FILE=str(sshd_server.client_key),
        FACTORY_SFTP_KNOWN_HOSTS=str(sshd_server.known_hosts),
    )
    out = _factory(env, "materialize", "--ingest-only")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    with psycopg.connect(factory_env["warehouse_url"]) as conn:
        assert conn.execute("SELECT count(*) FROM raw.machine_logs__sessions").fetchone()[0] == 2
    assert "dbt models not built now (--ingest-only)" in out.stdout
    assert len(list(archive.rglob("*.LOG"))) == 2

    # `factory up` shows the landing zone without the password, whatever it contains
    secret = "pa:ss@w/rd?x"
    env["FACTORY_LANDING_URL"] = f"sftp://factory:{secret}@{sshd_server.host}:{sshd_server.port}{inbox}"
    up = _factory(env, "up")
    assert up.returncode == 0, up.stderr
    assert "landing zone: sftp://factory:***@" in up.stdout
    for part in ("pa:ss", "ss@w", "rd?x", secret):
        assert part not in up.stdout + up.stderr


def test_retry_failed_rearms_versions_from_the_cli(factory_env, dagster_storage_url):
    """A version that used its attempts ('failed': here its archive folder could not be created)
    is given new attempts by `factory retry-failed` and then loads."""
    _logs(factory_env["landing"])
    blocker = factory_env["archive"] / "machine_logs" / "DEM12"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where the archive needs a folder")
    env = _site_env(factory_env, dagster_storage_url, FACTORY_MAX_ATTEMPTS="1")
    out = _factory(env, "materialize", "--ingest-only")
    with psycopg.connect(factory_env["warehouse_url"]) as conn:
        rows = conn.execute("SELECT path, status, attempts FROM raw.ingest_ledger ORDER BY path").fetchall()
    assert [(r[0].split("/")[1], r[1]) for r in rows] == [("DEM12", "failed"), ("SU12", "loaded")], (
        rows,
        out.stdout[-2000:],
    )

    blocker.unlink()
    out = _factory(env, "retry-failed", "--source", "machine_logs")
    assert out.returncode == 0, out.stderr
    assert "1 failed version(s) re-armed" in out.stdout
    out = _factory(env, "materialize", "--ingest-only")
    assert out.returncode == 0, out.stdout[-3000:]
    with psycopg.connect(factory_env["warehouse_url"]) as conn:
        assert conn.execute("SELECT count(*) FROM raw.machine_logs__sessions").fetchone()[0] == 2
        assert conn.execute("SELECT status, attempts FROM raw.ingest_ledger ORDER BY path").fetchall() == [
            ("loaded", 1),
            ("loaded", 1),
        ]
