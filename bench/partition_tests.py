"""Benchmark: the data tests of a one-day refresh run against a year of machine-log history.

    python bench/partition_tests.py [--centres 10] [--days 365] [--pieces 600]

A refresh run for one settled file builds that file's date of the date-partitioned machine-log
models, then runs their data tests (89 of them: staging and intermediate views, the two
incremental marts). Those tests read the run's dates only (macros/tests/partition_window_tests.sql);
before, each read every day of history, and the views they read re-derive all of it. This
script measures what that saves as history grows:

1. a scratch database on ``FACTORY_BENCH_PG_URL`` (default postgres on 127.0.0.1:5432), the raw
   migrations, then ``--days`` days of synthetic sessions for ``--centres`` centres (per day and
   centre ``--pieces`` pieces, 12 stops, 12 waits, 4 job profiles), written by SQL;
2. ``dbt build`` of the machine-log models without tests (untimed);
3. ``dbt run`` of the partitioned models for the last day (what a refresh run builds first), then
   ``dbt test`` of the partitioned models, timed, with the window of one day
   (``FACTORY_DBT_MIN_DATE`` = ``_MAX_DATE`` = the last day, as a refresh run sets it) and
   without a window (every date: what each refresh run used to test).

Timed: dbt's own elapsed time (``run_results.json``); the dbt process start-up (4-6 s) is the same
for both and left out. Last line: ``partition_tests: windowed_s=W full_history_s=F ratio=R``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402

from bench.inventory import DEFAULT_URL, Dbt, scratch_database  # noqa: E402
from factory_assets.dbt_assets import DBT_PROJECT_DIR, partitioned_models  # noqa: E402
from factory_assets.ingest.migrate import migrate  # noqa: E402

FILL = """
INSERT INTO raw.ingest_ledger (id, source, path, size, mtime, sha256, status, partition_key, rows_in)
SELECT row_number() OVER (), 'machine_logs', 'machine_logs/C' || c || '/' || to_char(d, 'YYYYMMDD') || '.LOG',
       1000, now(), md5(c::text || d::text), 'loaded', d::date::text, %(lines)s
FROM generate_series(1, %(centres)s) AS c, generate_series(%(first)s::date, %(last)s::date, '1 day') AS d;

INSERT INTO raw.machine_logs__sessions (centre, production_date, file_version_id, path, sha256, lines_in,
    lines_parsed, lines_blank, lines_rejected, first_event_at, last_event_at, parser_version)
SELECT 'C' || split_part(split_part(path, '/', 2), 'C', 2), partition_key::date, id, path, sha256, %(lines)s,
       %(lines)s, 0, 0, (partition_key || ' 06:00:00+01')::timestamptz,
       (partition_key || ' 06:00:00+01')::timestamptz + %(pieces)s * interval '30 seconds', 'bench'
FROM raw.ingest_ledger;

INSERT INTO raw.machine_logs__job_profiles (centre, production_date, line_no, event_at, reference, details)
SELECT s.centre, s.production_date, j * 1000, s.first_event_at + (j - 1) * (s.last_event_at - s.first_event_at) / 4,
       'REF' || j, 'bench'
FROM raw.machine_logs__sessions AS s, generate_series(1, 4) AS j;

INSERT INTO raw.machine_logs__pieces (centre, production_date, line_no, event_at, job_profile_line_no, reference)
SELECT s.centre, s.production_date, 10000 + p, s.first_event_at + p * interval '30 seconds',
       (1 + p * 4 / %(pieces)s) * 1000, 'REF' || (1 + p * 4 / %(pieces)s)
FROM raw.machine_logs__sessions AS s, generate_series(0, %(pieces)s - 1) AS p;

INSERT INTO raw.machine_logs__stops (centre, production_date, line_no, end_line_no, started_at, ended_at,
    seconds, closed_at_eof)
SELECT s.centre, s.production_date, 100 + k, 200 + k, s.first_event_at + k * interval '20 minutes',
       s.first_event_at + k * interval '20 minutes' + interval '5 minutes', 300, false
