"""Writes one JSON drop (a file version of ``operations/*.json``) into ``raw.operations__*``.

Runs inside the version's ledger transaction (``factory_assets.ingest.files``): the accepted
records, their anomalies, the rejected records (shared ``raw.ingest_rejects``) and the ledger
row commit together.

Re-sent records: the natural key (order, piece, machine, operation type, start instant) is unique
over every loaded drop, and the **first copy loaded wins**. A later copy, in the same drop or in
a later one, is counted in the ledger's ``rows_duplicate`` and not loaded, nor are its anomalies:

* re-sends are retries of the same record (a flow that did not get its answer, a tablet that
  lost its connection), so the first copy is as good as the last;
* a drop replayed from an old export can never rewrite what was loaded since;
* every loaded row keeps pointing at the drop that brought it, so the accounting of an already
  loaded drop never changes afterwards (rows present = rows loaded, checked per version).

Concurrent loads of operation drops serialise on one transaction-level advisory lock while they
insert natural keys, so two runs can never both load the same record. The rows are copied at
once (in a savepoint); only when the unique index on the natural key refuses one are the drop's
keys looked up and the new ones copied again: a drop without re-sent records costs no look-up.
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from factory_assets.ingest.copy import copy_rows
from factory_assets.ingest.kinds import LoadContext, LoadCounts, Quarantine
from factory_assets.operations.records import (
    ANOMALY_COLUMNS,
    ROW_COLUMNS,
    NotADrop,
    Rules,
    may_hold_nul,
    parse_drop,
    validate_drop,
)

SOURCE = "operations"
TABLES = ("operations", "anomalies")
OPERATION_COLUMNS = ("file_version_id", *ROW_COLUMNS)
OPERATION_TYPES = (
    "int8", "int4", "text", "int8", "text", "text", "text", "text", "timestamptz", "timestamptz",
    "float8", "float8", "float8", "text",
)  # fmt: skip
ANOMALY_DB_COLUMNS = ("file_version_id", *ANOMALY_COLUMNS)
ANOMALY_TYPES = ("int8", "int4", "int4", "text", "text", "text", "text", "int8")
KEYS_LOCK = 0x4F505253  # 'OPRS': advisory lock around the natural-key look-up and insert


def received_at(ctx: LoadContext) -> datetime:
    """When the platform first saw this version (the reference of FUTURE_TIMESTAMP)."""
    row = ctx.cur.execute(
        "SELECT first_seen_at FROM raw.ingest_ledger WHERE id = %s", (ctx.version.ledger_id,)
    ).fetchone()
    return row[0] if row and row[0] else datetime.now(UTC)


def _copy(cur: psycopg.Cursor, vid: int, rows: list[tuple]) -> None:
    copy_rows(
        cur, "raw.operations__operations", OPERATION_COLUMNS, ((vid, *row) for row in rows),
        binary_types=OPERATION_TYPES,
    )  # fmt: skip


def load_operations(ctx: LoadContext, rules: Rules | None = None) -> LoadCounts:
    """Parse, validate and load one drop; a file that is not a JSON array is quarantined whole."""
    # The whole drop is read and parsed at once: a JSON array is one document. Memory stays
    # bounded because the shared mechanism never hands over a file larger than the kind's
    # max_file_bytes (FACTORY_OPERATIONS_MAX_FILE_MB): a larger one is quarantined unread.
    data = ctx.stream.read()
    try:
        items = parse_drop(data)
    except NotADrop as exc:
        raise Quarantine(str(exc)) from None
    drop = validate_drop(items, rules or Rules.from_env(), received_at(ctx), nul_possible=may_hold_nul(data))
    del data, items
    for r in drop.rejects:
        ctx.rejects.add(r.record_no, r.reason, r.detail, r.raw_text, r.data_date)

    cur, vid = ctx.cur, ctx.version.ledger_id
    fresh: list[tuple] = []
    duplicates = 0
    if drop.rows:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (KEYS_LOCK,))
        seen: set[str] = set()
        for row in drop.rows:  # a record sent twice in the same drop: its first copy
            if row[1] in seen:
                duplicates += 1
            else:
                seen.add(row[1])
                fresh.append(row)
        # Optimistic: most drops hold no record loaded before, and the unique index on the natural
        # key says so for free. Only when it objects are the keys looked up (then COPY again).
        try:
            with cur.connection.transaction():  # savepoint
                _copy(cur, vid, fresh)
        except psycopg.errors.UniqueViolation:
            cur.execute(
                "SELECT record_key FROM raw.operations__operations WHERE record_key = ANY(%s)",
                ([row[1] for row in fresh],),
            )
            loaded_before = {key for (key,) in cur.fetchall()}
            kept = [row for row in fresh if row[1] not in loaded_before]
            duplicates += len(fresh) - len(kept)
            fresh = kept
            if fresh:
                _copy(cur, vid, fresh)
    if drop.anomalies and fresh:
        loaded = [row[0] for row in fresh] if duplicates else None
        copy_rows(
            cur, "raw.operations__anomalies", ANOMALY_DB_COLUMNS,
            ((vid, *a) for a in drop.anomaly_rows(loaded)), binary_types=ANOMALY_TYPES,
        )  # fmt: skip
    return LoadCounts(
        rows_in=drop.records_in,
        rows_loaded=len(fresh),
        rows_rejected=len(drop.rejects),
        rows_duplicate=duplicates,
    )
