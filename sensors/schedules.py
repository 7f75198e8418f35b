"""Schedules of the SQL source syncs, in the plant's time zone (``FACTORY_TIMEZONE``).

Each source gets one job that materialises all of its tables, tagged ``factory/source=<source>``:
the run queue (dagster.yaml) allows one run per source at a time, so a slow ERP never holds back
the MES. Cadences follow how fresh each domain must be (DESIGN.md §6.3, §8): the ERP order mart is
read twice a day, production counts hourly, the forge MES feeds "next pieces" and stock (every 15
minutes), and the OLTP feeds nightly pricing. The hourly plant sync runs at :05 so it does not
start in the same minute as the MES sync.
"""

from __future__ import annotations

import dagster as dg

from factory_assets.sql_sources.tables import tables_for
from factory_assets.tags import PHASE_TAG, SOURCE_TAG
from resources import settings

SQL_SYNC_CRONS: dict[str, str] = {
    "erp": "0 9,14 * * *",  # 09:00 and 14:00
    "plant": "5 * * * *",  # hourly
    "mes": "*/15 * * * *",  # every 15 minutes
    "oltp": "0 2 * * *",  # nightly
}


def sql_sync_job(source: str):
    return dg.define_asset_job(
        f"{source}_sql_sync",
        selection=dg.AssetSelection.assets(*[t.asset_key for t in tables_for(source)]),
        tags={SOURCE_TAG: source, PHASE_TAG: "ingest"},
        description=f"Sync every {source} table into raw.{source}__*.",
    )


def build_schedules() -> list[dg.ScheduleDefinition]:
    """One running-by-default schedule per SQL source."""
    return [
        dg.ScheduleDefinition(
            name=f"{source}_sql_sync_schedule",
            cron_schedule=cron,
            job=sql_sync_job(source),
            execution_timezone=settings.plant_timezone(),
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description=f"{source} tables -> raw ({cron}, {settings.plant_timezone()})",
        )
        for source, cron in SQL_SYNC_CRONS.items()
    ]
