"""The one factory that turns a :class:`~factory_assets.ingest.kinds.FileKind` into Dagster
definitions: the ingestion asset (one asset key per raw table), its row-conservation check, its
job and its landing-zone sensor. Every file kind gets exactly the same behaviour.
"""

import dagster as dg
from dagster_shared.record import record
from pydantic import Field

from factory_assets.ingest.kinds import FileKind
from factory_assets.ingest.run import IngestReport, run_ingest
from factory_assets.tags import DBT_RUN_TAGS, PHASE_TAG, SHARED_SCOPE_TAG, SOURCE_TAG
from resources.landing import LandingZoneResource
from resources.warehouse import WarehouseResource

LEDGER_KEY = dg.AssetKey(["ingest", "ledger"])
REJECTS_KEY = dg.AssetKey(["ingest", "rejects"])
SHARED_TABLE_KEYS = (LEDGER_KEY, REJECTS_KEY)


@record
class ReadersOfSharedTables(dg.AssetSelection):
    """What every ingestion run must refresh because it reads the shared ledger and reject table
    for *all* sources (the data-quality models), and everything downstream of that.

    Readers tagged ``factory/shared_tables=own_source`` (a domain's staging model joining its own
    raw tables to the ledger) are left out with what is downstream of them: a machine-log file
    does not change the operations models, and rebuilding them in every machine-log run cost
    about half of that run's dbt time. Their own source's runs reach them through their raw
    tables. Nothing is selected when the shared tables are absent.
    """

    def resolve_inner(self, asset_graph, allow_missing: bool):
        frontier = [k for k in SHARED_TABLE_KEYS if asset_graph.has(k)]
        seen: set[dg.AssetKey] = set()
        while frontier:
            key = frontier.pop()
            for child in asset_graph.get(key).child_keys:
                if child in seen or asset_graph.get(child).tags.get(SHARED_SCOPE_TAG) == "own_source":
                    continue
                seen.add(child)
                frontier.append(child)
        return seen


@record
class RefreshSelection(dg.AssetSelection):
    """What a source's refresh run builds: its ingestion asset (``ingested``), and every asset
    downstream of it or of the shared tables (:class:`ReadersOfSharedTables`) that keeps itself
    fresh by declarative automation — the models the automation sensor would otherwise start a
    second run for. Left out: external assets (the dbt exposures) and assets refreshed on their
    own schedule (e.g. the daily data-quality chart), which have no automation condition."""

    ingested: tuple[dg.AssetKey, ...]

    def resolve_inner(self, asset_graph, allow_missing: bool):
        roots = set(self.ingested)
        below = dg.AssetSelection.assets(*roots).downstream().resolve_inner(asset_graph, allow_missing)
        below |= ReadersOfSharedTables().resolve_inner(asset_graph, allow_missing)
        return roots | {
            k
            for k in below - roots
            if asset_graph.get(k).is_materializable and asset_graph.get(k).automation_condition is not None
        }


class IngestConfig(dg.Config):
    """Run configuration of an ingestion asset. Empty = every pending file of the partitions."""

    paths: list[str] = Field(
        default_factory=list,
        description="Only these landing-zone paths (what the sensor saw). Empty: every new version.",
    )


def asset_name(kind: FileKind) -> str:
    return f"{kind.source}_ingest"


def job_name(kind: FileKind) -> str:
    return f"{kind.source}_ingest_job"


def refresh_job_name(kind: FileKind) -> str:
    return f"{kind.source}_refresh_job"


def run_config_for(kind: FileKind, paths: list[str]) -> dict:
    """Run config that limits a run of ``kind``'s job to ``paths``."""
    return {"ops": {asset_name(kind): {"config": {"paths": sorted(paths)}}}}


