"""SQL-source definitions: one asset per source table and one scheduled job per source."""

import dagster as dg

from factory_assets.sql_sources.assets import build_sql_source_assets


def definitions() -> dg.Definitions:
    from sensors.schedules import build_schedules

    schedules = build_schedules()
    return dg.Definitions(assets=build_sql_source_assets(), schedules=schedules)
