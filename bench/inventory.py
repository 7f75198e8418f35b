"""Benchmark: the inventory models (DESIGN.md §6.6), a full build over a year of about 1,000,000
transaction lines, then an incremental build after one more day.

    python bench/inventory.py [--items 1000000] [--products 2000] [--repeat 1] [--check] [--keep-db]

What it does, in one process run:

1. creates a scratch database on ``FACTORY_BENCH_PG_URL`` (default
   ``postgresql://postgres@127.0.0.1:5432/postgres``) and applies the raw migrations;
2. simulates a shop over 366 days (factory_assets.inventory.simulation: 2,000 products, receipts
   following demand, ~4 % cancelled, returns, ties, back-dated entries, refused sales) and
   COPYs the first 365 days into ``raw.oltp__*`` as the nightly sync would have written them
   (``_synced_at`` = 02:00 after each day); day 366 (yesterday) is kept aside;
3. **full build**: ``dbt run --full-refresh`` of the inventory marts and what they are built from
   (``+product_pricing +stagnant_products +low_stock_products +inventory_rejects``: three OLTP
   staging views, the stock card ``int_inventory__stock_movements``, the four marts), after a
   ``dbt parse`` and a ``dbt seed`` that are not timed;
4. COPYs day 366 (about 1/365 of the lines) with ``_synced_at`` = now, as the nightly sync does;
5. **incremental build**: the same ``dbt run`` without ``--full-refresh``;
6. with ``--check``: a ``--full-refresh`` of the stock card afterwards must give exactly the
   rows of the incremental run (every column but the run stamps).

dbt runs as the platform runs it: ``factory-dbt`` (factory_assets/dbt_cli.py: dbt's CLI with the
garbage collector tuned and compiled templates kept on disk; the untimed ``dbt parse`` fills that
cache on a machine where it is empty).

Timed: ``build`` = dbt's own elapsed time for the run (``run_results.json``: from the first model
to the end of the on-run-end hook, i.e. the SQL work and dbt's per-model bookkeeping), and
``process`` = wall time of the whole ``dbt`` process (adds about 4-6 s of Python start-up and
project loading, the same for both). The last line is
``inventory: full_s=F incremental_s=I ratio=R`` with the ``build`` figures; the ``process``
figures are printed above it. Targets (issue "Inventory analytics"): full build of 1 million
lines < 60 s on 2 cores; incremental <= 10 % of the full build. A ``CHECKPOINT`` precedes each
timed phase.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402
from psycopg.conninfo import conninfo_to_dict  # noqa: E402

from factory_assets.dbt_cli import dbt_executable  # noqa: E402
from factory_assets.ingest.migrate import migrate  # noqa: E402
from factory_assets.inventory.simulation import (  # noqa: E402
    ITEM_COLUMNS,
    PRODUCT_COLUMNS,
    RECEIPT_COLUMNS,
    TRANSACTION_COLUMNS,
    ShopParams,
    copy_into_raw,
    product_rows,
    random_products,
    sales_per_day_for,
    simulate,
)

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REPO = Path(__file__).resolve().parent.parent
DBT_PROJECT = REPO / "dbt_project"
# the inventory marts and everything they are built from (the OLTP staging views they read, the
# stock card); the seed is loaded once beforehand by `dbt seed`
SELECTION = ["+product_pricing", "+stagnant_products", "+low_stock_products", "+inventory_rejects"]
TIMEZONE = "Europe/Paris"
START = date.today() - timedelta(days=366)
STAMP_COLUMNS = {  # run stamps: differ between an incremental run and a full refresh by design
    "computed_at",
    "items_read_through",
    "transactions_read_through",
}


@contextmanager
def scratch_database(url: str, prefix: str, keep: bool = False) -> Iterator[tuple[str, str]]:
    """A new database ``<prefix>_<random>`` on the server of ``url``: yields its name and URL,
    then drops it (``WITH (FORCE)``), or keeps it and prints its name when ``keep``."""
    dbname = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    try:
        yield dbname, psycopg.conninfo.make_conninfo(url, dbname=dbname)
    finally:
        if keep:
            print(f"kept database {dbname}")
        else:
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def copy_rows(conn: psycopg.Connection, table: str, columns: tuple[str, ...], rows, synced_at) -> int:
    return copy_into_raw(conn, table.removeprefix("oltp__"), columns, rows, synced_at, TIMEZONE)


class Dbt:
    """``dbt`` as a subprocess on the scratch database, with its own target and log folders."""

    def __init__(self, url: str, dbname: str, work: Path):
        info = conninfo_to_dict(url)
        self.env = {
            **os.environ,
            "FACTORY_DBT_HOST": info.get("host") or "127.0.0.1",
            "FACTORY_DBT_PORT": str(info.get("port") or 5432),
            "FACTORY_DBT_USER": info.get("user") or "postgres",
            "FACTORY_DBT_PASSWORD": info.get("password") or "",
            "FACTORY_DBT_DBNAME": dbname,
            "FACTORY_TIMEZONE": TIMEZONE,
            "DO_NOT_TRACK": "1",
        }
        self.work = work

    def __call__(self, *args: str) -> tuple[float, float]:
        """Run dbt; return (process wall seconds, dbt's elapsed seconds for the run)."""
        exe = dbt_executable()
        cmd = [exe, *args, "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT)]
        cmd += [
            "--target-path",
            str(self.work / "target"),
            "--log-path",
            str(self.work / "logs"),
            "--no-use-colors",
        ]
        t = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, env=self.env, capture_output=True, text=True)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            raise SystemExit(f"dbt {' '.join(args)} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}")
        results = self.work / "target" / "run_results.json"
        elapsed = json.loads(results.read_text())["elapsed_time"] if results.exists() else wall
        return wall, elapsed

    def node_times(self) -> dict[str, float]:
        data = json.loads((self.work / "target" / "run_results.json").read_text())
        return {r["unique_id"].split(".")[-1]: r["execution_time"] for r in data["results"]}

    def node_timing(self) -> dict[str, dict[str, float]]:
        """Per node: seconds spent compiling and executing (dbt's own timing entries)."""
        from datetime import datetime as dt

        data = json.loads((self.work / "target" / "run_results.json").read_text())
        out = {}
        for r in data["results"]:
            phases = {}
            for t in r.get("timing", []):
                start, end = (
                    dt.fromisoformat(t[k].replace("Z", "+00:00")) for k in ("started_at", "completed_at")
                )
                phases[t["name"]] = (end - start).total_seconds()
            out[r["unique_id"].split(".")[-1]] = phases
        return out


def stock_card(conn: psycopg.Connection) -> list[tuple]:
    cols = [
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'intermediate'"
            " AND table_name = 'int_inventory__stock_movements' ORDER BY ordinal_position"
        )
        if r[0] not in STAMP_COLUMNS
    ]
    return conn.execute(
        f"SELECT {', '.join(cols)} FROM intermediate.int_inventory__stock_movements ORDER BY item_id"
    ).fetchall()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=1_000_000, help="transaction lines in the year (about)")
    ap.add_argument("--products", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=1, help="full + incremental pairs to time (best is kept)")
    ap.add_argument("--check", action="store_true", help="compare the incremental result with a full refresh")
    ap.add_argument("--keep-db", action="store_true", help="keep the scratch database (name printed)")
    ap.add_argument("--url", default=os.environ.get("FACTORY_BENCH_PG_URL") or DEFAULT_URL)
    args = ap.parse_args(argv)

    with scratch_database(args.url, "bench_inventory", keep=args.keep_db) as (dbname, db_url):
        with (
            tempfile.TemporaryDirectory(prefix="bench_inventory_") as tmp,
            psycopg.connect(db_url, autocommit=True) as wh,
        ):
            migrate(wh)
            dbt = Dbt(args.url, dbname, Path(tmp))
            products = random_products(args.products)
            params = ShopParams(sale_transactions_per_day=sales_per_day_for(args.items))
            days = list(simulate(products, START, 366, params, seed=2026)) if args.items <= 200_000 else None
            t = time.perf_counter()
            yesterday = wh.execute("SELECT now() - interval '1 day'").fetchone()[0]
            with wh.transaction():
                copy_rows(
                    wh, "oltp__productos_maestro", PRODUCT_COLUMNS, product_rows(products, START), yesterday
                )
            counts = {"transacciones": 0, "items_transaccion": 0, "entradas_mercancia": 0}
            last_day = None
            history = days if days is not None else simulate(products, START, 366, params, seed=2026)
            with wh.transaction():
                for day in history:
                    if day.index == 365:
                        last_day = day
                        break
                    # as the nightly sync wrote them: at 02:00 after the day
                    synced = datetime.combine(day.day + timedelta(days=1), clock(2), ZoneInfo(TIMEZONE))
                    counts["transacciones"] += copy_rows(
                        wh, "oltp__transacciones", TRANSACTION_COLUMNS, day.transactions, synced
                    )
                    counts["items_transaccion"] += copy_rows(
                        wh, "oltp__items_transaccion", ITEM_COLUMNS, day.items, synced
                    )
                    counts["entradas_mercancia"] += copy_rows(
                        wh, "oltp__entradas_mercancia", RECEIPT_COLUMNS, day.receipts, synced
                    )
            wh.execute("ANALYZE")
            print(
                f"history: {START} .. {START + timedelta(days=364)}, {args.products} products, "
                f"{counts['items_transaccion']:,} lines, {counts['transacciones']:,} transactions, "
                f"{counts['entradas_mercancia']:,} goods receipts (simulated and loaded in {time.perf_counter() - t:.1f} s)"
            )
            print(
                f"day 366 ({last_day.day}): {len(last_day.items):,} lines, {len(last_day.transactions):,} transactions"
            )

            dbt("parse")
            dbt("seed", "--select", "path:seeds/inventory")
            best: tuple[float, ...] | None = None
            for attempt in range(args.repeat):
                if attempt:  # undo day 366 for another full + incremental pair
                    with wh.transaction():
                        ids = [t[0] for t in last_day.transactions]
                        wh.execute(
                            "DELETE FROM raw.oltp__items_transaccion WHERE transaccion_id = ANY(%s)", (ids,)
                        )
                        wh.execute(
                            "DELETE FROM raw.oltp__entradas_mercancia WHERE transaccion_id = ANY(%s)", (ids,)
                        )
                        wh.execute(
                            "DELETE FROM raw.oltp__transacciones WHERE transaccion_id = ANY(%s)", (ids,)
                        )
                wh.execute("CHECKPOINT")
                full_wall, full = dbt("run", "--full-refresh", "--select", *SELECTION)
                full_nodes = dbt.node_times()
                with wh.transaction():  # the nightly sync of day 366
                    now = wh.execute("SELECT now()").fetchone()[0]
                    copy_rows(wh, "oltp__transacciones", TRANSACTION_COLUMNS, last_day.transactions, now)
                    copy_rows(wh, "oltp__items_transaccion", ITEM_COLUMNS, last_day.items, now)
                    copy_rows(wh, "oltp__entradas_mercancia", RECEIPT_COLUMNS, last_day.receipts, now)
                wh.execute("CHECKPOINT")
                inc_wall, inc = dbt("run", "--select", *SELECTION)
                inc_nodes = dbt.node_times()
                if os.environ.get("BENCH_VERBOSE"):
                    print(dbt.node_timing())
                card = "int_inventory__stock_movements"
                print(
                    f"run {attempt + 1}: full build {full:.2f} s (process {full_wall:.2f} s; stock card {full_nodes[card]:.2f} s), "
                    f"incremental {inc:.2f} s (process {inc_wall:.2f} s; stock card {inc_nodes[card]:.2f} s)"
                )
                print("  per model, full / incremental: " + ", ".join(
                    f"{name} {full_nodes[name]:.2f}/{inc_nodes.get(name, 0):.2f}" for name in full_nodes
                ))  # fmt: skip
                if best is None or inc / full < best[1] / best[0]:
                    best = (full, inc, full_wall, inc_wall, full_nodes[card], inc_nodes[card])

            if args.check:
                incremental_rows = stock_card(wh)
                dbt("run", "--full-refresh", "--select", "int_inventory__stock_movements")
                assert stock_card(wh) == incremental_rows, (
                    "incremental stock card differs from a full refresh"
                )
                print(f"check: incremental stock card = full refresh ({len(incremental_rows):,} rows)")

            full, inc, full_wall, inc_wall, card_full, card_inc = best
            load = os.getloadavg()
            print(f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
            print(
                f"process wall time: full {full_wall:.2f} s, incremental {inc_wall:.2f} s, ratio {inc_wall / full_wall:.3f}"
            )
            print(
                f"stock card model alone: full {card_full:.2f} s, incremental {card_inc:.2f} s, ratio {card_inc / card_full:.3f}"
            )
            print(f"inventory: full_s={full:.2f} incremental_s={inc:.2f} ratio={inc / full:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
