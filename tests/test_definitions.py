"""The code location: one lineage graph, checks, sensors, jobs and automation as designed."""

from __future__ import annotations

import dagster as dg
import pytest

from factory_assets.dbt_assets import DBT_RUN_TAGS


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from factory_assets.definitions import defs as lazy

    return lazy()


def test_every_dbt_source_is_a_python_asset_so_lineage_is_one_graph(defs):
    graph = defs.resolve_asset_graph()
    materializable = {k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable}
    staging = [k for k in graph.get_all_asset_keys() if k.path[0] == "staging"]
    assert staging
    for key in staging:
        parents = graph.get(key).parent_keys
        assert parents, f"{key} has no upstream"
        for parent in parents:
            assert parent in materializable or parent == dg.AssetKey(["ingest", "ledger"]), (key, parent)
    marts = graph.get(dg.AssetKey(["marts", "machine_sessions"]))
    upstream = graph.upstream_key_iterator(marts.key)
    assert dg.AssetKey(["machine_logs", "pieces"]) in set(upstream)


def test_dbt_tests_and_row_conservation_are_asset_checks(defs):
    checks = {(c.asset_key.to_user_string(), c.name) for c in defs.resolve_asset_graph().asset_check_keys}
    assert ("machine_logs/sessions", "lines_conserved") in checks
    assert any(a == "marts/machine_sessions" and "unique" in n for a, n in checks)


def test_dbt_models_update_by_automation_and_ingestion_is_partitioned(defs):
    graph = defs.resolve_asset_graph()
    mart = graph.get(dg.AssetKey(["marts", "machine_sessions"]))
    assert mart.automation_condition is not None
    assert "eager_raw_to_marts" in str(mart.automation_condition.get_label())
    pieces = graph.get(dg.AssetKey(["machine_logs", "pieces"]))
    assert isinstance(pieces.partitions_def, dg.DailyPartitionsDefinition)


def test_sensors_are_on_by_default_and_tag_runs_for_the_queue(defs):
    sensors = {s.name: s for s in defs.sensors}
    assert sensors["machine_logs_landing_sensor"].default_status == dg.DefaultSensorStatus.RUNNING
    automation = sensors["raw_to_marts_automation"]
    assert automation.default_status == dg.DefaultSensorStatus.RUNNING
    assert automation.run_tags == DBT_RUN_TAGS
    assert defs.resolve_job_def("dbt_build").tags == DBT_RUN_TAGS


def test_secrets_are_env_vars_not_values(monkeypatch):
    monkeypatch.setenv("FACTORY_SFTP_PASSWORD", "s3cret-value")
    monkeypatch.setenv("FACTORY_WAREHOUSE_URL", "postgresql://u:pw@db/factory")
    from factory_assets.resources_config import build_resources

    res = build_resources()
    assert isinstance(res["landing"].sftp_password, dg.EnvVar)
    assert isinstance(res["warehouse"].url, dg.EnvVar)
    assert "s3cret-value" not in repr(res)
