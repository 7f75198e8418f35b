"""Benchmark: machine-log ingestion end to end vs ``psql \\copy`` of the same parsed rows.

    python bench/machine_logs.py [--lines 2000000] [--lines-per-file 7000] [--repeat N] [--keep-db] [--asset]

1. Generates ``--lines`` log lines (``lines_for_benchmark``: realistic files, quirks included) into a
   temporary local landing folder.
2. Creates a fresh database on ``FACTORY_BENCH_PG_URL`` (default
   ``postgresql://postgres@127.0.0.1:5432/postgres``; dropped at the end unless ``--keep-db``) and
   applies the raw-schema migrations.
3. **Ours**, timed end to end: listing, ledger query, then ``ingest_version(..., load_machine_log)``
   per file over a ``LocalLandingZone`` — read, sha256, archive copy, ledger rows, parse, COPY, one
   transaction per file version (exactly what the ingestion asset does per file). Cheap per-file
   timers (one ``perf_counter`` pair per call, not per row) split the time into read / hash /
   archive / ledger / parse / COPY. CPU seconds of this process and of its PostgreSQL backend
   (``/proc``, local server only) are printed too: they are far less sensitive than wall time to
   other load on the machine.
4. **Baseline**, in the same run: the rows our parser produced are written to one TSV file per raw
   table (untimed), the raw tables are truncated, then one ``psql \\copy`` per table loads them
   (timed: the whole ``psql`` process). Row counts are compared with ours. With ``--repeat N``
   ours and the baseline run N times each (tables and ledger emptied in between) and the best
   wall time of each is reported.
5. Parse only (one core, bytes already in memory).
6. With ``--asset``: the same files again through the Dagster asset (``dg.materialize`` over the
   whole partition range, ledger and tables emptied first), for reference.

Nothing here asserts a threshold; the figures are printed (and documented in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from factory_assets.demo.machine_logs import lines_for_benchmark
from factory_assets.ingest import files as files_mod
from factory_assets.ingest import ledger
from factory_assets.ingest.migrate import migrate
from factory_assets.machine_logs import loader as loader_mod
from factory_assets.machine_logs.loader import COLUMNS
from factory_assets.machine_logs.parser import PARSER_VERSION, parse_log, session_of_path
from resources import settings
from resources.landing import LocalLandingZone

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

# Column lists of the baseline TSV files: the loader's own (one definition).


# --- small helpers -----------------------------------------------------------------------------


class Timers:
    """Accumulated seconds and call counts per phase."""

    def __init__(self):
        self.s: dict[str, float] = defaultdict(float)
        self.n: dict[str, int] = defaultdict(int)

    def wrap(self, name: str, fn):
        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.s[name] += time.perf_counter() - t
                self.n[name] += 1

        return timed


def timed_iter(timers: Timers, fn):
    """Wrap a generator function: the time spent inside its ``next()`` counts as parse time."""

    def wrapped(*args, **kwargs):
        it = fn(*args, **kwargs)
        while True:
            t = time.perf_counter()
            try:
                item = next(it)
            except StopIteration:
                timers.s["parse"] += time.perf_counter() - t
                return
            timers.s["parse"] += time.perf_counter() - t
            yield item

    return wrapped


@contextlib.contextmanager
def patched(obj, name: str, value):
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


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


def db_url(base: str, dbname: str) -> str:
    return make_conninfo(settings.libpq_url(base), dbname=dbname)


def proc_cpu_s(pid: int) -> float | None:
    """utime + stime of a local process (a PostgreSQL backend), or None when not readable."""
    try:
        return proc_stat_cpu_s(Path(f"/proc/{pid}/stat").read_text())
    except OSError:
        return None


def proc_stat_cpu_s(stat: str) -> float:
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def checkpoint(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("CHECKPOINT")


def fmt_s(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f} s"


def fmt_rate(lines: int, seconds: float) -> str:
    return f"{lines / seconds:>12,.0f} lines/s" if seconds > 0 else "n/a"


# --- phases --------------------------------------------------------------------------------------


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


def run_ours(url: str, landing: Path, archive: Path, timers: Timers) -> dict:
    """End-to-end ingestion of every file, the asset's per-file path, with per-phase timers."""
    zone = LocalLandingZone(landing)
    arch = LocalLandingZone(archive)
    zone.read_bytes = timers.wrap("read", zone.read_bytes)
    arch.write_bytes = timers.wrap("archive", arch.write_bytes)
    arch.exists = timers.wrap("archive", arch.exists)

    class _Hashlib:  # files.py calls hashlib.sha256(data).hexdigest()
        sha256 = staticmethod(timers.wrap("hash", hashlib.sha256))

    tz = ZoneInfo(settings.plant_timezone())
    timed_load = timers.wrap(
        "loader_total", lambda cur, v, data: loader_mod.load_machine_log(cur, v, data, tz)
    )
    patches = [
        patched(files_mod, "hashlib", _Hashlib),
        patched(files_mod, "_begin_attempt", timers.wrap("ledger_begin", files_mod._begin_attempt)),
    ]
    if hasattr(loader_mod, "copy_rows"):  # text COPY of the small tables (all tables before the change)
        patches.append(patched(loader_mod, "copy_rows", timers.wrap("copy_rows", loader_mod.copy_rows)))
    if hasattr(loader_mod, "iter_parse_log"):  # parsing interleaved with the pieces COPY
        patches.append(patched(loader_mod, "iter_parse_log", timed_iter(timers, loader_mod.iter_parse_log)))
    else:
        patches.append(patched(loader_mod, "parse_log", timers.wrap("parse", loader_mod.parse_log)))
    outcomes: dict[str, int] = defaultdict(int)
    with contextlib.ExitStack() as stack:
        for p in patches:
            stack.enter_context(p)
        conn = psycopg.connect(url, autocommit=True)  # as WarehouseResource.connection()
        try:
            backend = conn.info.backend_pid
            t0, c0, s0 = time.perf_counter(), time.process_time(), proc_cpu_s(backend)
            listing = [e for e in zone.list_files("machine_logs") if e.size > 0]
            pending = ledger.pending_entries(conn, loader_mod.SOURCE, listing)
            t_list = time.perf_counter() - t0
            ingest = timers.wrap("ingest_version", files_mod.ingest_version)
            for entry, _attempts in pending:
                o = ingest(conn, zone, arch, loader_mod.SOURCE, entry, timed_load, "bench")
                outcomes[o.status] += 1
                if o.error:
                    print(f"  {o.path}: {o.status} {o.error}", file=sys.stderr)
            total, cpu, s1 = time.perf_counter() - t0, time.process_time() - c0, proc_cpu_s(backend)
        finally:
            conn.close()
    timers.s["list+ledger query"] = t_list
    server = s1 - s0 if s0 is not None and s1 is not None else None
    return {"seconds": total, "cpu": cpu, "server_cpu": server, "outcomes": dict(outcomes)}


