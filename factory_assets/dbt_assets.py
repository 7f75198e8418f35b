"""dbt models as Dagster assets: one lineage graph from landing files to marts.

* dbt sources carry ``meta.dagster.asset_key`` = the Python ingestion assets' keys, so the
  graph is connected (dagster-dbt reads that meta by default).
* dbt tests become asset checks.
* Every model updates by declarative automation when anything upstream updates
  (:func:`raw_to_marts_condition`); the automation sensor tags those runs ``factory/dbt`` so
  the run queue allows one dbt build at a time.
* Which models are date-partitioned is declared **in dbt**: a model whose config has
  ``meta: {factory_partitions: <name>}`` shares the daily partitions named ``<name>`` (the file
  kind's, e.g. ``machine_logs``), and its runs get the partition range as dbt vars ``min_date``
  / ``max_date``. :func:`build_dbt_assets` makes one ``@dbt_assets`` per partitioning found in the
  manifest, plus one for every other model, seed and snapshot (rebuilt whole).
* Nothing runs at import: the project is prepared (``DbtProject.prepare_if_dev``, or a ``dbt
  parse`` when the manifest is missing or older than the project) on first use.
"""

import functools
import json
import os
import shutil
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
from dagster_dbt import (
    DagsterDbtProjectPreparer,
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from factory_assets.dbt_cli import dbt_executable
from factory_assets.ingest.factory import SHARED_TABLE_KEYS
from factory_assets.sql_sources.tables import TABLES as SQL_SOURCE_TABLES
from factory_assets.tags import DBT_RUN_TAGS, PHASE_TAG, SHARED_SCOPE_TAG
from resources import settings
from resources.warehouse import WarehouseResource

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"
PARTITIONS_META = "factory_partitions"  # model config meta key naming the model's partitioning
# Model config meta key: ``own_source`` = the model reads only its own domain's rows of the shared
# ledger / reject table (it joins them to its domain's raw tables). Another source's files update
# those shared tables without changing the model, so such updates neither make it stale for the
# automation nor pull it into that source's refresh runs (SHARED_SCOPE_TAG, ReadersOfSharedTables).
SHARED_TABLES_META = "factory_shared_tables"


def manifest_is_stale(manifest: Path) -> bool:
    """Missing, or older than any file dbt reads: a stale manifest makes dagster-dbt fail on
    models it does not know, so it is rebuilt (a ``dbt parse`` costs a few seconds)."""
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    for folder in ("models", "macros", "seeds", "snapshots", "tests"):
        sources.extend(p for p in (DBT_PROJECT_DIR / folder).rglob("*") if p.is_file())
    return any(p.stat().st_mtime > built for p in sources if p.exists())


class _Preparer(DagsterDbtProjectPreparer):
    """dagster-dbt's preparer, running the dbt of this environment (not whatever is on PATH)."""

    def _prepare_manifest(self, project: DbtProject) -> None:
        DbtCliResource(project_dir=project, dbt_executable=dbt_executable()).cli(
            ["parse", "--quiet"], target_path=project.target_path
        ).wait()


@functools.cache
def dbt_project() -> DbtProject:
    """The dbt project, prepared like ``DbtProject.prepare_if_dev`` does it.

    Under ``dagster dev`` the preparer re-parses on every load; otherwise the manifest built by
    ``make setup`` is used, and re-parsed by the same preparer only if missing or stale.
    """
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    preparer = _Preparer()
    preparer.prepare_if_dev(project)  # what project.prepare_if_dev() does, with our dbt
    if manifest_is_stale(project.manifest_path):
        preparer.prepare(project)
    return project


def any_deps_changed() -> dg.AutomationCondition:
    """A dependency has new data since the last evaluation, or will be requested on this tick.

    Dagster's ``any_deps_updated()`` for every dependency but the SQL-source mirrors: a new
    materialisation of a file-based raw asset or a model (not one made by a run that also built
    this asset), or a dependency requested in the same tick (so a chain of models is one run).
    A SQL-source mirror counts only when a sync inserted, updated or deleted rows, i.e. when its
    data version changed (``sql_sources.sync.mirror_data_version``). The MES is synced every 15
    minutes and the plant database hourly; without this, every such sync rebuilt its models
    whether or not anything had changed, and the run held the one dbt slot of the run queue while
    a fresh machine-log file waited behind it.
    """
    sql_mirrors = dg.AssetSelection.assets(*(dg.AssetKey(t.asset_key) for t in SQL_SOURCE_TABLES))
    changed_mirror = (
        dg.AutomationCondition.data_version_changed() & ~dg.AutomationCondition.executed_with_root_target()
    ).with_label("data_version_changed_without_root")
    return (
        dg.AutomationCondition.any_deps_updated().ignore(sql_mirrors)
        | dg.AutomationCondition.any_deps_match(changed_mirror).allow(sql_mirrors)
    ).with_label("any_deps_changed")


def raw_to_partition_condition() -> dg.AutomationCondition:
    """For date-partitioned models: a partition is built when one of its upstream partitions was
    updated, never merely because it is missing (most dates of a partitioned ingestion have no
    file, so "missing" would mean building every date since the partitions' start)."""
    return (
        any_deps_changed().since_last_handled()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("eager_raw_to_marts")


def raw_to_marts_condition() -> dg.AutomationCondition:
    """Like ``eager()``, for models downstream of daily-partitioned raw assets.

    ``eager()`` waits while any dependency partition is missing, and for a model depending on
    daily partitions most days have no file — it would never fire. This condition runs when any
    dependency updated (or the model is newly missing), once nothing upstream is in progress.

    Evaluated per partition for the date-partitioned models: raw partition P updated -> model
    partition P (identity mapping), for any day, not only the latest time window, so a late log
    for an older day rebuilds that day; the partitions requested in one tick go into one range
    run (``BackfillPolicy.single_run``). Unpartitioned models downstream fire when any partition
    of a dependency updated.
    """
    return (
        (dg.AutomationCondition.newly_missing() | any_deps_changed()).since_last_handled()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("eager_raw_to_marts")


class FactoryTranslator(DagsterDbtTranslator):
    """Keys ``[schema, model]``; groups by domain folder (``models/<layer>/<domain>/``)."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        schema = dbt_resource_props.get("schema") or "dbt"
        return dg.AssetKey([schema, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[2] if len(fqn) > 3 else "dbt"

    def get_automation_condition(
        self, dbt_resource_props: Mapping[str, Any]
    ) -> dg.AutomationCondition | None:
        if dbt_resource_props["resource_type"] not in ("model", "snapshot"):
            return None
        meta = dbt_resource_props.get("config", {}).get("meta") or {}
        condition = raw_to_partition_condition() if meta.get(PARTITIONS_META) else raw_to_marts_condition()
        if meta.get(SHARED_TABLES_META) == "own_source":
            # its own raw tables are updated by the same runs as its rows of the shared tables
            condition = condition.ignore(dg.AssetSelection.assets(*SHARED_TABLE_KEYS))
        return condition

    def get_tags(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, str]:
        tags = dict(super().get_tags(dbt_resource_props))
        meta = dbt_resource_props.get("config", {}).get("meta") or {}
        if meta.get(SHARED_TABLES_META) == "own_source":
            tags[SHARED_SCOPE_TAG] = "own_source"
        return tags

    def get_metadata(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, Any]:
        """dagster-dbt's metadata plus ``dbt_docs``: a link to the node's page of the dbt docs
        site (``factory docs``; base URL ``FACTORY_DBT_DOCS_URL``, default http://127.0.0.1:8080)."""
        base = (os.environ.get("FACTORY_DBT_DOCS_URL") or "http://127.0.0.1:8080").rstrip("/")
        kind, uid = dbt_resource_props["resource_type"], dbt_resource_props["unique_id"]
        return {
            **super().get_metadata(dbt_resource_props),
            "dbt_docs": dg.MetadataValue.url(f"{base}/#!/{kind}/{uid}"),
        }


TRANSLATOR = FactoryTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def partitioned_models(manifest_path: Path) -> dict[str, list[str]]:
    """``{partitioning name: [model names]}`` from the models' ``meta.factory_partitions``."""
    manifest = json.loads(manifest_path.read_text())
    out: dict[str, list[str]] = defaultdict(list)
    for node in manifest["nodes"].values():
        if node.get("resource_type") != "model":
            continue
        name = (node.get("config", {}).get("meta") or {}).get(PARTITIONS_META)
        if name:
            out[name].append(node["name"])
    return {k: sorted(v) for k, v in sorted(out.items())}


def partition_date_vars(context: dg.AssetExecutionContext) -> dict[str, str]:
    """The date window of a partitioned run: the first and last date of its partition range
    (inclusive, plant-local ISO dates = the partition keys), as the environment variables that
    macros/partition_window.sql reads."""
    keys = context.partition_key_range
    return {"FACTORY_DBT_MIN_DATE": keys.start, "FACTORY_DBT_MAX_DATE": keys.end}


KEEP_TARGETS = 10  # per-invocation dbt target folders kept for debugging (each holds a manifest copy)


# Data tests of what the run built. dbt unit tests check the SQL's logic on fixed inputs, not the
# data: they run in `make test` (tests/test_dbt_*.py build with them) and on every change of the
# project, not in every production run, where they cost 1-3 s each (about 10 s of every
# machine-log refresh) and Dagster shows nothing of them anyway (dagster-dbt maps no unit test to
# an asset check).
TESTS = ["test", "--exclude-resource-type", "unit_test"]


def _run_dbt(context, dbt: DbtCliResource, env: dict[str, str] | None = None):
    """Build the selected models, then test them, and tidy up after dbt.

    * Models (and seeds, snapshots) first, then their data tests (``dbt test``, see :data:`TESTS`), in the
      same step: a mart is visible as soon as its SQL ran instead of after every test of
      everything upstream; test results arrive as asset checks a few seconds later (and a
      failure alerts), they just do not hold the marts back. Only what the run selected: a
      checks-only run (the UI's "Execute" of a check) builds nothing, a models-only one tests
      nothing. (Tests in a run of their own, after the refresh run, were measured and dropped:
      two more runs per file filled the one-dbt-run-at-a-time queue; docs/benchmarks.md.)
    * Runs of the same project share dbt's partial-parse file: the one a run leaves is copied
      back to ``dbt_project/target`` (the next invocation starts from it), so an unchanged project
      is not parsed again; ``env`` (the date window) does not invalidate it as ``--vars`` would.
    * Each invocation has its own target folder; only the newest :data:`KEEP_TARGETS` are kept,
      so a site running for years does not fill its disk with manifests.
    """
    saved = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    models = ["build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
    commands = [
        *([models] if context.selected_asset_keys else []),  # a checks-only run builds nothing
        *([TESTS] if context.selected_asset_check_keys else []),
    ]
    try:
        for command in commands:
            invocation = dbt.cli(command, context=context)
            yield from invocation.stream()
            _keep_partial_parse(invocation.target_path)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _prune_targets()


def _keep_partial_parse(target: Path) -> None:
    source = Path(target) / "partial_parse.msgpack"
    if source.exists():
        dest = DBT_PROJECT_DIR / "target" / "partial_parse.msgpack"
        tmp = dest.with_name(f".partial_parse.{os.getpid()}.tmp")
        shutil.copyfile(source, tmp)
        os.replace(tmp, dest)


def _prune_targets() -> None:
    root = DBT_PROJECT_DIR / "target"
    runs = (
        sorted(
            (
                p
                for p in root.iterdir()
                if p.is_dir() and (p / "run_results.json").exists() and p.name not in ("compiled", "run")
            ),
            key=lambda p: p.stat().st_mtime,
        )
        if root.exists()
        else []
    )
    for old in runs[:-KEEP_TARGETS]:
        shutil.rmtree(old, ignore_errors=True)


def _missing_seeds(url: str, manifest_path: Path) -> list[str]:
    manifest = json.loads(manifest_path.read_text())
    seeds = [
        (n["schema"], n["alias"] or n["name"])
        for n in manifest["nodes"].values()
        if n["resource_type"] == "seed"
    ]
    if not seeds:
        return []
    with psycopg.connect(settings.libpq_url(url), connect_timeout=10) as conn:
        present = set(
            conn.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
        )
    return [f"{s}.{t}" for s, t in seeds if (s, t) not in present]


def prepare_warehouse(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
) -> None:
    """Before any dbt build: raw schema migrated (sources exist before the first file), the
    profile pointed at the warehouse, and the seeds built if a fresh warehouse lacks them (unit
    tests and models of any selection read them; the daemon's first automation run on a new
    site must not depend on someone having run ``factory materialize``)."""
    from factory_assets.ingest.migrate import ensure_schema
    from factory_assets.ingest.roles import prepare_bi_reader

    ensure_schema(warehouse)
    prepare_bi_reader(warehouse, context.log)  # the read-only BI role and its grants (DESIGN.md §7)
    url = warehouse.resolved_url()
    os.environ.update(settings.dbt_env(url))
    missing = _missing_seeds(url, dbt_project().manifest_path)
    if missing:
        context.log.info(f"building seeds missing from this warehouse first: {', '.join(missing)}")
        dbt.cli(["seed"], manifest=dbt_project().manifest_path).wait()


def _build_partitioned(
    name: str, models: list[str], partitions: dg.PartitionsDefinition
) -> dg.AssetsDefinition:
    project = dbt_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        select=" ".join(models),
        dagster_dbt_translator=TRANSLATOR,
        name=f"factory_dbt_{name}_models",
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        op_tags=DBT_RUN_TAGS,
    )
    def _models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
        prepare_warehouse(context, dbt, warehouse)
        # a checks-only run launched from the UI may have no partition: tests read the whole model
        window = (
            partition_date_vars(context)
            if (context.has_partition_key or context.has_partition_key_range)
            else {}
        )
        yield from _run_dbt(context, dbt, env=window)

    return _models


def _build_unpartitioned(exclude: list[str]) -> dg.AssetsDefinition:
    project = dbt_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        exclude=" ".join(exclude) or None,
        dagster_dbt_translator=TRANSLATOR,
        name="factory_dbt_models",
        op_tags=DBT_RUN_TAGS,
    )
    def factory_dbt_models(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
    ):
        prepare_warehouse(context, dbt, warehouse)
        yield from _run_dbt(context, dbt)

    return factory_dbt_models


def build_dbt_assets(partitions: Mapping[str, dg.PartitionsDefinition]) -> list[dg.AssetsDefinition]:
    """One asset definition per partitioning declared in dbt, then everything else.

    ``partitions`` maps a partitioning name used in dbt (``meta.factory_partitions``) to its
    Dagster partitions (a file kind's). A name dbt uses but nobody provides is an error.
    """
    groups = partitioned_models(dbt_project().manifest_path)
    unknown = sorted(set(groups) - set(partitions))
    if unknown:
        raise ValueError(
            f"dbt models declare meta.{PARTITIONS_META} = {unknown}, but no file kind provides those partitions"
        )
    out = [_build_partitioned(name, models, partitions[name]) for name, models in groups.items()]
    out.append(_build_unpartitioned([m for models in groups.values() for m in models]))
    return out


class FactoryDbtCliResource(DbtCliResource):
    """``DbtCliResource`` without two costs paid on the path from a settled file to the marts.

    * ``dbt --version`` in a subprocess, once per run process, to learn the CLI's version (about
      3-5 s on 2 cores): the dbt used here is the one installed next to this interpreter
      (:func:`dbt_executable`), so the installed dbt-core version is the CLI's version. Another
      executable on PATH keeps the upstream behaviour.
    * An in-process dbt adapter set up before every invocation (profile, project and all macros
      loaded; about 1 s each, four invocations per refresh run): dagster-dbt uses it only to fetch
      row counts and column metadata, which this project does not request.

    Both are private hooks of dagster-dbt 0.29 (pinned <0.30); tests/test_definitions.py checks
    they still exist so that an upgrade that renames them fails loudly, not silently slowly.
    """

    @functools.cached_property
    def _cli_version(self):
        from importlib.metadata import version as installed

        from packaging import version

        if Path(self.dbt_executable).parent != Path(__import__("sys").executable).parent:
            return super()._cli_version
        return version.parse(installed("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        return None


def dbt_resource() -> DbtCliResource:
    return FactoryDbtCliResource(
        project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=dbt_executable()
    )


def dbt_definitions(partitions: Mapping[str, dg.PartitionsDefinition]) -> dg.Definitions:
    """dbt assets, the automation sensor that keeps them fresh, and hand-launch jobs."""
    assets = build_dbt_assets(partitions)
    automation = dg.AutomationConditionSensorDefinition(
        "raw_to_marts_automation",
        target=dg.AssetSelection.assets(*assets),
        # below the landing sensors' refresh runs (priority 0) in the queue: when both wait for
        # the one dbt slot, a settled file's run goes first
        run_tags={**DBT_RUN_TAGS, "dagster/priority": "-1"},
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=15,
        description="Rebuilds dbt models when the raw tables they read are updated.",
    )
    # Jobs for launching by hand from the UI with the run-queue tag of the sensors; one job per
    # partitioning (a job cannot mix date partitions with unpartitioned assets).
    jobs = [
        dg.define_asset_job(
            "dbt_build",
            selection=dg.AssetSelection.assets(assets[-1]),
            tags={**DBT_RUN_TAGS, PHASE_TAG: "dbt"},
        )
    ]
    for a in assets[:-1]:
        name = a.op.name.removeprefix("factory_dbt_").removesuffix("_models")
        jobs.append(
            dg.define_asset_job(
                f"dbt_build_{name}",
                selection=dg.AssetSelection.assets(a),
                partitions_def=a.partitions_def,
                tags={**DBT_RUN_TAGS, PHASE_TAG: "dbt"},
            )
        )
    return dg.Definitions(assets=assets, jobs=jobs, sensors=[automation], resources={"dbt": dbt_resource()})
