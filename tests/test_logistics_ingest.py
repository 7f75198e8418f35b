"""Logistics exports end to end against real PostgreSQL: the two file kinds as the code location
builds them (Dagster jobs and sensors), every reject reason with its line and text, rows in =
loaded + rejected + skipped, reruns, a corrected export, "the last file wins by id", the SLA and
productivity marts and the data-quality mart (dbt), pseudonyms only outside raw, the key nowhere,
and the erasure of a customer everywhere, archive included, that survives a reload."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from factory_assets.ingest.factory import file_kind_definitions
from factory_assets.logistics import definitions as logistics
from factory_assets.logistics import kind as kinds
from factory_assets.logistics.pii import Pseudonymiser
from factory_assets.resources_config import build_resources
from tests.dbt_harness import rows as dbt_rows
from tests.dbt_harness import run_dbt

KEY = "test-pii-key-7c1f0e9a5b3d4e2f"
DBT_SELECTION = ["+path:models/marts/logistics", "path:seeds/logistics", "+data_quality_daily"]

VISITS_V1 = (
    "\ufeffid;id_cliente;angel;polo;data_limite;data_de_atendimento\r\n"  # 1 header (BOM, CRLF)
    "1;100;Ana Souza;CE - JUAZEIRO DO NORTE;03/04/2021;03/04/2021 17:45\r\n"  # 2 on the deadline day
    "2;101;ANA  SOUZA;CE - JUAZEIRO DO NORTE;03/04/2021 18:00;2021-04-04\r\n"  # 3 late (same technician)
    "3;100;Bruno Lima;CE - CRATO;2021-04-10;05/04/2021 09:00:00\r\n"  # 4
    "4;102;Bruno Lima;CE - CRATO;2021-04-05 12:00:00;2021-04-05\r\n"  # 5
    "5;x9;Bruno Lima;CE - CRATO;2021-04-05;2021-04-05\r\n"  # 6 non_numeric_id (id_cliente)
    "6;103;Bruno Lima;CE - CRATO;31/02/2021;2021-04-05\r\n"  # 7 unparseable_date
    "7;103;Bruno Lima\r\n"  # 8 wrong_column_count
).encode() + (
    b"8;103;Jos\xe9 Lima;CE - CRATO;2021-04-05;2021-04-05\r\n"  # 9 invalid_utf8 (latin-1)
    b"\r\n"  # 10 blank
    b"A9;103;Bruno Lima;CE - CRATO;2021-04-05;2021-04-05\r\n"  # 11 non_numeric_id (id)
)
CUSTOMERS = (
    "100;Maria da Silva;maria.silva@example.com;(88) 99999-0001\n"
    "101;João Pereira;;(88) 99999-0002\n"
    "102;Carla Dias;carla.dias@example.com;\n"
    "C103;Bad Id;bad@example.com;1\n"
).encode()


@pytest.fixture
def env(factory_env, monkeypatch):
    monkeypatch.setenv("FACTORY_PII_KEY", KEY)
    return factory_env


def _defs() -> dg.Definitions:
    return dg.Definitions.merge(logistics.definitions(), dg.Definitions(resources=build_resources()))


def _write(landing: Path, rel: str, data: bytes, mtime: float | None = None) -> None:
    path = landing / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime:
        os.utime(path, (mtime, mtime))


def _tick_and_run(defs, instance) -> list[dg.ExecuteInProcessResult]:
    out = []
    for sensor in defs.sensors:
        with dg.build_sensor_context(instance=instance, resources=build_resources()) as ctx:
            result = sensor(ctx)
        for r in result.run_requests if result else []:
            job = defs.resolve_job_def(r.job_name or sensor.job_name)
            out.append(job.execute_in_process(run_config=r.run_config, instance=instance, tags=r.tags))
    return out


def _q(url: str, sql: str, params=()):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def test_visits_and_customers_from_landing_to_marts(env, tmp_path, monkeypatch):
    from factory_assets.logistics import loader

    monkeypatch.setattr(loader, "TECHNICIANS_IN_MEMORY", 1)  # technician names spill to disk too
    url, landing = env["warehouse_url"], env["landing"]
    dbname = url.rsplit("/", 1)[1]
    with psycopg.connect(url, autocommit=True) as conn:  # the BI role, as the demo creates it
        conn.execute(
            "DO $$ BEGIN CREATE ROLE bi_reader NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        )
    _write(landing, "logistics/visits/v1.csv", VISITS_V1, 1_700_000_000)
    _write(landing, "logistics/customers/clientes.csv", CUSTOMERS)
    defs, instance = _defs(), dg.DagsterInstance.ephemeral()

    runs = _tick_and_run(defs, instance)
    assert len(runs) == 2 and all(r.success for r in runs)
    checks = [(c.check_name, c.passed) for r in runs for c in r.get_asset_check_evaluations()]
    assert checks == [("rows_conserved", True), ("rows_conserved", True)]
    ledger = _q(
        url,
        "SELECT source, path, status, rows_in, rows_loaded, rows_rejected, rows_skipped FROM raw.ingest_ledger ORDER BY 1",
    )
    assert ledger == [
        ("logistics_customers", "logistics/customers/clientes.csv", "loaded", 4, 3, 1, 0),
        ("logistics_visits", "logistics/visits/v1.csv", "loaded", 11, 4, 5, 2),
    ]
    rejects = _q(url, "SELECT source, item_no, reason, raw_text FROM raw.ingest_rejects ORDER BY 1, 2")
    assert rejects == [
        ("logistics_customers", 4, "non_numeric_id", "C103;Bad Id;bad@example.com;1"),
        ("logistics_visits", 6, "non_numeric_id", "5;x9;Bruno Lima;CE - CRATO;2021-04-05;2021-04-05"),
        ("logistics_visits", 7, "unparseable_date", "6;103;Bruno Lima;CE - CRATO;31/02/2021;2021-04-05"),
        ("logistics_visits", 8, "wrong_column_count", "7;103;Bruno Lima"),
        ("logistics_visits", 9, "invalid_utf8", "8;103;Jos\ufffd Lima;CE - CRATO;2021-04-05;2021-04-05"),
        ("logistics_visits", 11, "non_numeric_id", "A9;103;Bruno Lima;CE - CRATO;2021-04-05;2021-04-05"),
    ]
    assert "31/02/2021" in _q(url, "SELECT detail FROM raw.ingest_rejects WHERE item_no = 7")[0][0]
    visits = _q(
        url,
        "SELECT line_no, visit_id, customer_id, technician, deadline_date::text, deadline_at::text, "
        "visit_date::text, visited_at::text FROM raw.logistics__visits ORDER BY line_no",
    )
    assert visits == [
        (2, 1, 100, "Ana Souza", "2021-04-03", None, "2021-04-03", "2021-04-03 17:45:00"),
        (3, 2, 101, "ANA  SOUZA", "2021-04-03", "2021-04-03 18:00:00", "2021-04-04", None),
        (4, 3, 100, "Bruno Lima", "2021-04-10", None, "2021-04-05", "2021-04-05 09:00:00"),
        (5, 4, 102, "Bruno Lima", "2021-04-05", "2021-04-05 12:00:00", "2021-04-05", None),
    ]
    p = Pseudonymiser(KEY.encode())
    assert dict(_q(url, "SELECT name, technician_key FROM raw.logistics__technicians")) == {
        "Ana Souza": p.technician("ANA SOUZA"),
        "ANA  SOUZA": p.technician("ANA SOUZA"),
        "Bruno Lima": p.technician("Bruno Lima"),
    }

    # A rerun loads nothing twice: the sensor asks for nothing, a run by hand takes nothing.
    assert _tick_and_run(defs, instance) == []
    again = defs.resolve_job_def("logistics_visits_ingest_job").execute_in_process(instance=instance)
    assert again.success
    assert _q(url, "SELECT count(*) FROM raw.logistics__visits") == [(4,)]
    assert _q(url, "SELECT count(*) FROM raw.ingest_ledger") == [(2,)]

    # A corrected export of the same file replaces that version's visits and rejects.
    fixed = VISITS_V1.replace(b"5;x9;", b"5;104;").replace(b"31/02/2021", b"28/02/2021")
    _write(landing, "logistics/visits/v1.csv", fixed, 1_700_000_100)
    assert all(r.success for r in _tick_and_run(defs, instance))
    assert _q(url, "SELECT status, rows_in, rows_loaded, rows_rejected FROM raw.ingest_ledger "
                   "WHERE path = 'logistics/visits/v1.csv' ORDER BY id") == [
        ("superseded", 11, 4, 5), ("loaded", 11, 6, 3)
    ]  # fmt: skip
    assert _q(url, "SELECT count(*), count(DISTINCT file_version_id) FROM raw.logistics__visits") == [(6, 1)]
    assert _q(url, "SELECT count(*) FROM raw.ingest_rejects WHERE source = 'logistics_visits'") == [(3,)]

    # Another file with visit 4 again (now late) and a new visit: the last file wins by id.
    v2 = (
        b"id;id_cliente;angel;polo;data_limite;data_de_atendimento\n"
        b"4;102;Bruno Lima;CE - CRATO;2021-04-05;07/04/2021 08:30\n"
        b"20;101;Carla Nunes;CE - CRATO;2021-05-14;2021-05-14 20:00:00\n"
        b"21;101;Carla Nunes; ;2021-05-14;2021-05-14\n"  # missing_value: no base
    )
    _write(landing, "logistics/visits/v2.csv", v2, 1_700_000_200)
    assert all(r.success for r in _tick_and_run(defs, instance))

    work = tmp_path / "dbt"
    run_dbt(dbname, work, "build", select=DBT_SELECTION, cautious=True)
    winners = dbt_rows(
        dbname, "SELECT visit_id, visit_date::text, copies FROM intermediate.int_logistics__visits ORDER BY 1"
    )
    assert [(r["visit_id"], r["visit_date"], r["copies"]) for r in winners] == [
        (1, "2021-04-03", 1), (2, "2021-04-04", 1), (3, "2021-04-05", 1), (4, "2021-04-07", 2),
        (5, "2021-04-05", 1), (6, "2021-04-05", 1), (20, "2021-05-14", 1),
    ]  # fmt: skip
    by_base = dbt_rows(
        dbname,
        "SELECT visit_date::text AS d, base, visits, on_time_visits, late_visits, sla_pct::text AS pct "
        "FROM marts.sla_by_base_daily ORDER BY 1, 2",
    )
    assert [tuple(r.values()) for r in by_base] == [
        ("2021-04-03", "CE - JUAZEIRO DO NORTE", 1, 1, 0, "100.00"),  # visited later on the deadline day
        ("2021-04-04", "CE - JUAZEIRO DO NORTE", 1, 0, 1, "0.00"),
        ("2021-04-05", "CE - CRATO", 3, 2, 1, "66.67"),  # visit 6: deadline 28/02 -> late
        ("2021-04-07", "CE - CRATO", 1, 0, 1, "0.00"),  # visit 4, from the last file
        ("2021-05-14", "CE - CRATO", 1, 1, 0, "100.00"),
    ]
    ana = p.technician("Ana Souza")
    monthly = dbt_rows(
        dbname,
        "SELECT month::text AS m, visits, on_time_visits, sla_pct::text AS pct FROM marts.sla_by_technician_monthly "
        "WHERE technician_key = %s",
        (ana,),
    )
    assert [tuple(r.values()) for r in monthly] == [("2021-04-01", 2, 1, "50.00")]
    productivity = dbt_rows(
        dbname,
        "SELECT month::text AS m, visits, business_days, visits_per_business_day::text AS v "
        "FROM marts.productivity_by_technician_monthly WHERE technician_key = %s",
        (p.technician("bruno lima"),),
    )
    assert [tuple(r.values()) for r in productivity] == [
        ("2021-04-01", 4, 22, "0.18")
    ]  # April 2021: 22 weekdays
    quality = dbt_rows(
        dbname,
        "SELECT source, reason, sum(rejected_rows)::int AS n FROM marts.data_quality_daily "
        "WHERE source LIKE 'logistics%%' GROUP BY 1, 2 ORDER BY 1, 2",
    )
    assert [tuple(r.values()) for r in quality] == [
        ("logistics_customers", "non_numeric_id", 1),
        ("logistics_visits", "invalid_utf8", 1),
        ("logistics_visits", "missing_value", 1),
        ("logistics_visits", "non_numeric_id", 1),
        ("logistics_visits", "wrong_column_count", 1),
    ]
    # Shares: the corrected v1.csv (11 lines) and v2.csv (4 lines) were both loaded today, so the
    # rejects the reader refuses before any date is read (wrong_column_count, invalid_utf8) count
    # on the load day, of 15 lines; v1's non_numeric_id (line A9) counts on its visit date
    # 2021-04-05, which only v1 carries: 1 of 11; v2's missing_value on 2021-05-14, only in v2:
    # 1 of 4. The customers file: 1 of its 4 lines.
    shares = {
        (r["source"], r["reason"]): (r["rejected_rows"], r["rows_in"], float(r["share_of_rows"]))
        for r in dbt_rows(
            dbname,
            "SELECT source, reason, rejected_rows, rows_in, share_of_rows FROM marts.data_quality_daily "
            "WHERE source LIKE 'logistics%%'",
        )
    }
    assert shares == {
        ("logistics_customers", "non_numeric_id"): (1, 4, 0.25),
        ("logistics_visits", "invalid_utf8"): (1, 15, pytest.approx(1 / 15)),
        ("logistics_visits", "missing_value"): (1, 4, 0.25),
        ("logistics_visits", "non_numeric_id"): (1, 11, pytest.approx(1 / 11)),
        ("logistics_visits", "wrong_column_count"): (1, 15, pytest.approx(1 / 15)),
    }

    # Outside raw: pseudonyms only. No column of staging, intermediate or marts holds a name,
    # an email or a phone; the BI role reads marts and not raw.
    with psycopg.connect(url) as conn:
        for schema in ("staging", "intermediate", "marts"):
            tables = (
                conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_name LIKE %s",
                    (schema, "%logistics%"),
                ).fetchall()
                + conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                    "AND (table_name LIKE 'sla%%' OR table_name LIKE 'productivity%%')",
                    (schema,),
                ).fetchall()
            )
            for (table,) in tables:
                text = " ".join(str(r) for r in conn.execute(f'SELECT * FROM {schema}."{table}"').fetchall())
                for secret in ("Ana Souza", "Bruno Lima", "Maria da Silva", "example.com", "99999", KEY):
                    assert secret not in text, (schema, table, secret)
        conn.execute("SET ROLE bi_reader")
        assert conn.execute("SELECT count(*) FROM marts.sla_by_base_daily").fetchone()[0] == 5
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT name FROM raw.logistics__customers")

    # The key is nowhere: not in dbt's manifest, compiled SQL or logs, nor in Dagster's events.
    for path in work.rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text(errors="replace"), path
    for record in instance.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    ):
        assert KEY not in str(record.event_log_entry)
    for run in instance.get_runs():
        for entry in instance.all_logs(run.run_id):
            assert KEY not in str(entry)


def test_a_missing_key_is_a_clear_error_naming_the_variable(factory_env, monkeypatch):
    monkeypatch.delenv("FACTORY_PII_KEY", raising=False)
    _write(factory_env["landing"], "logistics/customers/c.csv", CUSTOMERS)
    result = (
        _defs()
        .resolve_job_def("logistics_customers_ingest_job")
        .execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    )
    assert not result.success
    ((status, error),) = _q(factory_env["warehouse_url"], "SELECT status, error FROM raw.ingest_ledger")
    assert status == "retry" and "FACTORY_PII_KEY is not set" in error
    assert _q(factory_env["warehouse_url"], "SELECT count(*) FROM raw.logistics__customers") == [(0,)]


def test_a_visits_export_dropped_among_customers_is_quarantined_whole(env):
    _write(env["landing"], "logistics/customers/wrong.csv", VISITS_V1)
    _write(env["landing"], "logistics/customers/notes.txt", b"not a csv")
    result = (
        _defs()
        .resolve_job_def("logistics_customers_ingest_job")
        .execute_in_process(instance=dg.DagsterInstance.ephemeral())
    )
    assert result.success
    rows = _q(
        env["warehouse_url"],
        "SELECT path, status, rows_in, rows_rejected, error FROM raw.ingest_ledger ORDER BY path",
    )
    assert [r[:4] for r in rows] == [
        ("logistics/customers/notes.txt", "quarantined", None, None),
        ("logistics/customers/wrong.csv", "quarantined", 11, 10),  # 10 lines of 6 fields, 1 blank
    ]
    assert rows[0][4].startswith("bad_file_name") and rows[1][4].startswith("no_valid_rows")
    assert _q(env["warehouse_url"], "SELECT count(*) FROM raw.logistics__customers") == [(0,)]


def _everything(url: str) -> str:
    """Every value of every table and view of the application schemas, as text."""
    out = []
    with psycopg.connect(url) as conn:
        relations = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema IN ('raw', 'staging', 'intermediate', 'marts', 'seeds')"
        ).fetchall()
        for schema, table in relations:
            for row in conn.execute(f'SELECT * FROM "{schema}"."{table}"'):
                out.append(f"{schema}.{table}: " + " | ".join(str(v) for v in row))
    return "\n".join(out)


def test_erase_customer_removes_it_everywhere_and_it_stays_erased(env, tmp_path):
    url, landing, archive = env["warehouse_url"], env["landing"], env["archive"]
    dbname = url.rsplit("/", 1)[1]
    customers = CUSTOMERS + b"100;Maria da Silva;maria.silva@example.com\n"  # + a rejected line of hers
    _write(landing, "logistics/customers/clientes.csv", customers)
    _write(landing, "logistics/visits/v1.csv", VISITS_V1)
    defs, instance = _defs(), dg.DagsterInstance.ephemeral()
    assert all(r.success for r in _tick_and_run(defs, instance))
    run_dbt(
        dbname,
        tmp_path / "dbt",
        "run",
        select=["stg_logistics__visits", "stg_logistics__customers", "int_logistics__visits"],
    )
    key = Pseudonymiser(KEY.encode()).customer(100)
    before = _everything(url)
    assert "Maria da Silva" in before and key in before
    assert any(b"maria.silva@example.com" in p.read_bytes() for p in archive.rglob("*.csv"))

    result = defs.resolve_job_def("erase_customer").execute_in_process(
        run_config={
            "ops": {"erase_customer_data": {"config": {"customer_id": 100, "requested_by": "ticket 42"}}}
        },
        instance=instance,
    )
    assert result.success

    def assert_gone(archived: bool = True):
        text = _everything(url)
        for trace in ("Maria da Silva", "maria.silva@example.com", "99999-0001", key):
            assert trace not in text, trace
        assert _q(url, "SELECT count(*) FROM raw.logistics__visits WHERE customer_id = 100") == [(0,)]
        for path in archive.rglob("*.csv") if archived else ():
            data = path.read_bytes()
            assert b"Maria" not in data and b"maria.silva" not in data and b";100;" not in data, path
            assert not any(line.startswith(b"100;") for line in data.splitlines()), path

    assert_gone()
    # the visits stay (SLA unchanged), without their customer; the other customers stay
    assert _q(url, "SELECT visit_id, customer_id FROM raw.logistics__visits WHERE visit_id IN (1, 3) ORDER BY 1") == [
        (1, None), (3, None)
    ]  # fmt: skip
    assert _q(url, "SELECT count(*) FROM raw.logistics__customers") == [(2,)]
    ((by, status, counts),) = _q(url, "SELECT requested_by, status, counts FROM raw.logistics__erasures")
    assert (by, status) == ("ticket 42", "done")
    assert counts["customer_rows_deleted"] == 1 and counts["visits_unlinked"] == 2
    assert counts["rejects_scrubbed"] == 1 and counts["archive_files_rewritten"] == 2
    # the ledger still accounts for every row (the erased row moved from loaded to skipped)
    assert _q(url, "SELECT rows_in, rows_loaded, rows_rejected, rows_skipped FROM raw.ingest_ledger "
                   "WHERE source = 'logistics_customers'") == [(5, 2, 2, 1)]  # fmt: skip

    # Loaded again (the same exports arrive under new names): she does not come back.
    _write(
        landing, "logistics/customers/clientes_again.csv", customers + b"105;Novo Cliente;novo@example.net;\n"
    )
    _write(landing, "logistics/visits/v1_again.csv", VISITS_V1.replace(b"1;100;", b"31;100;"))
    assert all(r.success for r in _tick_and_run(defs, instance))
    assert _q(url, "SELECT count(*) FROM raw.logistics__customers") == [(5,)]  # 2 + 3, without her
    assert _q(
        url, "SELECT count(*) FROM raw.logistics__visits WHERE visit_id = 31 AND customer_id IS NULL"
    ) == [(1,)]
    assert _q(url, "SELECT rows_skipped FROM raw.ingest_ledger WHERE path LIKE '%%clientes_again.csv'") == [
        (1,)
    ]
    assert _q(url, "SELECT count(*) FROM raw.ingest_rejects WHERE raw_text IS NULL") == [
        (2,)
    ]  # hers, both files
    assert_gone(archived=False)
    # A loader upgrade re-parses every loaded version: from the archive, or (for a rewritten
    # archive, which no longer matches the version's sha256) from the landing zone: still erased.
    upgraded = dg.Definitions.merge(
        *(
            file_kind_definitions(dataclasses.replace(k, code_version="2"))
            for k in (kinds.VISITS, kinds.CUSTOMERS)
        ),
        dg.Definitions(resources=build_resources()),
    )
    for name in ("logistics_visits_ingest_job", "logistics_customers_ingest_job"):
        assert upgraded.resolve_job_def(name).execute_in_process(instance=instance).success
    assert _q(url, "SELECT DISTINCT loader_version FROM raw.ingest_ledger WHERE status = 'loaded'") == [
        ("2",)
    ]
    assert _q(url, "SELECT count(*) FROM raw.logistics__customers") == [(5,)]
    assert_gone(archived=False)
    # The new files were archived as received (with her); running the job again cleans them too.
    again = defs.resolve_job_def("erase_customer").execute_in_process(
        run_config={"ops": {"erase_customer_data": {"config": {"customer_id": 100}}}}, instance=instance
    )
    assert again.success
    assert_gone()


def test_the_code_location_wires_logistics_into_one_graph():
    from factory_assets.definitions import defs as lazy

    defs = lazy()
    graph = defs.resolve_asset_graph()
    upstream = set(graph.upstream_key_iterator(dg.AssetKey(["marts", "sla_by_base_daily"])))
    assert {dg.AssetKey(["logistics", "visits"]), dg.AssetKey(["logistics", "technicians"])} <= upstream
    assert dg.AssetKey(["logistics", "customers"]) in set(
        graph.upstream_key_iterator(dg.AssetKey(["staging", "stg_logistics__customers"]))
    )
    for key in ("sla_by_technician_daily", "sla_by_base_monthly", "productivity_by_technician_monthly"):
        assert graph.get(dg.AssetKey(["marts", key])).automation_condition is not None
    sensors = {s.name: s for s in defs.sensors}
    for name in ("logistics_visits_landing_sensor", "logistics_customers_landing_sensor"):
        assert sensors[name].default_status == dg.DefaultSensorStatus.RUNNING
    assert defs.resolve_job_def("erase_customer") is not None
    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    assert {("logistics/visits", "rows_conserved"), ("logistics/customers", "rows_conserved")} <= checks
