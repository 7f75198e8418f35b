"""Shared machinery of the dbt tests: a scratch warehouse, `dbt` as a subprocess, rows as dicts.

Each dbt test module builds the real ``dbt_project`` against a throw-away PostgreSQL database:

* :func:`scratch_database` creates a uniquely named database, applies the raw migrations
  (``factory_assets.ingest.migrate``) and drops it ``WITH (FORCE)`` afterwards;
* :func:`run_dbt` runs ``dbt <command>`` on it with its own target and log folders and asserts
  success, showing dbt's output when it fails;
* :func:`rows` and :func:`connect` read and write the database.

Server: 127.0.0.1:5432 as postgres (trust auth) unless FACTORY_TEST_PG_HOST / _PORT / _USER say
otherwise. These are independent of ``FACTORY_TEST_PG_URL`` (tests/services.py): dbt is given a
host, port and user (and an empty password), not a URL.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from factory_assets.dbt_cli import dbt_executable
from factory_assets.ingest.migrate import migrate

REPO = Path(__file__).resolve().parents[1]
DBT_PROJECT = REPO / "dbt_project"

PG_HOST = os.environ.get("FACTORY_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("FACTORY_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("FACTORY_TEST_PG_USER", "postgres")

TIMEZONE = "Europe/Paris"  # the plant time zone the dbt tests' hand-computed figures assume
DBT_TIMEOUT_S = 600


def connect(dbname: str, autocommit: bool = False) -> psycopg.Connection:
    """A connection to ``dbname`` on the test server."""
    return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname, autocommit=autocommit)


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """Create ``<prefix>_<random>``, apply the raw migrations, yield its name, then drop it.

    The database is dropped even if migrating or the body fails; ``WITH (FORCE)`` terminates
    leftover connections (e.g. of a crashed dbt run). Use it in a pytest fixture::

        @pytest.fixture(scope="module")
        def warehouse():
            with scratch_database("test_dbt_x") as dbname:
                yield dbname
    """
    dbname = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with connect("postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    try:
        with connect(dbname, autocommit=True) as conn:
            migrate(conn)
        yield dbname
    finally:
        with connect("postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def dbt_env(dbname: str, unset: Iterable[str] = ()) -> dict[str, str]:
    """This process's environment plus the FACTORY_DBT_* profile of ``dbname``, without ``unset``."""
    env = {
        **os.environ,
        "FACTORY_DBT_HOST": PG_HOST,
        "FACTORY_DBT_PORT": str(PG_PORT),
        "FACTORY_DBT_USER": PG_USER,
        "FACTORY_DBT_PASSWORD": "",
        "FACTORY_DBT_DBNAME": dbname,
        "FACTORY_TIMEZONE": TIMEZONE,
        "DO_NOT_TRACK": "1",
    }
    for name in unset:
        env.pop(name, None)
    return env


def run_dbt(
    dbname: str,
    work: Path,
    command: str,
    *args: str,
    select: str | Sequence[str] | None = None,
    dbt_vars: dict | None = None,
    cautious: bool = False,
    unset_env: Iterable[str] = (),
    unit_tests: bool = False,
) -> str:
    """Run ``dbt <command> <args>`` against ``dbname``; assert it succeeded, return its stdout.

    ``select`` becomes ``--select``; ``cautious`` adds ``--indirect-selection cautious`` (only
    tests whose every parent is selected run); ``dbt_vars`` becomes ``--vars <json>``;
    ``unset_env`` names variables removed from the environment (see :func:`dbt_env`). dbt's
    target and logs go to ``work/target`` and ``work/logs``.

    dbt unit tests are left out of ``build`` and ``test`` unless ``unit_tests``: they check the
    SQL on fixed inputs, whatever the database holds, so one module
    (tests/test_dbt_unit_tests.py) runs every one of them once per suite instead of every
    scenario step re-running its domain's.
    """
    cmd = [dbt_executable(), command, *args]
    if command in ("build", "test") and not unit_tests:
        cmd += ["--exclude-resource-type", "unit_test"]
    if select:
        cmd += ["--select", *([select] if isinstance(select, str) else select)]
    if cautious:
        cmd += ["--indirect-selection", "cautious"]
    if dbt_vars:
        cmd += ["--vars", json.dumps(dbt_vars)]
    cmd += [
        "--project-dir",
        str(DBT_PROJECT),
        "--profiles-dir",
        str(DBT_PROJECT),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
        "--no-use-colors",
    ]
    proc = subprocess.run(
        cmd,
        cwd=REPO,
        env=dbt_env(dbname, unset_env),
        capture_output=True,
        text=True,
        timeout=DBT_TIMEOUT_S,
    )
    assert proc.returncode == 0, f"dbt {command} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def rows(dbname: str, sql: str, params: Sequence | dict = ()) -> list[dict]:
    """The rows of ``sql`` (with ``params``) on ``dbname``, each a dict keyed by column name."""
    with connect(dbname) as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return cur.fetchall()
