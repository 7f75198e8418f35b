"""``factory`` command line: bring the platform up, load the demo, serve the UI, stop everything.

    factory demo [--days N] [--no-serve]   up + demo data + first full materialisation + summary + UI
    factory up                             start the embedded PostgreSQL (demo mode), write DAGSTER_HOME
    factory materialize                    run the code location's ingest jobs, then its dbt jobs
    factory summary                        what is loaded: files, rows, rejects, per-domain figures
    factory reprocess                      re-parse loaded file versions (after a parser upgrade), then dbt
    factory retry-failed [--source S] [--path P] [--id N]
                                           give failed file versions a new set of attempts
    factory serve [--port P]               Dagster webserver + daemon (sensors, automation) + HTTP gateway
    factory gateway                        the HTTP gateway alone, in the foreground (uvicorn)
    factory docs [--port P] [--no-serve]   generate the dbt docs site from the warehouse and serve it
    factory stop                           stop webserver, daemon, gateway, dbt docs and the embedded PostgreSQL

State lives in ``$FACTORY_HOME`` (default ``./.factory``).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from resources import embedded, settings

REPO_ROOT = Path(__file__).resolve().parent.parent

DAGSTER_YAML = """\
# Written by `factory up`. Run, event and schedule storage on PostgreSQL (dagster-postgres).
storage:
  postgres:
    postgres_url:
      env: FACTORY_DAGSTER_STORAGE_URL
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    # Sized for 2 cores: two runs at a time, one dbt build at a time, one run per source
    # at a time so a slow source never blocks the others.
    max_concurrent_runs: 2
    # Look at the queue every second (default 5 s): a settled file's run starts sooner.
    dequeue_interval_seconds: 1
    tag_concurrency_limits:
      - key: "factory/dbt"
        limit: 1
      - key: "factory/source"
        value:
          applyLimitPerUniqueValue: true
        limit: 1
run_monitoring:
  enabled: true
  poll_interval_seconds: 30
sensors:
  use_threads: true
  num_workers: 2
telemetry:
  enabled: false
"""


def dagster_home() -> Path:
    return settings.factory_home() / "dagster_home"


def run_dir() -> Path:
    return settings.factory_home() / "run"


def prepare_environment() -> dict[str, str]:
    """Start what demo mode needs and export the variables Dagster processes read."""
    home = settings.factory_home()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["FACTORY_HOME"] = str(home)
    os.environ["DO_NOT_TRACK"] = "1"
    needs_embedded = settings.demo_mode() or not os.environ.get("FACTORY_DAGSTER_STORAGE_URL")
    if needs_embedded:
        embedded.start()
    storage = os.environ.get("FACTORY_DAGSTER_STORAGE_URL") or embedded.embedded_url("dagster")
    os.environ["FACTORY_DAGSTER_STORAGE_URL"] = settings.psycopg2_url(storage)
    dh = dagster_home()
    dh.mkdir(parents=True, exist_ok=True)
    (dh / "dagster.yaml").write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(dh)
    (home / "landing").mkdir(exist_ok=True)
    from factory_assets.demo.secrets import export_demo_secrets
    from factory_assets.ingest.migrate import ensure_schema
    from factory_assets.ingest.roles import prepare_bi_reader

    export_demo_secrets()  # demo mode: gateway keys and the bi_reader password, generated once
    warehouse = _resolved("warehouse")
    applied = ensure_schema(warehouse)
    if applied:
        print(f"warehouse: applied migrations {', '.join(applied)}")
    prepare_bi_reader(warehouse)
    return {k: os.environ[k] for k in ("FACTORY_HOME", "DAGSTER_HOME", "FACTORY_DAGSTER_STORAGE_URL")}


def cmd_up(_args) -> int:
    env = prepare_environment()
    wh = (
        "embedded PostgreSQL"
        if settings.demo_mode()
        else settings.redact_url(os.environ["FACTORY_WAREHOUSE_URL"])
    )
    landing = settings.redact_url(settings.landing_url())
    print(f"warehouse: {wh}\nDAGSTER_HOME: {env['DAGSTER_HOME']}\nlanding zone: {landing}")
    return 0


def cmd_generate(args) -> int:
    from factory_assets.demo.machine_logs import write_machine_logs

    root = settings.factory_home() / "landing"
    written = write_machine_logs(root, days=args.days, seed=args.seed)
    print(f"demo: wrote {len(written)} machine-log files below {root / 'machine_logs'}")
    return 0


def _instance():
    from dagster import DagsterInstance

    return DagsterInstance.get()


def code_location():
    """The code location's :class:`dagster.Definitions`, exactly as Dagster loads it."""
    from factory_assets.definitions import defs

    return defs()