def reset(url: str, archive: Path) -> None:
    """Empty ledger and raw tables (ids restart, so the baseline's TSV files stay valid)."""
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(
            "TRUNCATE raw.ingest_ledger, "
            + ", ".join(f"raw.machine_logs__{t}" for t in COLUMNS)
            + " RESTART IDENTITY CASCADE"
        )
    shutil.rmtree(archive, ignore_errors=True)
    checkpoint(url)


def table_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as c:
        return {t: c.execute(f"SELECT count(*) FROM raw.machine_logs__{t}").fetchone()[0] for t in COLUMNS}


def write_tsv(url: str, landing: Path, out: Path) -> dict[str, Path]:
    """Parse every file again (untimed) and write the rows the loader writes, one TSV per table."""
    with psycopg.connect(url) as c:
        ids = {
            p: (i, sha)
            for p, i, sha in c.execute(
                "SELECT path, id, sha256 FROM raw.ingest_ledger WHERE source = %s AND status = 'loaded'",
                (loader_mod.SOURCE,),
            )
        }
    tz = ZoneInfo(settings.plant_timezone())
    paths = {t: out / f"{t}.tsv" for t in COLUMNS}
    fhs = {t: open(p, "w", encoding="utf-8", newline="\n") for t, p in paths.items()}  # noqa: SIM115
    try:
        for rel, (ledger_id, sha) in sorted(ids.items()):
            centre, day = session_of_path(rel)
            r = parse_log((landing / rel).read_bytes(), centre, day, tz)
            key = (centre, day)
            rows = {
                "sessions": [
                    (
                        centre,
                        day,
                        ledger_id,
                        rel,
                        sha,
                        r.lines_in,
                        r.lines_parsed,
                        r.lines_blank,
                        r.lines_rejected,
                        r.first_event_at,
                        r.last_event_at,
                        r.open_stop_closed_at_eof,
                        PARSER_VERSION,
                    )
                ],
                "job_profiles": [key + x for x in r.job_profiles],
                "pieces": [key + x for x in r.pieces],
                "waits": [key + x for x in r.waits],
                "stops": [key + x for x in r.stops],
                "rejected_lines": [(centre, day, ledger_id) + x for x in r.rejected],
            }
            for t, rs in rows.items():
                fhs[t].writelines("\t".join(map(tsv_field, row)) + "\n" for row in rs)
    finally:
        for fh in fhs.values():
            fh.close()
    return paths


