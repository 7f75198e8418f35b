"""Machine logs through the shared ingestion factory, as the code location builds them."""

from __future__ import annotations

import dataclasses

import dagster as dg

from factory_assets.ingest.factory import build_ingest_asset, file_kind_definitions
from factory_assets.ingest.kinds import FileKind, Loader
from factory_assets.machine_logs.kind import MACHINE_LOGS, machine_log_partitions


def machine_logs_asset() -> dg.AssetsDefinition:
    """The machine-log ingestion asset (partitions read from the environment now)."""
    return build_ingest_asset(MACHINE_LOGS, machine_log_partitions())


def machine_logs_sensor() -> dg.SensorDefinition:
    return file_kind_definitions(MACHINE_LOGS).sensors[0]


def machine_logs_with(load: Loader) -> FileKind:
    """The machine-log declaration with another loader (to simulate crashes and slow loads)."""
    return dataclasses.replace(MACHINE_LOGS, load=load)