QUIET = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def _jobs(defs, phase: str) -> list:
    """Jobs of the code location tagged ``factory/phase = phase`` (ingest jobs, dbt jobs)."""
    from factory_assets.tags import PHASE_TAG

    jobs = [j for j in defs.resolve_all_job_defs() if j.tags.get(PHASE_TAG) == phase]
    return sorted(jobs, key=lambda j: j.name)


def _resolved(name: str):
    from factory_assets.resources_config import build_resources, resolved

    return resolved(build_resources()[name])


def _partitions_with_files(kind) -> list[str]:
    """Partition keys of the takeable files of ``kind`` in the landing zone."""
    from factory_assets.ingest.listing import triage

    with _resolved("landing").open() as zone:
        tri = triage(kind, zone.list_entries(kind.prefix))
    return sorted({c.partition_key for _, c in tri.takeable if c.partition_key})


def _range_tags(keys: list[str]) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}


def _execute(job, label: str, *, tags: dict | None = None, run_config: dict | None = None) -> bool:
    print(f"{label} ...")
    result = job.execute_in_process(
        instance=_instance(), tags=tags or {}, run_config=run_config or QUIET, raise_on_error=False
    )
    if not result.success:
        print(f"  {job.name} reported failures (see the Dagster UI)")
    return result.success


def materialize_all(partition_keys: dict[str, list[str]] | None = None, *, dbt: bool = True) -> None:
    """Run every ingest job of the code location, then every dbt job.

    A date-partitioned job runs once over the range of dates that have files (or, for
    ``reprocess``, the dates given in ``partition_keys`` by partitioning name); the dbt jobs that
    share its partitions run over the same range, the unpartitioned dbt job last. Nothing here
    knows a domain: a newly declared file kind or SQL source is materialised with no change.
    """
    from factory_assets.file_kinds import kind_for_job

    defs = code_location()
    ranges: dict[str, list[str]] = dict(partition_keys or {})
    skip = {f"{s}_sql_sync" for s in unconfigured_sql_sources()}
    for job in _jobs(defs, "ingest"):
        kind = kind_for_job(job.name)
        if job.name in skip:
            print(f"{job.name}: source not configured (set its FACTORY_*_URL); skipped")
            continue
        if job.partitions_def is None:
            _execute(job, f"running {job.name}", run_config=QUIET)
            continue
        keys = ranges.get(kind.source) if kind and partition_keys is not None else None
        if keys is None and kind is not None:
            keys = _partitions_with_files(kind)
            ranges[kind.source] = keys
        if not keys:
            print(f"{job.name}: no file in the landing zone")
            continue
        _execute(
            job, f"running {job.name} for {len(keys)} day(s): {keys[0]} .. {keys[-1]}", tags=_range_tags(keys)
        )
    if not dbt:
        print("dbt models not built now (--ingest-only): the daemon's automation builds them")
        return
    dbt_jobs = _jobs(defs, "dbt")
    for job in [j for j in dbt_jobs if j.partitions_def is not None]:
        name = job.name.removeprefix("dbt_build_")
        keys = ranges.get(name) or [job.partitions_def.get_last_partition_key()]
        if not _execute(
            job, f"building dbt models of {name} for {keys[0]} .. {keys[-1]}", tags=_range_tags(keys)
        ):
            raise SystemExit("dbt build failed; see the Dagster UI or dbt_project/target/run_results.json")
    for job in [j for j in dbt_jobs if j.partitions_def is None]:
        if not _execute(job, "building every other dbt model, seed and snapshot"):
            raise SystemExit("dbt build failed; see the Dagster UI or dbt_project/target/run_results.json")


