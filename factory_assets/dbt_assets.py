"""dbt models as Dagster assets: one lineage graph from landing files to marts.

* dbt sources carry ``meta.dagster.asset_key`` = the Python ingestion assets' keys, so the
  graph is connected (dagster-dbt reads that meta by default).
* dbt tests become asset checks.
* Every model updates by declarative automation when anything upstream updates
  (:func:`raw_to_marts_condition`); the automation sensor tags those runs ``factory/dbt`` so
  the run queue allows one dbt build at a time.
* Two asset definitions (DESIGN.md §8): the machine-log models that are per production date
  (:data:`MACHINE_LOG_PARTITIONED_SELECT`) share the ingestion's daily ``PARTITIONS`` and get
  the run's date range as dbt vars ``min_date`` / ``max_date``; every other model (whole-history
  aggregates, other domains, seeds, snapshots) stays unpartitioned.
* Nothing runs at import: the manifest is built on first use by :func:`dbt_project`.
"""

import functools
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from factory_assets import settings
from factory_assets.machine_logs.assets import PARTITIONS
from resources.warehouse import WarehouseResource

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"
DBT_RUN_TAGS = {"factory/dbt": "build"}

# dbt selection of the machine-log models whose rows belong to one production date, so that a
# run for one date partition rewrites exactly that date. Staging and intermediate views are
# cheap to recreate; the marts are incremental (delete+insert on a key with production_date).
# Not here, on purpose (they stay in the unpartitioned definition):
# * marts.stop_pareto: an aggregate over all history;
# * marts.oee_daily: a shift row of date D also depends on the logs of D + 1 (a night shift
#   runs past midnight), rows without a log exist for every date between a centre's first and
#   last session (a new day can add rows to older, log-less dates), and its quality comes from
#   daily plant-database production (an unpartitioned SQL source); a run for one date could
#   not rewrite only that date;
# * int_machine_logs__centre_quality_daily: plant-database data, not machine logs;
# * marts.data_quality_daily: every domain's rejects, per day.
MACHINE_LOG_PARTITIONED_SELECT = " ".join(
    [
        "path:models/staging/machine_logs",
        "int_machine_logs__session_intervals",
        "int_machine_logs__shift_windows",
        "machine_sessions",
        "machine_stops",
    ]
)


def dbt_executable() -> str:
    """The dbt next to this interpreter (the project venv), else whatever is on PATH."""
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def _parse_env() -> dict[str, str]:
    """Profile variables for commands that do not connect (parse): placeholders are enough."""
    env = dict(os.environ)
    env.setdefault("FACTORY_DBT_HOST", "localhost")
    env.setdefault("FACTORY_DBT_USER", "postgres")
    env.setdefault("FACTORY_DBT_DBNAME", "factory")
    env["DO_NOT_TRACK"] = "1"
    return env


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


@functools.cache
def dbt_project() -> DbtProject:
    """The dbt project, with its manifest (re)built by ``dbt parse`` when missing or stale."""
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    if manifest_is_stale(project.manifest_path):
        subprocess.run(
            [
                dbt_executable(),
                "parse",
                "--quiet",
                "--project-dir",
                str(DBT_PROJECT_DIR),
                "--profiles-dir",
                str(DBT_PROJECT_DIR),
            ],
            check=True,
            env=_parse_env(),
        )
    return project


def raw_to_marts_condition() -> dg.AutomationCondition:
    """Like ``eager()``, for models downstream of daily-partitioned raw assets.

    ``eager()`` waits while any dependency partition is missing, and for a model depending on
    daily partitions most days have no file — it would never fire. This condition runs when any
    dependency updated (or the model is newly missing), once nothing upstream is in progress.

    Evaluated per partition for the date-partitioned machine-log models: raw partition P updated
    -> model partition P (identity mapping), for any day, not only the latest time window, so a
    late log for an older day rebuilds that day; the partitions requested in one tick go into one
    range run (``BackfillPolicy.single_run``). Unpartitioned models downstream fire when any
    partition of a dependency updated.
    """
    return (
        (
            dg.AutomationCondition.newly_missing() | dg.AutomationCondition.any_deps_updated()
        ).since_last_handled()
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
        if dbt_resource_props["resource_type"] in ("model", "snapshot"):
            return raw_to_marts_condition()
        return None


TRANSLATOR = FactoryTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def partition_date_vars(context: dg.AssetExecutionContext) -> dict[str, str]:
    """dbt vars of a partitioned run: the first and last production date of its partition range
    (inclusive, plant-local ISO dates = the partition keys)."""
    keys = context.partition_key_range
    return {"min_date": keys.start, "max_date": keys.end}


def _prepare(warehouse: WarehouseResource) -> None:
    warehouse.ensure_schema()  # sources must exist even before the first file arrives
    os.environ.update(settings.dbt_env(warehouse.resolved_url()))


def build_machine_log_dbt_assets() -> dg.AssetsDefinition:
    """The per-production-date machine-log models, partitioned like the ingestion asset."""
    project = dbt_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        select=MACHINE_LOG_PARTITIONED_SELECT,
        dagster_dbt_translator=TRANSLATOR,
        name="factory_dbt_machine_log_models",
        partitions_def=PARTITIONS,
        backfill_policy=dg.BackfillPolicy.single_run(),
        op_tags=DBT_RUN_TAGS,
    )
    def factory_dbt_machine_log_models(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
    ):
        _prepare(warehouse)
        dbt_vars = json.dumps(partition_date_vars(context))
        yield from dbt.cli(["build", "--vars", dbt_vars], context=context).stream()

    return factory_dbt_machine_log_models


def build_unpartitioned_dbt_assets() -> dg.AssetsDefinition:
    """Every other dbt model, seed and snapshot: rebuilt whole."""
    project = dbt_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        exclude=MACHINE_LOG_PARTITIONED_SELECT,
        dagster_dbt_translator=TRANSLATOR,
        name="factory_dbt_models",
        op_tags=DBT_RUN_TAGS,
    )
    def factory_dbt_models(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
    ):
        _prepare(warehouse)
        yield from dbt.cli(["build"], context=context).stream()

    return factory_dbt_models


def build_dbt_assets() -> list[dg.AssetsDefinition]:
    """Both dbt asset definitions: ``[partitioned machine-log models, everything else]``."""
    return [build_machine_log_dbt_assets(), build_unpartitioned_dbt_assets()]


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(
        project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=dbt_executable()
    )
