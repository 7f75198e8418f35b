"""The Dagster code location: merges each domain's own definitions, and nothing else.

``defs`` is lazy (``@dg.definitions``): nothing is built at import and nothing reads the
environment then; the dbt manifest is read (or parsed once) when Dagster loads the location.
A new domain adds its ``definitions`` function to :data:`DOMAINS`.
"""

import dagster as dg

from factory_assets.data_quality import definitions as data_quality
from factory_assets.dbt_assets import dbt_definitions
from factory_assets.exposures import exposure_definitions
from factory_assets.ingest.definitions import ingest_definitions
from factory_assets.logistics import definitions as logistics
from factory_assets.machine_logs import definitions as machine_logs
from factory_assets.monitoring import definitions as monitoring
from factory_assets.operations import definitions as operations
from factory_assets.resources_config import build_resources
from factory_assets.sql_sources import definitions as sql_sources

DOMAINS = (
    ingest_definitions,  # shared ledger, reject table, re-arm job
    machine_logs.definitions,
    sql_sources.definitions,
    logistics.definitions,
    operations.definitions,
    monitoring.definitions,  # freshness checks and alerts
    data_quality.definitions,  # daily summary of marts.data_quality_daily (table and chart)
)


def date_partitions(domain_defs: list[dg.Definitions]) -> dict[str, dg.PartitionsDefinition]:
    """Partitions of each partitioned ingestion, by source name: the names dbt models use in
    ``meta.factory_partitions`` to share them."""
    out: dict[str, dg.PartitionsDefinition] = {}
    for d in domain_defs:
        for asset in d.assets or ():
            if isinstance(asset, dg.AssetsDefinition) and asset.partitions_def is not None:
                out[next(iter(asset.keys)).path[0]] = asset.partitions_def
    return out


@dg.definitions
def defs() -> dg.Definitions:
    domain_defs = [domain() for domain in DOMAINS]
    return dg.Definitions.merge(
        *domain_defs,
        dbt_definitions(date_partitions(domain_defs)),
        exposure_definitions(),  # BI dashboards and gateway endpoints downstream of the marts
        dg.Definitions(resources=build_resources(), executor=dg.in_process_executor),
    )
