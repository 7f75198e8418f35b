"""The project's `view` materialization (dbt_project/macros/materializations/view.sql) on PostgreSQL.

A small dbt project in a temporary folder uses the shipped macro file and builds two views (one
over the other) and a table-turned-view in a scratch database; each step changes the project's
files as a developer would and checks, in the catalogue, what the run did:

* a run with nothing changed leaves the views untouched (no DDL: the catalogue row of the view
  is the same tuple), yet the node succeeds and its data tests run;
* a compatible change (a column added at the end, a new filter) replaces the view in place: the
  view built on it survives, comments and grants stay;
* a changed description updates the comment, and only that;
* an incompatible change (a column renamed) drops and re-creates it, as dbt's own
  materialization does;
* a contract still fails the run on a wrong column type; a table of that name becomes a view.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from factory_assets.dbt_cli import dbt_executable
from tests.dbt_harness import DBT_PROJECT, PG_HOST, PG_PORT, PG_USER, REPO, connect, rows, scratch_database

MACRO = DBT_PROJECT / "macros" / "materializations" / "view.sql"

PROFILE = f"""
viewcheck:
  target: default
  outputs:
    default:
      type: postgres
      host: {PG_HOST}
      port: {PG_PORT}
      user: {PG_USER}
      password: ""
      dbname: "{{{{ env_var('VIEWCHECK_DBNAME') }}}}"
      schema: public
      threads: 1
"""

PROJECT = """
name: viewcheck
version: "1.0"
profile: viewcheck
config-version: 2
model-paths: ["models"]
macro-paths: ["macros"]
flags:
  send_anonymous_usage_stats: false
models:
  viewcheck:
    +materialized: view
    +persist_docs: {relation: true, columns: true}
"""


def _write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())


def _schema_yml(base_doc: str = "The base view.", with_contract: bool = False, amount_type: str = "integer") -> str:
    contract = (
        f"""
    config:
      contract: {{enforced: true}}
    columns:
      - name: id
        data_type: integer
        description: Identifier.
        data_tests: [unique, not_null]
      - name: amount
        data_type: {amount_type}
        description: An amount.
"""
        if with_contract
        else """
    columns:
      - name: id
        description: Identifier.
        data_tests: [unique, not_null]
      - name: amount
        description: An amount.
"""
    )
    return f"""
version: 2
models:
  - name: base
    description: {base_doc}{contract}
  - name: derived
    description: A view over base.
"""


@pytest.fixture
def project(tmp_path) -> dict:
    root = tmp_path / "viewcheck"
    (root / "macros").mkdir(parents=True)
    shutil.copy(MACRO, root / "macros" / MACRO.name)
    _write(root, "dbt_project.yml", PROJECT)
    _write(root, "profiles.yml", PROFILE)
    _write(root, "models/base.sql", "select i as id, i * 10 as amount from generate_series(1, 3) as i\n")
    _write(root, "models/derived.sql", "select id, amount from {{ ref('base') }} where amount > 10\n")
    _write(root, "models/schema.yml", _schema_yml())
    with scratch_database("test_dbt_view_mat") as dbname:
        yield {"root": root, "db": dbname}


def _dbt(project: dict, command: str = "build", expect_ok: bool = True) -> str:
    root = project["root"]
    proc = subprocess.run(
        [dbt_executable(), command, "--project-dir", str(root), "--profiles-dir", str(root),
         "--no-use-colors"],
        cwd=REPO,
        env={**os.environ, "VIEWCHECK_DBNAME": project["db"], "DO_NOT_TRACK": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (proc.returncode == 0) == expect_ok, f"dbt {command} returned {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _catalogue(dbname: str, name: str) -> dict | None:
    """oid, kind, and the catalogue tuple's xmin (changes with any DDL on the relation)."""
    found = rows(
        dbname,
        "SELECT oid::bigint AS oid, relkind, xmin::text AS xmin, obj_description(oid, 'pg_class') AS doc"
        " FROM pg_class WHERE oid = to_regclass(%s)",
        (f"public.{name}",),
    )
    return found[0] if found else None


