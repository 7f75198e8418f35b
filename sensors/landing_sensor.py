"""One landing-zone sensor factory, used for every file kind (DESIGN.md §5, §8).

Each tick: list (path, size, mtime, kind) — never read or hash —, quarantine what can never be
taken (bad names, links, FIFOs: explained in the ledger), drop temporary and empty files, compare
with the ledger, keep only files seen unchanged for the kind's settle time, and request runs of
at most ``files_per_run`` files, for a bounded number of runs. Each run gets its files in its run
config. The run key is built from the file identities and their attempt counts, never from the
clock: the same files at the same attempt always give the same key (Dagster then skips it), a
failed attempt gives a new one.

The cursor only remembers when each still-pending file was first seen with its current size
and mtime (for the settle rule). Losing it costs one settle period, nothing else.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime

import dagster as dg

from factory_assets.ingest import ledger
from factory_assets.ingest.factory import run_config_for
from factory_assets.ingest.kinds import FileKind
from factory_assets.ingest.listing import triage
from factory_assets.ingest.migrate import ensure_schema
from factory_assets.tags import SOURCE_TAG
from resources import settings
from resources.landing import LandingZoneResource
from resources.warehouse import WarehouseResource, WarehouseUnavailable
from resources.zone import FileEntry, LandingZoneError


def max_runs_per_tick() -> int:
    return int(os.environ.get("FACTORY_SENSOR_MAX_RUNS") or 10)


def run_key(source: str, partition: str | None, files: list[tuple[FileEntry, int]]) -> str:
    """Deterministic key from (path, size, mtime, attempt) of every file in the run."""
    h = hashlib.sha256()
    for entry, attempts in sorted(files, key=lambda x: x[0].path):
        h.update(
            f"{entry.path}\0{entry.size}\0{ledger.identity(entry.path, entry.size, entry.mtime)[2]}\0{attempts}\n".encode()
        )
    return f"{source}:{partition or '-'}:{h.hexdigest()[:20]}"


def unused_run_key(
    instance: dg.DagsterInstance, base: str, max_generations: int = 5
) -> tuple[str | None, str]:
    """The run key to request for ``base`` and why: ``(key, "new")``, ``(None, "in_flight")`` while
    a run with it is queued or running, or ``(None, "stuck")``.

    A finished run with this key that left the files pending (e.g. cancelled while queued, so it
    never reached the ledger) must not block them forever: the next generation ``base:rN`` is
    used. "stuck" means ``max_generations`` runs finished without the ledger moving: the sensor
    says so instead of pretending a run is in flight. (A file that cannot be read no longer gets
    here: its failed attempts are counted in the ledger, which changes the key.) Losing Dagster's
    storage only means the key is requested again; the ledger still prevents double loads.
    """
    for generation in range(max_generations):
        key = base if generation == 0 else f"{base}:r{generation}"
        records = instance.get_run_records(dg.RunsFilter(tags={"dagster/run_key": key}), limit=1)
        if not records:
            return key, "new"
        if not records[0].dagster_run.is_finished:
            return None, "in_flight"
    return None, "stuck"


def batches(ready: dict[str | None, list[tuple[FileEntry, int]]], files_per_run: int, limit: int):
    """Split each partition's files into runs of at most ``files_per_run``; at most ``limit`` runs."""
    out: list[tuple[str | None, list[tuple[FileEntry, int]]]] = []
    for partition, files in ready.items():
        files = sorted(files, key=lambda x: x[0].path)
        for i in range(0, len(files), max(1, files_per_run)):
            out.append((partition, files[i : i + files_per_run]))
    return out[:limit]


