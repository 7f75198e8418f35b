"""The run driver of every file kind: one ingestion run, from listing to conservation check.

A run (sensor-requested, backfilled or launched by hand) takes every pending version of its
partitions — or just the paths the sensor put in its config — and never stops at a bad file:
each file ends with an outcome in the ledger (loaded, duplicate, superseded, quarantined, retry,
failed). A dropped landing-zone connection is reopened and the next files are still attempted.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg

from factory_assets.ingest import ledger
from factory_assets.ingest.files import Outcome, ingest_version, reparse_loaded_version
from factory_assets.ingest.kinds import BadName, FileKind
from factory_assets.ingest.listing import triage
from factory_assets.ingest.migrate import ensure_schema
from resources.landing import LandingZoneResource
from resources.warehouse import WarehouseResource
from resources.zone import LandingZone, LandingZoneError

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    outcomes: list[Outcome] = field(default_factory=list)
    refused: int = 0
    settled_orphans: dict[str, int] = field(default_factory=dict)
    violations: list[dict] = field(default_factory=list)
    checked_versions: int = 0

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status in ("failed", "retry")]

    def summary(self) -> dict[str, int]:
        c = Counter(o.status for o in self.outcomes)
        counted = [o.counts for o in self.outcomes if o.counts and o.status in ("loaded", "reparsed")]
        return {
            "files_seen": len(self.outcomes),
            "files_loaded": c["loaded"],
            "files_duplicate": c["duplicate"],
            "files_quarantined": c["quarantined"],
            "files_superseded": c["superseded"],
            "files_failed": c["failed"] + c["retry"],
            "files_reparsed": c["reparsed"],
            "files_unavailable_for_reparse": c["unavailable"],
            "files_shrunk": sum(o.shrunk for o in self.outcomes),
            "entries_refused": self.refused,
            "rows_in": sum(x.rows_in for x in counted),
            "rows_loaded": sum(x.rows_loaded for x in counted),
            "rows_rejected": sum(x.rows_rejected for x in counted),
            "rows_skipped": sum(x.rows_skipped for x in counted),
            "rows_duplicate": sum(x.rows_duplicate for x in counted),
        }


class _ZoneSession:
    """The run's landing-zone connection, reopened when it breaks (an SFTP session dropped)."""

    def __init__(self, resource: LandingZoneResource):
        self._resource = resource
        self._stack = contextlib.ExitStack()
        self.zone: LandingZone | None = None

    def open(self) -> LandingZone:
        self.zone = self._stack.enter_context(self._resource.open())
        return self.zone

    def reopen(self, logger) -> None:
        self._stack.close()
        self._stack = contextlib.ExitStack()
        try:
            self.open()
            logger.info(f"reconnected to the landing zone {self._resource.display_url()}")
        except LandingZoneError as exc:
            logger.warning(
                f"could not reconnect to the landing zone: {exc}"
            )  # next files fail fast, recorded

    def close(self) -> None:
        self._stack.close()


@contextlib.contextmanager
def _zones(
    landing: LandingZoneResource, archive: LandingZoneResource
) -> Iterator[tuple[_ZoneSession, LandingZone]]:
    session = _ZoneSession(landing)
    session.open()
    try:
        with archive.open() as arch:
            yield session, arch
    finally:
        session.close()


def backfill_logical_keys(conn: psycopg.Connection, kind: FileKind) -> int:
    """Versions recorded before logical keys existed get theirs (once)."""
    rows = conn.execute(
        "SELECT id, path FROM raw.ingest_ledger WHERE source = %s AND logical_key IS NULL AND sha256 IS NOT NULL",
        (kind.source,),
    ).fetchall()
    updates = []
    for ledger_id, path in rows:
        try:
            c = kind.classify(path)
        except BadName:
            continue
        updates.append((c.logical_key, c.partition_key, ledger_id))
    if updates:
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                "UPDATE raw.ingest_ledger SET logical_key = %s, partition_key = coalesce(partition_key, %s) "
                "WHERE id = %s",
                updates,
            )
    return len(updates)


_lock = threading.Lock()


