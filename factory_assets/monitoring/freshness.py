"""Freshness checks: is the data that should arrive arriving, and has it reached the marts?

Dagster's ready-made ``build_last_update_freshness_checks`` measure the time since an asset's last
*materialisation*. That is the wrong clock here: an ingestion asset materialises on every run,
even when no file came (a hand-started run, a retry), and a SQL sync that fails half-way still
leaves older materialisations behind; and a plant does not produce on Saturdays, so a flat "24 h"
limit cries wolf every Monday morning. These checks therefore read the platform's own records of
what actually arrived. They are evaluated by the checks-only job ``freshness_checks_job`` that
``freshness_checks_sensor`` starts every ``FACTORY_FRESHNESS_INTERVAL_S`` seconds, and also, for
the assets a run builds, inside the ingestion and dbt runs that select those assets (Dagster adds
an asset's checks to its jobs), so a late source shows fresh again as soon as its data lands:

* **landing-zone file kinds** (machine logs, operation drops, logistics CSVs): the newest file
  version loaded (``raw.ingest_ledger``, status ``loaded`` or ``superseded``, by file ``mtime``:
  when the sender wrote the data, capped by ``loaded_at``). Machine logs are judged **per centre** (each folder seen in
  the ledger for ``machine_logs``): one silent centre fails the check even when the others send.
  Age counts **working-day hours** only (``FACTORY_WORKING_DAYS``, plant-local dates in
  ``FACTORY_TIMEZONE``); the limit is ``FACTORY_<SOURCE>_FRESHNESS_H`` (default 26 h: one working
  day plus two hours of slack). A source that never sent a file passes (not in use at this plant).
* **SQL sources**: the last *successful* sync of each table (``raw.sync_runs``), wall-clock hours
  (the schedules run every day), limit ``FACTORY_<SOURCE>_FRESHNESS_H`` with defaults from the
  schedules' cadence (:data:`SQL_FRESHNESS_H`). A table that was never synced passes; one whose
  every sync failed fails.
* **key marts**: stale when raw data they are built from arrived (loaded file, or a sync that
  changed rows) more than ``FACTORY_MART_FRESHNESS_H`` hours ago (default 2) and the mart has not
  been built since (its last materialisation in Dagster's event log).

Results are ``WARN`` severity (late, not wrong); the alert sensor reports every failing check.
Nothing here runs at import.
"""

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import dagster as dg
import psycopg

from factory_assets.ingest.kinds import FileKind
from factory_assets.monitoring.calendar import DAY_NAMES, working_days, working_hours_between
from factory_assets.sql_sources.tables import TABLES, TableSpec
from resources import settings
from resources.warehouse import WarehouseResource

CHECK_NAME = "freshness"
FRESHNESS_JOB = "freshness_checks_job"
DEFAULT_FILE_FRESHNESS_H = 26.0
DEFAULT_MART_GRACE_H = 2.0
DEFAULT_INTERVAL_S = 600
# Hours between two successful syncs, from the schedules (sensors/schedules.py) plus slack:
# MES every 15 min, plant DB hourly, ERP at 09:00 and 14:00 (longest gap 19 h), OLTP nightly.
SQL_FRESHNESS_H: dict[str, float] = {"mes": 1.0, "plant": 3.0, "erp": 20.0, "oltp": 26.0}
# File kinds whose files come from several senders, one folder each (judged per folder).
PER_FOLDER_SOURCES = frozenset({"machine_logs"})
# Key marts and the sources whose new data they must show (file-kind ledger sources or SQL
# sources). tests/test_freshness_checks.py checks these against the code location's lineage.
FILE_SOURCES = ("machine_logs", "operations", "logistics_visits", "logistics_customers")
KEY_MARTS: dict[str, tuple[str, ...]] = {
    "machine_sessions": ("machine_logs",),
    "machine_stops": ("machine_logs",),
    "oee_daily": ("machine_logs", "plant"),
    "production_fact": ("plant",),
    "order_status": ("mes", "operations"),
    "operations": ("operations", "mes"),
    "roller_shutter_orders": ("erp",),
    "sla_by_technician_daily": ("logistics_visits", "logistics_customers"),
    "stagnant_products": ("oltp",),
    "data_quality_daily": (*FILE_SOURCES, "erp", "mes", "plant", "oltp"),
}


