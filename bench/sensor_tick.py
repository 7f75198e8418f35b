"""Benchmark: a no-op landing-sensor tick over many already-ingested files.

    python bench/sensor_tick.py [--files 10000] [--ticks 20] [--keep-db]

Builds a local landing zone with ``--files`` machine-log files (``machine_logs/C001…/YYYYMMDD.LOG``),
creates a fresh database on ``FACTORY_BENCH_PG_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``, dropped at the end) and records every file as
``loaded`` in ``raw.ingest_ledger`` with its listing identity (path, size, mtime).

Shortcut, on purpose: the files are tiny (one log line each) and the ledger rows are inserted
directly (with a made-up sha256) instead of ingesting 10,000 real day files. A tick never reads or
hashes a file, so only the number of files and ledger rows matters, not their size.

Then, per tick (best and median of ``--ticks``): the listing (``LocalLandingZone.list_files``),
the ledger query (``ledger.ledger_states``), ``plan_tick``, the three together, and the full
sensor function through ``dagster.build_sensor_context`` (which also opens a connection and
checks migrations). Baselines in the same run: a bare ``os.walk`` of the tree, and ``os.walk`` +
``os.stat`` of every file (what any listing with size and mtime has to do).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg
from factory_assets.machine_logs.assets import PREFIX, partition_of

from factory_assets.ingest import ledger
from factory_assets.ingest.migrate import migrate
from factory_assets.machine_logs.loader import SOURCE
from resources import settings
from resources.landing import LocalLandingZone
from sensors.landing_sensor import max_runs_per_tick, plan_tick

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def build_tree(root: Path, n_files: int) -> int:
    """``n_files`` files over 100 centres and consecutive days; returns the number written."""
    centres = max(1, min(100, n_files))
    per_centre = -(-n_files // centres)
    written = 0
    for c in range(1, centres + 1):
        folder = root / PREFIX / f"C{c:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        for d in range(per_centre):
            if written == n_files:
                return written
            day = date(2020, 1, 1) + timedelta(days=d)
            (folder / f"{day:%Y%m%d}.LOG").write_bytes(
                f"{day:%Y%m%d} 05:00:00|@StukUitgevoerd: 6112 #{c}\n".encode()
            )
            written += 1
    return written


def fill_ledger(url: str, zone: LocalLandingZone) -> int:
    """One ``loaded`` ledger row per listed file, with the listing's (path, size, mtime)."""
    listing = zone.list_files(PREFIX)
    buf = io.StringIO()
    for e in listing:
        mtime = ledger.mtime_dt(e.mtime).isoformat()
        fake_sha = f"{abs(hash(e.path)):064x}"[-64:]
        buf.write(f"{SOURCE}\t{e.path}\t{e.size}\t{mtime}\t{fake_sha}\tloaded\t1\t1\t1\t0\t1\tbench\n")
    with psycopg.connect(url, autocommit=True) as c, c.cursor() as cur:
        with cur.copy(
            "COPY raw.ingest_ledger (source, path, size, mtime, sha256, status, rows_in, rows_loaded, "
            "rows_rejected, rows_skipped, attempts, run_id) FROM STDIN"
        ) as cp:
            cp.write(buf.getvalue())
        cur.execute("UPDATE raw.ingest_ledger SET loaded_at = now()")
        cur.execute("VACUUM ANALYZE raw.ingest_ledger")
    return len(listing)