def load_workers(kind: FileKind) -> int:
    """Files one run of ``kind`` loads at the same time: the kind's ``load_workers`` (machine logs:
    2), which ``FACTORY_INGEST_WORKERS`` may change for kinds that allow more than one.

    Two is right for two cores: while one file's rows stream into PostgreSQL (server CPU), the
    next file is read, hashed and parsed (client CPU). Each worker has its own warehouse
    connection and landing-zone session; the ledger serialises anything that touches one file.
    """
    if kind.load_workers <= 1:
        return 1
    return max(1, int(os.environ.get("FACTORY_INGEST_WORKERS") or kind.load_workers))


def _no_commit_wait(conn) -> None:
    """Commits of this connection do not wait for the WAL flush (``synchronous_commit = off``).

    Safe for exactly-once: a version's rows and its ``loaded`` ledger row are one transaction, so
    a server crash can only lose both (the last few hundred milliseconds of commits); the ledger
    then shows the version pending again and the next run loads it from the landing zone or the
    archive. What it saves is one WAL flush wait per commit, several per file.
    """
    conn.execute("SET synchronous_commit TO off")


def _load_all(todo, kind, run_id, conn, session: _ZoneSession, arch, record, logger) -> None:
    for i, (entry, classified) in enumerate(todo, start=1):
        outcome = ingest_version(conn, session.zone, arch, kind, entry, run_id, classified=classified)
        record(outcome)
        if outcome.zone_broken and i < len(todo):
            session.reopen(logger)