def _env_hours(name: str, default: float) -> float:
    value = os.environ.get(name)
    if not value:
        return default
    hours = float(value)
    if hours <= 0:
        raise ValueError(f"{name} must be a positive number of hours, got {value!r}")
    return hours


def source_limit_h(source: str, default: float) -> float:
    """``FACTORY_<SOURCE>_FRESHNESS_H``, else ``default``."""
    return _env_hours(f"FACTORY_{source.upper()}_FRESHNESS_H", default)


def mart_grace_h() -> float:
    return _env_hours("FACTORY_MART_FRESHNESS_H", DEFAULT_MART_GRACE_H)


def interval_s() -> int:
    """``FACTORY_FRESHNESS_INTERVAL_S``: how often the freshness checks run (default 600 s)."""
    return int(os.environ.get("FACTORY_FRESHNESS_INTERVAL_S") or DEFAULT_INTERVAL_S)


@dataclass
class Verdict:
    """Outcome of one freshness check, before it becomes an ``AssetCheckResult``."""

    passed: bool
    description: str
    metadata: dict = field(default_factory=dict)

    def result(self, asset_key: Sequence[str]) -> dg.AssetCheckResult:
        meta = {
            k: (dg.MetadataValue.json(v) if isinstance(v, (dict, list)) else v)
            for k, v in self.metadata.items()
        }
        return dg.AssetCheckResult(
            asset_key=dg.AssetKey(list(asset_key)),
            check_name=CHECK_NAME,
            passed=self.passed,
            severity=dg.AssetCheckSeverity.WARN,
            description=self.description,
            metadata=meta,
        )


def _iso(ts: datetime | None) -> str | None:
    return ts.astimezone(UTC).isoformat(timespec="seconds") if ts else None


def _table_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]


def _selected(context: dg.AssetCheckExecutionContext) -> set[tuple[str, ...]]:
    """Asset keys whose freshness check this execution must evaluate: all of them in the freshness
    job, only those of the assets a run materialises when an ingestion or dbt job includes them."""
    return {tuple(k.asset_key.path) for k in context.selected_asset_check_keys if k.name == CHECK_NAME}


def _results(evaluate, keys: list[tuple[str, ...]]):
    """The verdicts of ``evaluate()``; if it cannot run (warehouse unreachable, a bad limit in the
    environment), every selected check fails with the reason instead of failing the run: a
    freshness check evaluated inside an ingestion run must not fail that run."""
    try:
        verdicts = evaluate()
    except Exception as exc:  # noqa: BLE001 - reported as the checks' outcome
        reason = settings.redact_text(f"{type(exc).__name__}: {exc}")[:1000]
        verdicts = {key: Verdict(False, f"freshness could not be evaluated: {reason}") for key in keys}
    for key in keys:
        yield verdicts[key].result(key)


# --- landing-zone file kinds -------------------------------------------------------------------


def newest_files(
    conn: psycopg.Connection, source: str, prefix: str, per_folder: bool
) -> dict[str, datetime | None]:
    """Newest loaded file version per sender folder (or ``""`` for the whole source), for every
    folder the ledger has seen for ``source`` in any status; ``None`` = a folder seen but nothing
    from it ever loaded.

    A version's time is its ``mtime`` (when the sender wrote the data: a re-parse of old files
    does not make them new), capped by ``loaded_at`` (a sender whose clock runs ahead never looks
    fresh for ever)."""
    if not _table_exists(conn, "raw.ingest_ledger"):
        return {}
    rows = conn.execute(
        """SELECT CASE WHEN %(per_folder)s THEN split_part(rest, '/', 1) ELSE '' END AS grp,
                  max(least(mtime, coalesce(loaded_at, mtime))) FILTER (WHERE status IN ('loaded', 'superseded'))
             FROM (SELECT status, mtime, loaded_at, substr(path, length(%(prefix)s) + 2) AS rest
                     FROM raw.ingest_ledger
                    WHERE source = %(source)s AND left(path, length(%(prefix)s) + 1) = %(prefix)s || '/') l
            WHERE NOT %(per_folder)s OR position('/' IN rest) > 1
            GROUP BY 1 ORDER BY 1""",
        {"source": source, "prefix": prefix, "per_folder": per_folder},
    ).fetchall()
    return dict(rows)


