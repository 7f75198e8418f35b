"""The ingest ledger: which landing-zone file versions are loaded, pending, or failed.

The ledger (``raw.ingest_ledger``) is the only truth (DESIGN.md §5). Dagster cursors and run
keys are hints; losing them may cost time, never duplicates. The sensor compares a cheap
listing (path, size, mtime) with the ledger; only the ingestion asset reads and hashes bytes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from resources.zone import FileEntry

# A version is done when its ledger row has one of these states: never taken again.
TERMINAL = ("loaded", "duplicate", "quarantined", "superseded", "failed")


def max_attempts() -> int:
    return int(os.environ.get("FACTORY_MAX_ATTEMPTS") or 3)


def retry_backoff_s(attempts: int) -> float:
    """Wait before attempt ``attempts + 1``: base × 2^(attempts−1), capped at one hour."""
    base = float(os.environ.get("FACTORY_RETRY_BACKOFF_S") or 30)
    return min(base * 2 ** max(attempts - 1, 0), 3600.0)


# A run holds a session-level advisory lock (LIVENESS_LOCK, ledger id) while it loads a
# version. PostgreSQL drops the lock when the run's connection ends, so a 'loading' row without
# its lock is a run that crashed: it is due again at once, with its attempt counted.
LIVENESS_LOCK = 0x4C44  # 'LD'


def mtime_dt(mtime: float) -> datetime:
    return datetime.fromtimestamp(mtime, UTC)


def identity(path: str, size: int, mtime: float | datetime) -> tuple[str, int, int]:
    """(path, size, mtime in whole microseconds): the cheap identity sensors compare."""
    dt = mtime if isinstance(mtime, datetime) else mtime_dt(mtime)
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return path, int(size), (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass(frozen=True)
class LedgerState:
    status: str
    attempts: int
    updated_at: datetime
    alive: bool = False  # 'loading' and its run still holds the liveness lock


def ledger_states(conn: psycopg.Connection, source: str, prefix: str = "") -> dict[tuple, LedgerState]:
    """Ledger state per listing identity (path, size, mtime) for one source."""
    rows = conn.execute(
        """SELECT l.path, l.size, l.mtime, l.status, l.attempts, l.updated_at,
                  CASE WHEN l.status = 'loading' THEN EXISTS (
                      SELECT 1 FROM pg_locks k
                       WHERE k.locktype = 'advisory' AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND k.classid = %s::oid
                         AND k.objid::bigint = l.id AND k.objsubid = 2 AND k.granted)
                  ELSE false END
             FROM raw.ingest_ledger l
            WHERE l.source = %s AND l.path LIKE %s
            ORDER BY l.id""",
        (LIVENESS_LOCK, source, prefix.replace("%", r"\%").replace("_", r"\_") + "%"),
    ).fetchall()
    return {identity(p, s, m): LedgerState(st, a, u, alive) for p, s, m, st, a, u, alive in rows}


def is_due(state: LedgerState | None, now: datetime, *, backoff: bool = True) -> bool:
    """Should a version in this ledger state be (re)tried now?

    Sensors back off after a failed attempt; a materialisation asked for by hand does not.
    """
    if state is None:
        return True
    if state.status in TERMINAL or state.alive:
        return False
    if not backoff:
        return True
    # 'retry' or a crashed 'loading': wait base × 2^(attempts−1) after the last attempt
    return now - state.updated_at >= timedelta(seconds=retry_backoff_s(state.attempts))


def pending_entries(
    conn: psycopg.Connection, source: str, entries: list[FileEntry], *, backoff: bool = False
) -> list[tuple[FileEntry, int]]:
    """Entries whose listing identity is not done in the ledger, with their attempt count."""
    now = datetime.now(UTC)
    states = ledger_states(conn, source)
    out = []
    for e in entries:
        st = states.get(identity(e.path, e.size, e.mtime))
        if is_due(st, now, backoff=backoff):
            out.append((e, st.attempts if st else 0))
    return out


def rearm_failed(
    conn: psycopg.Connection,
    source: str | None = None,
    paths: list[str] | None = None,
    ids: list[int] | None = None,
) -> list[tuple[int, str, str]]:
    """Give versions that exhausted their attempts a new set of attempts (asked for by hand).

    Selects ``failed`` versions by source, paths and/or ledger ids (none given: every failed
    version). Returns (id, source, path) of each re-armed version; the next sensor tick or
    materialisation takes them again.
    """
    where, params = ["status = 'failed'"], []
    if source:
        where.append("source = %s")
        params.append(source)
    if paths:
        where.append("path = ANY(%s)")
        params.append(list(paths))
    if ids:
        where.append("id = ANY(%s)")
        params.append(list(ids))
    with conn.transaction():
        return conn.execute(
            "UPDATE raw.ingest_ledger SET status = 'retry', attempts = 0, updated_at = now(), "
            "error = 're-armed by hand after: ' || coalesce(error, '') "
            f"WHERE {' AND '.join(where)} RETURNING id, source, path",
            params,
        ).fetchall()


def record_refused(conn: psycopg.Connection, source: str, entry: FileEntry, reason: str) -> bool:
    """Quarantine an entry that is never read (bad name, not a regular file, too large).

    Idempotent on (path, size, mtime); returns True when a new row was written.
    """
    with conn.transaction():
        cur = conn.execute(
            """INSERT INTO raw.ingest_ledger (source, path, size, mtime, sha256, status, error)
               VALUES (%s, %s, %s, %s, NULL, 'quarantined', %s)
               ON CONFLICT (source, path, size, mtime) WHERE sha256 IS NULL DO NOTHING""",
            (source, entry.path, entry.size, mtime_dt(entry.mtime), reason[:2000]),
        )
        return cur.rowcount == 1


def record_read_failure(
    conn: psycopg.Connection, source: str, entry: FileEntry, error: str, run_id: str | None
) -> tuple[str, int]:
    """Count a failed attempt to read a file (permission denied, connection dropped, timeout).

    The file has no sha256 yet, so its row is keyed by (path, size, mtime) like a refused one.
    It goes ``retry`` (the sensor backs off, then asks again) and ``failed`` once the bounded
    attempts are used up: visible in the UI and in ``marts.data_quality_daily``. Returns
    (status, attempts).
    """
    with conn.transaction():
        return conn.execute(
            """INSERT INTO raw.ingest_ledger AS l
                      (source, path, size, mtime, sha256, status, attempts, error, run_id)
               VALUES (%(source)s, %(path)s, %(size)s, %(mtime)s, NULL,
                       CASE WHEN 1 >= %(max)s THEN 'failed' ELSE 'retry' END, 1, %(error)s, %(run)s)
               ON CONFLICT (source, path, size, mtime) WHERE sha256 IS NULL DO UPDATE SET
                   attempts = CASE WHEN l.status IN ('retry', 'loading') THEN l.attempts + 1 ELSE l.attempts END,
                   status = CASE WHEN l.status NOT IN ('retry', 'loading') THEN l.status
                                 WHEN l.attempts + 1 >= %(max)s THEN 'failed' ELSE 'retry' END,
                   error = CASE WHEN l.status IN ('retry', 'loading') THEN EXCLUDED.error ELSE l.error END,
                   run_id = EXCLUDED.run_id,
                   updated_at = now()
               RETURNING status, attempts""",
            {
                "source": source,
                "path": entry.path,
                "size": entry.size,
                "mtime": mtime_dt(entry.mtime),
                "max": max_attempts(),
                "error": error[:2000],
                "run": run_id,
            },
        ).fetchone()


# Kept for callers of the first release.
record_unreadable = record_refused


def settle_orphans(conn: psycopg.Connection, source: str, listing: list[FileEntry]) -> dict[str, int]:
    """End versions left pending by a run that died, so none stays ``loading`` for ever.

    A ``loading`` row whose run no longer holds its liveness lock, or a ``retry`` row, is:

    * ``retry`` again when the landing zone still shows that exact (path, size, mtime);
    * ``superseded`` when the file at that path has changed since (the new version is taken);
    * ``failed`` when the file is gone: it can never be read again (``file_removed``).
    """
    current = {e.path: identity(e.path, e.size, e.mtime) for e in listing if e.is_regular}
    rows = conn.execute(
        """SELECT l.id, l.path, l.size, l.mtime, l.status
             FROM raw.ingest_ledger l
            WHERE l.source = %s AND l.status IN ('loading', 'retry')
              AND NOT EXISTS (SELECT 1 FROM pg_locks k
                               WHERE k.locktype = 'advisory' AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND k.classid = %s::oid
                                 AND k.objid::bigint = l.id AND k.objsubid = 2 AND k.granted)""",
        (source, LIVENESS_LOCK),
    ).fetchall()
    changes: dict[str, list[int]] = {"retry": [], "superseded": [], "failed": []}
    for ledger_id, path, size, mtime, status in rows:
        now_there = current.get(path)
        if now_there == identity(path, size, mtime):
            if status == "loading":
                changes["retry"].append(ledger_id)
        elif now_there is not None:
            changes["superseded"].append(ledger_id)
        else:
            changes["failed"].append(ledger_id)
    messages = {
        "retry": "the run loading it stopped before finishing; it will be retried",
        "superseded": "the file changed before this version could be loaded; the new version is taken",
        "failed": "file_removed: the file disappeared from the landing zone before it could be loaded",
    }
    with conn.transaction():
        for status, ids in changes.items():
            if ids:
                conn.execute(
                    "UPDATE raw.ingest_ledger SET status = %s, error = %s, updated_at = now() "
                    "WHERE id = ANY(%s) AND status IN ('loading', 'retry')",
                    (status, messages[status], ids),
                )
    return {k: len(v) for k, v in changes.items() if v}
