"""Benchmark: operation records through the HTTP gateway, then the ingestion job.

    python bench/operations.py [--records 100000] [--per-drop 1000] [--clients 1] [--keep-db]

1. Creates a fresh database on ``FACTORY_BENCH_PG_URL`` (default
   ``postgresql://postgres@127.0.0.1:5432/postgres``; dropped at the end unless ``--keep-db``),
   applies the raw migrations, and makes a temporary local landing zone and archive.
2. Builds ``--records`` realistic operation records (forging and CNC, about 1 % with an anomaly),
   as drops of ``--per-drop`` records (untimed).
3. Starts the gateway (``python -m gateway``, uvicorn) as its own process on a free loopback port
   and **POSTs every drop** over real HTTP with a keep-alive client (``--clients`` in parallel):
   records/s of the gateway (key check, body read with its limit, JSON parse, atomic write).
4. Runs the **ingestion job** (``operations_ingest_job``, in process, Dagster run included) over
   the drops: records/s validated and loaded (read, sha256, archive copy, ledger, Pydantic bulk
   validation, natural-key look-up, binary COPY, one transaction per drop). Checks the counts.
5. For reference: parse + validate only (one core, bytes in memory), and ``run_ingest`` without
   the Dagster run around it, on the same drops re-ingested into emptied tables.

Nothing asserts a threshold: the figures are printed with the load average (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from factory_assets.ingest.migrate import migrate  # noqa: E402
from factory_assets.operations.records import Rules, may_hold_nul, parse_drop, validate_drop  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
KEY = "bench-ingest-key-" + uuid.uuid4().hex
PIECES = (
    ("FLG-0100", 5.0, 5.6),
    ("ANE-1200", 920.0, 990.0),
    ("COR-0300", 18.0, 19.5),
    ("BIE-0120", 5.4, 6.0),
)


def records(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    start = datetime(2026, 1, 5, 5, 0)
    out = []
    for i in range(n):
        at = start + timedelta(seconds=20 * i)
        if rng.random() < 0.7:
            code, wmin, wmax = rng.choice(PIECES)
            rec = {
                "id_ordine": 1001 + i % 40, "codice_pezzo": code, "codice_macchinario": f"PRESSA-0{i % 3 + 1}",
                "codice_operatore": f"OP-{101 + i % 12}", "timestamp_inizio": at.strftime("%Y-%m-%d %H:%M:%S"),
                "timestamp_fine": (at + timedelta(seconds=15)).strftime("%Y-%m-%d %H:%M:%S"),
                "tipo_operazione": "forgiatura", "peso_effettivo": round(rng.uniform(wmin, wmax), 2),
                "temperatura_effettiva": round(rng.uniform(740, 1300), 1),
            }  # fmt: skip
        else:
            rec = {
                "id_ordine": 1001 + i % 40, "codice_pezzo": "ALB-2040", "codice_macchinario": f"CNC-2{i % 3 + 1}",
                "codice_operatore": f"OP-{101 + i % 12}", "timestamp_inizio": at.isoformat() + "+01:00",
                "timestamp_fine": (at + timedelta(seconds=15)).isoformat() + "+01:00", "tipo_operazione": "cnc",
                "numero_pezzi_ora": rng.choice((1, 2, 3)), "tipo_fermo": rng.choice(("nessun_fermo", "utensile")),
            }  # fmt: skip
        if rng.random() < 0.01:
            rec["anomalia"] = [{"id": rng.randint(1, 6)}]
        out.append(rec)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process so far, from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def load_average() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--per-drop", type=int, default=1_000)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    admin_url = os.environ.get("FACTORY_BENCH_PG_URL") or DEFAULT_URL
    dbname = f"bench_operations_{uuid.uuid4().hex[:8]}"
    params = conninfo_to_dict(admin_url)
    url = "postgresql://{user}@{host}:{port}/{db}".format(
        user=params.get("user", "postgres"),
        host=params.get("host", "127.0.0.1"),
        port=params.get("port", 5432),
        db=dbname,
    )
    work = Path(tempfile.mkdtemp(prefix="bench_operations_"))
    landing, archive = work / "landing", work / "archive"
    landing.mkdir()
    os.environ.update(
        FACTORY_HOME=str(work / "home"), FACTORY_WAREHOUSE_URL=url, FACTORY_LANDING_URL=landing.as_uri(),
        FACTORY_ARCHIVE_URL=archive.as_uri(), FACTORY_TIMEZONE="Europe/Paris", FACTORY_SETTLE_S="0",
        FACTORY_OPERATIONS_MAX_FILE_MB="16", DO_NOT_TRACK="1",
    )  # fmt: skip
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    gateway = None
    try:
        with psycopg.connect(make_conninfo(url), autocommit=True) as conn:
            migrate(conn)
        all_records = records(args.records)
        drops = [
            json.dumps(all_records[i : i + args.per_drop]).encode()
            for i in range(0, len(all_records), args.per_drop)
        ]
        size = sum(map(len, drops))
        print(
            f"{args.records:,} records in {len(drops)} drops of {args.per_drop:,} ({size / 1e6:.1f} MB); {load_average()}"
        )

        # parse + validate only, one core
        t = time.process_time()
        received = datetime.now(UTC)
        for d in drops:
            validate_drop(
                parse_drop(d), Rules(timezone="Europe/Paris"), received, nul_possible=may_hold_nul(d)
            )
        validate_s = time.process_time() - t  # CPU seconds: one core, no I/O

        # the gateway, its own process
        port = free_port()
        env = {**os.environ, "FACTORY_GATEWAY_API_KEY": KEY, "FACTORY_GATEWAY_PORT": str(port)}
        gateway = subprocess.Popen(
            [sys.executable, "-m", "gateway", "--log-level", "warning"],
            env=env,
            cwd=Path(__file__).resolve().parents[1],
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                httpx.get(base + "/openapi.json", timeout=2)
                break
            except httpx.HTTPError:
                if gateway.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the gateway did not start") from None
                time.sleep(0.2)

        def post_all(chunk: list[bytes]) -> int:
            with httpx.Client(
                base_url=base, headers={"X-API-KEY": KEY, "Content-Type": "application/json"}
            ) as client:
                n = 0
                for body in chunk:
                    response = client.post("/v1/operations", content=body)
                    assert response.status_code == 202, response.text
                    n += response.json()["records"]
                return n

        t, gw_cpu = time.perf_counter(), proc_cpu(gateway.pid)
        with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
            posted = sum(pool.map(post_all, [drops[i :: args.clients] for i in range(args.clients)]))
        post_s, gw_cpu = time.perf_counter() - t, proc_cpu(gateway.pid) - gw_cpu
        assert posted == args.records
        print(f"gateway: {posted:,} records POSTed in {post_s:.2f} s = {posted / post_s:,.0f} records/s "
              f"({len(drops) / post_s:.1f} drops/s, {args.clients} client(s); gateway process "
              f"{gw_cpu:.2f} CPU s); {load_average()}")  # fmt: skip

        # the ingestion job (Dagster run, in process)
        import dagster as dg

        from factory_assets.operations.definitions import definitions
        from factory_assets.resources_config import build_resources

        defs = dg.Definitions.merge(definitions(), dg.Definitions(resources=build_resources()))
        job = defs.resolve_job_def("operations_ingest_job")
        instance = dg.DagsterInstance.ephemeral()
        with psycopg.connect(make_conninfo(url), autocommit=True) as conn:
            conn.execute("CHECKPOINT")
        t, cpu = time.perf_counter(), time.process_time()
        result = job.execute_in_process(
            instance=instance, run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
        )
        job_s, job_cpu = time.perf_counter() - t, time.process_time() - cpu
        assert result.success
        with psycopg.connect(make_conninfo(url)) as conn:
            loaded = conn.execute("SELECT count(*) FROM raw.operations__operations").fetchone()[0]
            ledger = conn.execute(
                "SELECT count(*), sum(rows_in), sum(rows_loaded), sum(rows_rejected), sum(rows_duplicate) "
                "FROM raw.ingest_ledger WHERE status = 'loaded'"
            ).fetchone()
            anomalies = conn.execute("SELECT count(*) FROM raw.operations__anomalies").fetchone()[0]
        assert loaded == args.records and ledger[0] == len(drops), (loaded, ledger)
        print(f"ingestion job: {loaded:,} records validated and loaded in {job_s:.2f} s = {loaded / job_s:,.0f} "
              f"records/s ({ledger[0]} drops, {anomalies} anomalies, rejected {ledger[3]}, duplicate {ledger[4]}; "
              f"{job_cpu:.2f} CPU s in this process); {load_average()}")  # fmt: skip

        # reference: run_ingest without the Dagster run, same files, emptied tables and ledger
        from factory_assets.ingest.run import run_ingest
        from factory_assets.operations.kind import OPERATIONS
        from factory_assets.resources_config import resolved

        with psycopg.connect(make_conninfo(url), autocommit=True) as conn:
            conn.execute("TRUNCATE raw.operations__anomalies, raw.operations__operations, raw.ingest_rejects, "
                         "raw.ingest_ledger CASCADE")  # fmt: skip
            conn.execute("CHECKPOINT")
        res = build_resources()
        t, cpu = time.perf_counter(), time.process_time()
        report = run_ingest(OPERATIONS, resolved(res["warehouse"]), resolved(res["landing"]),
                            resolved(res["archive"]), run_id="bench")  # fmt: skip
        direct_s, direct_cpu = time.perf_counter() - t, time.process_time() - cpu
        assert report.summary()["rows_loaded"] == args.records
        print(f"run_ingest without Dagster: {direct_s:.2f} s = {args.records / direct_s:,.0f} records/s "
              f"({direct_cpu:.2f} CPU s in this process); "
              f"parse + validate only: {validate_s:.2f} CPU s = {args.records / validate_s:,.0f} records/s; {load_average()}")  # fmt: skip
        total = post_s + job_s
        print(f"gateway + ingestion job: {total:.2f} s = {args.records / total:,.0f} records/s end to end")
    finally:
        if gateway is not None:
            gateway.terminate()
            gateway.wait(15)
        if not args.keep_db:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