def judge_files(
    source: str,
    newest: dict[str, datetime | None],
    *,
    now: datetime,
    limit_h: float,
    tz: str,
    days: frozenset[int],
) -> Verdict:
    """Pure rule: every folder must have a file newer than ``limit_h`` working-day hours."""
    calendar = {
        "limit_working_hours": limit_h,
        "working_days": ",".join(DAY_NAMES[d - 1] for d in sorted(days)),
        "timezone": tz,
        "evaluated_at": _iso(now),
    }
    if not newest:
        return Verdict(True, f"no {source} file seen yet: nothing to be late", {**calendar, "groups": {}})
    groups, stale = {}, []
    for name, ts in sorted(newest.items()):
        label = name or source
        if ts is None:
            groups[label] = {"newest_file": None, "age_working_hours": None}
            stale.append(f"{label} (nothing loaded yet)")
            continue
        age = round(working_hours_between(ts, now, tz, days), 2)
        groups[label] = {"newest_file": _iso(ts), "age_working_hours": age}
        if age > limit_h:
            stale.append(f"{label} (no new file for {age:g} working hours, newest {_iso(ts)})")
    meta = {**calendar, "groups": groups, "stale": [s.split(" ", 1)[0] for s in stale]}
    if stale:
        return Verdict(False, f"{source}: stale: " + "; ".join(stale), meta)
    return Verdict(True, f"{source}: every sender sent a file within {limit_h:g} working hours", meta)


def ignored_folders(source: str) -> set[str]:
    """``FACTORY_<SOURCE>_FRESHNESS_IGNORE``: comma-separated sender folders not judged any more
    (a machining centre taken out of service)."""
    value = os.environ.get(f"FACTORY_{source.upper()}_FRESHNESS_IGNORE") or ""
    return {name.strip() for name in value.split(",") if name.strip()}


def file_kind_verdict(conn: psycopg.Connection, kind: FileKind, *, now: datetime) -> Verdict:
    per_folder = kind.source in PER_FOLDER_SOURCES
    ignored = ignored_folders(kind.source)
    newest = newest_files(conn, kind.source, kind.prefix, per_folder)
    return judge_files(
        kind.source,
        {name: ts for name, ts in newest.items() if name not in ignored},
        now=now,
        limit_h=source_limit_h(kind.source, DEFAULT_FILE_FRESHNESS_H),
        tz=settings.plant_timezone(),
        days=working_days(),
    )


