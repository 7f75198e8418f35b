"""The Dagster code location: merges every domain's assets, checks, sensors and resources.

``defs`` is lazy (``@dg.definitions``): nothing is built at import; the dbt manifest is read
(or parsed once) only when Dagster loads the location.
"""

import dagster as dg

from factory_assets.dbt_assets import DBT_RUN_TAGS, build_dbt_assets
from factory_assets.machine_logs.assets import PARTITIONS, machine_logs_ingest
from factory_assets.resources_config import build_resources
from factory_assets.sql_sources.assets import build_sql_source_assets

LEDGER = dg.AssetSpec(
    ["ingest", "ledger"],
    group_name="ingest",
    description="raw.ingest_ledger: one row per landing-zone file version, written by every ingestion asset.",
    kinds={"postgres"},
)


@dg.definitions
def defs() -> dg.Definitions:
    from sensors.machine_logs import machine_logs_sensor
    from sensors.schedules import build_schedules

    dbt_machine_logs, dbt_models = build_dbt_assets()
    automation = dg.AutomationConditionSensorDefinition(
        "raw_to_marts_automation",
        target=dg.AssetSelection.assets(dbt_machine_logs, dbt_models),
        run_tags=DBT_RUN_TAGS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=15,
        description="Rebuilds dbt models when the raw tables they read are updated.",
    )
    # Jobs for launching by hand from the UI with the same run-queue tags the sensors use; one
    # dbt job per partitioning (a job cannot mix date partitions with unpartitioned assets).
    jobs = [
        dg.define_asset_job("dbt_build", selection=dg.AssetSelection.assets(dbt_models), tags=DBT_RUN_TAGS),
        dg.define_asset_job(
            "dbt_build_machine_logs",
            selection=dg.AssetSelection.assets(dbt_machine_logs),
            partitions_def=PARTITIONS,
            tags=DBT_RUN_TAGS,
        ),
        dg.define_asset_job(
            "machine_logs_ingest_job",
            selection=dg.AssetSelection.assets(machine_logs_ingest),
            tags={"factory/source": "machine_logs"},
        ),
    ]
    return dg.Definitions(
        assets=[LEDGER, machine_logs_ingest, *build_sql_source_assets(), dbt_machine_logs, dbt_models],
        jobs=jobs,
        schedules=build_schedules(),
        sensors=[machine_logs_sensor, automation],
        resources=build_resources(),
        executor=dg.in_process_executor,
    )
