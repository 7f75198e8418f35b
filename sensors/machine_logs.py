"""Landing-zone sensor for machining-centre log files (``machine_logs/<CENTRE>/YYYYMMDD.LOG``)."""

from factory_assets.machine_logs.assets import PREFIX, machine_logs_ingest, partition_of
from factory_assets.machine_logs.loader import SOURCE
from sensors.landing_sensor import build_landing_sensor

machine_logs_sensor = build_landing_sensor(
    "machine_logs_landing_sensor",
    source=SOURCE,
    prefix=PREFIX,
    target=machine_logs_ingest,
    partition_of=partition_of,
    description="Starts one ingestion run per production date for new, stable machine-log file versions.",
)
