"""Machining-centre log files as a file kind (DESIGN.md §5, §6.1): ``machine_logs/<CENTRE>/YYYYMMDD.LOG``.

The whole domain-specific part of machine-log ingestion is this declaration; ledger, streaming,
archive, sensor, retries, shared rejects and row conservation come from ``factory_assets.ingest``.
"""

from __future__ import annotations

import os

import dagster as dg

from factory_assets.ingest.kinds import Classified, FileKind
from factory_assets.machine_logs.loader import SOURCE, TABLES, load_machine_log
from factory_assets.machine_logs.parser import MAX_LINE_BYTES, PARSER_VERSION, session_of_path
from resources import settings

PREFIX = "machine_logs"


def classify(path: str) -> Classified:
    """Partition = production date; logical key = the session (centre, date): two names for one
    session (``20250101.LOG`` / ``20250101.log``) are one key, so the newer replaces the older."""
    centre, day = session_of_path(path)
    return Classified(partition_key=day.isoformat(), logical_key=f"{centre}/{day.isoformat()}")


def partition_of(path: str) -> str:
    """Partition key (ISO date) of a machine-log path; raises ``BadFileName``."""
    return classify(path).partition_key


def machine_log_partitions() -> dg.DailyPartitionsDefinition:
    """Daily partitions in plant time, including today (today's file grows during the day).

    Read from the environment when the definitions load (``FACTORY_MACHINE_LOGS_START``,
    ``FACTORY_TIMEZONE``), never at import.
    """
    return dg.DailyPartitionsDefinition(
        start_date=os.environ.get("FACTORY_MACHINE_LOGS_START") or "2020-01-01",
        timezone=settings.plant_timezone(),
        end_offset=1,
    )


MACHINE_LOGS = FileKind(
    source=SOURCE,
    prefix=PREFIX,
    classify=classify,
    load=load_machine_log,
    tables=TABLES,
    description="Machining-centre log files machine_logs/<CENTRE>/YYYYMMDD.LOG: one file is one session "
    "(centre, production date) of pieces, job profiles, waits and stops.",
    replace="natural_key",  # the session (centre, production_date) is replaced by its key
    present_rows_sql="SELECT file_version_id, lines_parsed FROM raw.machine_logs__sessions "
    "WHERE file_version_id = ANY(%(ids)s)",
    partitions=machine_log_partitions,
    max_line_bytes=MAX_LINE_BYTES,
    code_version=PARSER_VERSION,
    check_name="lines_conserved",
    files_per_run=500,  # small files (about 50 KB): a burst is a few runs, not hundreds
    load_workers=2,  # sessions are independent: load two files at a time
)
