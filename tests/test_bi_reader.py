"""The read-only role bi_reader (DESIGN.md §7), managed by the platform in every mode: created,
LOGIN with its password, marts only; a warehouse user without the right to manage roles gets
notes naming the statements a DBA must run, never a failure. (Reading as bi_reader after a dbt
build: tests/test_dbt_operations.py.)"""

from __future__ import annotations

import uuid

import psycopg
import pytest

from factory_assets.ingest.migrate import migrate
from factory_assets.ingest.roles import bi_reader_password, ensure_bi_reader
from tests.dbt_harness import PG_HOST, PG_PORT, connect


def test_grants_marts_only_and_keeps_out_of_raw(warehouse_url):
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        migrate(conn)
        assert ensure_bi_reader(conn, None) == []  # no password: the role keeps its login state
        conn.execute("CREATE TABLE marts.t (x int)")
        assert ensure_bi_reader(conn, "pw") == []
        rights = conn.execute(
            "SELECT has_schema_privilege('bi_reader', 'marts', 'USAGE'), has_table_privilege('bi_reader', 'marts.t', 'SELECT'),"
            " has_schema_privilege('bi_reader', 'raw', 'USAGE'), has_table_privilege('bi_reader', 'raw.ingest_ledger', 'SELECT'),"
            " has_table_privilege('bi_reader', 'marts.t', 'INSERT'), has_database_privilege('bi_reader', current_database(), 'CONNECT')"
        ).fetchone()  # fmt: skip
        assert rights == (True, True, False, False, False, True)
        conn.execute("CREATE TABLE marts.later (x int)")  # e.g. a new mart of the next dbt run
        assert conn.execute(
            "SELECT has_table_privilege('bi_reader', 'marts.later', 'SELECT')"
        ).fetchone() == (True,)
        settings = dict(
            conn.execute("SELECT split_part(s, '=', 1), split_part(s, '=', 2) FROM pg_db_role_setting r, "
                         "unnest(r.setconfig) s WHERE r.setrole = 'bi_reader'::regrole AND r.setdatabase = 0").fetchall()
        )  # fmt: skip
        assert settings["default_transaction_read_only"] == "on" and settings["statement_timeout"] == "60s"


def test_a_warehouse_user_without_role_rights_gets_notes_not_a_failure(warehouse_url):
    owner = f"factory_test_owner_{uuid.uuid4().hex[:8]}"
    dbname = warehouse_url.rsplit("/", 1)[1]
    with connect("postgres", autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{owner}" LOGIN')
        admin.execute(f'ALTER DATABASE "{dbname}" OWNER TO "{owner}"')
    try:
        with connect(dbname, autocommit=True) as conn:  # as the superuser: the role exists
            conn.execute(f'ALTER SCHEMA public OWNER TO "{owner}"')
            ensure_bi_reader(conn, None)
        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=owner, dbname=dbname, autocommit=True) as conn:
            notes = ensure_bi_reader(conn, "a-new-password")
        assert notes and all("a DBA must run" in n for n in notes)
        assert any(
            "ALTER ROLE bi_reader WITH LOGIN PASSWORD '<FACTORY_BI_READER_PASSWORD>'" in n for n in notes
        )
        assert not any("a-new-password" in n or "SCRAM" in n for n in notes)  # the secret is never shown
    finally:
        with connect("postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            admin.execute(f'DROP ROLE IF EXISTS "{owner}"')


def test_the_password_comes_from_the_environment_or_the_demo_home(monkeypatch, tmp_path):
    monkeypatch.setenv("FACTORY_HOME", str(tmp_path))
    monkeypatch.setenv("FACTORY_BI_READER_PASSWORD", "from-env")
    assert bi_reader_password() == "from-env"
    monkeypatch.delenv("FACTORY_BI_READER_PASSWORD")
    monkeypatch.setenv("FACTORY_WAREHOUSE_URL", "postgresql://site/factory")
    assert bi_reader_password() is None  # a site install without the variable: no password
    monkeypatch.delenv("FACTORY_WAREHOUSE_URL")
    generated = bi_reader_password()
    assert generated and generated == bi_reader_password()  # demo: generated once, then reused
    secret = tmp_path / "secrets" / "bi_reader_password"
    assert secret.stat().st_mode & 0o777 == 0o600


@pytest.fixture(autouse=True)
def _no_demo_password(monkeypatch):
    monkeypatch.delenv("FACTORY_BI_READER_PASSWORD", raising=False)
