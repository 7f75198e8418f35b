"""Benchmark: from a settled landing-zone file to fresh marts, through the real daemon.

    python bench/freshness.py [--rounds 6] [--burst 200] [--interval 5] [--settle 5] [--sync-before mes]

1. Prepares a platform on the embedded default in a temporary ``FACTORY_HOME`` (``factory demo
   --no-serve --days 2``: embedded PostgreSQL, demo data, a first full materialisation).
2. Starts the webserver-less daemon (``dagster-daemon run``) with ``FACTORY_SENSOR_INTERVAL_S``
   and ``FACTORY_SETTLE_S`` short, as a user watching a shift would configure it.
3. **Rounds**: drops one machine-log file at a time (temporary name, then rename, as SFTP clients
   do) and records four instants per file:
   * *stable*: the sensor saw it unchanged on its second look and requested its run (the run's
     creation time in Dagster's storage);
   * *loaded*: ``raw.ingest_ledger.loaded_at``;
   * *partitioned mart*: the materialisation of ``marts/machine_sessions`` for that date;
   * *all marts*: the last of the materialisations of ``oee_daily``, ``stop_pareto`` and
     ``data_quality_daily`` after *stable*.
   With ``--sync-before SOURCE`` (e.g. ``mes``, synced every 15 minutes by its schedule), each round
   first runs that source's SQL sync job, as the schedule does, and drops the file once the sync
   has finished: the file then competes with whatever the sync sets off (the automation's dbt run
   of that source's models, if the sync changed anything).
4. **Burst** (``--burst N``, 0 to skip): N files at once (N centres of one date); the same instants
   for each, then checks that no file was lost or loaded twice and no run was repeated.

Prints p50 and p95 of each step (settle time excluded: everything is measured from *stable*) and
ends with ``freshness: p50_mart_s=A p95_mart_s=B p50_all_s=C`` (and the burst's p95 to all
marts). Stops everything it started. Nothing here asserts a threshold.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]
DOWNSTREAM = (("marts", "oee_daily"), ("marts", "stop_pareto"), ("marts", "data_quality_daily"))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


class Platform:
    """The demo platform in a temporary FACTORY_HOME, with its daemon."""

    def __init__(self, home: Path, interval: int, settle: int):
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("FACTORY_", "DAGSTER_"))}
        self.env.update(
            FACTORY_HOME=str(home),
            FACTORY_SENSOR_INTERVAL_S=str(interval),
            FACTORY_SETTLE_S=str(settle),
            DO_NOT_TRACK="1",
        )
        self.daemon: subprocess.Popen | None = None

    def factory(self, *args: str) -> str:
        out = subprocess.run([str(BIN / "factory"), *args], env=self.env, capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"factory {' '.join(args)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
        return out.stdout

    def start(self) -> None:
        self.factory("demo", "--no-serve", "--days", "2")
        self.factory("up")
        self.env["DAGSTER_HOME"] = str(self.home / "dagster_home")
        from resources.embedded import embedded_url

        os.environ["FACTORY_HOME"] = str(self.home)
        self.warehouse = embedded_url("factory")
        self.env["FACTORY_DAGSTER_STORAGE_URL"] = embedded_url("dagster").replace(
            "postgresql://", "postgresql+psycopg2://"
        )
        log = open(self.home / "daemon.log", "ab")  # noqa: SIM115 - owned by the daemon
        self.daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")],
            env=self.env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def instance(self):
        os.environ.update({k: v for k, v in self.env.items() if k.startswith(("DAGSTER_", "FACTORY_"))})
        from dagster import DagsterInstance

        return DagsterInstance.get()

    def stop(self) -> None:
        if self.daemon:
            from factory_assets.cli import _stop_groups

            _stop_groups([self.daemon.pid], grace_s=60)  # the daemon and its code server
            self.daemon.wait()
        subprocess.run([str(BIN / "factory"), "stop"], env=self.env, capture_output=True)


def wait_idle(platform: Platform, timeout: float = 900) -> float:
    """Wait until no run is queued or in progress twice in a row, 10 s apart (the first ticks of
    a new daemon catch up on every asset; that is start-up work, not a file's latency)."""
    import dagster as dg

    instance = platform.instance()
    t0 = time.time()
    quiet = 0
    time.sleep(15)
    while time.time() - t0 < timeout and quiet < 2:
        busy = instance.get_runs_count(
            dg.RunsFilter(
                statuses=[
                    dg.DagsterRunStatus.QUEUED,
                    dg.DagsterRunStatus.NOT_STARTED,
                    dg.DagsterRunStatus.STARTING,
                    dg.DagsterRunStatus.STARTED,
                ]
            )
        )
        quiet = quiet + 1 if busy == 0 else 0
        time.sleep(10)
    return time.time() - t0


def run_job(platform: Platform, job: str, timeout: float = 300) -> str:
    """Submit ``job`` to the run queue as a schedule would (``dagster job launch``), wait until the
    run has ended; return its status."""
    import dagster as dg

    instance = platform.instance()
    since = time.time()
    out = subprocess.run(
        [str(BIN / "dagster"), "job", "launch", "-j", job, "-w", str(REPO / "workspace.yaml")],
        env=platform.env,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"dagster job launch -j {job} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    deadline = time.time() + timeout
    while time.time() < deadline:
        records = instance.get_run_records(dg.RunsFilter(job_name=job), limit=5)
        mine = [r for r in records if r.create_timestamp.timestamp() >= since - 1]
        if mine and mine[0].dagster_run.is_finished:
            return mine[0].dagster_run.status.value
        time.sleep(0.5)
    return "TIMEOUT"


def other_runs(platform: Platform, since: float) -> dict[str, int]:
    """Runs created after ``since`` that are not machine-log runs, by job name: what the files'
    runs may have waited for in the queue (one dbt run at a time)."""
    import dagster as dg

    counts: dict[str, int] = {}
    for r in platform.instance().get_run_records(
        dg.RunsFilter(created_after=datetime.fromtimestamp(since, UTC))
    ):
        if r.dagster_run.tags.get("factory/source") == "machine_logs":
            continue
        counts[r.dagster_run.job_name] = counts.get(r.dagster_run.job_name, 0) + 1
    return dict(sorted(counts.items()))


def drop(home: Path, centre: str, day: date, seed: int) -> str:
    from factory_assets.demo.machine_logs import generate_day

    folder = home / "landing" / "machine_logs" / centre
    folder.mkdir(parents=True, exist_ok=True)
    data = generate_day(
        centre if centre in ("DEM12", "DEMALU", "SU12") else "DEM12", day, random.Random(seed)
    )
    tmp = folder / f".{day:%Y%m%d}.LOG.part"
    tmp.write_bytes(data)
    tmp.rename(folder / f"{day:%Y%m%d}.LOG")
    return f"machine_logs/{centre}/{day:%Y%m%d}.LOG"


def observe(platform: Platform, paths: dict[str, tuple[str, date]], since: float, timeout: float) -> dict:
    """Poll until every file's marts are updated (or timeout); returns per path the instants."""
    import dagster as dg
    import psycopg

    instance = platform.instance()
    out: dict[str, dict] = {p: {} for p in paths}
    run_ids: dict[str, str] = {}
    deadline = time.time() + timeout
    while time.time() < deadline:
        runs = instance.get_run_records(dg.RunsFilter(tags={"factory/source": "machine_logs"}), limit=500)
        requested: dict[str, float] = {}
        for r in runs:
            if r.create_timestamp.timestamp() < since:
                continue
            cfg = r.dagster_run.run_config or {}
            for p in cfg.get("ops", {}).get("machine_logs_ingest", {}).get("config", {}).get("paths", []):
                if r.create_timestamp.timestamp() < requested.get(p, 1e18):
                    requested[p] = r.create_timestamp.timestamp()
                    run_ids[p] = r.dagster_run.run_id
        with psycopg.connect(platform.warehouse) as conn:
            loaded = dict(
                conn.execute(
                    "SELECT path, extract(epoch FROM loaded_at)::float8 FROM raw.ingest_ledger "
                    "WHERE status = 'loaded' AND path = ANY(%s)",
                    (list(paths),),
                ).fetchall()
            )
        latest = {
            k: (
                e.timestamp if (e := instance.get_latest_materialization_event(dg.AssetKey(list(k)))) else 0.0
            )
            for k in DOWNSTREAM
        }
        all_done = True
        for p, (_centre, day) in paths.items():
            o = out[p]
            if p in requested:
                o.setdefault("stable", requested[p])
            if p in loaded:
                o.setdefault("loaded", loaded[p])
            if "mart" not in o:
                ev = instance.fetch_materializations(
                    dg.AssetRecordsFilter(
                        asset_key=dg.AssetKey(["marts", "machine_sessions"]),
                        asset_partitions=[day.isoformat()],
                    ),
                    limit=1,
                ).records
                if ev and ev[0].timestamp > since and "loaded" in o:
                    o["mart"] = ev[0].timestamp
            if "stable" in o and "mart" in o and "all" not in o:
                if all(t > o["loaded"] for t in latest.values()):
                    o["all"] = max(latest.values())
            all_done = all_done and "all" in o
        if all_done:
            break
        time.sleep(0.5)
    _run_phases(instance, out, run_ids)
    return out


PHASE_EVENTS = {"PIPELINE_STARTING": "dequeued", "PIPELINE_START": "started"}


def _run_phases(instance, out: dict, run_ids: dict[str, str]) -> None:
    """Where the time of each file's run went: queued (created -> dequeued), launch (dequeued ->
    the run process has loaded the code and starts), then the steps inside the run."""
    for path, run_id in run_ids.items():
        o = out[path]
        records = instance.get_records_for_run(run_id, limit=5000).records
        for rec in records:
            ev = rec.event_log_entry
            if not ev.is_dagster_event:
                continue
            kind = ev.dagster_event.event_type_value
            if kind in PHASE_EVENTS:
                o.setdefault(PHASE_EVENTS[kind], ev.timestamp)
            elif kind == "STEP_START" and "dbt" in (ev.step_key or ""):
                o.setdefault("dbt_step", ev.timestamp)


BUDGET = (  # consecutive phases of one file, from the run's creation (the file is stable)
    ("queued", "stable", "dequeued"),
    ("launch", "dequeued", "started"),
    ("ingest", "started", "loaded"),
    ("to_dbt", "loaded", "dbt_step"),
    ("dbt_to_mart", "dbt_step", "mart"),
    ("mart_to_all", "mart", "all"),
)


def steps(results: dict) -> dict[str, list[float]]:
    d: dict[str, list[float]] = {"stable_to_loaded": [], "stable_to_mart": [], "stable_to_all": []}
    for name, *_ in BUDGET:
        d[f"  {name}"] = []
    for o in results.values():
        for name, a, b in BUDGET:
            if a in o and b in o:
                d[f"  {name}"].append(o[b] - o[a])
        if {"stable", "loaded"} <= o.keys():
            d["stable_to_loaded"].append(o["loaded"] - o["stable"])
        if {"stable", "mart"} <= o.keys():
            d["stable_to_mart"].append(o["mart"] - o["stable"])
        if {"stable", "all"} <= o.keys():
            d["stable_to_all"].append(o["all"] - o["stable"])
    return d


def report(title: str, results: dict) -> dict[str, list[float]]:
    d = steps(results)
    missing = sum("all" not in o for o in results.values())
    print(f"\n{title}: {len(results)} file(s){f', {missing} not fully observed' if missing else ''}")
    for name, values in d.items():
        print(
            f"  {name:<18} p50 {pct(values, 0.5):6.1f} s   p95 {pct(values, 0.95):6.1f} s   (n={len(values)})"
        )
    return d


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--burst", type=int, default=200)
    ap.add_argument("--interval", type=int, default=5, help="FACTORY_SENSOR_INTERVAL_S")
    ap.add_argument("--settle", type=int, default=5, help="FACTORY_SETTLE_S")
    ap.add_argument("--keep", action="store_true", help="keep the temporary FACTORY_HOME (path printed)")
    ap.add_argument(
        "--sync-before",
        metavar="SOURCE",
        help="run SOURCE's SQL sync job (erp, mes, plant, oltp) before each round, as its schedule would",
    )
    args = ap.parse_args(argv)

    home = Path(tempfile.mkdtemp(prefix="bench_freshness_"))
    os.chmod(home, 0o755)
    platform = Platform(home, args.interval, args.settle)
    print(f"FACTORY_HOME={home}  sensor interval {args.interval} s, settle {args.settle} s; preparing ...")
    summary: dict[str, float] = {}
    try:
        t0 = time.time()
        platform.start()
        print(
            f"platform ready and daemon started in {time.time() - t0:.0f} s; load average {os.getloadavg()[0]:.2f}"
        )
        waited = wait_idle(platform)  # the daemon's first ticks and catch-up runs are not the file's
        print(f"daemon idle (no queued or running run) after {waited:.0f} s")
        rounds: dict = {}
        first_day = datetime.now(UTC).date() - timedelta(days=40)
        rounds_since = time.time()
        for i in range(args.rounds):
            day = first_day + timedelta(days=i)
            if args.sync_before:
                status = run_job(platform, f"{args.sync_before}_sql_sync")
                print(f"  round {i + 1}: {args.sync_before}_sql_sync {status.lower()}, then the file")
            since = time.time()
            path = drop(home, "DEM12", day, seed=100 + i)
            rounds.update(observe(platform, {path: ("DEM12", day)}, since, timeout=600))
            o = rounds[path]
            print(
                f"  round {i + 1}: "
                + ", ".join(
                    f"{k} +{o[k] - o.get('stable', since):.1f} s" for k in ("loaded", "mart", "all") if k in o
                )
            )
        d = report("one file at a time", rounds)
        print(f"  other runs during the rounds, by job: {other_runs(platform, rounds_since) or 'none'}")
        summary.update(
            p50_mart_s=pct(d["stable_to_mart"], 0.5),
            p95_mart_s=pct(d["stable_to_mart"], 0.95),
            p50_all_s=pct(d["stable_to_all"], 0.5),
        )
        if args.burst:
            day = first_day - timedelta(days=5)
            since = time.time()
            burst = {
                drop(home, f"B{n:03d}", day, seed=1000 + n): (f"B{n:03d}", day) for n in range(args.burst)
            }
            b = observe(platform, burst, since, timeout=900)
            d = report(f"burst of {args.burst} files", b)
            summary["burst_p95_all_s"] = pct(d["stable_to_all"], 0.95)
            import dagster as dg
            import psycopg

            with psycopg.connect(platform.warehouse) as conn:
                n_loaded, n_paths = conn.execute(
                    "SELECT count(*), count(DISTINCT path) FROM raw.ingest_ledger WHERE path = ANY(%s) AND status = 'loaded'",
                    (list(burst),),
                ).fetchone()
            runs = platform.instance().get_run_records(
                dg.RunsFilter(tags={"factory/source": "machine_logs"}), limit=1000
            )
            keys = [
                r.dagster_run.tags.get("dagster/run_key")
                for r in runs
                if r.create_timestamp.timestamp() >= since
            ]
            print(f"  ledger: {n_loaded} loaded version(s) for {n_paths} of {args.burst} path(s); "
                  f"{len(keys)} ingestion run(s), {len(keys) - len(set(keys))} repeated run key(s), "
                  f"{sum(r.dagster_run.is_failure for r in runs if r.create_timestamp.timestamp() >= since)} failed")  # fmt: skip
        wait_idle(platform, timeout=300)  # let the last run finish its tests: stopping it would fail it
    finally:
        platform.stop()
        if args.keep:
            print(f"kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)
    print("freshness: " + " ".join(f"{k}={v:.1f}" for k, v in summary.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