def run_psql_copy(url: str, paths: dict[str, Path]) -> dict:
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("TRUNCATE " + ", ".join(f"raw.machine_logs__{t}" for t in COLUMNS))
    checkpoint(url)
    folder = next(iter(paths.values())).parent
    stat_file = folder / "backend.stat"
    stat_file.unlink(missing_ok=True)
    script = "".join(
        f"\\copy raw.machine_logs__{t} ({', '.join(COLUMNS[t])}) FROM '{paths[t]}'\n" for t in COLUMNS
    )
    # After the copies (not timed apart): the backend's CPU time, when the server is local.
    script += (
        "SELECT pg_backend_pid() AS bench_pid \\gset\n\\setenv BENCH_PID :bench_pid\n"
        f"\\! cat /proc/$BENCH_PID/stat > '{stat_file}' 2>/dev/null\n"
    )
    script_file = folder / "copy.psql"
    script_file.write_text(script, encoding="utf-8")
    env = {**os.environ, "PGCLIENTENCODING": "UTF8"}
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(
        ["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(script_file)], check=True, env=env
    )
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    client = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    try:
        server = proc_stat_cpu_s(stat_file.read_text())
    except (OSError, IndexError, ValueError):
        server = None
    return {"seconds": wall, "cpu": client, "server_cpu": server}


def run_parse_only(landing: Path) -> tuple[int, float]:
    tz = ZoneInfo(settings.plant_timezone())
    blobs = []
    for p in sorted((landing / "machine_logs").rglob("*.LOG")):
        rel = p.relative_to(landing).as_posix()
        blobs.append((*session_of_path(rel), p.read_bytes()))
    best = None
    for _ in range(2):
        lines = 0
        t0 = time.perf_counter()
        for centre, day, data in blobs:
            lines += parse_log(data, centre, day, tz).lines_in
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return lines, best


def run_asset(url: str, landing: Path, archive: Path) -> float:
    import dagster as dg
    from factory_assets.machine_logs.assets import machine_logs_ingest

    from resources.landing import LandingZoneResource
    from resources.warehouse import WarehouseResource

    reset(url, archive)
    days = sorted(session_of_path(p.relative_to(landing).as_posix())[1] for p in landing.rglob("*.LOG"))
    t0 = time.perf_counter()
    result = dg.materialize(
        [machine_logs_ingest],
        resources={
            "warehouse": WarehouseResource(url=url),
            "landing": LandingZoneResource(url=landing.as_uri()),
            "archive": LandingZoneResource(role="archive", url=archive.as_uri()),
        },
        tags={
            "dagster/asset_partition_range_start": days[0].isoformat(),
            "dagster/asset_partition_range_end": days[-1].isoformat(),
        },
        instance=dg.DagsterInstance.ephemeral(),
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        raise_on_error=True,
    )
    dt = time.perf_counter() - t0
    assert result.success
    return dt


# --- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=2_000_000, help="log lines to generate (default 2,000,000)")
    ap.add_argument("--lines-per-file", type=int, default=7000, help="lines per file (default 7,000)")
    ap.add_argument(
        "--pg-url",
        default=os.environ.get("FACTORY_BENCH_PG_URL") or DEFAULT_URL,
        help="server to create the scratch database on (env FACTORY_BENCH_PG_URL)",
    )
    ap.add_argument("--keep-db", action="store_true", help="keep the scratch database (name printed)")
    ap.add_argument("--asset", action="store_true", help="also time the Dagster asset (reference)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of ours and \\copy; the best is reported")
    ap.add_argument("--workdir", type=Path, default=None, help="folder for the temporary landing zone")
    args = ap.parse_args(argv)

    dbname = f"factory_bench_{os.getpid()}"
    admin = settings.libpq_url(args.pg_url)
    url = db_url(args.pg_url, dbname)
    tmp = Path(tempfile.mkdtemp(prefix="bench_machine_logs_", dir=args.workdir))
    landing, archive, tsv = tmp / "landing", tmp / "archive", tmp / "tsv"
    tsv.mkdir(parents=True)
    print(f"python {sys.version.split()[0]}, psycopg {psycopg.__version__} ({psycopg.pq.__impl__}), "
          f"{os.cpu_count()} CPU(s), db {conninfo_to_dict(url).get('host')}/{dbname}")  # fmt: skip
    try:
        t0 = time.perf_counter()
        n_files, n_lines, n_bytes = generate(landing, args.lines, args.lines_per_file)
        print(f"generated {n_lines:,} lines in {n_files} files ({n_bytes / 1e6:.1f} MB) "
              f"in {time.perf_counter() - t0:.1f} s (untimed)")  # fmt: skip
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{dbname}"')
        with psycopg.connect(url, autocommit=True) as c:
            migrate(c)
        checkpoint(url)

        runs, base_runs = [], []
        paths = None
        for i in range(args.repeat):
            if i:
                reset(url, archive)
            timers = Timers()
            load_before = os.getloadavg()[0]
            ours = run_ours(url, landing, archive, timers)
            ours["timers"], ours["load"] = timers, load_before
            runs.append(ours)
            ours_counts = table_counts(url)
            if paths is None:
                paths = write_tsv(url, landing, tsv)
            base_runs.append(run_psql_copy(url, paths))
            base_counts = table_counts(url)
            b = base_runs[-1]
            print(f"  run {i + 1}: ours {ours['seconds']:.2f} s (CPU: client {ours['cpu']:.2f} s, "
                  f"server {fmt_s(ours['server_cpu'])}), \\copy {b['seconds']:.2f} s (CPU: psql {b['cpu']:.2f} s, "
                  f"server {fmt_s(b['server_cpu'])}), load average before {load_before:.2f}")  # fmt: skip
        ours = min(runs, key=lambda r: r["seconds"])
        timers = ours["timers"]
        base = min(base_runs, key=lambda r: r["seconds"])
        base_s = base["seconds"]
        parse_lines, parse_s = run_parse_only(landing)
        asset_s = run_asset(url, landing, archive) if args.asset else None

        rows = sum(ours_counts.values())
        print()
        print(f"files {n_files}, lines {n_lines:,}, rows loaded {rows:,} "
              f"({', '.join(f'{t} {n:,}' for t, n in ours_counts.items())})")  # fmt: skip
        print(f"outcomes: {ours['outcomes']}; best of {args.repeat} run(s) below")
        if ours_counts != base_counts:
            print(f"WARNING: row counts differ: ours {ours_counts}, \\copy {base_counts}")
        ratio = ours["seconds"] / base_s
        print(
            f"ours (ingest_version + load_machine_log): {ours['seconds']:8.2f} s {fmt_rate(n_lines, ours['seconds'])}"
        )
        print(f"baseline psql \\copy of the parsed rows:   {base_s:8.2f} s {fmt_rate(n_lines, base_s)}")
        print(f"ratio ours / \\copy:                       {ratio:8.2f}x")
        print(f"parse only (one core):                    {parse_s:8.2f} s {fmt_rate(parse_lines, parse_s)}")
        if asset_s is not None:
            print(f"through the Dagster asset (reference):    {asset_s:8.2f} s {fmt_rate(n_lines, asset_s)}")

        s = timers.s
        loader_rest = s["loader_total"] - s["parse"] - s["copy_rows"]
        txn_rest = (
            s["ingest_version"] - s["read"] - s["hash"] - s["archive"] - s["ledger_begin"] - s["loader_total"]
        )
        breakdown = [
            ("listing + ledger query", s["list+ledger query"]),
            ("read file", s["read"]),
            ("sha256", s["hash"]),
            ("archive copy", s["archive"]),
            ("ledger: begin attempt (own txn)", s["ledger_begin"]),
            ("parse", s["parse"]),
            ("COPY via copy_rows (text, write_row per row)", s["copy_rows"]),
            ("loader rest: DELETE, pieces COPY, session row", loader_rest),
            ("ledger txn: locks, checks, update, commit", txn_rest),
        ]
        other = ours["seconds"] - sum(v for _, v in breakdown)
        breakdown.append(("other (loop, outcome)", other))
        print("\nwhere the time goes (ours):")
        for name, v in breakdown:
            print(f"  {name:<46} {v:7.2f} s  {100 * v / ours['seconds']:5.1f} %")
        print(
            "\nsummary | lines | files | ours s | \\copy s | ratio | ours lines/s | parse-only lines/s\n"
            f"summary | {n_lines:,} | {n_files} | {ours['seconds']:.2f} | {base_s:.2f} | {ratio:.2f} | "
            f"{n_lines / ours['seconds']:,.0f} | {parse_lines / parse_s:,.0f}"
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
