"""The code location: one lineage graph, checks, sensors, jobs and automation as designed."""

from __future__ import annotations

import dagster as dg
import pytest

from factory_assets.dbt_assets import DBT_RUN_TAGS
from factory_assets.machine_logs.kind import machine_log_partitions

DATA_VERSION_TAG = "dagster/data_version"  # the tag a materialisation carries its data version in

SHARED_TABLES = {dg.AssetKey(["ingest", "ledger"]), dg.AssetKey(["ingest", "rejects"])}
MACHINE_LOG_PARTITIONED = [
    ["staging", "stg_machine_logs__sessions"],
    ["staging", "stg_machine_logs__pieces"],
    ["intermediate", "int_machine_logs__session_intervals"],
    ["marts", "machine_sessions"],
    ["marts", "machine_stops"],
]
# whole-history aggregates, other domains' data, or rows depending on neighbouring dates
UNPARTITIONED = [
    ["marts", "oee_daily"],
    ["marts", "stop_pareto"],
    ["marts", "data_quality_daily"],
    ["marts", "production_fact"],
    ["seeds", "shift_calendar"],
]


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
            assert parent in materializable or parent in SHARED_TABLES, (key, parent)
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
    assert DBT_RUN_TAGS.items() <= automation.run_tags.items()
    assert defs.resolve_job_def("dbt_build").tags.items() >= DBT_RUN_TAGS.items()
    assert defs.resolve_job_def("dbt_build_machine_logs").tags.items() >= DBT_RUN_TAGS.items()


def test_machine_log_dbt_models_are_partitioned_like_the_ingestion(defs):
    graph = defs.resolve_asset_graph()
    ingest = graph.get(dg.AssetKey(["machine_logs", "sessions"]))
    assert ingest.partitions_def == machine_log_partitions()
    for path in MACHINE_LOG_PARTITIONED:
        node = graph.get(dg.AssetKey(path))
        assert node.partitions_def == machine_log_partitions(), path
        assert isinstance(node.partitions_def, dg.DailyPartitionsDefinition)
        assert node.backfill_policy == dg.BackfillPolicy.single_run(), path
    for path in UNPARTITIONED:
        assert graph.get(dg.AssetKey(path)).partitions_def is None, path
    # raw partition P -> dbt partition P (identity), not all partitions
    mapping = graph.get_partition_mapping(dg.AssetKey(["staging", "stg_machine_logs__pieces"]), ingest.key)
    assert isinstance(mapping, dg.TimeWindowPartitionMapping)
    assert (mapping.start_offset, mapping.end_offset) == (0, 0)


def test_automation_and_jobs_cover_both_dbt_definitions(defs):
    graph = defs.resolve_asset_graph()
    automation = {s.name: s for s in defs.sensors}["raw_to_marts_automation"]
    targeted = automation.asset_selection.resolve(graph)
    # below the landing sensors' refresh runs in the queue (they carry no priority tag: 0)
    assert int(automation.run_tags["dagster/priority"]) < 0
    assert DBT_RUN_TAGS.items() <= automation.run_tags.items()
    for path in MACHINE_LOG_PARTITIONED + UNPARTITIONED[:3]:
        assert dg.AssetKey(path) in targeted, path
    for path in MACHINE_LOG_PARTITIONED + UNPARTITIONED[:3]:
        condition = graph.get(dg.AssetKey(path)).automation_condition
        assert "eager_raw_to_marts" in str(condition.get_label()), path
        # not limited to the latest day: a late log for an older day must update that day
        assert "in_latest_time_window" not in repr(condition), path
    partitioned = defs.resolve_job_def("dbt_build_machine_logs")
    assert partitioned.partitions_def == machine_log_partitions()
    assert dg.AssetKey(["marts", "machine_sessions"]) in partitioned.asset_layer.executable_asset_keys
    whole = defs.resolve_job_def("dbt_build")
    assert whole.partitions_def is None
    assert dg.AssetKey(["marts", "oee_daily"]) in whole.asset_layer.executable_asset_keys
    assert dg.AssetKey(["marts", "machine_sessions"]) not in whole.asset_layer.executable_asset_keys


def test_no_dbt_test_reads_models_of_both_dbt_definitions():
    """Such a test would also run (eager indirect selection) in the other definition's runs,
    against a day that definition did not build."""
    import json

    from factory_assets.dbt_assets import build_dbt_assets, dbt_project

    partitioned, other = build_dbt_assets({"machine_logs": machine_log_partitions()})
    names = {k.path[-1] for k in partitioned.keys}
    manifest = json.loads(dbt_project().manifest_path.read_text())
    for node in manifest["nodes"].values():
        if node["resource_type"] == "test":
            parents = [d.split(".")[-1] for d in node["depends_on"]["nodes"] if not d.startswith("source.")]
            assert len({p in names for p in parents}) <= 1, (node["name"], parents)


