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