def cmd_reprocess(_args) -> int:
    """Re-parse loaded file versions with the current parsers (after an upgrade), then dbt."""
    from factory_assets.ingest.migrate import ensure_schema

    prepare_environment()
    warehouse = _resolved("warehouse")
    ensure_schema(warehouse)
    with warehouse.connection() as conn:
        rows = conn.execute(
            "SELECT source, array_agg(DISTINCT partition_key ORDER BY partition_key) FROM raw.ingest_ledger "
            "WHERE status = 'loaded' AND partition_key IS NOT NULL GROUP BY source"
        ).fetchall()
    materialize_all({source: keys for source, keys in rows})
    return cmd_summary(None)


def cmd_retry_failed(args) -> int:
    """Re-arm failed versions (the same as the ``rearm_failed_versions_job`` from the UI)."""
    from factory_assets.ingest import ledger
    from factory_assets.ingest.migrate import ensure_schema

    prepare_environment()
    warehouse = _resolved("warehouse")
    ensure_schema(warehouse)
    with warehouse.connection() as conn:
        rearmed = ledger.rearm_failed(conn, args.source, args.path or None, args.id or None)
    for ledger_id, source, path in rearmed:
        print(f"re-armed {source} version {ledger_id}: {path}")
    print(
        f"{len(rearmed)} failed version(s) re-armed; the next sensor tick (or `factory materialize`) takes them"
    )
    return 0


def unconfigured_sql_sources() -> list[str]:
    """None in demo mode (demo databases); otherwise the sources whose URL variable is unset."""
    from factory_assets.sql_sources.tables import SOURCES
    from resources.sql_source import url_variable

    if settings.demo_mode():
        return []
    return [s for s in SOURCES if not os.environ.get(url_variable(s))]


def cmd_materialize(args) -> int:
    prepare_environment()
    materialize_all(dbt=not getattr(args, "ingest_only", False))
    return cmd_summary(None)


def summary_text() -> str:
    from factory_assets.summary import summary_lines

    with _resolved("warehouse").connection() as conn:
        return "\n".join(summary_lines(conn))


def cmd_summary(_args) -> int:
    print(summary_text())
    return 0


