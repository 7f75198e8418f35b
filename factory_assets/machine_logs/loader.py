"""Writes one parsed machine-log file version into the ``raw.machine_logs__*`` tables.

Runs inside the version's ledger transaction (see ``factory_assets.ingest.files``): the session's
old rows are deleted and the new ones copied in, so readers see either the old session or the
new one, never a mix.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import psycopg

from factory_assets import settings
from factory_assets.ingest.files import LoadCounts, Quarantine, Version
from factory_assets.machine_logs.parser import PARSER_VERSION, BadFileName, parse_log, session_of_path
from resources.warehouse import copy_rows

SOURCE = "machine_logs"
TABLES = ("sessions", "job_profiles", "pieces", "waits", "stops", "rejected_lines")


def load_machine_log(cur: psycopg.Cursor, v: Version, data: bytes, tz: ZoneInfo | None = None) -> LoadCounts:
    try:
        centre, day = session_of_path(v.path)
    except BadFileName as exc:
        raise Quarantine(f"bad_file_name: {exc}") from exc
    parsed = parse_log(data, centre, day, tz or ZoneInfo(settings.plant_timezone()))
    if parsed.lines_parsed == 0:
        raise Quarantine(
            f"no_valid_events: none of the {parsed.lines_in} lines is a valid event "
            f"({parsed.lines_rejected} rejected, {parsed.lines_blank} blank)",
            counts=(parsed.lines_in, parsed.lines_rejected),
        )

    key = (centre, day)
    for table in TABLES:
        cur.execute(f"DELETE FROM raw.machine_logs__{table} WHERE centre = %s AND production_date = %s", key)
    cur.execute(
        """INSERT INTO raw.machine_logs__sessions
               (centre, production_date, file_version_id, path, sha256, lines_in, lines_parsed,
                lines_blank, lines_rejected, first_event_at, last_event_at, open_stop_closed_at_eof,
                parser_version)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            centre,
            day,
            v.ledger_id,
            v.path,
            v.sha256,
            parsed.lines_in,
            parsed.lines_parsed,
            parsed.lines_blank,
            parsed.lines_rejected,
            parsed.first_event_at,
            parsed.last_event_at,
            parsed.open_stop_closed_at_eof,
            PARSER_VERSION,
        ),
    )
    copy_rows(
        cur,
        "raw.machine_logs__job_profiles",
        ("centre", "production_date", "line_no", "event_at", "reference", "length_mm", "colour", "details"),
        (key + r for r in parsed.job_profiles),
    )
    copy_rows(
        cur,
        "raw.machine_logs__pieces",
        ("centre", "production_date", "line_no", "event_at", "job_profile_line_no", "reference", "details"),
        (key + r for r in parsed.pieces),
    )
    copy_rows(
        cur,
        "raw.machine_logs__waits",
        ("centre", "production_date", "line_no", "started_at", "ended_at", "seconds"),
        (key + r for r in parsed.waits),
    )
    copy_rows(
        cur,
        "raw.machine_logs__stops",
        (
            "centre",
            "production_date",
            "line_no",
            "started_at",
            "ended_at",
            "seconds",
            "end_line_no",
            "closed_at_eof",
        ),
        (key + r for r in parsed.stops),
    )
    copy_rows(
        cur,
        "raw.machine_logs__rejected_lines",
        ("centre", "production_date", "file_version_id", "line_no", "reason", "detail", "line_text"),
        ((centre, day, v.ledger_id) + r for r in parsed.rejected),
    )
    return LoadCounts(
        rows_in=parsed.lines_in,
        rows_loaded=parsed.lines_parsed,
        rows_rejected=parsed.lines_rejected,
        rows_skipped=parsed.lines_blank,
    )
