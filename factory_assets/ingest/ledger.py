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

from resources.landing import FileEntry

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
                       WHERE k.locktype = 'advisory' AND k.classid = %s::oid
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


def rearm_failed(conn: psycopg.Connection, source: str, paths: list[str]) -> int:
    """Give versions that exhausted their attempts a new set of attempts (asked for by hand)."""
    with conn.transaction():
        cur = conn.execute(
            "UPDATE raw.ingest_ledger SET status = 'retry', attempts = 0, updated_at = now() "
            "WHERE source = %s AND status = 'failed' AND path = ANY(%s)",
            (source, paths),
        )
        return cur.rowcount


def record_unreadable(conn: psycopg.Connection, source: str, entry: FileEntry, reason: str) -> bool:
    """Quarantine a file that cannot be taken at all (e.g. bad name) without reading it.

    Idempotent on (path, size, mtime); returns True when a new row was written.
    """
    with conn.transaction():
        cur = conn.execute(
            """INSERT INTO raw.ingest_ledger (source, path, size, mtime, sha256, status, error)
               VALUES (%s, %s, %s, %s, NULL, 'quarantined', %s)
               ON CONFLICT (source, path, size, mtime) WHERE sha256 IS NULL DO NOTHING""",
            (source, entry.path, entry.size, mtime_dt(entry.mtime), reason),
        )
        return cur.rowcount == 1
