"""Monitoring definitions: freshness checks, the job and sensor that evaluate them, and the alert
sensors. Built when the code location loads (intervals and limits are read then or at run time,
never at import)."""

import dagster as dg

from factory_assets.monitoring.freshness import (
    build_file_freshness_check,
    build_freshness_job,
    build_freshness_sensor,
    build_mart_freshness_check,
    build_sql_freshness_check,
    interval_s,
)
from factory_assets.monitoring.sensors import build_check_alert_sensor, build_run_failure_sensor
from resources import settings


def definitions() -> dg.Definitions:
    from factory_assets.file_kinds import FILE_KINDS

    checks = [
        build_file_freshness_check(FILE_KINDS),
        build_sql_freshness_check(),
        build_mart_freshness_check(),
    ]
    job = build_freshness_job(checks)
    alert_interval = settings.sensor_interval_s()
    return dg.Definitions(
        asset_checks=checks,
        jobs=[job],
        sensors=[
            build_freshness_sensor(job, interval_s()),
            build_run_failure_sensor(alert_interval),
            build_check_alert_sensor(alert_interval),
        ],
    )
