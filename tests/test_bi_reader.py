"""The read-only role bi_reader (DESIGN.md §7), managed by the platform in every mode: created,
LOGIN with its password, marts only; a warehouse user without the right to manage roles gets
notes naming the statements a DBA must run, never a failure. (Reading as bi_reader after a dbt
build: tests/test_dbt_operations.py.)"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import sql

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


# --- after a real dbt build: every mart readable, nothing else, no write anywhere --------------

BI_PASSWORD = "bi-reader-built-warehouse"
PRIVATE = ("raw", "staging", "intermediate", "seeds", "snapshots")
MODELS_ONLY = ("--exclude-resource-type", "test", "--exclude-resource-type", "unit_test")


def _relations(dbname: str, schemas: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(schema, name, kind) of every table, view, materialised view and partitioned table."""
    with connect(dbname) as conn:
        return conn.execute(
            "SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'v', 'm', 'p') ORDER BY 1, 2",
            (list(schemas),),
        ).fetchall()


def _as_bi_reader(dbname: str, **kwargs) -> psycopg.Connection:
    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, dbname=dbname, user="bi_reader", password=BI_PASSWORD, **kwargs
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A scratch warehouse with every model, seed and snapshot built by dbt (empty raw tables),
    the role prepared as the platform does before a build."""
    import json

    from tests.dbt_harness import run_dbt, scratch_database

    work = tmp_path_factory.mktemp("bi_built")
    with scratch_database("test_bi_reader") as dbname:
        with connect(dbname, autocommit=True) as conn:
            assert ensure_bi_reader(conn, BI_PASSWORD) == []
        run_dbt(dbname, work, "build", *MODELS_ONLY)
        manifest = json.loads((work / "target" / "manifest.json").read_text())
        yield {"dbname": dbname, "work": work, "manifest": manifest}


def test_bi_reader_reads_every_mart_of_a_built_warehouse(built):
    marts = _relations(built["dbname"], ("marts",))
    expected = {
        n["alias"] or n["name"]
        for n in built["manifest"]["nodes"].values()
        if n["resource_type"] == "model" and n["schema"] == "marts"
    }
    assert {name for _, name, _ in marts} == expected and len(expected) >= 20
    with _as_bi_reader(built["dbname"], autocommit=True) as conn:
        for schema, name, _ in marts:
            conn.execute(sql.SQL("SELECT * FROM {} LIMIT 1").format(sql.Identifier(schema, name))).fetchall()


def test_every_mart_has_exactly_its_documented_columns(built):
    """The contract's YAML columns are the columns in the database, and each has a COMMENT
    (persist_docs), which is what BI tools show as the field description."""
    with connect(built["dbname"]) as conn:
        actual = {}
        for table, column, comment in conn.execute(
            "SELECT c.table_name, c.column_name, col_description(format('%I.%I', c.table_schema, c.table_name)::regclass, "
            "c.ordinal_position) FROM information_schema.columns c WHERE c.table_schema = 'marts'"
        ).fetchall():
            actual.setdefault(table, {})[column] = comment
    for node in built["manifest"]["nodes"].values():
        if node["resource_type"] != "model" or node["schema"] != "marts":
            continue
        table = node["alias"] or node["name"]
        assert set(actual[table]) == set(node["columns"]), table
        undocumented = [c for c, comment in actual[table].items() if not comment]
        assert not undocumented, f"marts.{table}: columns without a COMMENT: {undocumented}"


def test_bi_reader_reads_nothing_outside_marts(built):
    private = _relations(built["dbname"], PRIVATE)
    schemas = {schema for schema, _, _ in private}
    assert {"raw", "staging", "intermediate", "seeds", "snapshots"} <= schemas
    assert ("raw", "logistics__customers", "r") in private  # personal data lives here
    with _as_bi_reader(built["dbname"], autocommit=True) as conn:
        for schema, name, _ in private:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.SQL("SELECT 1 FROM {} LIMIT 1").format(sql.Identifier(schema, name)))


def test_bi_reader_cannot_write_anywhere_even_in_a_read_write_transaction(built):
    """Read-only by session default *and* by privileges: switching the transaction to READ WRITE
    (any client can) still leaves nothing it may change."""
    mart = next(name for schema, name, kind in _relations(built["dbname"], ("marts",)) if kind == "r")
    target = sql.Identifier("marts", mart)
    with _as_bi_reader(built["dbname"]) as conn:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute(sql.SQL("DELETE FROM {}").format(target))
        conn.rollback()
    statements = [
        sql.SQL("INSERT INTO {} DEFAULT VALUES").format(target),
        sql.SQL("UPDATE {} SET {} = NULL").format(target, sql.Identifier(
            next(iter(next(n for n in built["manifest"]["nodes"].values() if n["name"] == mart)["columns"])))),
        sql.SQL("DELETE FROM {}").format(target),
        sql.SQL("TRUNCATE {}").format(target),
        sql.SQL("DROP TABLE {}").format(target),
        sql.SQL("ALTER TABLE {} ADD COLUMN x int").format(target),
        sql.SQL("CREATE TABLE marts.bi_scratch (x int)"),
        sql.SQL("CREATE VIEW marts.bi_scratch AS SELECT 1"),
        sql.SQL("CREATE TABLE public.bi_scratch (x int)"),
        sql.SQL("CREATE TABLE raw.bi_scratch (x int)"),
        sql.SQL("CREATE SCHEMA bi_scratch"),
        sql.SQL("INSERT INTO raw.ingest_ledger DEFAULT VALUES"),
    ]  # fmt: skip
    with _as_bi_reader(built["dbname"]) as conn:
        conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE")
        conn.commit()
        allowed = []
        for statement in statements:
            try:
                conn.execute(statement)
                allowed.append(statement.as_string(conn))
            except psycopg.errors.InsufficientPrivilege:
                pass
            conn.rollback()
        assert not allowed, f"bi_reader was allowed: {allowed}"
        # a GRANT by a non-owner without grant option is a warning that grants nothing
        conn.execute(sql.SQL("GRANT SELECT ON {} TO PUBLIC").format(target))
        conn.commit()
    with connect(built["dbname"]) as conn:
        acl = conn.execute(
            "SELECT relacl::text FROM pg_class WHERE oid = %s::regclass", (f"marts.{mart}",)
        ).fetchone()[0]
    assert "=r/" not in acl.replace("bi_reader=r/", ""), acl


def test_grants_survive_a_dbt_rebuild_of_the_marts(built):
    from tests.dbt_harness import run_dbt

    with connect(built["dbname"]) as conn:
        before = conn.execute("SELECT 'marts.oee_daily'::regclass::oid").fetchone()[0]
    run_dbt(built["dbname"], built["work"], "run", select="path:models/marts")
    with connect(built["dbname"]) as conn:
        after = conn.execute("SELECT 'marts.oee_daily'::regclass::oid").fetchone()[0]
    assert after != before  # the tables were re-created, so their grants had to be given again
    with _as_bi_reader(built["dbname"], autocommit=True) as conn:
        for schema, name, _ in _relations(built["dbname"], ("marts",)):
            conn.execute(sql.SQL("SELECT * FROM {} LIMIT 1").format(sql.Identifier(schema, name))).fetchall()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT 1 FROM raw.logistics__customers")
