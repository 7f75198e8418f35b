"""Exactly-once loading of landing-zone file versions, shared by every file kind.

One version = (path, sha256). For each version:

1. open it as a stream (regular files inside the root only) and read it **once** into a local
   spool while hashing it; a file that cannot be read still gets a ledger row (``retry``, then
   ``failed`` after the bounded attempts) with the error, and the run goes on with the next file;
2. mark the ledger row ``loading`` and count the attempt (own short transaction, so a crash is
   visible and bounded retries work); archive the spool under a content-addressed name;
3. in ONE transaction, holding a lock on the version's logical key: decide duplicate /
   superseded, remove the rows of the version it replaces (same logical key), let the kind's
   loader stream the new rows, write the shared rejects, and set the ledger row ``loaded`` (or
   ``quarantined``) with its counts; the replaced version becomes ``superseded``.

A crash before step 3 commits leaves neither rows nor a ``loaded`` row; the next attempt starts
again. Two paths with the same logical key (``CASE/20250101.LOG`` and ``CASE/20250101.log``) are
two names for one session: the newer one supersedes the older one, so there is never more than
one loaded version per key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import PurePosixPath

import psycopg

from factory_assets.ingest.kinds import Classified, FileKind, LoadContext, LoadCounts, Quarantine, Version
from factory_assets.ingest.ledger import LIVENESS_LOCK, TERMINAL, max_attempts, mtime_dt, record_read_failure
from factory_assets.ingest.ledger import record_refused as _record_refused
from factory_assets.ingest.rejects import RejectSink, delete_rejects
from factory_assets.ingest.streams import FileTooLarge, Spooled, spool
from resources.zone import FileEntry, LandingZone, LandingZoneError, NotARegularFile

__all__ = [
    "Classified",
    "LoadCounts",
    "Outcome",
    "Quarantine",
    "Version",
    "archive_path",
    "ingest_version",
    "reparse_loaded_version",
]


@dataclass(frozen=True)
class Outcome:
    path: str
    # loaded | duplicate | superseded | quarantined | already | retry | failed | vanished
    # | reparsed | unavailable
    status: str
    ledger_id: int | None = None
    counts: LoadCounts | None = None
    error: str | None = None
    shrunk: bool = False
    zone_broken: bool = False  # the landing zone connection failed: reopen it before the next file


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


def _begin_attempt(
    conn: psycopg.Connection, source: str, entry: FileEntry, sha: str, run_id: str, c: Classified
):
    """Insert or re-arm the ledger row; returns (id, status, attempts) as stored after the call.

    Rows of the same path that were never read (read failures) or whose run died while the file
    was changing are settled here: this new content supersedes them.
    """
    with conn.transaction():
        row = conn.execute(
            f"""INSERT INTO raw.ingest_ledger AS l
                      (source, path, size, mtime, sha256, status, attempts, run_id, partition_key, logical_key)
               VALUES (%s, %s, %s, %s, %s, 'loading', 1, %s, %s, %s)
               ON CONFLICT (source, path, sha256) DO UPDATE SET
                   size = EXCLUDED.size,
                   mtime = EXCLUDED.mtime,
                   updated_at = now(),
                   partition_key = EXCLUDED.partition_key,
                   logical_key = EXCLUDED.logical_key,
                   attempts = CASE WHEN {_DONE} THEN l.attempts ELSE l.attempts + 1 END,
                   run_id = CASE WHEN {_DONE} THEN l.run_id ELSE EXCLUDED.run_id END,
                   status = CASE WHEN {_DONE} THEN l.status ELSE 'loading' END
               RETURNING id, status, attempts""",
            (
                source,
                entry.path,
                entry.size,
                mtime_dt(entry.mtime),
                sha,
                run_id,
                c.partition_key,
                c.logical_key,
            ),
        ).fetchone()
        conn.execute(
            """UPDATE raw.ingest_ledger l SET status = 'superseded', superseded_by = %s, updated_at = now(),
                      error = coalesce(l.error || '; ', '') || 'read later as version ' || %s
                WHERE l.source = %s AND l.path = %s AND l.id <> %s
                  AND (l.sha256 IS NULL AND l.status IN ('retry', 'loading', 'failed')
                       OR l.status IN ('retry', 'loading') AND NOT EXISTS (
                           SELECT 1 FROM pg_locks k
                            WHERE k.locktype = 'advisory' AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND k.classid = %s::oid
                              AND k.objid::bigint = l.id AND k.objsubid = 2 AND k.granted))""",
            (row[0], row[0], source, entry.path, row[0], LIVENESS_LOCK),
        )
    return row


def _read_failure(
    conn, kind: FileKind, entry: FileEntry, message: str, run_id: str, *, broken: bool
) -> Outcome:
    status, _attempts = record_read_failure(conn, kind.source, entry, message, run_id)
    return Outcome(entry.path, status, error=message, zone_broken=broken)


def _refuse(conn, kind: FileKind, entry: FileEntry, reason: str) -> Outcome:
    _record_refused(conn, kind.source, entry, reason)
    return Outcome(entry.path, "quarantined", error=reason)


def ingest_version(
    conn: psycopg.Connection,
    zone: LandingZone,
    archive: LandingZone | None,
    kind: FileKind,
    entry: FileEntry,
    run_id: str,
    classified: Classified | None = None,
) -> Outcome:
    """Take one file version exactly once. Never raises for bad content or an unreadable file."""
    c = classified or kind.classify(entry.path)
    max_bytes = kind.max_bytes()
    if entry.size > max_bytes:
        return _refuse(conn, kind, entry, f"file_too_large: {entry.size:,} bytes, the limit is {max_bytes:,}")
    try:
        with zone.open_read(entry.path) as stream:
            spooled = spool(stream, max_bytes)
    except FileNotFoundError:
        return Outcome(entry.path, "vanished", error="file disappeared before it was read")
    except NotARegularFile as exc:
        return _refuse(conn, kind, entry, f"not_a_regular_file: {exc.what}")
    except FileTooLarge as exc:
        return _refuse(conn, kind, entry, str(exc))
    except LandingZoneError as exc:
        return _read_failure(conn, kind, entry, f"unreadable: {exc}", run_id, broken=True)
    except OSError as exc:
        reason = f"unreadable: {exc.strerror or exc} ({type(exc).__name__})"
        return _read_failure(conn, kind, entry, reason, run_id, broken=False)
    with spooled:
        # The listing may be stale: account for the bytes actually read.
        entry = FileEntry(entry.path, spooled.size, entry.mtime)
        ledger_id, status, attempts = _begin_attempt(conn, kind.source, entry, spooled.sha256, run_id, c)
        if status in TERMINAL:
            return Outcome(entry.path, "already", ledger_id)
        # Liveness: held until we are done (or our connection dies), see ledger.LIVENESS_LOCK.
        conn.execute("SELECT pg_advisory_lock(%s, %s)", (LIVENESS_LOCK, ledger_id))
        try:
            version = Version(
                ledger_id, kind.source, entry.path, spooled.sha256, entry.size, entry.mtime,
                c.partition_key, c.logical_key,
            )  # fmt: skip
            return _attempt(conn, archive, kind, version, spooled, attempts)
        finally:
            if not conn.closed and not conn.broken:
                conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LIVENESS_LOCK, ledger_id))


def _attempt(conn, archive, kind: FileKind, v: Version, spooled: Spooled, attempts: int) -> Outcome:
    try:
        archived = None
        if archive is not None:
            archived = archive_path(v.path, v.sha256)
            if not archive.exists(archived):
                archive.write_stream(archived, spooled.chunks())
        return _load_in_one_transaction(conn, kind, v, spooled, archived)
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
                    (final, message, v.ledger_id),
                )
        except psycopg.Error:
            final = "retry"  # connection lost: the row stays 'loading' until its run is seen dead
        return Outcome(v.path, final, v.ledger_id, error=message)


def _replace_rows(cur: psycopg.Cursor, kind: FileKind, replaced: int) -> None:
    """Remove what the replaced version loaded: its rejects, and its rows (policy "version")."""
    delete_rejects(cur, replaced)
    if kind.replace == "version":
        for table in kind.version_tables:
            cur.execute(f"DELETE FROM {kind.raw_table(table)} WHERE file_version_id = %s", (replaced,))


def _run_loader(cur, kind: FileKind, v: Version, spooled: Spooled, replaces: int | None) -> LoadCounts:
    sink = RejectSink(v.ledger_id, v.source)
    try:
        counts = kind.load(LoadContext(cur, v, spooled.rewind(), replaces, sink, kind))
        if sink.count != counts.rows_rejected:
            raise RuntimeError(
                f"loader of {kind.source} reported {counts.rows_rejected} rejected rows but stored "
                f"{sink.count} in raw.ingest_rejects"
            )
        if not counts.conserved:
            raise RuntimeError(f"loader of {kind.source} does not account for every row: {counts}")
        sink.flush(cur)
        return counts
    finally:
        sink.close()


def _load_in_one_transaction(
    conn: psycopg.Connection, kind: FileKind, v: Version, spooled: Spooled, archived: str | None
) -> Outcome:
    with conn.transaction(), conn.cursor() as cur:
        # Serialise every run that touches this logical key (concurrent runs, reruns, two names).
        cur.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            (f"{v.source}:{v.logical_key or v.path}",),
        )
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
            """SELECT id, size, mtime, path FROM raw.ingest_ledger
                WHERE source = %s AND status = 'loaded' AND id <> %s
                  AND (logical_key = %s OR (logical_key IS NULL AND path = %s))
                ORDER BY loaded_at DESC""",
            (v.source, v.ledger_id, v.logical_key or v.path, v.path),
        )
        loaded = cur.fetchall()
        previous = loaded[0] if loaded else None
        if previous and previous[2] > mtime_dt(v.mtime):
            # An older version arriving late must not replace a newer one already loaded.
            cur.execute(
                "UPDATE raw.ingest_ledger SET status = 'superseded', superseded_by = %s, error = %s, "
                "archived_path = %s, updated_at = now() WHERE id = %s",
                (
                    previous[0],
                    f"older than loaded version {previous[0]} ({previous[3]})",
                    archived,
                    v.ledger_id,
                ),
            )
            return Outcome(v.path, "superseded", v.ledger_id)
        shrunk = bool(previous and previous[3] == v.path and previous[1] > v.size)

        try:
            with conn.transaction():  # savepoint: a quarantine keeps the ledger update below
                for old in loaded:
                    _replace_rows(cur, kind, old[0])
                counts = _run_loader(cur, kind, v, spooled, previous[0] if previous else None)
        except Quarantine as q:
            rows_in, rows_rejected = q.counts or (None, None)
            cur.execute(
                """UPDATE raw.ingest_ledger SET status = 'quarantined', error = %s, rows_in = %s,
                          rows_loaded = 0, rows_rejected = %s, archived_path = %s, shrunk = %s,
                          loader_version = %s, updated_at = now() WHERE id = %s""",
                (str(q)[:2000], rows_in, rows_rejected, archived, shrunk, kind.code_version, v.ledger_id),
            )
            return Outcome(v.path, "quarantined", v.ledger_id, error=str(q), shrunk=shrunk)

        for old in loaded:
            cur.execute(
                "UPDATE raw.ingest_ledger SET status = 'superseded', superseded_by = %s, updated_at = now(), "
                "error = CASE WHEN path <> %s THEN 'same data under another name: replaced by ' || %s END "
                "WHERE id = %s",
                (v.ledger_id, v.path, v.path, old[0]),
            )
        _record_counts(cur, v.ledger_id, counts, kind, status="loaded", archived=archived, shrunk=shrunk)
        return Outcome(v.path, "loaded", v.ledger_id, counts=counts, shrunk=shrunk)


def _record_counts(cur, ledger_id: int, counts: LoadCounts, kind: FileKind, **also) -> None:
    """Write a version's row counts (and ``also``: status, archived path, ...) to its ledger row."""
    names = {"status": "status", "archived": "archived_path", "shrunk": "shrunk"}
    extra = "".join(f", {names[k]} = %({k})s" for k in also)
    if also.get("status") == "loaded":
        extra += ", error = NULL, loaded_at = now()"
    cur.execute(
        f"""UPDATE raw.ingest_ledger SET rows_in = %(rows_in)s, rows_loaded = %(rows_loaded)s,
                   rows_rejected = %(rows_rejected)s, rows_skipped = %(rows_skipped)s,
                   rows_duplicate = %(rows_duplicate)s, loader_version = %(version)s,
                   updated_at = now(){extra}
             WHERE id = %(id)s""",
        {**dataclasses.asdict(counts), "version": kind.code_version, "id": ledger_id, **also},
    )


