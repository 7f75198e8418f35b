"""Operation drops through the shared ingestion factory, against a real PostgreSQL: sensor tick ->
run -> ledger -> rows, anomalies, rejects -> conservation check; broken files quarantined while
the rest of the tick loads; re-sent records loaded once; replaced drops; re-validation."""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from factory_assets.ingest.migrate import migrate
from factory_assets.ingest.run import run_ingest
from factory_assets.operations.definitions import definitions
from factory_assets.operations.kind import OPERATIONS
from factory_assets.resources_config import build_resources, resolved
from tests.test_operations_records import cnc, forging


@pytest.fixture
def env(factory_env):
    with psycopg.connect(factory_env["warehouse_url"], autocommit=True) as conn:
        migrate(conn)
    (factory_env["landing"] / "operations").mkdir()
    return factory_env


def drop(env, name: str, content, mtime: float | None = None) -> Path:
    path = env["landing"] / "operations" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    if mtime:
        os.utime(path, (mtime, mtime))
    return path


def tick_and_run(defs: dg.Definitions, instance: dg.DagsterInstance) -> list[dg.ExecuteInProcessResult]:
    sensor = defs.sensors[0]
    with dg.build_sensor_context(instance=instance, resources=build_resources()) as ctx:
        result = sensor(ctx)
    job = defs.resolve_job_def("operations_ingest_job")
    return [
        job.execute_in_process(run_config=r.run_config, instance=instance, tags=r.tags, raise_on_error=False)
        for r in result.run_requests
    ]


def q(env, sql: str, params=()) -> list[tuple]:
    with psycopg.connect(env["warehouse_url"]) as conn:
        return conn.execute(sql, params).fetchall()


def ingest(env, kind=OPERATIONS, paths=None):
    res = build_resources()
    return run_ingest(
        kind, resolved(res["warehouse"]), resolved(res["landing"]), resolved(res["archive"]), run_id="test",
        paths=paths,
    )  # fmt: skip


def test_a_tick_loads_every_good_drop_and_quarantines_the_broken_ones(env, monkeypatch):
    monkeypatch.setenv("FACTORY_OPERATIONS_MAX_FILE_MB", "0.01")  # about 10 kB
    good = [forging(), cnc(), forging(timestamp_inizio="2024-05-01 11:00:00", timestamp_fine="2024-05-01 11:03:00")]
    bad = [forging(timestamp_inizio="2024-05-01 12:00:00", timestamp_fine="2024-05-01 12:03:00", peso_effettivo="n/d"),
           {"codice_pezzo": "FLG-0100", "tipo_operazione": "forgiatura"}]  # fmt: skip
    drop(env, "tablet/a.json", good)
    drop(env, "tablet/b.json", bad)
    drop(env, "broken.json", json.dumps(good).encode()[:40])
    drop(env, "object.json", {"records": good})
    drop(env, "huge.json", [forging(codice_operatore=f"OP-{n}") for n in range(100)])
    drop(env, "notes.txt", b"not a drop")

    defs = dg.Definitions.merge(definitions(), dg.Definitions(resources=build_resources()))
    instance = dg.DagsterInstance.ephemeral()
    runs = tick_and_run(defs, instance)
    assert len(runs) == 1 and runs[0].success
    assert [(c.check_name, c.passed) for c in runs[0].get_asset_check_evaluations()] == [("records_conserved", True)]

    ledger = {p: rest for p, *rest in q(env, "SELECT path, status, rows_in, rows_loaded, rows_rejected, "
                                             "rows_duplicate, error FROM raw.ingest_ledger")}  # fmt: skip
    assert ledger["operations/tablet/a.json"][:5] == ["loaded", 3, 3, 0, 0]
    assert ledger["operations/tablet/b.json"][:5] == ["loaded", 2, 1, 1, 0]
    assert ledger["operations/broken.json"][0] == "quarantined"
    assert ledger["operations/broken.json"][5].startswith("not_json: EOF while parsing")
    assert ledger["operations/object.json"][0] == "quarantined"
    assert ledger["operations/object.json"][5].startswith("not_a_json_array: the document is an object")
    assert ledger["operations/huge.json"][0] == "quarantined" and "file_too_large" in ledger["operations/huge.json"][5]
    assert ledger["operations/notes.txt"][0] == "quarantined" and "bad_file_name" in ledger["operations/notes.txt"][5]

    assert q(env, "SELECT count(*) FROM raw.operations__operations") == [(4,)]
    assert q(env, "SELECT item_no, reason, raw_text FROM raw.ingest_rejects") == [
        (2, "missing_order_id", json.dumps(bad[1]))
    ]
    assert q(env, "SELECT record_no, code, field, value FROM raw.operations__anomalies") == [
        (1, "INVALID_FIELD", "peso_effettivo", "n/d")
    ]
    assert q(env, "SELECT peso_effettivo FROM raw.operations__operations o JOIN raw.ingest_ledger l "
                  "ON l.id = o.file_version_id WHERE l.path LIKE '%%b.json'") == [(None,)]  # fmt: skip
    assert tick_and_run(defs, instance) == []  # nothing new: no run