def _load_parallel(todo, workers, kind, run_id, warehouse, landing, archive, record, logger) -> None:
    queue = list(reversed(todo))
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with _zones(landing, archive) as (session, arch), warehouse.connection() as conn:
                _no_commit_wait(conn)
                while True:
                    with _lock:
                        if not queue:
                            return
                        item = queue.pop()
                    entry, classified = item
                    outcome = ingest_version(
                        conn, session.zone, arch, kind, entry, run_id, classified=classified
                    )
                    record(outcome)
                    if outcome.zone_broken:
                        session.reopen(logger)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the run's thread below
            errors.append(exc)

    threads = [threading.Thread(target=worker, name=f"ingest-{i}") for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def run_ingest(
    kind: FileKind,
    warehouse: WarehouseResource,
    landing: LandingZoneResource,
    archive: LandingZoneResource,
    *,
    run_id: str,
    partition_keys: set[str] | None = None,
    paths: list[str] | None = None,
    logger=log,
) -> IngestReport:
    """Take every pending version of ``kind`` (in ``partition_keys``; only ``paths`` if given)."""
    report = IngestReport()
    ensure_schema(warehouse)
    with _zones(landing, archive) as (session, arch), warehouse.connection() as conn:
        _no_commit_wait(conn)
        entries = session.zone.list_entries(kind.prefix)
        tri = triage(kind, entries)
        for entry, reason in tri.refused:
            if ledger.record_refused(conn, kind.source, entry, reason):
                logger.warning(f"quarantined {entry.path}: {reason}")
            report.refused += 1
        for folder in tri.unlistable:
            logger.warning(f"cannot list {folder} in the landing zone (permissions?); its files are not seen")
        report.settled_orphans = ledger.settle_orphans(conn, kind.source, entries)
        if report.settled_orphans:
            logger.warning(f"settled versions left pending by runs that died: {report.settled_orphans}")
        backfill_logical_keys(conn, kind)

        wanted = set(paths or ())
        selected = {
            e.path: (e, c)
            for e, c in tri.takeable
            if (partition_keys is None or c.partition_key in partition_keys)
            and (not wanted or e.path in wanted)
        }
        for missing in sorted(wanted - set(selected)):
            logger.info(f"{missing}: no longer takeable (moved, renamed or changed); skipped")
        pending = ledger.pending_entries(conn, kind.source, [e for e, _ in selected.values()])
        where = f"{len(partition_keys)} partition(s)" if partition_keys is not None else "the landing zone"
        logger.info(f"{len(pending)} new file version(s) among {len(selected)} file(s) for {where}")

        todo = [(entry, selected[entry.path][1]) for entry, _attempts in pending]
        workers = min(load_workers(kind), len(todo))
        done = Counter()

        def record(outcome: Outcome) -> None:
            with _lock:
                report.outcomes.append(outcome)
                done["n"] += 1
                msg = f"[{done['n']}/{len(todo)}] {outcome.path}: {outcome.status}"
            if outcome.counts:
                msg += f" ({outcome.counts.rows_in} rows in, {outcome.counts.rows_rejected} rejected)"
            if outcome.error:
                msg += f" — {outcome.error}"
            (logger.warning if outcome.error else logger.info)(msg)

        if workers <= 1:
            _load_all(todo, kind, run_id, conn, session, arch, record, logger)
        else:
            _load_parallel(todo, workers, kind, run_id, warehouse, landing, archive, record, logger)

        # Versions loaded by another code version of the kind (Dagster shows them stale):
        # re-parse them from the archive. Idempotent.
        stale_sql = (
            "SELECT id FROM raw.ingest_ledger WHERE source = %s AND status = 'loaded' "
            "AND loader_version IS DISTINCT FROM %s"
        )
        params: list = [kind.source, kind.code_version]
        if partition_keys is not None:
            stale_sql += " AND partition_key = ANY(%s)"
            params.append(sorted(partition_keys))
        for (ledger_id,) in conn.execute(stale_sql + " ORDER BY id", params).fetchall():
            outcome = reparse_loaded_version(conn, arch, session.zone, kind, ledger_id)
            report.outcomes.append(outcome)
            (logger.warning if outcome.error else logger.info)(
                f"re-parsed {outcome.path} with {kind.source} code version {kind.code_version}: "
                f"{outcome.status} {outcome.error or ''}"
            )

        ids = [o.ledger_id for o in report.outcomes if o.ledger_id and o.status in ("loaded", "reparsed")]
        report.violations, report.checked_versions = conservation_violations(
            conn, kind, ids=ids, partition_keys=partition_keys
        )
    return report


def conservation_violations(
    conn: psycopg.Connection,
    kind: FileKind,
    *,
    ids: list[int] | None = None,
    partition_keys: set[str] | None = None,
) -> tuple[list[dict], int]:
    """Loaded versions whose accounting does not hold; and how many versions were checked.

    Checked: versions loaded in this run, plus every loaded version of the run's partitions.
    For each: ``rows_in = loaded + rejected + skipped + duplicate``; the rejects stored in
    ``raw.ingest_rejects`` number ``rows_rejected``; the rows actually present agree with the
    ledger (the kind's ``present_rows_sql``); and no other loaded version has the same logical key.
    """
    rows = conn.execute(
        """SELECT l.id, l.path, l.logical_key, l.rows_in, l.rows_loaded, l.rows_rejected,
                  coalesce(l.rows_skipped, 0), coalesce(l.rows_duplicate, 0),
                  (SELECT count(*) FROM raw.ingest_rejects r WHERE r.file_version_id = l.id)
             FROM raw.ingest_ledger l
            WHERE l.source = %s AND l.status = 'loaded'
              AND (l.id = ANY(%s) OR l.partition_key = ANY(%s))""",
        (kind.source, list(ids or []), sorted(partition_keys or [])),
    ).fetchall()
    present: dict[int, int] = {}
    if kind.present_rows_sql and rows:
        present = dict(conn.execute(kind.present_rows_sql, {"ids": [r[0] for r in rows]}).fetchall())
    out = []
    for vid, path, _key, rin, rloaded, rrej, rskip, rdup, stored in rows:
        problems = []
        if rin is None or rin != rloaded + rrej + rskip + rdup:
            problems.append("rows_in <> loaded + rejected + skipped + duplicate")
        if stored != rrej:
            problems.append(f"{stored} rejects stored, ledger says {rrej}")
        if kind.present_rows_sql:
            n = present.get(vid, 0)
            if (kind.present_rule == "equal" and n != rloaded) or (
                kind.present_rule == "at_most" and n > rloaded
            ):
                problems.append(f"{n} rows present, ledger says {rloaded} loaded")
        if problems:
            out.append({"file_version_id": vid, "path": path, "problems": problems})
    keys = sorted({r[2] for r in rows if r[2]})
    for key, paths in conn.execute(
        """SELECT logical_key, array_agg(path ORDER BY id) FROM raw.ingest_ledger
            WHERE source = %s AND status = 'loaded' AND logical_key = ANY(%s)
            GROUP BY 1 HAVING count(*) > 1""",
        (kind.source, keys),
    ).fetchall():
        out.append({"logical_key": key, "paths": paths, "problems": ["several loaded versions for one key"]})
    return out, len(rows)