@pytest.mark.parametrize(
    ("partition_key", "expected"),
    [
        ("2026-03-02", {"min_date": "2026-03-02", "max_date": "2026-03-02"}),
        (
            dg.PartitionKeyRange("2026-03-01", "2026-03-04"),
            {"min_date": "2026-03-01", "max_date": "2026-03-04"},
        ),
    ],
)
def test_a_partitioned_dbt_run_passes_its_dates_to_dbt(monkeypatch, partition_key, expected, tmp_path):
    """The date window goes to dbt in the environment (not --vars: a run per date would make dbt
    re-parse the whole project each time); models are built first, then tested."""
    import os

    from factory_assets import dbt_assets

    calls: list[tuple[list[str], dict]] = []

    class RecordingDbt(dg.ConfigurableResource):
        def cli(self, args, context):
            env = {k: os.environ.get(k) for k in ("FACTORY_DBT_MIN_DATE", "FACTORY_DBT_MAX_DATE")}
            calls.append((list(args), env))
            return type("Invocation", (), {"stream": lambda _self: iter(()), "target_path": tmp_path})()

    monkeypatch.setattr(dbt_assets, "prepare_warehouse", lambda context, dbt, warehouse: None)
    assets = dbt_assets.build_dbt_assets({"machine_logs": machine_log_partitions()})[0]
    kwargs = (
        {"partition_key": partition_key}
        if isinstance(partition_key, str)
        else {
            "tags": {
                "dagster/asset_partition_range_start": partition_key.start,
                "dagster/asset_partition_range_end": partition_key.end,
            }
        }
    )
    result = dg.materialize(
        [assets], resources={"dbt": RecordingDbt(), "warehouse": RecordingDbt()}, **kwargs
    )
    assert result.success
    assert [args[0] for args, _ in calls] == ["build", "test"]
    assert "test" in calls[0][0] and "unit_test" in calls[0][0]  # excluded from the first step
    assert calls[1][0][calls[1][0].index("--exclude-resource-type") + 1] == "unit_test"  # CI runs them
    window = {
        "min_date": calls[0][1]["FACTORY_DBT_MIN_DATE"],
        "max_date": calls[0][1]["FACTORY_DBT_MAX_DATE"],
    }
    assert window == expected and calls[1][1] == calls[0][1]
    assert os.environ.get("FACTORY_DBT_MIN_DATE") is None  # not left behind for the next step


def test_secrets_are_env_vars_not_values(monkeypatch):
    monkeypatch.setenv("FACTORY_SFTP_PASSWORD", "s3cret-value")
    monkeypatch.setenv("FACTORY_WAREHOUSE_URL", "postgresql://u:pw@db/factory")
    from factory_assets.resources_config import build_resources

    res = build_resources()
    assert isinstance(res["landing"].sftp_password, dg.EnvVar)
    assert isinstance(res["warehouse"].url, dg.EnvVar)
    assert "s3cret-value" not in repr(res)


def test_nothing_reads_the_factory_environment_at_import_time():
    """Importing every module of the code location reads no FACTORY_* variable: the environment
    is read when Dagster loads the definitions (or a run starts), so one image serves every site."""
    import subprocess
    import sys

    probe = """
import os, pkgutil, importlib
reads = []
class Env(dict):
    def _note(self, key):
        if str(key).startswith("FACTORY_"):
            reads.append(key)
    def get(self, key, default=None):
        self._note(key); return super().get(key, default)
    def __getitem__(self, key):
        self._note(key); return super().__getitem__(key)
    def __contains__(self, key):
        self._note(key); return super().__contains__(key)
os.environ = Env(os.environ)
import factory_assets, resources, sensors
for pkg in (factory_assets, resources, sensors):
    for mod in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        importlib.import_module(mod.name)
print(sorted(set(reads)))
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_resources_are_the_bottom_layer():
    """resources/ imports nothing from factory_assets or sensors, and its modules form no cycle."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "resources"
    graph: dict[str, set[str]] = {}
    for path in root.glob("*.py"):
        mod = f"resources.{path.stem}"
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                assert not name.startswith(("factory_assets", "sensors")), (mod, name)
                if name.startswith("resources.") and (root / f"{name.split('.')[1]}.py").exists():
                    deps.add(f"resources.{name.split('.')[1]}")
        graph[mod] = deps - {mod}

    def reaches(start, target, seen=()):
        return any(
            d == target or (d not in seen and reaches(d, target, (*seen, d))) for d in graph.get(start, ())
        )

    cycles = [m for m in graph if reaches(m, m)]
    assert not cycles, cycles


