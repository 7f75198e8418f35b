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
from factory_assets.machine_logs.parser import PARSER_VERSION, BadFileName, iter_parse_log, session_of_path
from resources.warehouse import copy_rows

SOURCE = "machine_logs"
TABLES = ("sessions", "job_profiles", "pieces", "waits", "stops", "rejected_lines")

# One statement (one round trip) removes the session's previous rows from every table.
_DELETE_SESSION = (
    "WITH "
    + ", ".join(
        f"d_{t} AS (DELETE FROM raw.machine_logs__{t} WHERE centre = %(centre)s AND production_date = %(day)s)"
        for t in TABLES
    )
    + " SELECT 1"
)
# Raw columns per table, in the order the parser's row tuples (prefixed as below) provide them.
# One definition, used by the loader and by bench/machine_logs.py.
_KEY = ("centre", "production_date")
COLUMNS = {
    "sessions": (
        *_KEY, "file_version_id", "path", "sha256", "lines_in", "lines_parsed", "lines_blank",
        "lines_rejected", "first_event_at", "last_event_at", "open_stop_closed_at_eof", "parser_version",
    ),
    "job_profiles": (*_KEY, "line_no", "event_at", "reference", "length_mm", "colour", "details"),
    "pieces": (*_KEY, "line_no", "event_at", "job_profile_line_no", "reference", "details"),
    "waits": (*_KEY, "line_no", "started_at", "ended_at", "seconds"),
    "stops": (*_KEY, "line_no", "started_at", "ended_at", "seconds", "end_line_no", "closed_at_eof"),
    "rejected_lines": (*_KEY, "file_version_id", "line_no", "reason", "detail", "line_text"),
}  # fmt: skip
# Pieces are ~95 % of the rows: binary COPY costs far less client CPU than text (no datetime ->
# text formatting, no escaping) and less server CPU (no text parsing). The other tables stay in
# text format (numeric columns are written from floats exactly as before).
_PIECE_TYPES = ("text", "date", "int4", "timestamptz", "int4", "text", "text")
# Lines parsed between two hand-offs to the pieces COPY (psycopg sends every ~32 KB, ~400 rows).
# 256-2,048 measure the same; parsing the whole file first is ~20 % slower end to end.
STREAM_CHUNK_LINES = 1024


def load_machine_log(cur: psycopg.Cursor, v: Version, data: bytes, tz: ZoneInfo | None = None) -> LoadCounts:
    """Replace the session's rows with this version's; the caller's transaction makes it atomic.

    Pieces are streamed to PostgreSQL while the file is still being parsed (the server inserts
    one chunk while we parse the next), so rows are written before the whole file is known: any
    exception, :class:`Quarantine` included, must roll the transaction (or savepoint) back, as
    ``ingest_version`` and ``reparse_loaded_version`` do.
    """
    try:
        centre, day = session_of_path(v.path)
    except BadFileName as exc:
        raise Quarantine(f"bad_file_name: {exc}") from exc
    steps = iter_parse_log(
        data, centre, day, tz or ZoneInfo(settings.plant_timezone()), chunk_lines=STREAM_CHUNK_LINES
    )

    key = (centre, day)
    cur.execute(_DELETE_SESSION, {"centre": centre, "day": day})
    parsed = None
    with cur.copy(
        f"COPY raw.machine_logs__pieces ({', '.join(COLUMNS['pieces'])}) FROM STDIN (FORMAT BINARY)"
    ) as cp:
        cp.set_types(_PIECE_TYPES)
        write_row = cp.write_row
        sent = 0
        for parsed in steps:
            pieces = parsed.pieces
            for i in range(sent, len(pieces)):
                write_row(key + pieces[i])
            sent = len(pieces)
    if parsed.lines_parsed == 0:
        raise Quarantine(
            f"no_valid_events: none of the {parsed.lines_in} lines is a valid event "
            f"({parsed.lines_rejected} rejected, {parsed.lines_blank} blank)",
            counts=(parsed.lines_in, parsed.lines_rejected),
        )

    cur.execute(
        f"INSERT INTO raw.machine_logs__sessions ({', '.join(COLUMNS['sessions'])}) "
        f"VALUES ({', '.join(['%s'] * len(COLUMNS['sessions']))})",
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
    small_tables = (
        ("job_profiles", (key + r for r in parsed.job_profiles), parsed.job_profiles),
        ("waits", (key + r for r in parsed.waits), parsed.waits),
        ("stops", (key + r for r in parsed.stops), parsed.stops),
        ("rejected_lines", ((centre, day, v.ledger_id) + r for r in parsed.rejected), parsed.rejected),
    )
    for table, rows, present in small_tables:
        if present:  # no COPY round trip for an empty table
            copy_rows(cur, f"raw.machine_logs__{table}", COLUMNS[table], rows)
    return LoadCounts(
        rows_in=parsed.lines_in,
        rows_loaded=parsed.lines_parsed,
        rows_rejected=parsed.lines_rejected,
        rows_skipped=parsed.lines_blank,
    )
