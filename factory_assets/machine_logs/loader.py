"""Writes one parsed machine-log file version into the ``raw.machine_logs__*`` tables.

Runs inside the version's ledger transaction (see ``factory_assets.ingest.files``). One file is
one session (centre, production date): the session's previous rows are deleted by that natural
key and the new ones copied in, so readers see either the old session or the new one, never a
mix — also when the previous version came under another name (``20250101.log`` vs ``.LOG``).

Memory stays bounded whatever the file size: the stream is parsed a batch of lines at a time,
pieces go straight into COPY (text lines built by the parser) while the next batch is parsed, and the few other rows
(job profiles, waits, stops, rejected lines) wait on disk until the pieces COPY ends.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from factory_assets.ingest.copy import copy_payload, copy_rows
from factory_assets.ingest.kinds import LoadContext, LoadCounts, Quarantine
from factory_assets.ingest.streams import RowSpool
from factory_assets.machine_logs.parser import PARSER_VERSION, ParsedLog, iter_parse_log, session_of_path
from resources import settings

SOURCE = "machine_logs"
TABLES = ("sessions", "job_profiles", "pieces", "waits", "stops")

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
}  # fmt: skip
# Pieces are ~95 % of the rows: the parser writes them as COPY text lines built from the raw
# line (no datetime, no tuple), streamed a batch at a time (see parser.iter_parse_log).
SMALL_TABLES = ("job_profiles", "waits", "stops")


def load_machine_log(ctx: LoadContext, tz: ZoneInfo | None = None) -> LoadCounts:
    """Replace the session's rows with this version's; the caller's transaction makes it atomic.

    Pieces are streamed to PostgreSQL while the file is still being parsed, so rows are written
    before the whole file is known: any exception, :class:`Quarantine` included, must roll the
    transaction (or savepoint) back, as the shared mechanism does.
    """
    v, cur = ctx.version, ctx.cur
    centre, day = session_of_path(v.path)
    steps = iter_parse_log(
        ctx.stream,
        centre,
        day,
        tz or ZoneInfo(settings.plant_timezone()),
        max_line_bytes=ctx.kind.max_line_bytes,
        pieces_as_copy_text=True,
    )
    key = (centre, day)
    cur.execute(_DELETE_SESSION, {"centre": centre, "day": day})
    spools = {t: RowSpool() for t in SMALL_TABLES}
    final: list[ParsedLog] = []

    def piece_lines():
        for parsed in steps:
            yield "".join(parsed.pieces_text)
            parsed.pieces_text.clear()
            for table in SMALL_TABLES:
                rows = getattr(parsed, table)
                spools[table].extend(key + r for r in rows)
                rows.clear()
            for line_no, reason, detail, text in parsed.rejected:
                ctx.rejects.add(line_no, reason, detail, text, day)
            parsed.rejected.clear()
            final[:] = [parsed]

    try:
        copy_payload(cur, "raw.machine_logs__pieces", COLUMNS["pieces"], piece_lines(), fmt="text")
        parsed = final[0]
        if parsed.lines_parsed == 0:
            raise Quarantine(
                f"no_valid_events: none of the {parsed.lines_in} lines is a valid event "
                f"({ctx.rejects.count} rejected, {parsed.lines_blank} blank)",
                counts=(parsed.lines_in, ctx.rejects.count),
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
                ctx.rejects.count,
                parsed.first_event_at,
                parsed.last_event_at,
                parsed.open_stop_closed_at_eof,
                PARSER_VERSION,
            ),
        )
        for table in SMALL_TABLES:
            if spools[table].count:  # no COPY round trip for an empty table
                copy_rows(cur, f"raw.machine_logs__{table}", COLUMNS[table], spools[table])
    finally:
        for s in spools.values():
            s.close()
    return LoadCounts(
        rows_in=parsed.lines_in,
        rows_loaded=parsed.lines_parsed,
        rows_rejected=ctx.rejects.count,
        rows_skipped=parsed.lines_blank,
    )
