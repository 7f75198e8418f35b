"""One landing-zone sensor factory, used for every drop kind (DESIGN.md §5, §8).

Each tick: list (path, size, mtime) — never read or hash —, drop temporary and empty files,
compare with the ledger, keep only files seen unchanged for ``FACTORY_SETTLE_S``, and request
one run per partition for a bounded number of partitions. The run key is built from the file
identities and their attempt counts, never from the clock: the same files at the same attempt
always give the same key (Dagster then skips it), a failed attempt gives a new one.

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

from factory_assets import settings
from factory_assets.ingest import ledger
from resources.landing import FileEntry, LandingZoneError, LandingZoneResource
from resources.warehouse import WarehouseResource, WarehouseUnavailable


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


def unused_run_key(instance: dg.DagsterInstance, base: str, max_generations: int = 5) -> str | None:
    """The run key to request for ``base``, or None while a run with it is still in flight.

    A finished run with this key that left the files pending (e.g. cancelled while queued, so
    it never reached the ledger) must not block them forever: the next generation
    ``base:rN`` is used. Losing Dagster's storage only means the key is requested again; the
    ledger still prevents double loads.
    """
    for generation in range(max_generations):
        key = base if generation == 0 else f"{base}:r{generation}"
        records = instance.get_run_records(dg.RunsFilter(tags={"dagster/run_key": key}), limit=1)
        if not records:
            return key
        if not records[0].dagster_run.is_finished:
            return None
    return None


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


def build_landing_sensor(
    name: str,
    *,
    source: str,
    prefix: str,
    target,
    partition_of: Callable[[str], str | None],
    description: str,
) -> dg.SensorDefinition:
    """Sensor that starts ``target`` runs for stable new versions of files below ``prefix``."""

    @dg.sensor(
        name=name,
        target=target,
        minimum_interval_seconds=settings.sensor_interval_s(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=description,
    )
    def _sensor(
        context: dg.SensorEvaluationContext, landing: LandingZoneResource, warehouse: WarehouseResource
    ):
        cursor = json.loads(context.cursor) if context.cursor else {}
        try:
            with landing.open() as zone:
                listing = zone.list_files(prefix)
        except (LandingZoneError, OSError) as exc:
            return dg.SkipReason(
                f"landing zone {settings.redact_url(landing.resolved_url())} unreachable: {exc}"
            )
        try:
            warehouse.ensure_schema()
            with warehouse.connection() as conn:
                states = ledger.ledger_states(conn, source)
                ready, bad, new_cursor, settling = plan_tick(
                    listing,
                    states,
                    cursor,
                    now=time.time(),
                    settle_s=settings.settle_s(),
                    partition_of=partition_of,
                    limit=max_runs_per_tick(),
                )
                for entry, reason in bad:
                    if ledger.record_unreadable(conn, source, entry, f"bad_file_name: {reason}"):
                        context.log.warning(f"quarantined {entry.path}: {reason}")
        except WarehouseUnavailable as exc:
            return dg.SkipReason(str(exc))

        requests = []
        in_flight = 0
        for partition, files in ready.items():
            key = unused_run_key(context.instance, run_key(source, partition, files))
            if key is None:
                in_flight += 1  # its run is queued or running: nothing to request this tick
                continue
            requests.append(
                dg.RunRequest(
                    run_key=key,
                    partition_key=partition,
                    tags={"factory/source": source, "factory/files": str(len(files))},
                )
            )
        skip = None
        if not requests:
            skip = (
                f"{len(listing)} file(s) listed, none new and stable "
                f"({settling} settling, {in_flight} partition(s) with a run in flight)"
            )
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(new_cursor), skip_reason=skip)

    return _sensor