def plan_tick(
    listing: list[FileEntry],
    states: dict[tuple, ledger.LedgerState],
    cursor: dict,
    *,
    now: float,
    settle_s: float,
    partition_of: Callable[[str], str | None],
    limit: int,
) -> tuple[dict[str | None, list[tuple[FileEntry, int]]], list[tuple[FileEntry, str]], dict, int]:
    """Pure planning step of a tick (unit-tested without Dagster).

    Returns (files per partition to run now, files with unusable names, new cursor, number of
    files still settling).
    """
    now_dt = datetime.fromtimestamp(now, UTC)
    seen: dict = cursor.get("seen", {})
    new_seen: dict = {}
    ready: dict[str | None, list[tuple[FileEntry, int]]] = defaultdict(list)
    bad: list[tuple[FileEntry, str]] = []
    settling = 0
    for e in listing:
        if e.size == 0 or settings.is_temporary_name(e.path):
            continue
        state = states.get(ledger.identity(e.path, e.size, e.mtime))
        if not ledger.is_due(state, now_dt):
            continue
        prev = seen.get(e.path)
        if prev and prev[0] == e.size and prev[1] == e.mtime:
            first_seen = prev[2]
        else:
            first_seen = now
        new_seen[e.path] = [e.size, e.mtime, first_seen]
        if settle_s > 0 and now - first_seen < settle_s:
            settling += 1
            continue
        try:
            partition = partition_of(e.path)
        except ValueError as exc:
            bad.append((e, str(exc)))
            continue
        ready[partition].append((e, state.attempts if state else 0))
    chosen = dict(sorted(ready.items(), key=lambda kv: kv[0] or "")[:limit])
    return chosen, bad, {"seen": new_seen}, settling


def build_landing_sensor(kind: FileKind, job) -> dg.SensorDefinition:
    """Sensor that starts ``job`` runs for stable new versions of ``kind``'s files."""
    source = kind.source

    @dg.sensor(
        name=f"{source}_landing_sensor",
        job=job,
        minimum_interval_seconds=settings.sensor_interval_s(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Starts ingestion runs for new, stable file versions below {kind.prefix}/ "
        f"(at most {kind.files_per_run} files per run).",
    )
    def _sensor(
        context: dg.SensorEvaluationContext, landing: LandingZoneResource, warehouse: WarehouseResource
    ):
        cursor = json.loads(context.cursor) if context.cursor else {}
        try:
            with landing.open() as zone:
                entries = zone.list_entries(kind.prefix)
        except (LandingZoneError, OSError) as exc:
            return dg.SkipReason(
                f"landing zone {landing.display_url()} unreachable: {settings.redact_text(str(exc))}"
            )
        tri = triage(kind, entries)
        partitions = {e.path: c.partition_key for e, c in tri.takeable}
        try:
            ensure_schema(warehouse)
            with warehouse.connection() as conn:
                for entry, reason in tri.refused:
                    if ledger.record_refused(conn, source, entry, reason):
                        context.log.warning(f"quarantined {entry.path}: {reason}")
                states = ledger.ledger_states(conn, source)
        except WarehouseUnavailable as exc:
            return dg.SkipReason(str(exc))
        ready, _bad, new_cursor, settling = plan_tick(
            [e for e, _ in tri.takeable],
            states,
            cursor,
            now=time.time(),
            settle_s=kind.settle_seconds(),
            partition_of=partitions.__getitem__,
            limit=max_runs_per_tick(),
        )

        requests = []
        waiting: dict[str, int] = defaultdict(int)
        # Name the run's assets explicitly: Dagster's automation then knows that the dbt models
        # downstream were targeted by the same run as the raw tables it updates, and does not
        # start a second run for them while this one is still going.
        # The job's checks are named too (its dbt tests, row conservation, freshness), so that a
        # check added to an asset outside this job is not pulled into the run.
        selection = checks = None
        if context.repository_def is not None:
            layer = context.repository_def.get_job(job.name).asset_layer
            selection = sorted(layer.executable_asset_keys)
            checks = sorted(layer.asset_graph.asset_check_keys, key=str)
        for partition, files in batches(ready, kind.files_per_run, max_runs_per_tick()):
            key, why = unused_run_key(context.instance, run_key(source, partition, files))
            if key is None:
                waiting[why] += 1
                continue
            requests.append(
                dg.RunRequest(
                    run_key=key,
                    partition_key=partition,
                    run_config=run_config_for(kind, [e.path for e, _ in files]),
                    asset_selection=selection,
                    asset_check_keys=checks,
                    tags={SOURCE_TAG: source, "factory/files": str(len(files))},
                )
            )
        skip = None
        if not requests:
            skip = (
                f"{sum(e.is_regular for e in entries)} file(s) listed, none new and stable ({settling} settling, "
                f"{tri.not_yet} still uploading, {waiting['in_flight']} run(s) in flight"
                + (
                    f", {waiting['stuck']} batch(es) whose runs finished 5 times without loading: "
                    "see the runs with this sensor's run keys"
                    if waiting["stuck"]
                    else ""
                )
                + ")"
            )
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(new_cursor), skip_reason=skip)

    return _sensor