def _spawn(name: str, argv: list[str], log_dir: Path) -> subprocess.Popen:
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child for its life
    proc = subprocess.Popen(argv, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    (run_dir() / f"{name}.pid").write_text(str(proc.pid))
    return proc


def _bin(name: str) -> str:
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name


def _gateway_pid() -> int | None:
    pid_file = run_dir() / "gateway.pid"
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def gateway_url() -> str:
    from gateway.config import listen_address

    host, port = listen_address()
    return f"http://{host}:{port}"


def start_gateway(logs: Path) -> subprocess.Popen | None:
    """Start the HTTP gateway (``python -m gateway``) in the background, unless it already runs;
    waits until it answers. Returns the process started (None if it was running or failed)."""
    import urllib.request

    if not os.environ.get("FACTORY_GATEWAY_API_KEY"):
        print("gateway: not started (FACTORY_GATEWAY_API_KEY is not set)")
        return None
    if _gateway_pid():
        return None
    run_dir().mkdir(parents=True, exist_ok=True)
    proc = _spawn("gateway", [sys.executable, "-m", "gateway"], logs)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            print(f"gateway: exited at start (port in use?); see {logs / 'gateway.log'}")
            (run_dir() / "gateway.pid").unlink(missing_ok=True)
            return None
        try:
            with urllib.request.urlopen(gateway_url() + "/openapi.json", timeout=2):
                return proc
        except OSError:
            time.sleep(0.3)
    print(f"gateway: no answer after 60 s; see {logs / 'gateway.log'}")
    return proc


def serve(port: int, *, stop_after: float | None = None) -> int:
    """Run webserver + daemon + gateway until Ctrl-C (or ``stop_after`` seconds); then stop everything."""
    run_dir().mkdir(parents=True, exist_ok=True)
    logs = settings.factory_home() / "logs"
    ws = REPO_ROOT / "workspace.yaml"
    procs = [
        _spawn(
            "webserver", [_bin("dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", str(ws)], logs
        ),
        _spawn("daemon", [_bin("dagster-daemon"), "run", "-w", str(ws)], logs),
    ]
    gateway = start_gateway(logs)
    docs = start_docs(logs)
    print(f"Dagster UI: http://127.0.0.1:{port}  (logs in {logs}; Ctrl-C or `make stop` to stop)")
    if gateway is not None or _gateway_pid():
        print(f"HTTP gateway: {gateway_url()}  (OpenAPI: {gateway_url()}/openapi.json)")
    if docs is not None or _pid_of("docs"):
        from factory_assets.dbt_docs import docs_url

        print(
            f"dbt docs: {docs_url()}  (generated from the warehouse; ready in a few seconds; log: {logs / 'docs.log'})"
        )
    stopping = False

    def _stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    started = time.time()
    while not stopping:
        if any(p.poll() is not None for p in procs):
            print("a Dagster process exited; see the logs above. Stopping.")
            break
        if gateway is not None and gateway.poll() is not None:
            print(f"the HTTP gateway exited; see {logs / 'gateway.log'}. The UI keeps running.")
            gateway = None
        if stop_after is not None and time.time() - started > stop_after:
            break
        time.sleep(0.5)
    stop_all()
    return 0


def _stop_groups(pgids: list[int], grace_s: float = 10) -> None:
    """SIGTERM process groups (each service runs in its own session) all at once, wait for every
    member, not only the leaders, then SIGKILL what is left: the daemon's code server can
    outlive the daemon and would otherwise stay behind as an orphan. One shared grace period:
    stopping the services one after the other made ``factory stop`` take up to 40 s."""
    alive = []
    for pgid in pgids:
        try:
            os.killpg(pgid, signal.SIGTERM)
            alive.append(pgid)
        except ProcessLookupError:
            pass
    deadline = time.time() + grace_s
    while alive and time.time() < deadline:
        time.sleep(0.1)
        alive = [pgid for pgid in alive if _group_alive(pgid)]
    for pgid in alive:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def stop_all() -> None:
    pid_files = [run_dir() / f"{name}.pid" for name in ("webserver", "daemon", "gateway", "docs")]
    pid_files = [p for p in pid_files if p.exists()]
    _stop_groups([int(p.read_text()) for p in pid_files])
    for pid_file in pid_files:
        pid_file.unlink(missing_ok=True)
    if embedded.stop():
        print("embedded PostgreSQL stopped")


def cmd_serve(args) -> int:
    prepare_environment()
    return serve(args.port)


def cmd_gateway(_args) -> int:
    """The gateway in the foreground (``make gateway``): in demo mode with the generated keys."""
    prepare_environment()
    from gateway.__main__ import main as gateway_main

    if settings.demo_mode():
        print(f"gateway: {gateway_url()}  ingest key: {os.environ.get('FACTORY_GATEWAY_API_KEY')}  "
              f"read key: {os.environ.get('FACTORY_GATEWAY_READ_API_KEY')}")  # fmt: skip
    return gateway_main([])


def _pid_of(name: str) -> int | None:
    """The pid recorded in ``run/<name>.pid`` if that process is alive."""
    try:
        pid = int((run_dir() / f"{name}.pid").read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def _generate_docs(*, empty_catalog: bool = False) -> Path:
    """``dbt docs generate`` against the warehouse into ``$FACTORY_HOME/dbt_docs``."""
    from factory_assets import dbt_docs

    url = None if empty_catalog else _resolved("warehouse").resolved_url()
    return dbt_docs.generate(dbt_docs.docs_dir(), url, empty_catalog=empty_catalog)


def start_docs(logs: Path, port: int | None = None, *, wait_s: float = 0) -> subprocess.Popen | None:
    """Generate and serve the dbt docs site in the background (``python -m factory_assets.dbt_docs``,
    pid file ``run/docs.pid``, stopped by ``factory stop``) unless it already runs or
    ``FACTORY_DBT_DOCS_PORT`` is 0. Generating takes a few seconds: ``wait_s`` > 0 waits until the
    site answers (tests); ``serve`` does not wait. Never fatal: the docs sit beside the UI."""
    import urllib.request

    from factory_assets import dbt_docs

    port = dbt_docs.docs_port() if port is None else port
    if port == 0 or _pid_of("docs"):
        return None
    run_dir().mkdir(parents=True, exist_ok=True)
    proc = _spawn("docs", dbt_docs.serve_argv(port), logs)
    deadline = time.time() + wait_s
    while time.time() < deadline:
        if proc.poll() is not None:
            print(f"dbt docs: exited at start (port {port} in use?); see {logs / 'docs.log'}")
            (run_dir() / "docs.pid").unlink(missing_ok=True)
            return None
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
                return proc
        except OSError:
            time.sleep(0.3)
    return proc


def cmd_docs(args) -> int:
    """Generate the dbt docs site and serve it in the foreground until Ctrl-C."""
    from factory_assets import dbt_docs

    if not args.empty_catalog:
        prepare_environment()
    target = _generate_docs(empty_catalog=args.empty_catalog)
    print(f"dbt docs generated in {target}")
    if args.no_serve:
        return 0
    print(f"dbt docs: http://127.0.0.1:{args.port}  (Ctrl-C to stop)")
    try:
        dbt_docs.serve_forever(target, args.port)
    except KeyboardInterrupt:
        pass
    return 0


def cmd_stop(_args) -> int:
    stop_all()
    print("stopped")
    return 0


def _demo_operations(seed: int) -> list[dict]:
    """Demo operation drops into a local landing zone (once); returns the records to POST."""
    from factory_assets.demo.operations import write_operation_drops

    folder = settings.factory_home() / "landing" / "operations"
    if not settings.landing_url().startswith("file:"):
        return []
    if any(folder.rglob("*.json")):
        print("demo: operation drops already in the landing zone; not generating")
        return []
    drops = write_operation_drops(
        settings.factory_home() / "landing", seed=seed, timezone=settings.plant_timezone()
    )
    print(f"demo: wrote {len(drops.files)} operation drops below {folder} ({drops.records} records)")
    return drops.post_body


def _post_demo_drop(records: list[dict]) -> None:
    """POST one drop through the running gateway, as a shop-floor app would."""
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        gateway_url() + "/v1/operations",
        data=json.dumps(records).encode(),
        headers={"Content-Type": "application/json", "X-API-KEY": os.environ["FACTORY_GATEWAY_API_KEY"]},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read(1 << 20))  # the gateway answers a small JSON object
        print(
            f"demo: POSTed {answer['records']} records to {gateway_url()}/v1/operations -> {answer['path']}"
        )
    except (OSError, urllib.error.HTTPError, ValueError) as exc:
        print(f"demo: could not POST the demo drop through the gateway ({exc})")


def cmd_demo(args) -> int:
    prepare_environment()
    landing = settings.factory_home() / "landing" / "machine_logs"
    if settings.landing_url().startswith("file:") and not any(landing.rglob("*.LOG")):
        cmd_generate(args)
    else:
        print(f"demo: landing zone already holds files ({settings.landing_url()}); not generating")
    logistics = settings.factory_home() / "landing" / "logistics"
    if settings.landing_url().startswith("file:") and not any(logistics.rglob("*.csv")):
        from factory_assets.demo.logistics import write_logistics

        written = write_logistics(
            settings.factory_home() / "landing",
            visits=args.logistics_visits,
            customers=args.logistics_visits // 2,
            seed=args.seed,
        )
        print(f"demo: wrote logistics exports {', '.join(p.name for p in written)} below {logistics}")
    to_post = _demo_operations(args.seed)
    if settings.demo_mode():
        from factory_assets.demo.sql_sources import create_demo_databases

        filled = create_demo_databases(seed=args.seed)
        print(f"demo: source databases ready ({', '.join(f'{k}: {v}' for k, v in filled.items())})")
    if to_post:  # one drop through the HTTP gateway, as a shop-floor app sends it
        started = start_gateway(settings.factory_home() / "logs")
        if started is not None or _gateway_pid():
            _post_demo_drop(to_post)
    materialize_all()
    print(summary_text())
    if args.no_serve:
        stop_all()
        return 0
    return serve(args.port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="factory", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="run the platform on demo data")
    p.add_argument("--days", type=int, default=int(os.environ.get("FACTORY_DEMO_DAYS") or 7))
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--port", type=int, default=int(os.environ.get("FACTORY_UI_PORT") or 3000))
    p.add_argument("--no-serve", action="store_true", help="stop after the first full materialisation")
    p.add_argument(
        "--logistics-visits",
        type=int,
        default=int(os.environ.get("FACTORY_DEMO_VISITS") or 50_000),
        help="service visits in the demo logistics export (customers: half as many)",
    )
    p.set_defaults(func=cmd_demo)
    sub.add_parser("up", help="start the embedded PostgreSQL and write DAGSTER_HOME").set_defaults(
        func=cmd_up
    )
    p = sub.add_parser("generate", help="write demo machine logs into the local landing zone")
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--seed", type=int, default=42)
    p.set_defaults(func=cmd_generate)
    p = sub.add_parser("materialize", help="materialise every asset once")
    p.add_argument("--ingest-only", action="store_true", help="run the ingest jobs only, not the dbt jobs")
    p.set_defaults(func=cmd_materialize)
    sub.add_parser("summary", help="print what is loaded").set_defaults(func=cmd_summary)
    sub.add_parser(
        "reprocess", help="re-parse loaded file versions with the current parsers, then dbt build"
    ).set_defaults(func=cmd_reprocess)
    p = sub.add_parser("retry-failed", help="give failed file versions a new set of attempts")
    p.add_argument("--source", help="file kind, e.g. machine_logs (default: all)")
    p.add_argument("--path", action="append", default=[], help="landing-zone path (repeatable)")
    p.add_argument("--id", action="append", type=int, default=[], help="raw.ingest_ledger id (repeatable)")
    p.set_defaults(func=cmd_retry_failed)
    p = sub.add_parser("serve", help="Dagster webserver + daemon until Ctrl-C")
    p.add_argument("--port", type=int, default=int(os.environ.get("FACTORY_UI_PORT") or 3000))
    p.set_defaults(func=cmd_serve)
    sub.add_parser("gateway", help="the HTTP gateway in the foreground").set_defaults(func=cmd_gateway)
    p = sub.add_parser("docs", help="generate the dbt docs site from the warehouse and serve it")
    p.add_argument("--port", type=int, default=int(os.environ.get("FACTORY_DBT_DOCS_PORT") or 8080))
    p.add_argument("--no-serve", action="store_true", help="generate only")
    p.add_argument(
        "--empty-catalog",
        action="store_true",
        help="do not query the warehouse (no column types, row counts)",
    )
    p.set_defaults(func=cmd_docs)
    sub.add_parser(
        "stop", help="stop webserver, daemon, gateway, dbt docs and embedded PostgreSQL"
    ).set_defaults(func=cmd_stop)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