def _spool_version(where: LandingZone | None, rel: str | None, sha: str, max_bytes: int) -> Spooled | None:
    if where is None or rel is None:
        return None
    try:
        with where.open_read(rel) as stream:
            candidate = spool(stream, max_bytes)
    except (OSError, LandingZoneError, FileTooLarge):
        return None
    if candidate.sha256 == sha:
        return candidate
    candidate.close()
    return None


def reparse_loaded_version(
    conn: psycopg.Connection,
    archive: LandingZone | None,
    zone: LandingZone,
    kind: FileKind,
    ledger_id: int,
) -> Outcome:
    """Re-run the loader on a version that is already loaded (after a change of its code version).

    The bytes come from the archive (content-addressed, so they are exactly that version), or
    from the landing zone if the file there still has the same sha256. Rows are replaced in
    one transaction and the ledger counts updated; running it twice gives the same rows.
    """
    path, sha, size, mtime, archived, pkey, lkey = conn.execute(
        "SELECT path, sha256, size, mtime, archived_path, partition_key, logical_key "
        "FROM raw.ingest_ledger WHERE id = %s",
        (ledger_id,),
    ).fetchone()
    spooled = _spool_version(archive, archived, sha, kind.max_bytes()) or _spool_version(
        zone, path, sha, kind.max_bytes()
    )
    if spooled is None:
        return Outcome(
            path, "unavailable", ledger_id, error="neither the archive nor the landing zone has this version"
        )
    version = Version(ledger_id, kind.source, path, sha, size, mtime.timestamp(), pkey, lkey)
    with spooled, conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{kind.source}:{lkey or path}",)
        )
        cur.execute("SELECT status FROM raw.ingest_ledger WHERE id = %s FOR UPDATE", (ledger_id,))
        if cur.fetchone()[0] != "loaded":
            return Outcome(path, "already", ledger_id)
        _replace_rows(cur, kind, ledger_id)
        counts = _run_loader(cur, kind, version, spooled, ledger_id)
        _record_counts(cur, ledger_id, counts, kind)
    return Outcome(path, "reparsed", ledger_id, counts=counts)
