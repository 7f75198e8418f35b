"""``factory`` command line: bring the platform up, load the demo, serve the UI, stop everything.

    factory demo [--days N] [--no-serve]   up + demo data + first full materialisation + summary + UI
    factory up                             start the embedded PostgreSQL (demo mode), write DAGSTER_HOME
    factory materialize                    materialise every asset once (all file dates, then dbt)
    factory summary                        what is loaded: files, rows, rejects, per-centre figures
    factory reprocess                      re-parse every loaded machine-log day (after a parser upgrade)
    factory serve [--port P]               Dagster webserver + daemon (sensors, automation) until Ctrl-C
    factory stop                           stop webserver, daemon and the embedded PostgreSQL

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

from factory_assets import embedded, settings

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
    from resources.warehouse import WarehouseResource

    applied = WarehouseResource(url=os.environ.get("FACTORY_WAREHOUSE_URL")).ensure_schema()
    if applied:
        print(f"warehouse: applied migrations {', '.join(applied)}")
    return {k: os.environ[k] for k in ("FACTORY_HOME", "DAGSTER_HOME", "FACTORY_DAGSTER_STORAGE_URL")}


def cmd_up(_args) -> int:
    env = prepare_environment()
    wh = (
        "embedded PostgreSQL"
        if settings.demo_mode()
        else settings.redact_url(os.environ["FACTORY_WAREHOUSE_URL"])
    )
    print(f"warehouse: {wh}\nDAGSTER_HOME: {env['DAGSTER_HOME']}\nlanding zone: {settings.landing_url()}")
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


def materialize_all(days: list[str] | None = None) -> None:
    """Ingest every file date present in the landing zone, then build the date-partitioned dbt
    models for the same range of days, then the unpartitioned ones."""
    import dagster as dg

    from factory_assets.dbt_assets import DBT_RUN_TAGS, build_dbt_assets
    from factory_assets.machine_logs.assets import (
        PARTITIONS,
        PREFIX,
        machine_logs_ingest,
        partition_of,
        takeable,
    )
    from factory_assets.resources_config import build_resources

    resources = build_resources()
    instance = _instance()
    quiet = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    if days is None:
        with resources["landing"].open() as zone:
            days = set()
            for e in zone.list_files(PREFIX):
                if takeable(e):
                    try:
                        days.add(partition_of(e.path))
                    except ValueError:
                        pass
            days = sorted(days)
    if days:
        print(f"ingesting machine logs for {len(days)} day(s): {days[0]} .. {days[-1]}")
        result = dg.materialize(
            [machine_logs_ingest],
            resources=resources,
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": days[0],
                "dagster/asset_partition_range_end": days[-1],
                "factory/source": "machine_logs",
            },
            raise_on_error=False,
            run_config=quiet,
        )
        if not result.success:
            print("machine-log ingestion reported failures (see the Dagster UI); continuing with dbt")
    sync_sql_sources(resources, instance, quiet)
    machine_log_models, other_models = build_dbt_assets()
    # 1. the unpartitioned models that do not read machine-log models (seeds, other domains;
    #    the machine-log models and their tests read some of them);
    # 2. the date-partitioned machine-log models for the same range of days, in one run
    #    (without any file date: the latest partition, which creates the views others read);
    # 3. the unpartitioned models that read them.
    downstream_keys = _downstream_of(machine_log_models, other_models)
    upstream = dg.AssetSelection.assets(*(set(other_models.keys) - downstream_keys))
    downstream = dg.AssetSelection.assets(*downstream_keys)
    first, last = (days[0], days[-1]) if days else (PARTITIONS.get_last_partition_key(),) * 2
    steps = [
        ("seeds and the other domains' dbt models", [other_models], upstream, {}),
        (
            f"machine-log dbt models for {first} .. {last}",
            [machine_log_models],
            None,
            {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last},
        ),
        ("dbt models over all machine-log dates (OEE, Pareto, data quality)", [other_models], downstream, {}),
    ]
    for label, assets, selection, tags in steps:
        print(f"building {label} ...")
        dbt_result = dg.materialize(
            assets,
            selection=selection,
            resources=resources,
            instance=instance,
            tags={**DBT_RUN_TAGS, **tags},
            run_config=quiet,
            raise_on_error=False,
        )
        if not dbt_result.success:
            raise SystemExit("dbt build failed; see the Dagster UI or dbt_project/target/run_results.json")


def _downstream_of(partitioned, unpartitioned) -> set:
    """Keys of ``unpartitioned`` that read ``partitioned``, directly or through each other."""
    found = set(partitioned.keys)
    grew = True
    while grew:
        before = len(found)
        found |= {k for k, deps in unpartitioned.asset_deps.items() if deps & found}
        grew = len(found) > before
    return found & set(unpartitioned.keys)


def cmd_reprocess(_args) -> int:
    """Re-parse every loaded machine-log session with the current parser (after an upgrade)."""
    from resources.warehouse import WarehouseResource

    prepare_environment()
    with WarehouseResource(url=os.environ.get("FACTORY_WAREHOUSE_URL")).connection() as conn:
        days = [
            r[0].isoformat()
            for r in conn.execute(
                "SELECT DISTINCT production_date FROM raw.machine_logs__sessions ORDER BY 1"
            ).fetchall()
        ]
    if not days:
        print("nothing to reprocess: no machine-log session is loaded")
        return 0
    materialize_all(days)
    return cmd_summary(None)


def configured_sql_sources() -> list[str]:
    """Every source in demo mode; otherwise only those whose URL variable is set."""
    from factory_assets.sql_sources.tables import SOURCES
    from resources.sql_source import url_variable

    if settings.demo_mode():
        return list(SOURCES)
    return [s for s in SOURCES if os.environ.get(url_variable(s))]


def sync_sql_sources(resources: dict, instance, run_config: dict) -> None:
    """One sync run per configured SQL source (as the schedules would start them)."""
    import dagster as dg

    from factory_assets.sql_sources.assets import build_sql_source_assets

    assets = build_sql_source_assets()
    for source in configured_sql_sources():
        selected = [a for a in assets if next(iter(a.keys)).path[0] == source]
        print(f"syncing SQL source {source} ({len(selected)} tables) ...")
        result = dg.materialize(
            selected,
            resources=resources,
            instance=instance,
            tags={"factory/source": source},
            raise_on_error=False,
            run_config=run_config,
        )
        if not result.success:
            print(f"sync of {source} reported failures (see the Dagster UI); continuing")


def cmd_materialize(_args) -> int:
    prepare_environment()
    materialize_all()
    return cmd_summary(None)


def summary_text() -> str:
    from resources.warehouse import WarehouseResource

    lines = []
    with WarehouseResource(url=os.environ.get("FACTORY_WAREHOUSE_URL")).connection() as conn:
        for source, status, n, rin, rload, rrej in conn.execute(
            """SELECT source, status, count(*), coalesce(sum(rows_in), 0), coalesce(sum(rows_loaded), 0),
                      coalesce(sum(rows_rejected), 0)
                 FROM raw.ingest_ledger GROUP BY 1, 2 ORDER BY 1, 2"""
        ).fetchall():
            lines.append(
                f"  {source:<14} {status:<12} files={n:<5} lines in={rin:<8} loaded={rload:<8} rejected={rrej}"
            )
        lines.insert(0, "files (raw.ingest_ledger):")
        try:
            rows = conn.execute(
                """SELECT centre, count(*), sum(pieces), round(avg(occupation_rate_pct), 1),
                          round(sum(stops)::numeric / count(*), 1)
                     FROM marts.machine_sessions GROUP BY centre ORDER BY centre"""
            ).fetchall()
        except Exception as exc:  # noqa: BLE001 - the mart may not exist before the first dbt build
            conn.rollback()
            rows = []
            lines.append(f"marts.machine_sessions not available yet: {exc}")
        if rows:
            lines.append("machine sessions (marts.machine_sessions):")
            for centre, days, pieces, occ, stops in rows:
                lines.append(
                    f"  {centre:<8} days={days:<3} pieces={pieces:<6} mean occupation={occ}%  stops/day={stops}"
                )
        lines.extend(_optional_summary(conn))
    return "\n".join(lines)


def _optional_summary(conn) -> list[str]:
    """Figures from marts that may not exist yet (first run, or a source not configured)."""
    queries = {
        "OEE (marts.oee_daily, shifts with a log)": """
            SELECT centre, round(avg(availability), 3), round(avg(performance), 3),
                   round(avg(oee_excluding_quality), 3), round(avg(oee), 3)
              FROM marts.oee_daily WHERE has_log GROUP BY centre ORDER BY centre""",
        "data quality (marts.data_quality_daily)": """
            SELECT source, reason, sum(rejected_rows) FROM marts.data_quality_daily
             GROUP BY 1, 2 ORDER BY 1, 2""",
        "marts": """
            SELECT 'production_fact', count(*) FROM marts.production_fact
            UNION ALL SELECT 'production_rejects', count(*) FROM marts.production_rejects
            UNION ALL SELECT 'roller_shutter_orders', count(*) FROM marts.roller_shutter_orders""",
    }
    out: list[str] = []
    for title, sql in queries.items():
        try:
            rows = conn.execute(sql).fetchall()
        except Exception:  # noqa: BLE001 - mart not built (yet): nothing to show
            conn.rollback()
            continue
        out.append(f"{title}:")
        if title.startswith("OEE"):
            out.extend(
                f"  {c:<8} availability={a} performance={p} A×P={ap} OEE={o}" for c, a, p, ap, o in rows
            )
        else:
            out.extend("  " + "  ".join(str(v) for v in r) for r in rows)
    return out


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


def serve(port: int, *, stop_after: float | None = None) -> int:
    """Run webserver + daemon until Ctrl-C (or ``stop_after`` seconds); then stop everything."""
    run_dir().mkdir(parents=True, exist_ok=True)
    logs = settings.factory_home() / "logs"
    ws = REPO_ROOT / "workspace.yaml"
    procs = [
        _spawn(
            "webserver", [_bin("dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", str(ws)], logs
        ),
        _spawn("daemon", [_bin("dagster-daemon"), "run", "-w", str(ws)], logs),
    ]
    print(f"Dagster UI: http://127.0.0.1:{port}  (logs in {logs}; Ctrl-C or `make stop` to stop)")
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
        if stop_after is not None and time.time() - started > stop_after:
            break
        time.sleep(0.5)
    stop_all()
    return 0


def stop_all() -> None:
    for name in ("webserver", "daemon"):
        pid_file = run_dir() / f"{name}.pid"
        if not pid_file.exists():
            continue
        pid = int(pid_file.read_text())
        try:
            os.killpg(pid, signal.SIGTERM)
            for _ in range(100):
                os.kill(pid, 0)
                time.sleep(0.1)
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        pid_file.unlink(missing_ok=True)
    if embedded.stop():
        print("embedded PostgreSQL stopped")


def cmd_serve(args) -> int:
    prepare_environment()
    return serve(args.port)


def cmd_stop(_args) -> int:
    stop_all()
    print("stopped")
    return 0


def cmd_demo(args) -> int:
    prepare_environment()
    landing = settings.factory_home() / "landing" / "machine_logs"
    if settings.landing_url().startswith("file:") and not any(landing.rglob("*.LOG")):
        cmd_generate(args)
    else:
        print(f"demo: landing zone already holds files ({settings.landing_url()}); not generating")
    if settings.demo_mode():
        from factory_assets.demo.sql_sources import create_demo_databases

        filled = create_demo_databases(seed=args.seed)
        print(f"demo: source databases ready ({', '.join(f'{k}: {v}' for k, v in filled.items())})")
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
    p.set_defaults(func=cmd_demo)
    sub.add_parser("up", help="start the embedded PostgreSQL and write DAGSTER_HOME").set_defaults(
        func=cmd_up
    )
    p = sub.add_parser("generate", help="write demo machine logs into the local landing zone")
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--seed", type=int, default=42)
    p.set_defaults(func=cmd_generate)
    sub.add_parser("materialize", help="materialise every asset once").set_defaults(func=cmd_materialize)
    sub.add_parser("summary", help="print what is loaded").set_defaults(func=cmd_summary)
    sub.add_parser(
        "reprocess", help="re-parse every loaded machine-log day with the current parser, then dbt build"
    ).set_defaults(func=cmd_reprocess)
    p = sub.add_parser("serve", help="Dagster webserver + daemon until Ctrl-C")
    p.add_argument("--port", type=int, default=int(os.environ.get("FACTORY_UI_PORT") or 3000))
    p.set_defaults(func=cmd_serve)
    sub.add_parser("stop", help="stop webserver, daemon and embedded PostgreSQL").set_defaults(func=cmd_stop)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