def build_ingest_asset(kind: FileKind, partitions: dg.PartitionsDefinition | None) -> dg.AssetsDefinition:
    first = [kind.key_prefix, kind.tables[0]]
    specs = [
        dg.AssetSpec(
            [kind.key_prefix, table],
            group_name=kind.group,
            partitions_def=partitions,
            code_version=kind.code_version,
            description=f"{kind.raw_table(table)}: loaded from {kind.prefix}/ files. {kind.description}",
            kinds={"python", "postgres"},
            metadata={"table": kind.raw_table(table), "landing_prefix": kind.prefix},
        )
        for table in kind.tables
    ]
    check = dg.AssetCheckSpec(
        kind.check_name,
        asset=first,
        description="Per file version: rows in = loaded + rejected + skipped + duplicate; every rejected "
        "row is stored in raw.ingest_rejects with its reason; the rows present agree with the ledger; "
        "at most one loaded version per logical key.",
    )

    @dg.multi_asset(
        name=asset_name(kind),
        specs=specs,
        check_specs=[check],
        backfill_policy=dg.BackfillPolicy.single_run() if partitions else None,
        op_tags={SOURCE_TAG: kind.source},
        description=kind.description,
    )
    def _ingest(
        context: dg.AssetExecutionContext,
        config: IngestConfig,
        warehouse: WarehouseResource,
        landing: LandingZoneResource,
        archive: LandingZoneResource,
    ):
        keys = set(context.partition_keys) if partitions else None
        report = run_ingest(
            kind,
            warehouse,
            landing,
            archive,
            run_id=context.run_id,
            partition_keys=keys,
            paths=config.paths,
            logger=context.log,
        )
        yield from _results(context, kind, report)

    return _ingest


def _results(context: dg.AssetExecutionContext, kind: FileKind, report: IngestReport):
    summary = report.summary()
    # The shared ledger and reject table changed too: say so, so that what reads them (the
    # data-quality mart) is refreshed like anything downstream of this kind.
    for key in (LEDGER_KEY, REJECTS_KEY):
        context.log_event(dg.AssetMaterialization(asset_key=key, metadata={"source": kind.source}))
    for table in kind.tables:
        yield dg.MaterializeResult(
            asset_key=[kind.key_prefix, table],
            metadata=summary if table == kind.tables[0] else {"files_loaded": summary["files_loaded"]},
        )
    yield dg.AssetCheckResult(
        check_name=kind.check_name,
        asset_key=[kind.key_prefix, kind.tables[0]],
        passed=not report.violations,
        metadata={
            "versions_checked": report.checked_versions,
            "violations": len(report.violations),
            "examples": dg.MetadataValue.json(report.violations[:20]),
        },
    )
    failed = report.failed
    if failed:
        raise dg.Failure(
            description=f"{len(failed)} file version(s) could not be loaded now and will be retried "
            "(bounded attempts, then 'failed' in raw.ingest_ledger): "
            + "; ".join(f"{o.path}: {o.error}" for o in failed[:10]),
            allow_retries=True,
        )


def file_kind_definitions(kind: FileKind) -> dg.Definitions:
    """Asset, check, jobs and sensor of one file kind.

    * ``<source>_ingest_job``: the ingestion alone (by hand, ``factory materialize``);
    * ``<source>_refresh_job``: what the sensor starts: the ingestion **and every dbt model
      downstream of it** (its date partition for partitioned models, the dependent unpartitioned
      marts whole) in one run, so a settled file reaches the marts without waiting for the
      automation sensor's next tick and a second and third run to start. The run carries the
      ``factory/dbt`` tag, so the run queue still allows one dbt build at a time.
    """
    from sensors.landing_sensor import build_landing_sensor

    partitions = kind.partitions() if kind.partitions else None
    asset = build_ingest_asset(kind, partitions)
    job = dg.define_asset_job(
        job_name(kind),
        selection=dg.AssetSelection.assets(asset),
        partitions_def=partitions,
        tags={SOURCE_TAG: kind.source, PHASE_TAG: "ingest"},
        description=f"Ingest new {kind.prefix}/ files.",
    )
    refresh = dg.define_asset_job(
        refresh_job_name(kind),
        selection=RefreshSelection(ingested=tuple(asset.keys)),
        partitions_def=partitions,
        tags={SOURCE_TAG: kind.source, **DBT_RUN_TAGS},
        description=f"Ingest new {kind.prefix}/ files and rebuild everything downstream (the landing sensor "
        "starts it).",
    )
    return dg.Definitions(assets=[asset], jobs=[job, refresh], sensors=[build_landing_sensor(kind, refresh)])
