"""Exactly-once loading of landing-zone file versions, shared by every drop kind.

One version = (path, sha256). For each version:

1. read and hash the bytes; archive them under a content-addressed name (idempotent);
2. mark the ledger row ``loading`` and count the attempt (own short transaction, so a crash
   is visible and bounded retries work);
3. in ONE transaction, holding a lock on the path: decide duplicate / superseded, let the
   drop kind write its rows, and set the ledger row ``loaded`` (or ``quarantined``) with counts.

A crash before step 3 commits leaves neither rows nor a ``loaded`` row; the next attempt
starts again. A newer version of the same path replaces the older one's rows in that same
transaction (the drop kind's ``load`` deletes then inserts).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

import psycopg

from factory_assets.ingest.ledger import LIVENESS_LOCK, TERMINAL, max_attempts, mtime_dt
from resources.landing import FileEntry, LandingZone


class Quarantine(Exception):
    """Raised by a drop kind's loader: the whole version is unusable (reason in the message).

    ``counts`` may carry (rows_in, rows_rejected) so the ledger still accounts for the lines.
    """

    def __init__(self, reason: str, counts: tuple[int, int] | None = None):
        super().__init__(reason)
        self.counts = counts


@dataclass(frozen=True)
class Version:
    ledger_id: int
    source: str
    path: str
    sha256: str
    size: int
    mtime: float


@dataclass(frozen=True)
class LoadCounts:
    rows_in: int
    rows_loaded: int
    rows_rejected: int
    rows_skipped: int = 0


@dataclass(frozen=True)
class Outcome:
    path: str
    status: str  # loaded | duplicate | superseded | quarantined | already | retry | failed | vanished
    ledger_id: int | None = None
    counts: LoadCounts | None = None
    error: str | None = None
    shrunk: bool = False


# loader(cur, version, data) -> LoadCounts; runs inside the version's transaction.
Loader = Callable[[psycopg.Cursor, Version, bytes], LoadCounts]


def archive_path(path: str, sha256: str) -> str:
    """``machine_logs/DEM12/20241105.LOG`` -> ``machine_logs/DEM12/20241105.<sha12>.LOG``."""
    p = PurePosixPath(path)
    return str(p.with_name(f"{p.stem}.{sha256[:12]}{p.suffix}"))


# A terminal row stays as it is, except a superseded version that comes back newer (content
# reverted A -> B -> A): that one is re-armed so the file's current content wins.
_DONE = (
    "(l.status IN ('loaded', 'duplicate', 'quarantined', 'failed') "
    "OR (l.status = 'superseded' AND EXCLUDED.mtime <= l.mtime))"
)


def _begin_attempt(conn: psycopg.Connection, source: str, entry: FileEntry, sha: str, run_id: str):
    """Insert or re-arm the ledger row; returns (id, status, attempts) as stored after the call."""
    with conn.transaction():
        row = conn.execute(
            f"""INSERT INTO raw.ingest_ledger AS l
                      (source, path, size, mtime, sha256, status, attempts, run_id)
               VALUES (%s, %s, %s, %s, %s, 'loading', 1, %s)
               ON CONFLICT (source, path, sha256) DO UPDATE SET
                   size = EXCLUDED.size,
                   mtime = EXCLUDED.mtime,
                   updated_at = now(),
                   attempts = CASE WHEN {_DONE} THEN l.attempts ELSE l.attempts + 1 END,
                   run_id = CASE WHEN {_DONE} THEN l.run_id ELSE EXCLUDED.run_id END,
                   status = CASE WHEN {_DONE} THEN l.status ELSE 'loading' END
               RETURNING id, status, attempts""",
            (source, entry.path, entry.size, mtime_dt(entry.mtime), sha, run_id),
        ).fetchone()
    return row


def ingest_version(
    conn: psycopg.Connection,
    zone: LandingZone,
    archive: LandingZone | None,
    source: str,
    entry: FileEntry,
    loader: Loader,
    run_id: str,
) -> Outcome:
    """Take one file version exactly once. Never raises for bad content; re-raises nothing."""
    try:
        data = zone.read_bytes(entry.path)
    except FileNotFoundError:
        return Outcome(entry.path, "vanished", error="file disappeared before it was read")
    sha = hashlib.sha256(data).hexdigest()
    # The listing may be stale: account for the bytes we actually read.
    entry = FileEntry(entry.path, len(data), entry.mtime)
    ledger_id, status, attempts = _begin_attempt(conn, source, entry, sha, run_id)
    if status in TERMINAL:
        return Outcome(entry.path, "already", ledger_id)
    # Liveness: held until we are done (or our connection dies), see ledger.LIVENESS_LOCK.
    conn.execute("SELECT pg_advisory_lock(%s, %s)", (LIVENESS_LOCK, ledger_id))
    try:
        return _attempt(conn, archive, source, entry, data, sha, ledger_id, attempts, loader)
    finally:
        if not conn.closed and not conn.broken:
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LIVENESS_LOCK, ledger_id))


def _attempt(conn, archive, source, entry, data, sha, ledger_id, attempts, loader) -> Outcome:
    try:
        archived = None
        if archive is not None:
            archived = archive_path(entry.path, sha)
            if not archive.exists(archived):
                archive.write_bytes(archived, data)
        version = Version(ledger_id, source, entry.path, sha, entry.size, entry.mtime)
        return _load_in_one_transaction(conn, version, data, loader, archived)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded, then reported by the caller
        message = f"{type(exc).__name__}: {exc}"[:2000]
        final = "failed" if attempts >= max_attempts() else "retry"
        try:
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.rollback()
            with conn.transaction():
                conn.execute(
                    "UPDATE raw.ingest_ledger SET status = %s, error = %s, updated_at = now() "
                    "WHERE id = %s AND status = 'loading'",
                    (final, message, ledger_id),
                )
        except psycopg.Error:
            final = "retry"  # connection lost: the row stays 'loading' until its lease expires
        return Outcome(entry.path, final, ledger_id, error=message)


def _load_in_one_transaction(
    conn: psycopg.Connection, v: Version, data: bytes, loader: Loader, archived: str | None
) -> Outcome:
    with conn.transaction(), conn.cursor() as cur:
        # Serialise every run that touches this path (concurrent runs, reruns).
        cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{v.source}:{v.path}",))
        cur.execute("SELECT status FROM raw.ingest_ledger WHERE id = %s FOR UPDATE", (v.ledger_id,))
        (status,) = cur.fetchone()
        if status in TERMINAL:
            return Outcome(v.path, "already", v.ledger_id)

        cur.execute(
            """SELECT id FROM raw.ingest_ledger
                WHERE source = %s AND sha256 = %s AND path <> %s AND status = 'loaded'
                ORDER BY id LIMIT 1""",
            (v.source, v.sha256, v.path),
        )
        dup = cur.fetchone()
        if dup:
            cur.execute(
                """UPDATE raw.ingest_ledger SET status = 'duplicate', duplicate_of = %s, error = NULL,
                          archived_path = %s, updated_at = now() WHERE id = %s""",
                (dup[0], archived, v.ledger_id),
            )
            return Outcome(v.path, "duplicate", v.ledger_id)

        cur.execute(
            """SELECT id, size, mtime FROM raw.ingest_ledger
                WHERE source = %s AND path = %s AND status = 'loaded' AND id <> %s
                ORDER BY loaded_at DESC LIMIT 1""",
            (v.source, v.path, v.ledger_id),
        )
        previous = cur.fetchone()
        if previous and previous[2] > mtime_dt(v.mtime):
            # An older version arriving late must not replace a newer one already loaded.
            cur.execute(
                "UPDATE raw.ingest_ledger SET status = 'superseded', error = %s, archived_path = %s, "
                "updated_at = now() WHERE id = %s",
                (f"older than loaded version {previous[0]}", archived, v.ledger_id),
            )
            return Outcome(v.path, "superseded", v.ledger_id)
        shrunk = bool(previous and previous[1] > v.size)

        try:
            with conn.transaction():  # savepoint: a quarantine keeps the ledger update below
                counts = loader(cur, v, data)
        except Quarantine as q:
            rows_in, rows_rejected = q.counts or (None, None)
            cur.execute(
                """UPDATE raw.ingest_ledger SET status = 'quarantined', error = %s, rows_in = %s,
                          rows_loaded = 0, rows_rejected = %s, archived_path = %s, shrunk = %s,
                          updated_at = now() WHERE id = %s""",
                (str(q)[:2000], rows_in, rows_rejected, archived, shrunk, v.ledger_id),
            )
            return Outcome(v.path, "quarantined", v.ledger_id, error=str(q), shrunk=shrunk)

        if previous:
            cur.execute(
                "UPDATE raw.ingest_ledger SET status = 'superseded', updated_at = now() WHERE id = %s",
                (previous[0],),
            )
        cur.execute(
            """UPDATE raw.ingest_ledger SET status = 'loaded', error = NULL, rows_in = %s, rows_loaded = %s,
                      rows_rejected = %s, rows_skipped = %s, archived_path = %s, shrunk = %s,
                      loaded_at = now(), updated_at = now() WHERE id = %s""",
            (
                counts.rows_in,
                counts.rows_loaded,
                counts.rows_rejected,
                counts.rows_skipped,
                archived,
                shrunk,
                v.ledger_id,
            ),
        )
        return Outcome(v.path, "loaded", v.ledger_id, counts=counts, shrunk=shrunk)


def reparse_loaded_version(
    conn: psycopg.Connection,
    archive: LandingZone | None,
    zone: LandingZone,
    source: str,
    ledger_id: int,
    loader: Loader,
) -> Outcome:
    """Re-run the loader on a version that is already loaded (after a parser change).

    The bytes come from the archive (content-addressed, so they are exactly that version), or
    from the landing zone if the file there still has the same sha256. Rows are replaced in
    one transaction and the ledger counts updated; running it twice gives the same rows.
    """
    path, sha, size, mtime, archived = conn.execute(
        "SELECT path, sha256, size, mtime, archived_path FROM raw.ingest_ledger WHERE id = %s", (ledger_id,)
    ).fetchone()
    data = None
    for where, rel in ((archive, archived), (zone, path)):
        if where is None or rel is None:
            continue
        try:
            candidate = where.read_bytes(rel)
        except FileNotFoundError:
            continue
        if hashlib.sha256(candidate).hexdigest() == sha:
            data = candidate
            break
    if data is None:
        return Outcome(
            path, "unavailable", ledger_id, error="neither the archive nor the landing zone has this version"
        )
    version = Version(ledger_id, source, path, sha, size, mtime.timestamp())
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{source}:{path}",))
        cur.execute("SELECT status FROM raw.ingest_ledger WHERE id = %s FOR UPDATE", (ledger_id,))
        if cur.fetchone()[0] != "loaded":
            return Outcome(path, "already", ledger_id)
        counts = loader(cur, version, data)
        cur.execute(
            """UPDATE raw.ingest_ledger SET rows_in = %s, rows_loaded = %s, rows_rejected = %s,
                      rows_skipped = %s, updated_at = now() WHERE id = %s""",
            (counts.rows_in, counts.rows_loaded, counts.rows_rejected, counts.rows_skipped, ledger_id),
        )
    return Outcome(path, "reparsed", ledger_id, counts=counts)