def build_file_freshness_check(kinds: Iterable[FileKind]) -> dg.AssetChecksDefinition:
    kinds = tuple(kinds)
    specs = [
        dg.AssetCheckSpec(
            CHECK_NAME,
            asset=[k.key_prefix, k.tables[0]],
            description=f"A new {k.prefix}/ file arrived within FACTORY_{k.source.upper()}_FRESHNESS_H "
            f"(default {DEFAULT_FILE_FRESHNESS_H:g}) working-day hours"
            + (" for every centre (folder) seen so far" if k.source in PER_FOLDER_SOURCES else "")
            + " (FACTORY_WORKING_DAYS, FACTORY_TIMEZONE).",
        )
        for k in kinds
    ]

    @dg.multi_asset_check(
        specs=specs,
        name="file_freshness",
        can_subset=True,
        description="Landing-zone sources: newest loaded file per sender, in working-day hours.",
    )
    def file_freshness(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
        now = datetime.now(UTC)
        wanted = [k for k in kinds if (k.key_prefix, k.tables[0]) in _selected(context)]

        def evaluate():
            with warehouse.connection() as conn:
                return {(k.key_prefix, k.tables[0]): file_kind_verdict(conn, k, now=now) for k in wanted}

        yield from _results(evaluate, [(k.key_prefix, k.tables[0]) for k in wanted])

    return file_freshness


# --- SQL sources ---------------------------------------------------------------------------------


def sync_history(conn: psycopg.Connection) -> dict[tuple[str, str], tuple[datetime | None, str, int]]:
    """(source, table) -> (last successful sync's end, last run's status, runs recorded)."""
    if not _table_exists(conn, "raw.sync_runs"):
        return {}
    rows = conn.execute(
        """SELECT source, table_name,
                  max(finished_at) FILTER (WHERE status = 'success'),
                  (array_agg(status ORDER BY started_at DESC, id DESC))[1],
                  count(*)
             FROM raw.sync_runs GROUP BY 1, 2"""
    ).fetchall()
    return {(s, t): (ok, last, n) for s, t, ok, last, n in rows}


def judge_sync(
    spec: TableSpec, history: tuple[datetime | None, str, int] | None, *, now: datetime, limit_h: float
) -> Verdict:
    meta = {"limit_hours": limit_h, "evaluated_at": _iso(now)}
    name = f"{spec.source}.{spec.table}"
    if history is None:
        return Verdict(True, f"{name}: never synced yet", meta)
    last_ok, last_status, runs = history
    meta |= {"last_success": _iso(last_ok), "last_run_status": last_status, "runs_recorded": runs}
    if last_ok is None:
        return Verdict(False, f"{name}: none of {runs} sync run(s) succeeded (last: {last_status})", meta)
    age = round((now - last_ok).total_seconds() / 3600, 2)
    meta["age_hours"] = age
    if age > limit_h:
        return Verdict(
            False,
            f"{name}: last successful sync {age:g} h ago (limit {limit_h:g} h; last run: {last_status})",
            meta,
        )
    return Verdict(True, f"{name}: synced {age:g} h ago", meta)


def build_sql_freshness_check(tables: Iterable[TableSpec] = TABLES) -> dg.AssetChecksDefinition:
    tables = tuple(tables)
    specs = [
        dg.AssetCheckSpec(
            CHECK_NAME,
            asset=t.asset_key,
            description=f"Last successful sync of {t.source}.{t.table} within FACTORY_{t.source.upper()}_FRESHNESS_H "
            f"(default {SQL_FRESHNESS_H.get(t.source, 26):g}) hours.",
        )
        for t in tables
    ]

    @dg.multi_asset_check(
        specs=specs,
        name="sql_sync_freshness",
        can_subset=True,
        description="SQL sources: time since each table's last successful sync.",
    )
    def sql_sync_freshness(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
        now = datetime.now(UTC)
        wanted = [t for t in tables if tuple(t.asset_key) in _selected(context)]

        def evaluate():
            with warehouse.connection() as conn:
                history = sync_history(conn)
            return {
                tuple(t.asset_key): judge_sync(
                    t,
                    history.get((t.source, t.name)),
                    now=now,
                    limit_h=source_limit_h(t.source, SQL_FRESHNESS_H.get(t.source, 26.0)),
                )
                for t in wanted
            }

        yield from _results(evaluate, [tuple(t.asset_key) for t in wanted])

    return sql_sync_freshness


# --- key marts -----------------------------------------------------------------------------------


def newest_raw_changes(conn: psycopg.Connection, sources: Iterable[str]) -> dict[str, datetime]:
    """Per source, when new data last reached ``raw``: a file version loaded (ledger ``loaded_at``)
    or a sync that inserted, updated or deleted rows. Sources with no such event are absent."""
    sources = sorted(set(sources))
    out: dict[str, datetime] = {}
    if _table_exists(conn, "raw.ingest_ledger"):
        out |= dict(
            conn.execute(
                """SELECT source, max(loaded_at) FROM raw.ingest_ledger
                    WHERE source = ANY(%s) AND status IN ('loaded', 'superseded') AND loaded_at IS NOT NULL
                    GROUP BY 1""",
                (sources,),
            ).fetchall()
        )
    if _table_exists(conn, "raw.sync_runs"):
        out |= dict(
            conn.execute(
                """SELECT source, max(finished_at) FROM raw.sync_runs
                    WHERE source = ANY(%s) AND status = 'success'
                      AND rows_inserted + rows_updated + rows_deleted > 0
                    GROUP BY 1""",
                (sources,),
            ).fetchall()
        )
    return out


def judge_mart(
    mart: str,
    raw_changes: dict[str, datetime],
    last_build: datetime | None,
    *,
    now: datetime,
    grace_h: float,
) -> Verdict:
    meta = {"grace_hours": grace_h, "last_build": _iso(last_build), "evaluated_at": _iso(now)}
    meta["newest_raw_data"] = {s: _iso(t) for s, t in sorted(raw_changes.items())}
    if not raw_changes:
        return Verdict(True, f"{mart}: no raw data yet", meta)
    source, newest = max(raw_changes.items(), key=lambda kv: kv[1])
    waiting_h = round((now - newest).total_seconds() / 3600, 2)
    if (last_build is None or last_build < newest) and waiting_h > grace_h:
        built = f"last built {_iso(last_build)}" if last_build else "never built"
        return Verdict(
            False,
            f"{mart}: {source} data loaded {waiting_h:g} h ago ({_iso(newest)}) is not in the mart yet "
            f"({built}; grace {grace_h:g} h)",
            meta,
        )
    return Verdict(True, f"{mart}: built after its newest raw data, or within the grace period", meta)


def mart_key(name: str) -> list[str]:
    return ["marts", name]


def build_mart_freshness_check(marts: dict[str, tuple[str, ...]] | None = None) -> dg.AssetChecksDefinition:
    marts = dict(KEY_MARTS if marts is None else marts)
    specs = [
        dg.AssetCheckSpec(
            CHECK_NAME,
            asset=mart_key(name),
            description=f"Built after the newest raw data of {', '.join(sources)}, or that data is younger than "
            f"FACTORY_MART_FRESHNESS_H (default {DEFAULT_MART_GRACE_H:g}) hours.",
        )
        for name, sources in marts.items()
    ]

    @dg.multi_asset_check(
        specs=specs,
        name="mart_freshness",
        can_subset=True,
        description="Key marts: rebuilt since new raw data arrived (beyond a grace period).",
    )
    def mart_freshness(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
        now = datetime.now(UTC)
        wanted = [name for name in marts if tuple(mart_key(name)) in _selected(context)]

        def evaluate():
            grace = mart_grace_h()
            with warehouse.connection() as conn:
                changes = newest_raw_changes(conn, {s for name in wanted for s in marts[name]})
            out = {}
            for name in wanted:
                event = context.instance.get_latest_materialization_event(dg.AssetKey(mart_key(name)))
                built = datetime.fromtimestamp(event.timestamp, UTC) if event else None
                mine = {s: changes[s] for s in marts[name] if s in changes}
                out[tuple(mart_key(name))] = judge_mart(name, mine, built, now=now, grace_h=grace)
            return out

        yield from _results(evaluate, [tuple(mart_key(name)) for name in wanted])

    return mart_freshness


# --- evaluation --------------------------------------------------------------------------------


def build_freshness_job(checks: Sequence[dg.AssetChecksDefinition]):
    return dg.define_asset_job(
        FRESHNESS_JOB,
        selection=dg.AssetSelection.checks(*checks),
        tags={"factory/monitoring": "freshness"},
        description="Evaluate every freshness check (no asset is materialised).",
    )


def build_freshness_sensor(job, interval: int) -> dg.SensorDefinition:
    @dg.sensor(
        name="freshness_checks_sensor",
        job=job,
        minimum_interval_seconds=interval,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Runs {FRESHNESS_JOB} every FACTORY_FRESHNESS_INTERVAL_S (here {interval} s), "
        "unless the previous evaluation is still queued or running.",
    )
    def freshness_checks_sensor(context: dg.SensorEvaluationContext):
        busy = context.instance.get_run_records(
            dg.RunsFilter(job_name=FRESHNESS_JOB, statuses=list(IN_PROGRESS)), limit=1
        )
        if busy:
            return dg.SkipReason(
                f"previous {FRESHNESS_JOB} run {busy[0].dagster_run.run_id} still in progress"
            )
        return dg.RunRequest()

    return freshness_checks_sensor


IN_PROGRESS = (
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
)
