"""File events beyond the basics: parser upgrades (reprocess), bursts, new centre folders."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import dagster as dg
import psycopg

from factory_assets.demo.machine_logs import generate_day
from factory_assets.ingest import ledger
from factory_assets.ingest.files import ingest_version
from factory_assets.ingest.migrate import migrate
from factory_assets.machine_logs import loader as ml_loader
from factory_assets.machine_logs.kind import MACHINE_LOGS, partition_of
from factory_assets.machine_logs.loader import SOURCE
from factory_assets.resources_config import build_resources
from resources.landing import LocalLandingZone
from sensors.landing_sensor import plan_tick, run_key
from tests.ingest_helpers import machine_logs_asset
from tests.test_machine_log_ingest import DAY, KEY, ingest, q, write


def test_parser_upgrade_reprocesses_loaded_sessions_once(factory_env, monkeypatch):
    url = factory_env["warehouse_url"]
    data = generate_day("DEM12", DAY, random.Random(5), malformed=2)
    path = write(factory_env["landing"], "machine_logs/DEM12/20241105.LOG", data)
    assert ingest().success
    before = q(url, "SELECT count(*) FROM raw.machine_logs__pieces")[0][0]
    ledger_before = q(url, "SELECT id, status, rows_in, rows_rejected FROM raw.ingest_ledger")
    path.unlink()  # the inbox copy is gone: the archive is the source of the re-parse

    monkeypatch.setattr(ml_loader, "PARSER_VERSION", "2-test")
    upgraded = dataclasses.replace(MACHINE_LOGS, code_version="2-test")
    result = ingest(kind=upgraded)
    assert result.success
    meta = next(
        m.materialization.metadata
        for m in result.get_asset_materialization_events()
        if m.asset_key.to_user_string() == "machine_logs/sessions"
    )
    assert meta["files_reparsed"].value == 1
    assert q(url, "SELECT parser_version FROM raw.machine_logs__sessions") == [("2-test",)]
    assert q(url, "SELECT count(*) FROM raw.machine_logs__pieces")[0][0] == before
    assert q(url, "SELECT id, status, rows_in, rows_rejected FROM raw.ingest_ledger") == ledger_before
    # Idempotent: nothing left to re-parse.
    again = ingest(kind=upgraded)
    meta2 = next(
        m.materialization.metadata
        for m in again.get_asset_materialization_events()
        if m.asset_key.to_user_string() == "machine_logs/sessions"
    )
    assert meta2["files_reparsed"].value == 0


def test_new_centre_folder_is_picked_up_without_code_change(factory_env):
    write(
        factory_env["landing"],
        "machine_logs/NEWLINE7/20241105.LOG",
        generate_day("NEWLINE7", DAY, random.Random(8)),
    )
    assert ingest().success
    assert q(factory_env["warehouse_url"], "SELECT centre FROM raw.machine_logs__sessions") == [("NEWLINE7",)]


def test_burst_of_files_is_taken_in_bounded_batches_without_skipping_any(factory_env):
    """2,000 small files over 100 days: each tick asks for at most 10 days; none is skipped or
    requested twice under the same key with different content."""
    url = factory_env["warehouse_url"]
    landing = factory_env["landing"]
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(100)]
    for d in days:
        for c in range(20):
            body = f"{d:%Y%m%d} 06:00:{c:02d}|@StukUitgevoerd: {c}\n".encode()
            write(landing, f"machine_logs/C{c:02d}/{d:%Y%m%d}.LOG", body)
    zone = LocalLandingZone(landing)
    seen_keys: dict[str, tuple] = {}
    ticks = 0
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
        cursor: dict = {}
        while True:
            ticks += 1
            assert ticks < 30, "the burst must drain in bounded ticks"
            listing = zone.list_files("machine_logs")
            states = ledger.ledger_states(conn, SOURCE)
            ready, bad, cursor, _ = plan_tick(
                listing, states, cursor, now=1e10, settle_s=0, partition_of=partition_of, limit=10
            )
            assert not bad
            if not ready:
                break
            assert len(ready) <= 10
            for partition, files in ready.items():
                key = run_key(SOURCE, partition, files)
                identities = tuple(sorted((e.path, e.size, e.mtime) for e, _ in files))
                assert seen_keys.setdefault(key, identities) == identities
                for e, _ in files:  # what the run for this partition does
                    assert ingest_version(conn, zone, None, MACHINE_LOGS, e, key).status == "loaded"
    assert ticks == 11  # 100 days / 10 per tick, then one empty tick
    assert q(url, "SELECT count(*), count(DISTINCT path) FROM raw.ingest_ledger WHERE status = 'loaded'") == [
        (2000, 2000)
    ]
    assert q(url, "SELECT count(*) FROM raw.machine_logs__pieces")[0][0] == 2000


def test_backfill_of_a_date_range_in_one_run(factory_env):
    for i, centre in enumerate(("DEM12", "SU12")):
        for d in (DAY, DAY + dt.timedelta(days=1)):
            write(
                factory_env["landing"],
                f"machine_logs/{centre}/{d:%Y%m%d}.LOG",
                generate_day(centre, d, random.Random(i), malformed=0),
            )
    result = dg.materialize(
        [machine_logs_asset()],
        resources=build_resources(),
        instance=dg.DagsterInstance.ephemeral(),
        tags={"dagster/asset_partition_range_start": KEY, "dagster/asset_partition_range_end": "2024-11-06"},
    )
    assert result.success
    assert q(factory_env["warehouse_url"], "SELECT count(*) FROM raw.machine_logs__sessions")[0][0] == 4
