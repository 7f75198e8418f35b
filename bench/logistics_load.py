"""Benchmark: loading the field-service exports (1,048,575 visits and 573,670 customers) vs ``psql \\copy``.

    python bench/logistics_load.py [--visits 1048575] [--customers 573670] [--bad-rows 30] [--repeat N] [--keep-db]

1. Writes one visits export and one customers export with the real shapes (``factory_assets.demo.
   logistics``: ``;``-separated, header on visits only, UTF-8 with a BOM and CRLF for visits, dates
   spread over the five formats, ``--bad-rows`` bad rows per file) into a temporary landing folder
   (untimed).
2. Creates a scratch database on ``FACTORY_BENCH_PG_URL`` (default
   ``postgresql://postgres@127.0.0.1:5432/postgres``; dropped at the end unless ``--keep-db``) and
   applies the raw migrations.
3. **Ours**, timed end to end: for each file, what the ingestion asset does per file version
   (``ingest_version``: read once into a spool while hashing, archive copy, ledger rows, parse,
   normalise dates, check ids, pseudonymise, binary COPY, rejects, one transaction), visits and
   customers on two connections at once (as the two file kinds run as two Dagster runs), then
   the row-conservation check of both. Peak RSS of this process during that phase (``VmHWM``
   reset before it).
4. **Baseline**, in the same run: the rows our loader wrote are exported to CSV files (untimed),
   the raw tables emptied, then ``psql \\copy`` loads them into the same tables (timed: the whole
   ``psql`` process), once with one ``psql`` for both tables one after the other, and once with
   two ``psql`` at the same time (one per table, as ours). The ratio is ours / sequential ``\\copy``.

Nothing asserts a threshold; figures go to docs/benchmarks.md. The last line reads
``logistics_load: seconds=S ratio=R peak_rss_mb=M``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg

from factory_assets.ingest import ledger
from factory_assets.ingest.files import ingest_version
from factory_assets.ingest.migrate import migrate
from factory_assets.logistics.kind import CUSTOMERS, VISITS
from factory_assets.logistics.loader import CUSTOMER_COLUMNS, VISIT_COLUMNS
from resources import settings
from resources.local_zone import LocalLandingZone

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TABLES = {"raw.logistics__visits": VISIT_COLUMNS, "raw.logistics__customers": CUSTOMER_COLUMNS}


def _status(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) // 1024
    return 0


def _reset_peak_rss() -> None:
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # resets VmHWM to the current RSS


def db_url(base: str, dbname: str) -> str:
    return settings.libpq_url(base).rsplit("/", 1)[0] + "/" + dbname


def checkpoint(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("CHECKPOINT")


def reset(url: str, archive: Path) -> None:
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(
            "TRUNCATE raw.ingest_ledger, raw.ingest_rejects, raw.logistics__visits, raw.logistics__customers, "
            "raw.logistics__technicians RESTART IDENTITY CASCADE"
        )
    shutil.rmtree(archive, ignore_errors=True)
    checkpoint(url)


def run_ours(url: str, landing: Path, archive: Path) -> dict:
    zone, arch = LocalLandingZone(landing), LocalLandingZone(archive)
    outcomes: list = []
    errors: list = []

    def load(kind) -> None:
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                entries = [e for e in zone.list_files(kind.prefix) if e.size > 0]
                for entry, _attempts in ledger.pending_entries(conn, kind.source, entries):
                    c = kind.classify(entry.path)
                    outcomes.append(ingest_version(conn, zone, arch, kind, entry, "bench", classified=c))
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)

    _reset_peak_rss()
    rss_before = _status("VmRSS")
    t0, c0 = time.perf_counter(), time.process_time()
    threads = [threading.Thread(target=load, args=(k,)) for k in (VISITS, CUSTOMERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # the row-conservation check, as the asset runs it after loading
    with psycopg.connect(url) as conn:
        violations = 0
        for kind in (VISITS, CUSTOMERS):
            present = dict(
                conn.execute(kind.present_rows_sql, {"ids": [o.ledger_id for o in outcomes]}).fetchall()
            )
            for vid, rin, rl, rr, rs in conn.execute(
                "SELECT id, rows_in, rows_loaded, rows_rejected, rows_skipped FROM raw.ingest_ledger "
                "WHERE source = %s AND status = 'loaded'",
                (kind.source,),
            ):
                violations += rin != rl + rr + rs or present.get(vid, 0) != rl
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    if errors:
        raise errors[0]
    return {
        "seconds": seconds,
        "cpu": cpu,
        "peak_rss_mb": _status("VmHWM"),
        "rss_before_mb": rss_before,
        "outcomes": [(o.path, o.status, o.counts, o.error) for o in outcomes],
        "violations": violations,
    }


def export_clean_rows(url: str, folder: Path) -> dict[str, Path]:
    """The rows our loader wrote, as CSV files for ``\\copy`` (untimed)."""
    paths = {}
    for table, cols in TABLES.items():
        path = folder / f"{table}.csv"
        subprocess.run(
            [
                "psql",
                url,
                "-X",
                "-q",
                "-c",
                f"\\copy (SELECT {', '.join(cols)} FROM {table}) TO '{path}' (FORMAT csv)",
            ],
            check=True,
        )
        paths[table] = path
    return paths


def _copy_cmd(url: str, table: str, path: Path) -> list[str]:
    cols = ", ".join(TABLES[table])
    return [
        "psql",
        url,
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        f"\\copy {table} ({cols}) FROM '{path}' (FORMAT csv)",
    ]


def run_psql_copy(url: str, paths: dict[str, Path], parallel: bool) -> float:
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("TRUNCATE raw.logistics__visits, raw.logistics__customers")
    checkpoint(url)
    t0 = time.perf_counter()
    if parallel:
        procs = [subprocess.Popen(_copy_cmd(url, t, p)) for t, p in paths.items()]
        assert all(p.wait() == 0 for p in procs)
    else:
        script = "".join(
            f"\\copy {t} ({', '.join(TABLES[t])}) FROM '{p}' (FORMAT csv)\n" for t, p in paths.items()
        )
        subprocess.run(
            ["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"], input=script, text=True, check=True
        )
    return time.perf_counter() - t0


def counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as c:
        return {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--visits", type=int, default=1_048_575)
    ap.add_argument("--customers", type=int, default=573_670)
    ap.add_argument("--bad-rows", type=int, default=30, help="bad rows per file (default 30)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of ours and of \\copy; the best is reported")
    ap.add_argument("--pg-url", default=os.environ.get("FACTORY_BENCH_PG_URL") or DEFAULT_URL)
    ap.add_argument("--keep-db", action="store_true")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args(argv)
    os.environ.setdefault("FACTORY_PII_KEY", "benchmark-pseudonymisation-key-0123456789")

    dbname = f"factory_bench_logistics_{os.getpid()}"
    admin, url = settings.libpq_url(args.pg_url), db_url(args.pg_url, dbname)
    tmp = Path(tempfile.mkdtemp(prefix="bench_logistics_", dir=args.workdir))
    landing, archive, clean = tmp / "landing", tmp / "archive", tmp / "clean"
    clean.mkdir(parents=True)
    print(
        f"python {sys.version.split()[0]}, psycopg {psycopg.__version__}, {os.cpu_count()} CPU(s), db {dbname}"
    )
    try:
        t0 = time.perf_counter()
        # In a child process, so that the generator's memory is not counted in our peak RSS.
        code = (
            "import datetime as dt, sys; from pathlib import Path; "
            "from factory_assets.demo.logistics import write_logistics; "
            f"write_logistics(Path({str(landing)!r}), visits={args.visits}, customers={args.customers}, "
            f"end=dt.date(2023, 12, 31), days=1000, bad_rows={args.bad_rows}, name='bench')"
        )
        subprocess.run([sys.executable, "-c", code], check=True)
        files = sorted((landing / "logistics").rglob("*.csv"))
        sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in files)
        print(f"generated {args.visits:,} visits and {args.customers:,} customers ({sizes}) "
              f"in {time.perf_counter() - t0:.1f} s (untimed)")  # fmt: skip
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{dbname}"')
        with psycopg.connect(url, autocommit=True) as c:
            migrate(c)
        checkpoint(url)

        ours_runs, seq_runs, par_runs, paths = [], [], [], None
        for i in range(args.repeat):
            if i:
                reset(url, archive)
            load = os.getloadavg()[0]
            ours = run_ours(url, landing, archive)
            ours["load"] = load
            ours_counts = counts(url)
            for path, status, _c, error in ours["outcomes"]:
                if error or status != "loaded":
                    print(f"  {path}: {status} {error}", file=sys.stderr)
            if paths is None:
                paths = export_clean_rows(url, clean)
            seq = run_psql_copy(url, paths, parallel=False)
            par = run_psql_copy(url, paths, parallel=True)
            base_counts = counts(url)
            ours_runs.append(ours)
            seq_runs.append(seq)
            par_runs.append(par)
            print(f"  run {i + 1}: ours {ours['seconds']:.2f} s (client CPU {ours['cpu']:.2f} s, peak RSS "
                  f"{ours['peak_rss_mb']} MB), \\copy {seq:.2f} s sequential / {par:.2f} s parallel, "
                  f"load average before {load:.2f}")  # fmt: skip
            if ours_counts != base_counts:
                print(f"WARNING: row counts differ: ours {ours_counts}, \\copy {base_counts}")
        ours = min(ours_runs, key=lambda r: r["seconds"])
        seq, par = min(seq_runs), min(par_runs)
        rows = args.visits + args.customers
        print()
        for path, status, c, _error in ours["outcomes"]:
            print(f"{path}: {status}, rows in {c.rows_in:,} = loaded {c.rows_loaded:,} + rejected "
                  f"{c.rows_rejected:,} + skipped {c.rows_skipped:,}")  # fmt: skip
        print(f"row-conservation violations: {ours['violations']}")
        print(f"ours (read, hash, archive, parse, normalise, pseudonymise, COPY, ledger), both files: "
              f"{ours['seconds']:6.2f} s  {rows / ours['seconds']:,.0f} rows/s")  # fmt: skip
        print(f"psql \\copy of the clean rows, one psql, tables one after the other: "
              f"{seq:6.2f} s  {rows / seq:,.0f} rows/s")  # fmt: skip
        print(f"psql \\copy of the clean rows, two psql at once:                     "
              f"{par:6.2f} s  {rows / par:,.0f} rows/s")  # fmt: skip
        ratio = ours["seconds"] / seq
        print(
            f"ratio ours / sequential \\copy: {ratio:.2f}x; ours / parallel \\copy: {ours['seconds'] / par:.2f}x"
        )
        print(f"peak RSS while loading: {ours['peak_rss_mb']} MB (RSS before: {ours['rss_before_mb']} MB)")
        print(
            f"logistics_load: seconds={ours['seconds']:.2f} ratio={ratio:.2f} peak_rss_mb={ours['peak_rss_mb']}"
        )
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