def timed(fn, ticks: int) -> tuple[float, float, object]:
    """(best ms, median ms, last result) of ``ticks`` calls."""
    out, result = [], None
    for _ in range(ticks):
        t = time.perf_counter()
        result = fn()
        out.append((time.perf_counter() - t) * 1000)
    return min(out), statistics.median(out), result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=10_000, help="ingested files in the landing zone")
    ap.add_argument("--ticks", type=int, default=20, help="ticks timed per measurement")
    ap.add_argument("--pg-url", default=os.environ.get("FACTORY_BENCH_PG_URL") or DEFAULT_URL)
    ap.add_argument("--keep-db", action="store_true")
    ap.add_argument("--no-sensor", action="store_true", help="skip the full Dagster sensor evaluation")
    args = ap.parse_args(argv)

    dbname = f"factory_bench_sensor_{os.getpid()}"
    admin = settings.libpq_url(args.pg_url)
    url = psycopg.conninfo.make_conninfo(admin, dbname=dbname)
    tmp = Path(tempfile.mkdtemp(prefix="bench_sensor_"))
    landing = tmp / "landing"
    try:
        n = build_tree(landing, args.files)
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{dbname}"')
        with psycopg.connect(url, autocommit=True) as c:
            migrate(c)
        zone = LocalLandingZone(landing, create=False)
        rows = fill_ledger(url, zone)
        print(f"{n} files in {landing}, {rows} ledger rows 'loaded' (inserted directly, see docstring)")

        results: list[tuple[str, float, float]] = []

        def walk_names():
            return sum(len(files) for _d, _s, files in os.walk(landing / PREFIX))

        def walk_stat():
            k = 0
            for dirpath, _dirs, files in os.walk(landing / PREFIX):
                for name in files:
                    os.stat(os.path.join(dirpath, name))
                    k += 1
            return k

        best, med, _ = timed(walk_names, args.ticks)
        results.append(("baseline: os.walk (names only)", best, med))
        best, med, _ = timed(walk_stat, args.ticks)
        results.append(("baseline: os.walk + os.stat", best, med))
        best, med, listing = timed(lambda: zone.list_files(PREFIX), args.ticks)
        results.append(("listing (LocalLandingZone.list_files)", best, med))

        conn = psycopg.connect(url, autocommit=True)
        try:
            best, med, states = timed(lambda: ledger.ledger_states(conn, SOURCE), args.ticks)
            results.append(("ledger query (ledger_states)", best, med))

            def plan(states=states):
                return plan_tick(
                    listing,
                    states,
                    {},
                    now=time.time(),
                    settle_s=settings.settle_s(),
                    partition_of=partition_of,
                    limit=max_runs_per_tick(),
                )

            best, med, planned = timed(plan, args.ticks)
            results.append(("plan_tick", best, med))
            assert not planned[0] and not planned[1], "expected a no-op tick"

            def core_tick():
                lst = zone.list_files(PREFIX)
                st = ledger.ledger_states(conn, SOURCE)
                return plan_tick(
                    lst,
                    st,
                    {},
                    now=time.time(),
                    settle_s=settings.settle_s(),
                    partition_of=partition_of,
                    limit=max_runs_per_tick(),
                )

            best, med, _ = timed(core_tick, args.ticks)
            results.append(("listing + ledger query + plan_tick", best, med))
        finally:
            conn.close()

        if not args.no_sensor:
            import dagster as dg
            from sensors.machine_logs import machine_logs_sensor

            from resources.landing import LandingZoneResource
            from resources.warehouse import WarehouseResource

            resources = {
                "warehouse": WarehouseResource(url=url),
                "landing": LandingZoneResource(url=landing.as_uri()),
            }
            with dg.instance_for_test() as instance:
                cursor = {"c": None}

                def full_tick():
                    ctx = dg.build_sensor_context(instance=instance, cursor=cursor["c"], resources=resources)
                    result = machine_logs_sensor(ctx)
                    cursor["c"] = result.cursor
                    return result

                best, med, result = timed(full_tick, args.ticks)
                results.append(("full sensor (build_sensor_context)", best, med))
                assert not result.run_requests, "expected a no-op tick"
                print(f"sensor says: {result.skip_reason.skip_message if result.skip_reason else '-'}")
                print(f"cursor size: {len(json.dumps(result.cursor or ''))} chars")

        print(f"\n{'per tick, ' + str(args.ticks) + ' ticks':<42} {'best ms':>9} {'median ms':>10}")
        for name, best, med in results:
            print(f"  {name:<40} {best:9.1f} {med:10.1f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if args.keep_db:
            print(f"kept database {dbname}")
        else:
            with contextlib.suppress(psycopg.Error), psycopg.connect(admin, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