def _refreshed(defs, job_name: str) -> set[str]:
    job = defs.resolve_job_def(job_name)
    return {"/".join(k.path) for k in job.asset_layer.selected_asset_keys}


def test_a_refresh_run_rebuilds_its_domain_and_the_cross_domain_readers_only(defs):
    """A machine-log file refreshes the machine-log models and what reads the shared ledger for
    every source (data quality), not the operations or logistics models that read only their own
    rows of it; their own refresh runs still include them."""
    machine = _refreshed(defs, "machine_logs_refresh_job")
    assert {
        "marts/machine_sessions",
        "marts/oee_daily",
        "marts/stop_pareto",
        "marts/data_quality_daily",
    } <= machine
    assert {"staging/stg_ingest__ledger", "staging/stg_ingest__rejects"} <= machine
    others = {"staging/stg_operations__operations", "marts/operations", "staging/stg_logistics__visits",
              "marts/sla_by_technician_daily", "marts/order_status"}  # fmt: skip
    assert not machine & others
    operations = _refreshed(defs, "operations_refresh_job")
    assert {
        "staging/stg_operations__operations",
        "marts/operations",
        "marts/data_quality_daily",
    } <= operations
    assert "marts/machine_sessions" not in operations
    assert {"staging/stg_logistics__visits", "marts/sla_by_technician_daily"} <= _refreshed(
        defs, "logistics_visits_refresh_job"
    )


def test_own_source_readers_of_the_shared_tables_ignore_other_sources_updates(defs):
    """The automation must not rebuild the operations models after every machine-log file just
    because the shared ledger changed; a change of their own raw tables still does."""
    from factory_assets.tags import SHARED_SCOPE_TAG

    graph = defs.resolve_asset_graph()
    scoped = {
        k for k in graph.get_all_asset_keys() if graph.get(k).tags.get(SHARED_SCOPE_TAG) == "own_source"
    }
    assert dg.AssetKey(["staging", "stg_operations__operations"]) in scoped
    assert dg.AssetKey(["staging", "stg_ingest__ledger"]) not in scoped
    for key in scoped:
        parents = graph.get(key).parent_keys
        assert parents & SHARED_TABLES and parents - SHARED_TABLES, key  # own raw tables too
        text = str(graph.get(key).automation_condition)
        assert "ignore_selection=KeysAssetSelection" in text and "ledger" in text, key


def test_a_sql_sync_that_changed_no_row_rebuilds_nothing_downstream(defs):
    """The MES is synced every 15 minutes: the models reading a mirror are requested by the
    automation when a sync changed rows (a new data version), not after every sync."""
    graph = defs.resolve_asset_graph()
    mirror = dg.AssetKey(["mes", "ordine"])
    children = graph.get(mirror).child_keys
    assert children, "nothing reads the MES order mirror"
    selection = dg.AssetSelection.assets(*children)

    with dg.instance_for_test() as instance:

        def report(key: dg.AssetKey, version: str | None = None) -> None:
            tags = {DATA_VERSION_TAG: version} if version else None
            instance.report_runless_asset_event(dg.AssetMaterialization(key, tags=tags))

        def tick(cursor=None):
            return dg.evaluate_automation_conditions(
                defs=defs, instance=instance, asset_selection=selection, cursor=cursor
            )

        for key in children:  # built once: nothing is missing
            report(key)
        report(mirror, "41")
        result = tick()
        report(mirror, "41")  # a sync that found nothing new
        result = tick(result.cursor)
        assert result.total_requested == 0
        report(mirror, "57")  # a sync that changed rows
        result = tick(result.cursor)
        requested = {key for key in children if result.get_num_requested(key)}
        assert requested == set(children)