FROM raw.machine_logs__sessions AS s, generate_series(1, 12) AS k;

INSERT INTO raw.machine_logs__waits (centre, production_date, line_no, started_at, ended_at, seconds)
SELECT s.centre, s.production_date, 300 + k, s.first_event_at + k * interval '20 minutes' + interval '10 minutes',
       s.first_event_at + k * interval '20 minutes' + interval '11 minutes', 60
FROM raw.machine_logs__sessions AS s, generate_series(1, 12) AS k;
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--centres", type=int, default=10)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--pieces", type=int, default=600, help="pieces per centre and day")
    ap.add_argument("--keep-db", action="store_true", help="keep the scratch database (name printed)")
    ap.add_argument("--url", default=os.environ.get("FACTORY_BENCH_PG_URL") or DEFAULT_URL)
    args = ap.parse_args(argv)

    last = date.today() - timedelta(days=1)
    first = last - timedelta(days=args.days - 1)
    with scratch_database(args.url, "bench_partition_tests", keep=args.keep_db) as (dbname, db_url):
        with (
            tempfile.TemporaryDirectory(prefix="bench_partition_tests_") as tmp,
            psycopg.connect(db_url, autocommit=True) as wh,
        ):
            migrate(wh)
            params = {"centres": args.centres, "first": first, "last": last, "pieces": args.pieces,
                      "lines": args.pieces + 28}  # fmt: skip
            with wh.transaction():
                for statement in filter(str.strip, FILL.split(";\n")):
                    wh.execute(statement, params)
            wh.execute("ANALYZE")
            pieces = wh.execute("SELECT count(*) FROM raw.machine_logs__pieces").fetchone()[0]
            print(f"history: {first} .. {last}, {args.centres} centres, {pieces:,} pieces")

            dbt = Dbt(args.url, dbname, Path(tmp))
            dbt("parse")
            models = partitioned_models(DBT_PROJECT_DIR / "target" / "manifest.json")["machine_logs"]
            _, built = dbt("build", "--select", *(f"+{m}" for m in models), "--exclude-resource-type", "test",
                           "--exclude-resource-type", "unit_test")  # fmt: skip
            print(f"built the machine-log models over all history in {built:.1f} s (untimed)")

            # what a refresh run does first: the day's models (incremental marts, views)
            dbt.env.update(FACTORY_DBT_MIN_DATE=last.isoformat(), FACTORY_DBT_MAX_DATE=last.isoformat())
            wh.execute("CHECKPOINT")
            _, day_build = dbt("run", "--select", *models)
            print(f"one day's build of the partitioned models: {day_build:.2f} s")

            timings = {}
            for label, window in (("windowed", last.isoformat()), ("full_history", None)):
                if window:
                    dbt.env.update(FACTORY_DBT_MIN_DATE=window, FACTORY_DBT_MAX_DATE=window)
                else:
                    dbt.env.pop("FACTORY_DBT_MIN_DATE", None)
                    dbt.env.pop("FACTORY_DBT_MAX_DATE", None)
                wh.execute("CHECKPOINT")
                wall, elapsed = dbt("test", "--select", *models, "--exclude-resource-type", "unit_test")
                results = json.loads((Path(tmp) / "target" / "run_results.json").read_text())["results"]
                nodes = {r["unique_id"].split(".")[2]: r["execution_time"] for r in results
                         if r["unique_id"].startswith("test.")}  # fmt: skip
                timings[label] = elapsed
                print(f"{label}: {len(nodes)} data tests in {elapsed:.2f} s (process {wall:.2f} s; "
                      f"sum of the tests' own times {sum(nodes.values()):.2f} s; slowest: "
                      + ", ".join(f"{k[:50]} {v:.2f}" for k, v in sorted(nodes.items(), key=lambda kv: -kv[1])[:4])
                      + ")")  # fmt: skip
            load = os.getloadavg()
            print(f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
            w, f = timings["windowed"], timings["full_history"]
            print(f"partition_tests: windowed_s={w:.2f} full_history_s={f:.2f} ratio={w / f:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