def test_the_same_records_sent_twice_are_loaded_once(env):
    first = [forging(), cnc()]
    # re-sent: same records, the start in another notation, plus one new record and a copy inside the drop
    again = [forging(timestamp_inizio="2024-05-01T08:00:00Z", temperatura_effettiva=1210.0), cnc(),
             forging(codice_macchinario="PRESSA-02"), forging(codice_macchinario="PRESSA-02")]  # fmt: skip
    drop(env, "first.json", first)
    ingest(env)
    drop(env, "again.json", again)
    report = ingest(env)
    assert report.violations == []
    (counts,) = [o.counts for o in report.outcomes]
    assert (counts.rows_in, counts.rows_loaded, counts.rows_rejected, counts.rows_duplicate) == (4, 1, 0, 3)
    assert q(env, "SELECT path, rows_in, rows_loaded + rows_rejected + rows_duplicate FROM raw.ingest_ledger "
                  "ORDER BY id") == [("operations/first.json", 2, 2), ("operations/again.json", 4, 4)]  # fmt: skip
    # the first copy wins: its values stay, and it still points at the first drop
    assert q(env, "SELECT temperatura_effettiva, file_version_id FROM raw.operations__operations "
                  "WHERE codice_macchinario = 'PRESSA-01'") == [(1200.0, 1)]  # fmt: skip
    assert q(env, "SELECT count(*) FROM raw.operations__operations") == [(3,)]

    # the same bytes under another name are a duplicate file (ledger), not even parsed
    drop(env, "copy_of_first.json", first)
    ingest(env)
    assert q(env, "SELECT status FROM raw.ingest_ledger WHERE path = 'operations/copy_of_first.json'") == [
        ("duplicate",)
    ]


def test_a_changed_drop_replaces_what_its_previous_version_loaded(env):
    drop(env, "shift.json", [forging(peso_effettivo="x"), cnc(), forging(codice_macchinario="PRESSA-02")])
    ingest(env)
    drop(env, "shift.json", [cnc()], mtime=2_000_000_000)
    report = ingest(env)
    assert report.violations == []
    assert q(env, "SELECT status FROM raw.ingest_ledger ORDER BY id") == [("superseded",), ("loaded",)]
    assert q(env, "SELECT file_version_id, codice_pezzo FROM raw.operations__operations") == [(2, "ALB-2040")]
    assert q(env, "SELECT count(*) FROM raw.operations__anomalies") == [(0,)]


def test_a_new_code_version_revalidates_loaded_drops_with_the_same_result(env):
    drop(env, "a.json", [forging(peso_effettivo=5000), cnc(), {"tipo_operazione": "cnc"}])
    drop(env, "b.json", [cnc(), forging(codice_macchinario="PRESSA-03")])
    ingest(env)
    before = q(env, "SELECT * FROM raw.operations__operations ORDER BY record_key")
    anomalies = q(env, "SELECT * FROM raw.operations__anomalies ORDER BY 1, 2, 3")
    report = ingest(env, dataclasses.replace(OPERATIONS, code_version="test-2"))
    assert sorted(o.status for o in report.outcomes) == ["reparsed", "reparsed"] and report.violations == []
    assert q(env, "SELECT * FROM raw.operations__operations ORDER BY record_key") == before
    assert q(env, "SELECT * FROM raw.operations__anomalies ORDER BY 1, 2, 3") == anomalies
    assert q(env, "SELECT path, rows_loaded, rows_rejected, rows_duplicate, loader_version FROM raw.ingest_ledger "
                  "ORDER BY id") == [("operations/a.json", 2, 1, 0, "test-2"), ("operations/b.json", 1, 0, 1, "test-2")]  # fmt: skip


def test_concurrent_runs_never_load_one_record_twice(env):
    shared = [forging(codice_operatore=f"OP-{n}", timestamp_inizio=f"2024-05-01 10:{n:02d}:00",
                      timestamp_fine=f"2024-05-01 10:{n:02d}:30") for n in range(40)]  # fmt: skip
    drop(env, "x.json", shared + [cnc()])
    drop(env, "y.json", [cnc(codice_macchinario="CNC-22"), *reversed(shared)])
    errors = []

    def one(path):
        try:
            ingest(env, paths=[path])
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(p,)) for p in ("operations/x.json", "operations/y.json")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert q(env, "SELECT count(*), count(DISTINCT record_key) FROM raw.operations__operations") == [(42, 42)]
    assert q(env, "SELECT sum(rows_loaded), sum(rows_duplicate), count(*) FROM raw.ingest_ledger "
                  "WHERE status = 'loaded'") == [(42, 40, 2)]  # fmt: skip
