"""Machine-log ingestion: landing zone -> ``raw.machine_logs__*``, partitioned by production date.

Materialising a partition (by hand, by backfill or from the sensor) takes every new version of
that day's files, for every centre folder present. What "new" means is decided by the ledger,
never by Dagster state, so reruns and lost cursors never load anything twice.
"""

import os
from collections import Counter
from datetime import date

import dagster as dg

from factory_assets import settings
from factory_assets.ingest import ledger
from factory_assets.ingest.files import Outcome, ingest_version, reparse_loaded_version
from factory_assets.machine_logs.loader import SOURCE, TABLES, load_machine_log
from factory_assets.machine_logs.parser import PARSER_VERSION, BadFileName, session_of_path
from resources.landing import FileEntry, LandingZoneResource
from resources.warehouse import WarehouseResource

PREFIX = "machine_logs"
GROUP = "machine_logs"


def machine_log_partitions() -> dg.DailyPartitionsDefinition:
    """Daily partitions in plant time, including today (today's file grows during the day)."""
    return dg.DailyPartitionsDefinition(
        start_date=os.environ.get("FACTORY_MACHINE_LOGS_START") or "2020-01-01",
        timezone=settings.plant_timezone(),
        end_offset=1,
    )


PARTITIONS = machine_log_partitions()


def takeable(entry: FileEntry) -> bool:
    """Not a temporary upload name and not empty (an empty file is usually one being created)."""
    return entry.size > 0 and not settings.is_temporary_name(entry.path)


def partition_of(path: str) -> str:
    """Partition key (ISO date) of a machine-log path; raises :class:`BadFileName`."""
    return session_of_path(path)[1].isoformat()


def _summarise(outcomes: list[Outcome]) -> dict[str, int]:
    c = Counter(o.status for o in outcomes)
    loaded = [o.counts for o in outcomes if o.counts and o.status == "loaded"]
    return {
        "files_seen": len(outcomes),
        "files_loaded": c["loaded"],
        "files_duplicate": c["duplicate"],
        "files_quarantined": c["quarantined"],
        "files_superseded": c["superseded"],
        "files_failed": c["failed"] + c["retry"],
        "files_reparsed": c["reparsed"],
        "files_unavailable_for_reparse": c["unavailable"],
        "files_shrunk": sum(o.shrunk for o in outcomes),
        "lines_in": sum(x.rows_in for x in loaded),
        "lines_loaded": sum(x.rows_loaded for x in loaded),
        "lines_rejected": sum(x.rows_rejected for x in loaded),
        "lines_blank": sum(x.rows_skipped for x in loaded),
    }


