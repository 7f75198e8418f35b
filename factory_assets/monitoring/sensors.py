"""Alert sensors: one alert per run failure, one per failing asset check until it passes again.

**Run failures** — ``@dg.run_failure_sensor``: Dagster's own cursor (storage id of the last run
failure event handled, kept in the instance's sensor storage) hands each failed run to the
function exactly once, so there is one alert per run id however often the sensor ticks.

**Asset checks** (row conservation, dbt tests surfaced as checks, freshness, any other) — a sensor
reading ``ASSET_CHECK_EVALUATION`` events from the instance's event log after its cursor. The
de-duplication state lives **in the sensor cursor** (a small JSON document: the last event storage
id read and the set of checks currently failing), not in a table: Dagster stores the cursor with
the tick, in the same instance storage (PostgreSQL in production) as the events it points into,
and moves both forward together; it survives restarts, needs no migration and is visible (and
resettable) in the UI. A check alerts when it goes from not-failing to failing, stays silent while
it keeps failing, and sends one ``check_recovered`` alert when it passes again. Delivery is
at-least-once: if a tick dies after sending and before its cursor is saved, the next tick sends
again (the alert ``id`` is stable so a receiver can drop the repeat).

On its very first tick each sensor starts from the end of the event log: a new install or an
upgrade does not replay history as a flood of alerts.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from factory_assets.monitoring.alerts import Alert, Notifier, scrub

CHECK_SENSOR = "alert_on_check_failure"
RUN_SENSOR = "alert_on_run_failure"
BATCH = 500  # events read per tick; the rest on the next tick
MAX_FAILING = 5000  # bound of the cursor's failing set (oldest entries dropped first)
MAX_METADATA = 12
MAX_ALERTS_PER_TICK = 50  # keeps a tick well inside Dagster's sensor timeout even with slow targets


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def _plain(value: Any, secrets: list[str]) -> Any:
    """A metadata value as plain JSON, every string in it redacted (and each one bounded)."""
    value = getattr(value, "value", value)
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, dict):
        return {str(k): _plain(v, secrets) for k, v in list(value.items())[:50]}
    if isinstance(value, (list, tuple)):
        return [_plain(v, secrets) for v in value[:20]]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return scrub(str(value), secrets)


def run_failure_alert(context: dg.RunFailureSensorContext, secrets: list[str]) -> Alert:
    run = context.dagster_run
    steps = []
    for event in context.get_step_failure_events():
        error = getattr(event.event_specific_data, "error", None)
        while error is not None and error.cause is not None:  # Dagster's wrapper -> the user's error
            error = error.cause
        message = error.message.strip() if error else (event.message or "")
        steps.append({"step": event.step_key, "error": scrub(message, secrets)[:1000]})
    failure = context.failure_event
    record = context.instance.get_run_record_by_id(run.run_id)
    ended = record.end_time if record and record.end_time else datetime.now(UTC).timestamp()
    return Alert(
        id=f"run_failure:{run.run_id}",
        kind="run_failure",
        title=f"Run of {run.job_name} failed",
        details={
            "run_id": run.run_id,
            "job": run.job_name,
            "tags": {
                k: v for k, v in run.tags.items() if k.startswith("factory/") or k == "dagster/partition"
            },
            "message": scrub(failure.message or "", secrets)[:1000],
            "failed_steps": steps[:10],
        },
        at=_when(ended),
    )


def build_run_failure_sensor(interval: int) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name=RUN_SENSOR,
        minimum_interval_seconds=interval,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="One alert per failed run (alerts.log, webhook, e-mail; see docs/monitoring.md).",
    )
    def alert_on_run_failure(context: dg.RunFailureSensorContext):
        notifier = Notifier.from_env(logger=context.log)
        run = context.dagster_run
        try:
            alert = run_failure_alert(context, notifier.secrets())
        except Exception as exc:  # noqa: BLE001 - Dagster moves its cursor on even if we raise: alert anyway
            alert = Alert(
                id=f"run_failure:{run.run_id}",
                kind="run_failure",
                title=f"Run of {run.job_name} failed",
                details={
                    "run_id": run.run_id,
                    "job": run.job_name,
                    "note": scrub(f"details unavailable: {exc!r}", notifier.secrets())[:500],
                },
            )
        notifier.send(alert)

    return alert_on_run_failure


def check_identity(evaluation) -> str:
    ident = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
    return f"{ident}[{evaluation.partition}]" if getattr(evaluation, "partition", None) else ident


def check_alert(
    evaluation, record: dg.EventLogRecord, kind: str, secrets: list[str], since: str | None = None
) -> Alert:
    ident = check_identity(evaluation)
    severity = getattr(evaluation.severity, "value", str(evaluation.severity))
    meta = {k: _plain(v, secrets) for k, v in list((evaluation.metadata or {}).items())[:MAX_METADATA]}
    details = {
        "asset": evaluation.asset_key.to_user_string(),
        "check": evaluation.check_name,
        "partition": getattr(evaluation, "partition", None),
        "severity": severity,
        "description": scrub(evaluation.description or "", secrets),
        "run_id": record.run_id,
        "metadata": meta,
    }
    if since:
        details["failing_since"] = since
    verb = "failed" if kind == "check_failed" else "passes again"
    return Alert(
        id=f"{kind}:{ident}:{record.storage_id}",
        kind=kind,
        title=f"Check {ident} {verb}",
        details=details,
        at=_when(record.timestamp),
    )


def _safe_alert(evaluation, record, kind: str, secrets: list[str], since: str | None = None) -> Alert:
    """:func:`check_alert`, or a minimal alert if the evaluation's content cannot be rendered: an
    exception here would stop the cursor and repeat every alert of the batch at each tick."""
    try:
        return check_alert(evaluation, record, kind, secrets, since)
    except Exception as exc:  # noqa: BLE001
        ident = check_identity(evaluation)
        return Alert(
            id=f"{kind}:{ident}:{record.storage_id}",
            kind=kind,
            title=f"Check {ident} {'failed' if kind == 'check_failed' else 'passes again'}",
            details={"run_id": record.run_id, "note": scrub(f"details unavailable: {exc!r}", secrets)[:500]},
            at=_when(record.timestamp),
        )


def _latest_check_event_id(instance: dg.DagsterInstance) -> int:
    records = instance.event_log_storage.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION), limit=1, ascending=False
    )
    return records[0].storage_id if records else 0


def evaluate_check_alerts(context: dg.SensorEvaluationContext, notifier: Notifier) -> str:
    """One tick: alerts for the check evaluations after the cursor; returns a short summary."""
    if context.instance.event_log_storage.is_run_sharded:
        # storage ids are per run there, so "every evaluation after id N" cannot be asked
        return (
            "check alerts need a non-run-sharded event log (PostgreSQL, as deployed; or consolidated SQLite)"
        )
    if not context.cursor:
        after = _latest_check_event_id(context.instance)
        context.update_cursor(json.dumps({"after": after, "failing": {}}))
        return f"started at event {after}"
    state = json.loads(context.cursor)
    failing: dict[str, dict] = state.get("failing", {})
    records = context.instance.event_log_storage.get_event_records(
        dg.EventRecordsFilter(
            event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, after_cursor=int(state.get("after", 0))
        ),
        limit=BATCH,
        ascending=True,
    )
    sent = 0
    secrets = notifier.secrets()
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        ident = check_identity(evaluation)
        if not evaluation.passed and ident not in failing:
            notifier.send(_safe_alert(evaluation, record, "check_failed", secrets))
            failing[ident] = {"since": _when(record.timestamp), "run_id": record.run_id}
            sent += 1
        elif evaluation.passed and ident in failing:
            since = failing.pop(ident).get("since")
            notifier.send(_safe_alert(evaluation, record, "check_recovered", secrets, since))
            sent += 1
        state["after"] = record.storage_id
        if sent >= MAX_ALERTS_PER_TICK:  # a flood (many dbt tests at once) is spread over ticks
            break
    while len(failing) > MAX_FAILING:
        failing.pop(next(iter(failing)))
    state["failing"] = failing
    context.update_cursor(json.dumps(state))  # insertion order kept: the oldest failures are dropped first
    return f"evaluations read up to event {state['after']}, {sent} alert(s) sent, {len(failing)} check(s) failing"


def build_check_alert_sensor(interval: int) -> dg.SensorDefinition:
    @dg.sensor(
        name=CHECK_SENSOR,
        minimum_interval_seconds=interval,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="One alert when an asset check starts failing (dbt tests, row conservation, freshness, ...), "
        "one when it passes again.",
    )
    def alert_on_check_failure(context: dg.SensorEvaluationContext):
        summary = evaluate_check_alerts(context, Notifier.from_env(logger=context.log))
        return dg.SkipReason(summary)

    return alert_on_check_failure
