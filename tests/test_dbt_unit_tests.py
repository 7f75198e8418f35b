"""Every dbt unit test of the project, once per suite, on an empty scratch warehouse.

dbt unit tests (``unit_tests:`` in the models' YAML: hand-computed sequences for the stock card,
OEE shifts, order status, on-time rules, …) check a model's SQL on fixed input rows, whatever
the warehouse holds. They only need the models' parents to exist, for their column types, so
the whole project is built on a freshly migrated warehouse (empty raw tables: every relation,
next to no rows; dbt's ``--empty`` flag cannot be used, it breaks ``{{ ref(...) }} as alias``) and
then ``dbt test`` runs the unit tests alone. The scenario modules (tests/test_dbt_*.py) leave them out of their
builds (tests/dbt_harness.py), so each runs once here rather than once per scenario step.

The test fails if any unit test fails, and if the run did not execute exactly the unit tests
the manifest declares (a unit test silently left out is a test lost).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.dbt_harness import run_dbt, scratch_database


@pytest.fixture(scope="module")
def empty_warehouse(tmp_path_factory) -> Iterator[tuple[str, object]]:
    with scratch_database("test_dbt_unit") as dbname:
        work = tmp_path_factory.mktemp("dbt_unit")
        run_dbt(dbname, work, "build", "--exclude-resource-type", "test")
        yield dbname, work


def test_every_unit_test_of_the_project_passes(empty_warehouse):
    dbname, work = empty_warehouse
    run_dbt(dbname, work, "test", select="test_type:unit", unit_tests=True)  # asserts dbt succeeded

    manifest = json.loads((work / "target" / "manifest.json").read_text())
    declared = set(manifest["unit_tests"])
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    ran = {r["unique_id"]: r["status"] for r in results if r["unique_id"].startswith("unit_test.")}
    assert len(declared) >= 30, sorted(declared)  # the project's hand-computed sequences
    assert set(ran) == declared, {"not run": sorted(declared - set(ran)), "unexpected": sorted(set(ran) - declared)}
    assert set(ran.values()) == {"pass"}, {k: v for k, v in ran.items() if v != "pass"}
