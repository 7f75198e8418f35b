"""Schemathesis against the gateway's own OpenAPI document, over real HTTP (uvicorn on loopback),
with a real warehouse behind the read endpoints (empty marts, read as bi_reader):

* with the right keys, no generated request (valid or not) gets a 5xx;
* with a wrong or missing key, no request reads or writes anything: every answer is 401/403
  (the health check: 200 without details; a method the document does not have: 405), no answer
  carries data, the landing zone stays empty.

Bounded: a fixed number of examples per operation (``MAX_EXAMPLES``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from factory_assets.ingest.roles import ensure_bi_reader
from gateway.app import create_app
from gateway.config import GatewaySettings
from tests.dbt_harness import PG_HOST, PG_PORT, connect, scratch_database
from tests.gateway_helpers import INGEST_KEY, READ_KEY, serve

MAX_EXAMPLES = 25
PASSWORD = "fuzz-bi-reader"
# empty marts with the columns the endpoints read (the dbt tests build the real ones)
MARTS = {
    "order_status": "order_id bigint, status text, mes_status text, started_at timestamptz, "
    "mes_ended_at timestamptz, lines bigint, open_lines bigint, total_quantity bigint, units_produced bigint, "
    "remaining_quantity bigint, progress_pct numeric, last_operation_at timestamptz, completed_at timestamptz, "
    "is_pending boolean",
    "order_lines": "order_id bigint, piece_code text, piece_name text, total_quantity bigint, units_produced bigint, "
    "remaining_quantity bigint, excess_units bigint, last_produced_at timestamptz",
    "next_pieces": "rank integer, order_id bigint, piece_code text, piece_name text, remaining_quantity bigint, "
    "total_quantity bigint, units_produced bigint, order_status text, order_started_at timestamptz",
    "warehouse_stock": "piece_code text, piece_name text, synced_quantity bigint, stock_updated_at timestamptz, "
    "units_produced_since bigint, quantity_available bigint, last_produced_at timestamptz, in_mes_warehouse boolean",
    "machine_sessions": "centre text, production_date date, pieces bigint, job_profiles bigint, "
    "first_piece_at timestamptz, last_piece_at timestamptz, production_span_h numeric, wait_h numeric, stop_h numeric, "
    "downtime_h numeric, effective_h numeric, occupation_rate_pct numeric, wait_rate_pct numeric, "
    "stop_rate_pct numeric, stops bigint, waits bigint, lines_in bigint, lines_rejected bigint",
    "oee_daily": "centre text, shift_date date, shift_name text, shift_start_at timestamptz, shift_end_at timestamptz, "
    "has_log boolean, planned_busy_time_h numeric, actual_production_time_h numeric, stops bigint, waits bigint, "
    "pieces bigint, availability numeric, performance numeric, quality numeric, oee numeric, "
    "oee_excluding_quality numeric, mtbf_s numeric, mttr_s numeric",
    "sla_by_technician_daily": "visit_date date, technician_key text, visits integer, on_time_visits integer, "
    "late_visits integer, sla_pct numeric",
    "sla_by_base_daily": "visit_date date, base text, visits integer, on_time_visits integer, late_visits integer, "
    "sla_pct numeric",
    "productivity_by_technician_monthly": "month date, technician_key text, visits integer, business_days integer, "
    "visits_per_business_day numeric",
}


@pytest.fixture(scope="module")
def warehouse() -> Iterator[str]:
    with scratch_database("test_gateway_fuzz") as dbname:
        with connect(dbname, autocommit=True) as conn:
            conn.execute("CREATE SCHEMA IF NOT EXISTS marts")
            for table, columns in MARTS.items():
                conn.execute(f"CREATE TABLE marts.{table} ({columns})")
            assert ensure_bi_reader(conn, PASSWORD) == []
        yield f"host={PG_HOST} port={PG_PORT} dbname={dbname} user=bi_reader password={PASSWORD}"


@pytest.fixture(scope="module")
def gateways(warehouse, tmp_path_factory) -> Iterator[dict]:
    """Two gateways on one warehouse: one fuzzed with the right keys, one with wrong keys."""
    right, wrong = tmp_path_factory.mktemp("landing_right"), tmp_path_factory.mktemp("landing_wrong")

    def app(landing: Path):
        return create_app(
            GatewaySettings(ingest_key=INGEST_KEY, read_key=READ_KEY, landing_url=landing.as_uri(),
                            read_url=warehouse, max_body_bytes=64 << 10)  # fmt: skip
        )

    with serve(app(right)) as right_url, serve(app(wrong)) as wrong_url:
        yield {"right": right_url, "wrong": wrong_url, "right_landing": right, "wrong_landing": wrong}


# The document the gateway serves (test_the_served_document_is_the_one_fuzzed checks they are the
# same). Loaded at import rather than from the running server: schemathesis' lazy fixture loader
# does not work with pytest 9.
DOCUMENT = create_app(GatewaySettings(ingest_key=INGEST_KEY)).openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_the_served_document_is_the_one_fuzzed(gateways):
    import httpx

    assert httpx.get(gateways["right"] + "/openapi.json").json() == json.loads(json.dumps(DOCUMENT))
FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))


SEEN: dict[tuple[str, int], int] = {}  # (operation, status) -> requests, for the summary test


def _key(case) -> str:
    return INGEST_KEY if case.method.upper() == "POST" else READ_KEY


@schema.parametrize()
@FUZZ
def test_no_generated_request_gets_a_server_error(case, gateways):
    case.headers = {**(case.headers or {}), "X-API-KEY": _key(case)}
    response = case.call(base_url=gateways["right"])
    key = (f"{case.method.upper()} {case.path}", response.status_code)
    SEEN[key] = SEEN.get(key, 0) + 1
    case.validate_response(response, checks=[not_a_server_error])


@schema.parametrize()
@FUZZ
def test_no_request_with_a_wrong_key_reads_or_writes_anything(case, gateways):
    wrong = "wrong-" + _key(case)
    for headers in ({**(case.headers or {}), "X-API-KEY": wrong}, {k: v for k, v in (case.headers or {}).items()
                                                                   if k.lower() != "x-api-key"}):  # fmt: skip
        case.headers = headers
        response = case.call(base_url=gateways["wrong"])
        body = response.json() if response.content else {}
        if response.status_code == 405:  # another method than the document's: refused by the router
            assert set(body) <= {"detail"}
        elif case.path == "/v1/health":
            assert response.status_code == 200 and set(body) == {"status", "warehouse", "landing_zone"}
            assert all(set(v) == {"ok"} for k, v in body.items() if k != "status")
        else:
            assert response.status_code in (401, 403), (case.method, case.path, response.status_code, body)
            assert set(body) == {"detail"}, body
        assert not any(p.is_file() for p in gateways["wrong_landing"].rglob("*"))


def test_the_fuzzing_reached_the_write_and_read_paths(gateways):
    """Runs after the fuzz tests: they did get past the checks (drops written, rows read)."""
    if not SEEN:
        pytest.skip("the fuzz tests did not run in this session")
    assert SEEN.get(("POST /v1/operations", 202), 0) > 0, SEEN
    assert SEEN.get(("GET /v1/orders", 200), 0) > 0, SEEN
    assert any(Path(gateways["right_landing"]).rglob("*.json"))