@dg.multi_asset(
    name="machine_logs_ingest",
    specs=[
        dg.AssetSpec(
            [SOURCE, table],
            group_name=GROUP,
            partitions_def=PARTITIONS,
            code_version=PARSER_VERSION,
            description=f"raw.machine_logs__{table}: parsed from machine_logs/<CENTRE>/YYYYMMDD.LOG files.",
            kinds={"python", "postgres"},
            metadata={"table": f"raw.machine_logs__{table}"},
        )
        for table in TABLES
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "lines_conserved",
            asset=[SOURCE, "sessions"],
            description="Per file version: lines in = parsed + blank + rejected, and every rejected "
            "line is stored with its reason.",
        )
    ],
    backfill_policy=dg.BackfillPolicy.single_run(),
    op_tags={"factory/source": SOURCE},
)
def machine_logs_ingest(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    landing: LandingZoneResource,
    archive: LandingZoneResource,
):
    days = {date.fromisoformat(k) for k in context.partition_keys}
    warehouse.ensure_schema()
    outcomes: list[Outcome] = []
    with landing.open() as zone, archive.open() as arch, warehouse.connection() as conn:
        listing = [e for e in zone.list_files(PREFIX) if takeable(e)]
        selected: list[FileEntry] = []
        for entry in listing:
            try:
                if session_of_path(entry.path)[1] in days:
                    selected.append(entry)
            except BadFileName as exc:
                if ledger.record_unreadable(conn, SOURCE, entry, f"bad_file_name: {exc}"):
                    context.log.warning(f"quarantined {entry.path}: {exc}")
        pending = ledger.pending_entries(conn, SOURCE, selected)
        context.log.info(
            f"{len(pending)} new file version(s) among {len(selected)} file(s) for {len(days)} day(s)"
        )
        for i, (entry, _attempts) in enumerate(pending, start=1):
            outcome = ingest_version(conn, zone, arch, SOURCE, entry, load_machine_log, context.run_id)
            outcomes.append(outcome)
            msg = f"[{i}/{len(pending)}] {entry.path}: {outcome.status}"
            if outcome.counts:
                msg += f" ({outcome.counts.rows_in} lines, {outcome.counts.rows_rejected} rejected)"
            if outcome.error:
                msg += f" — {outcome.error}"
            (context.log.warning if outcome.error else context.log.info)(msg)
        # Sessions parsed by another parser version (the asset's code version changed, Dagster
        # shows them stale): re-parse them from the archive. Idempotent; a backfill of every
        # partition therefore reprocesses everything once.
        stale = conn.execute(
            """SELECT s.file_version_id FROM raw.machine_logs__sessions s
                WHERE s.production_date = ANY(%s) AND s.parser_version <> %s ORDER BY 1""",
            (sorted(days), PARSER_VERSION),
        ).fetchall()
        for (ledger_id,) in stale:
            outcome = reparse_loaded_version(conn, arch, zone, SOURCE, ledger_id, load_machine_log)
            outcomes.append(outcome)
            (context.log.warning if outcome.error else context.log.info)(
                f"re-parsed {outcome.path} with parser {PARSER_VERSION}: {outcome.status} {outcome.error or ''}"
            )
        violations = conservation_violations(conn, sorted(days))

    summary = _summarise(outcomes)
    for table in TABLES:
        yield dg.MaterializeResult(
            asset_key=[SOURCE, table],
            metadata=summary if table == "sessions" else {"files_loaded": summary["files_loaded"]},
        )
    yield dg.AssetCheckResult(
        check_name="lines_conserved",
        asset_key=[SOURCE, "sessions"],
        passed=not violations,
        metadata={"violations": len(violations), "examples": dg.MetadataValue.json(violations[:20])},
    )
    failed = [o for o in outcomes if o.status in ("failed", "retry")]
    if failed:
        raise dg.Failure(
            description=f"{len(failed)} file version(s) failed and will be retried: "
            + "; ".join(f"{o.path}: {o.error}" for o in failed[:10]),
            allow_retries=True,
        )


def conservation_violations(conn, days: list[date]) -> list[dict]:
    """Sessions of these days whose accounting does not add up (expected: none)."""
    rows = conn.execute(
        """SELECT s.centre, s.production_date::text, s.lines_in, s.lines_parsed, s.lines_blank,
                  s.lines_rejected, coalesce(r.n, 0) AS rejected_stored,
                  l.rows_in, l.rows_loaded, l.rows_rejected, l.rows_skipped
             FROM raw.machine_logs__sessions s
             JOIN raw.ingest_ledger l ON l.id = s.file_version_id
             LEFT JOIN (SELECT centre, production_date, count(*) AS n
                          FROM raw.machine_logs__rejected_lines
                         WHERE production_date = ANY(%s) GROUP BY 1, 2) r
                    ON r.centre = s.centre AND r.production_date = s.production_date
            WHERE s.production_date = ANY(%s)
              AND (s.lines_in <> s.lines_parsed + s.lines_blank + s.lines_rejected
                   OR coalesce(r.n, 0) <> s.lines_rejected
                   OR l.status <> 'loaded'
                   OR l.rows_in <> l.rows_loaded + l.rows_rejected + l.rows_skipped
                   OR l.rows_in <> s.lines_in)""",
        (days, days),
    ).fetchall()
    cols = (
        "centre",
        "date",
        "lines_in",
        "parsed",
        "blank",
        "rejected",
        "rejected_stored",
        "ledger_in",
        "ledger_loaded",
        "ledger_rejected",
        "ledger_skipped",
    )
    return [dict(zip(cols, r, strict=True)) for r in rows]
