"""Definitions shared by every file kind: the ledger and reject tables, and the re-arm job."""

import dagster as dg
from pydantic import Field

from factory_assets.ingest import ledger
from factory_assets.ingest.factory import LEDGER_KEY, REJECTS_KEY
from factory_assets.ingest.migrate import ensure_schema
from resources.warehouse import WarehouseResource

LEDGER = dg.AssetSpec(
    LEDGER_KEY,
    group_name="ingest",
    description="raw.ingest_ledger: one row per landing-zone file version (path, sha256), written by every "
    "ingestion asset: status, row counts, attempts, errors. The only truth about what was loaded.",
    kinds={"postgres"},
)
REJECTS = dg.AssetSpec(
    REJECTS_KEY,
    group_name="ingest",
    description="raw.ingest_rejects: every rejected line or record of every file kind, with its reason "
    "and raw text (read by marts.data_quality_daily).",
    kinds={"postgres"},
)


class RearmConfig(dg.Config):
    """Which failed versions get a new set of attempts (all given filters apply; none = all)."""

    source: str | None = Field(default=None, description="file kind, e.g. machine_logs")
    paths: list[str] = Field(default_factory=list, description="landing-zone paths")
    ids: list[int] = Field(default_factory=list, description="raw.ingest_ledger ids")


@dg.op(description="Re-arm file versions whose attempts are exhausted (status 'failed').")
def rearm_failed_versions(context: dg.OpExecutionContext, config: RearmConfig, warehouse: WarehouseResource):
    ensure_schema(warehouse)
    with warehouse.connection() as conn:
        rearmed = ledger.rearm_failed(conn, config.source, config.paths or None, config.ids or None)
    for ledger_id, source, path in rearmed:
        context.log.info(f"re-armed {source} version {ledger_id}: {path}")
    context.log.info(f"{len(rearmed)} failed version(s) re-armed; the next sensor tick takes them again")
    return len(rearmed)


@dg.job(
    description="Give failed landing-zone file versions a new set of attempts (config: source, paths, ids).",
    tags={"factory/admin": "rearm"},
)
def rearm_failed_versions_job():
    rearm_failed_versions()


def ingest_definitions() -> dg.Definitions:
    return dg.Definitions(assets=[LEDGER, REJECTS], jobs=[rearm_failed_versions_job])