def test_an_unchanged_view_is_left_alone_and_still_tested(project):
    db = project["db"]
    _dbt(project)
    first = {n: _catalogue(db, n) for n in ("base", "derived")}
    assert first["base"]["relkind"] == "v" and first["base"]["doc"] == "The base view."
    out = _dbt(project)
    assert "PASS=4" in out  # 2 views + 2 data tests, all run
    assert {n: _catalogue(db, n) for n in ("base", "derived")} == first  # no DDL at all
    assert rows(db, "SELECT id FROM public.derived ORDER BY id") == [{"id": 2}, {"id": 3}]


def test_a_compatible_change_replaces_in_place_and_keeps_dependents_and_grants(project):
    db, root = project["db"], project["root"]
    _dbt(project)
    with connect(db, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS viewcheck_reader")
        conn.execute("CREATE ROLE viewcheck_reader")
        conn.execute("GRANT SELECT ON public.base TO viewcheck_reader")
        # a view the dbt project does not know about, built on base
        conn.execute("CREATE VIEW public.outside AS SELECT id FROM public.base")
    try:
        base = _catalogue(db, "base")
        _write(root, "models/base.sql", "select i as id, i * 10 as amount, 'x' as tag from generate_series(1, 4) as i\n")
        _dbt(project)
        after = _catalogue(db, "base")
        assert after["oid"] == base["oid"] and after["xmin"] != base["xmin"]  # replaced in place
        assert rows(db, "SELECT count(*) AS n FROM public.outside") == [{"n": 4}]  # dependent survived
        assert rows(db, "SELECT has_table_privilege('viewcheck_reader', 'public.base', 'SELECT') AS ok") == [{"ok": True}]
        assert rows(db, "SELECT col_description('public.base'::regclass, 1) AS c") == [{"c": "Identifier."}]
    finally:
        with connect(db, autocommit=True) as conn:
            conn.execute("DROP VIEW IF EXISTS public.outside")
            conn.execute("REVOKE ALL ON public.base FROM viewcheck_reader")
            conn.execute("DROP ROLE viewcheck_reader")


def test_a_new_description_updates_the_comment_only(project):
    db, root = project["db"], project["root"]
    _dbt(project)
    before = _catalogue(db, "derived")
    _write(root, "models/schema.yml", _schema_yml(base_doc="The base view, documented again."))
    _dbt(project)
    assert _catalogue(db, "base")["doc"] == "The base view, documented again."
    assert _catalogue(db, "derived") == before  # its docs did not change: untouched


def test_an_incompatible_change_recreates_the_view(project):
    db, root = project["db"], project["root"]
    _dbt(project)
    base = _catalogue(db, "base")
    _write(root, "models/base.sql", "select i as id, i * 10 as total from generate_series(1, 3) as i\n")
    _write(root, "models/derived.sql", "select id, total from {{ ref('base') }} where total > 10\n")
    _dbt(project, "run")
    assert _catalogue(db, "base")["oid"] != base["oid"]  # dropped (CASCADE) and created again
    assert rows(db, "SELECT id, total FROM public.derived ORDER BY id") == [
        {"id": 2, "total": 20},
        {"id": 3, "total": 30},
    ]


def test_contracts_still_hold_and_a_table_becomes_a_view(project):
    db, root = project["db"], project["root"]
    with connect(db, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.base AS SELECT 1 AS id")  # an older build left a table
    _write(root, "models/schema.yml", _schema_yml(with_contract=True, amount_type="text"))
    out = _dbt(project, "run", expect_ok=False)
    assert "contract" in out.lower() and "amount" in out
    assert _catalogue(db, "base")["relkind"] == "r"  # nothing was changed by the failed run
    _write(root, "models/schema.yml", _schema_yml(with_contract=True))
    _dbt(project, "run")
    assert _catalogue(db, "base")["relkind"] == "v"
    assert rows(db, "SELECT count(*) AS n FROM public.base") == [{"n": 3}]
