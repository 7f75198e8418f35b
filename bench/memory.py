"""Benchmark: peak memory (RSS) of ingesting very large machine-log files.

    python bench/memory.py [--mb 1024] [--line-mb 200] [--cases local,sftp,long-line]

Cases, each in a fresh Python process (its peak RSS is ``ru_maxrss`` of that process alone):

* ``local``: one machine-log file of ``--mb`` MiB (about 20 million realistic lines of one day) in
  a local landing zone, ingested by the machine-log run driver (spool + sha256, archive copy,
  parse, COPY, ledger) into a scratch database;
* ``sftp``: the same file through a real OpenSSH ``sshd`` started on a free loopback port;
* ``long-line``: a small log with one line of ``--line-mb`` MiB in its middle (rejected as
  ``line_too_long`` with its first bytes kept; the rest loads).

Prints one line per case and a last line ``memory: local_mb=A sftp_mb=B long_line_mb=C``.
Target (hardening issue): under 200 MB for each. Nothing here asserts; see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DAY = date(2024, 11, 5)
PG = os.environ.get("FACTORY_BENCH_PG_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"


def write_big_log(path: Path, mib: int) -> int:
    """``mib`` MiB of one day's realistic lines (a generated day repeated), written in chunks."""
    from factory_assets.demo.machine_logs import generate_day

    day = generate_day("BIG", DAY, random.Random(1), malformed=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    target, written = mib << 20, 0
    with open(path, "wb") as f:
        while written < target:
            f.write(day)
            written += len(day)
    return written


def write_long_line_log(path: Path, line_mib: int) -> int:
    from factory_assets.demo.machine_logs import generate_day

    day = generate_day("LONG", DAY, random.Random(2), malformed=0)
    half = len(day) // 2
    cut = day.index(b"\n", half) + 1
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(day[:cut])
        f.write(f"{DAY:%Y%m%d} 12:00:00|@StukUitgevoerd: ".encode())
        chunk = b"X" * (1 << 20)
        for _ in range(line_mib):
            f.write(chunk)
        f.write(b"\n")
        f.write(day[cut:])
    return path.stat().st_size


def child(landing_url: str, archive_url: str, db_url: str, sftp: dict) -> None:
    """Runs in a fresh process: ingest everything, print the peak RSS as JSON."""
    import psycopg

    from factory_assets.ingest.migrate import migrate
    from factory_assets.ingest.run import run_ingest
    from factory_assets.machine_logs.kind import MACHINE_LOGS
    from resources.landing import LandingZoneResource
    from resources.warehouse import WarehouseResource

    with psycopg.connect(db_url, autocommit=True) as c:
        migrate(c)
    t0 = time.perf_counter()
    report = run_ingest(
        MACHINE_LOGS,
        WarehouseResource(url=db_url),
        LandingZoneResource(url=landing_url, **sftp),
        LandingZoneResource(url=archive_url, role="archive"),
        run_id="bench-memory",
    )
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with psycopg.connect(db_url) as c:
        rejects = c.execute("SELECT reason, count(*) FROM raw.ingest_rejects GROUP BY 1").fetchall()
    print(
        json.dumps({"peak_mb": peak_mb, "seconds": seconds, "summary": report.summary(), "rejects": rejects})
    )


def run_case(name: str, landing_url: str, archive_url: str, sftp: dict) -> dict:
    import psycopg

    dbname = f"factory_bench_mem_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{dbname}"')
    db_url = PG.rsplit("/", 1)[0] + f"/{dbname}"
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--child", json.dumps([landing_url, archive_url, db_url, sftp])],
            capture_output=True,
            text=True,
            env={**os.environ, "FACTORY_TIMEZONE": "Europe/Paris", "FACTORY_INGEST_WORKERS": "1"},
        )
        if out.returncode != 0:
            raise SystemExit(f"{name} failed:\n{out.stderr[-3000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        with psycopg.connect(PG, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    s = result["summary"]
    print(
        f"{name:<10} peak RSS {result['peak_mb']:7.1f} MB  {result['seconds']:7.1f} s  "
        f"files loaded {s['files_loaded']}  rows in {s['rows_in']:,}  loaded {s['rows_loaded']:,}  "
        f"rejected {s['rows_rejected']:,} {dict(result['rejects'])}",
        flush=True,
    )
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=int, default=1024, help="size of the large log in MiB (default 1024)")
    ap.add_argument("--line-mb", type=int, default=200, help="length of the long line in MiB (default 200)")
    ap.add_argument("--cases", default="local,sftp,long-line")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(*json.loads(args.child))
        return 0

    cases = args.cases.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="bench_memory_"))
    results: dict[str, float] = {}
    try:
        big = tmp / "landing" / "machine_logs" / "BIG" / f"{DAY:%Y%m%d}.LOG"
        if {"local", "sftp"} & set(cases):
            size = write_big_log(big, args.mb)
            print(f"large log: {size / 2**20:,.0f} MiB in {big.parent.name}/{big.name}", flush=True)
        if "local" in cases:
            r = run_case("local", (tmp / "landing").as_uri(), (tmp / "archive-local").as_uri(), {})
            results["local_mb"] = r["peak_mb"]
        if "sftp" in cases:
            from tests.sftp_fixtures import running_sshd

            (tmp / "sshd").mkdir()
            with running_sshd(tmp / "sshd", tmp / "landing") as server:
                sftp = {"sftp_key_file": str(server.client_key), "sftp_known_hosts": str(server.known_hosts)}
                r = run_case("sftp", server.url, (tmp / "archive-sftp").as_uri(), sftp)
                results["sftp_mb"] = r["peak_mb"]
        shutil.rmtree(tmp / "landing", ignore_errors=True)
        if "long-line" in cases:
            long_log = tmp / "landing" / "machine_logs" / "LONG" / f"{DAY:%Y%m%d}.LOG"
            write_long_line_log(long_log, args.line_mb)
            r = run_case("long-line", (tmp / "landing").as_uri(), (tmp / "archive-long").as_uri(), {})
            results["long_line_mb"] = r["peak_mb"]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("memory: " + " ".join(f"{k}={v:.0f}" for k, v in results.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