def test_automation_keeps_a_chain_in_one_run_and_leaves_what_a_run_built_together():
    """The models' condition, on small real assets and real runs: a mart downstream of a model is
    requested in the same tick as the model (one run for the chain); a run that built the sources
    and the models together leaves nothing to rebuild; a SQL mirror counts when its data version
    changed, a file-based raw asset on every materialisation."""
    from factory_assets.dbt_assets import raw_to_marts_condition
    from factory_assets.sql_sources.tables import TABLES

    version = {"mirror": 1}

    @dg.asset(key=TABLES[0].asset_key)
    def mirror() -> dg.MaterializeResult:
        return dg.MaterializeResult(data_version=dg.DataVersion(str(version["mirror"])))

    @dg.asset(key=["landing", "file_kind"])
    def files() -> None: ...

    @dg.asset(key=["staging", "model"], deps=[mirror, files], automation_condition=raw_to_marts_condition())
    def model() -> None: ...

    @dg.asset(key=["marts", "mart"], deps=[model], automation_condition=raw_to_marts_condition())
    def mart() -> None: ...

    assets = [mirror, files, model, mart]
    defs = dg.Definitions(assets=assets)
    with dg.instance_for_test() as instance:
        cursor = None

        def tick() -> set[str]:
            nonlocal cursor
            result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
            cursor = result.cursor
            return {a.key.path[-1] for a in assets if result.get_num_requested(a.key)}

        dg.materialize(assets, instance=instance)
        assert tick() == set()
        version["mirror"] = 2  # new rows, but synced by a run that also built the models
        dg.materialize(assets, instance=instance)
        assert tick() == set()
        dg.materialize([files], instance=instance)  # a new file version
        assert tick() == {"model", "mart"}
        dg.materialize(assets, instance=instance)
        assert tick() == set()
        dg.materialize([mirror], instance=instance)  # a sync that changed nothing
        assert tick() == set()
        version["mirror"] = 3
        dg.materialize([mirror], instance=instance)  # a sync that changed rows
        assert tick() == {"model", "mart"}


def test_data_quality_summary_is_downstream_of_the_mart_and_scheduled_daily(defs):
    graph = defs.resolve_asset_graph()
    summary = graph.get(dg.AssetKey(["data_quality_summary"]))
    assert dg.AssetKey(["marts", "data_quality_daily"]) in summary.parent_keys
    assert summary.partitions_def is None
    schedules = {s.name: s for s in defs.schedules}
    schedule = schedules["data_quality_summary_schedule"]
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert defs.resolve_job_def(schedule.job_name).asset_layer.executable_asset_keys == {summary.key}


def test_refresh_runs_leave_out_exposures_and_scheduled_reports(defs):
    machine = _refreshed(defs, "machine_logs_refresh_job")
    assert "data_quality_summary" not in machine  # its own daily schedule
    assert not {k for k in machine if k.startswith("exposures/")}
    assert "machine_logs/pieces" in machine  # the ingestion asset itself


def test_the_lean_dbt_resource_knows_the_cli_version_without_asking_it():
    """FactoryDbtCliResource skips ``dbt --version`` and the in-process adapter: the hooks it
    overrides must still exist upstream, and the version it assumes must be the CLI's."""
    import re
    import subprocess

    from dagster_dbt import DbtCliResource

    from factory_assets.dbt_assets import FactoryDbtCliResource, dbt_resource

    for hook in ("_cli_version", "_initialize_dbt_core_adapter"):
        assert hasattr(DbtCliResource, hook) and hook in FactoryDbtCliResource.__dict__, hook
    resource = dbt_resource()
    out = subprocess.run([resource.dbt_executable, "--version"], capture_output=True, text=True, check=True)
    core = re.search(r"installed:\s*([0-9][^\s]*)", out.stdout + out.stderr).group(1)
    assert str(resource._cli_version) == core
    assert resource._initialize_dbt_core_adapter(["build"]) is None


@pytest.mark.parametrize(
    ("selection", "expected"),
    [("models", ["build"]), ("checks", ["test"]), ("both", ["build", "test"])],
)
def test_a_dbt_step_runs_only_what_its_run_selected(monkeypatch, tmp_path, selection, expected):
    from factory_assets import dbt_assets

    calls: list[list[str]] = []

    class RecordingDbt(dg.ConfigurableResource):
        def cli(self, args, context):
            calls.append(list(args))
            return type("Invocation", (), {"stream": lambda _self: iter(()), "target_path": tmp_path})()

    monkeypatch.setattr(dbt_assets, "prepare_warehouse", lambda context, dbt, warehouse: None)
    assets = dbt_assets.build_dbt_assets({"machine_logs": machine_log_partitions()})[-1]  # unpartitioned
    key = dg.AssetKey(["marts", "oee_daily"])
    checks = [c for c in assets.check_keys if c.asset_key == key]
    chosen = {
        "models": dg.AssetSelection.assets(key).without_checks(),
        "checks": dg.AssetSelection.checks(*checks),
        "both": dg.AssetSelection.assets(key),
    }[selection]
    result = dg.materialize(
        [assets],
        selection=chosen,
        resources={"dbt": RecordingDbt(), "warehouse": RecordingDbt()},
        raise_on_error=False,
    )
    assert [c[0] for c in calls] == expected, result
