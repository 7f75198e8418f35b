"""Shared fixtures: a fresh PostgreSQL database per test, landing and archive folders."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.services import PG_URL

pytest_plugins = ["tests.sftp_fixtures"]


def _url_for(dbname: str) -> str:
    base, _, _ = PG_URL.rpartition("/")
    return f"{base}/{dbname}"


@pytest.fixture
def warehouse_url():
    """URL of a new, uniquely named database; dropped afterwards (even if the test fails)."""
    name = f"factory_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _url_for(name)
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def factory_env(tmp_path: Path, warehouse_url: str, monkeypatch):
    """Environment of a non-demo install: warehouse URL, local landing zone and archive."""
    landing = tmp_path / "landing"
    archive = tmp_path / "archive"
    landing.mkdir()
    monkeypatch.setenv("FACTORY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FACTORY_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("FACTORY_LANDING_URL", landing.as_uri())
    monkeypatch.setenv("FACTORY_ARCHIVE_URL", archive.as_uri())
    monkeypatch.setenv("FACTORY_TIMEZONE", "Europe/Paris")
    monkeypatch.setenv("FACTORY_SETTLE_S", "0")
    for var in ("FACTORY_SFTP_KEY_FILE", "FACTORY_SFTP_PASSWORD", "FACTORY_SFTP_KNOWN_HOSTS"):
        monkeypatch.delenv(var, raising=False)
    return {"landing": landing, "archive": archive, "warehouse_url": warehouse_url, "home": tmp_path / "home"}


def pytest_report_header(config):
    return [
        f"test PostgreSQL: {PG_URL}",
        f"FACTORY_TIMEZONE={os.environ.get('FACTORY_TIMEZONE', '(default)')}",
    ]


# The longest modules (a running demo, dbt scenario builds), slowest first. pytest-xdist hands
# whole modules to its workers in collection order (``--dist loadfile --no-loadscope-reorder``;
# by default it orders modules by their number of tests): started last, the end-to-end module
# alone kept one worker busy for four minutes after the other had finished.
SLOW_MODULES = (
    "test_end_to_end.py",
    "test_dbt_sql_marts.py",
    "test_dbt_partitions.py",
    "test_dbt_inventory.py",
    "test_cli.py",
    "test_dbt_docs.py",
    "test_logistics_ingest.py",
    "test_dbt_oee.py",
    "test_dbt_machine_logs.py",
    "test_dbt_unit_tests.py",
)


def pytest_collection_modifyitems(items):
    """Slowest modules first (:data:`SLOW_MODULES`); schemathesis' tests get node ids of their own.

    ``schema.parametrize()`` (tests/test_gateway_fuzz.py) names each item
    ``test_x[GET /v1/health]`` but leaves every one of them the node id ``…::test_x``;
    pytest-xdist schedules by node id, so all but one operation's tests were silently dropped.
    """
    for item in items:
        if getattr(item, "operation_label", None) and not item.nodeid.endswith("]"):
            item._id = item.parent.id.child(item.name)  # pytest 9's node id; name = test_x[<operation>]
    rank = {name: i for i, name in enumerate(SLOW_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order within a module kept
