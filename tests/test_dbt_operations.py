"""Operations from drops to marts, on a real PostgreSQL, against figures computed by hand, and the
gateway's read endpoints over real HTTP on the result (as the read-only role bi_reader).

Scenario (plant time Europe/Paris, CEST = UTC+2 on 2024-05-01):

* MES orders: 1 (IN CORSO, lines FLG x3 + ALB x1), 2 (IN ATTESA, COR x5), 3 (IN CORSO, the oldest,
  FLG x2), 4 (ANNULLATO, COR x1). Pieces FLG 5.0–5.6 kg / 1150–1250 °C, ALB 12.5–13.4 kg /
  1180–1240 °C, COR without limits. Warehouse: FLG 100 as of 10:02, ALB 7 as of 2024-04-30.
* Drop 1: order 1's three FLG forgings ending 09:30, 10:04 and 10:09 (one at 1,290 °C, one at
  5.9 kg: OUT_OF_PIECE_RANGE, values kept), its ALB CNC ending 11:00; one FLG for order 3 ending
  12:00; one FLG for order 999 (UNKNOWN_ORDER_LINE); a record without an order id (rejected);
  one with a weight "n/d" for order 3 (INVALID_FIELD: loaded, counts a unit).
* Drop 2: order 1's ALB record again (a duplicate, not counted twice) and a broken file.

Hand-computed results:

* order 1: FLG 3/3, ALB 1/1 -> COMPLETED, completed at its last operation's end 11:00 (09:00 UTC);
* order 3: FLG 2 produced of 2 ("n/d" record included) -> COMPLETED at 12:30 local;
  order 2: 0 of 5 -> IN ATTESA, 5 remaining; order 4: ANNULLATO;
* next pieces: only order 2 is pending with an open line -> rank 1 = (2, COR, 5);
* stock: FLG 100 + the units after 10:02 (10:04, 10:09, 12:00, 12:30, 13:00 = 5; 09:30 is
  before) = 105; ALB 7 + 1 = 8;
* data quality: missing_order_id 1, file_quarantined 1, anomaly:INVALID_FIELD:peso_effettivo 1,
  anomaly:OUT_OF_PIECE_RANGE:peso_effettivo 1, anomaly:OUT_OF_PIECE_RANGE:temperatura_effettiva 1,
  anomaly:UNKNOWN_ORDER_LINE:codice_pezzo 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from factory_assets.ingest.roles import ensure_bi_reader
from factory_assets.ingest.run import run_ingest
from factory_assets.operations.kind import OPERATIONS
from gateway.app import create_app
from gateway.config import GatewaySettings
from resources.landing import LandingZoneResource
from resources.warehouse import WarehouseResource
from tests.dbt_harness import PG_HOST, PG_PORT, PG_USER, connect, run_dbt, scratch_database
from tests.dbt_harness import rows as _rows
from tests.gateway_helpers import INGEST_KEY, READ_KEY, serve
from tests.test_operations_records import cnc, forging

SELECTION = ["+path:models/marts/operations", "+data_quality_daily"]
BI_PASSWORD = "bi-reader-test-password"



DROP_1 = [
    forging(id_ordine=1, timestamp_inizio="2024-05-01 09:26:00", timestamp_fine="2024-05-01 09:30:00"),
    forging(id_ordine=1, timestamp_inizio="2024-05-01 10:00:00", timestamp_fine="2024-05-01 10:04:00",
            temperatura_effettiva=1290.0),
    forging(id_ordine=1, timestamp_inizio="2024-05-01 10:05:00", timestamp_fine="2024-05-01 10:09:00",
            peso_effettivo=5.9),
    cnc(id_ordine=1, codice_pezzo="ALB", timestamp_inizio="2024-05-01T08:30:00Z", timestamp_fine="2024-05-01T09:00:00Z"),
    forging(id_ordine=3, timestamp_inizio="2024-05-01 11:56:00", timestamp_fine="2024-05-01 12:00:00"),
    forging(id_ordine=999, timestamp_inizio="2024-05-01 12:56:00", timestamp_fine="2024-05-01 13:00:00"),
    {k: v for k, v in forging().items() if k != "id_ordine"},
    forging(id_ordine=3, timestamp_inizio="2024-05-01 12:26:00", timestamp_fine="2024-05-01 12:30:00",
            peso_effettivo="n/d"),
]  # fmt: skip
for r in DROP_1:
    if r.get("codice_pezzo") == "FLG-0100":
        r["codice_pezzo"] = "FLG"
DROP_2 = [DROP_1[3]]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Iterator[dict]:
    work = tmp_path_factory.mktemp("dbt_ops")
    landing = work / "landing"
    (landing / "operations").mkdir(parents=True)
    (landing / "operations" / "drop_1.json").write_text(json.dumps(DROP_1))
    with scratch_database("test_dbt_ops") as dbname, pytest.MonkeyPatch.context() as mp:
        mp.setenv("FACTORY_TIMEZONE", "Europe/Paris")
        mp.delenv("FACTORY_OPERATIONS_TIMEZONE", raising=False)
        url = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{dbname}"
        with connect(dbname) as conn:
            conn.execute(
                "INSERT INTO raw.mes__ordine (id_ordine, id_cliente, data_inizio, totale_pezzi, stato) VALUES "
                "(1, 501, '2024-05-01 06:00+02', 4, 'IN CORSO'), (2, 502, '2024-05-01 07:00+02', 5, 'IN ATTESA'), "
                "(3, 503, '2024-04-30 06:00+02', 2, 'IN CORSO'), (4, 504, '2024-04-29 06:00+02', 1, 'ANNULLATO')"
            )
            conn.execute(
                "INSERT INTO raw.mes__pezzi (codice_pezzo, nome, peso_min, peso_max, temperatura_min, "
                "temperatura_max) VALUES ('FLG', 'Flangia', 5.0, 5.6, 1150, 1250), "
                "('ALB', 'Albero', 12.5, 13.4, 1180, 1240), ('COR', 'Corona', NULL, NULL, NULL, NULL)"
            )
            conn.execute(
                "INSERT INTO raw.mes__pezzi_ordine (id_ordine, codice_pezzo, quantita_totale) VALUES "
                "(1, 'FLG', 3), (1, 'ALB', 1), (2, 'COR', 5), (3, 'FLG', 2), (4, 'COR', 1)"
            )
            conn.execute(
                "INSERT INTO raw.mes__magazzino (codice_pezzo, quantita_disponibile, data_ultimo_aggiornamento) "
                "VALUES ('FLG', 100, '2024-05-01 10:02+02'), ('ALB', 7, '2024-04-30 18:00+02')"
            )
        zone = LandingZoneResource(url=landing.as_uri())
        archive = LandingZoneResource(url=(work / "archive").as_uri())
        run_ingest(OPERATIONS, WarehouseResource(url=url), zone, archive, run_id="t1")
        (landing / "operations" / "drop_2.json").write_text(json.dumps(DROP_2))
        (landing / "operations" / "broken.json").write_text('[{"id_ordine": 1,')
        run_ingest(OPERATIONS, WarehouseResource(url=url), zone, archive, run_id="t2")
        with connect(dbname, autocommit=True) as conn:
            notes = ensure_bi_reader(conn, BI_PASSWORD)
        assert notes == []
        run_dbt(dbname, work, "build", select=SELECTION, cautious=True)
        yield {"dbname": dbname, "url": url, "landing": landing}


def rows(scenario, sql: str) -> list[dict]:
    return _rows(scenario["dbname"], sql)


def test_order_completion_and_remaining_quantities_match_the_hand_computed_example(scenario):
    status = {r["order_id"]: r for r in rows(scenario, "SELECT * FROM marts.order_status")}
    assert {k: (v["status"], v["remaining_quantity"], v["units_produced"]) for k, v in status.items()} == {
        1: ("COMPLETED", 0, 4),
        2: ("IN ATTESA", 5, 0),
        3: ("COMPLETED", 0, 2),
        4: ("ANNULLATO", 1, 0),
    }
    assert status[1]["completed_at"].isoformat() == "2024-05-01T09:00:00+00:00"
    assert status[3]["completed_at"].isoformat() == "2024-05-01T10:30:00+00:00"
    assert status[2]["completed_at"] is None and status[2]["is_pending"]
    lines = rows(scenario, "SELECT order_id, piece_code, total_quantity, units_produced, remaining_quantity "
                           "FROM marts.order_lines ORDER BY 1, 2")  # fmt: skip
    assert [tuple(r.values()) for r in lines] == [
        (1, "ALB", 1, 1, 0), (1, "FLG", 3, 3, 0), (2, "COR", 5, 0, 5), (3, "FLG", 2, 2, 0), (4, "COR", 1, 0, 1),
    ]  # fmt: skip
    assert [(r["rank"], r["order_id"], r["piece_code"], r["remaining_quantity"])
            for r in rows(scenario, "SELECT * FROM marts.next_pieces ORDER BY rank")] == [(1, 2, "COR", 5)]  # fmt: skip


def test_warehouse_stock_after_production(scenario):
    stock = {r["piece_code"]: r for r in rows(scenario, "SELECT * FROM marts.warehouse_stock")}
    assert set(stock) == {"FLG", "ALB"}
    assert (stock["FLG"]["synced_quantity"], stock["FLG"]["units_produced_since"], stock["FLG"]["quantity_available"]) == (100, 5, 105)
    assert (stock["ALB"]["quantity_available"], stock["ALB"]["in_mes_warehouse"]) == (8, True)


def test_operations_anomalies_and_data_quality(scenario):
    ops = rows(scenario, "SELECT order_id, weight_kg, temperature_c, anomaly_count FROM marts.operations ORDER BY file_version_id, record_no")
    assert len(ops) == 7  # 8 records, 1 rejected; drop 2's copy is not loaded again
    assert [o["anomaly_count"] for o in ops] == [0, 1, 1, 0, 0, 1, 1]
    assert ops[1]["temperature_c"] == 1290 and float(ops[2]["weight_kg"]) == 5.9  # kept: piece range only
    found = sorted((r["code"], r["field"], r["found_at"]) for r in rows(scenario, "SELECT * FROM marts.operation_anomalies"))
    assert found == [
        ("INVALID_FIELD", "peso_effettivo", "load"),
        ("OUT_OF_PIECE_RANGE", "peso_effettivo", "build"),
        ("OUT_OF_PIECE_RANGE", "temperatura_effettiva", "build"),
        ("UNKNOWN_ORDER_LINE", "codice_pezzo", "build"),
    ]
    quality = {(r["reason"], r["rejected_rows"], r["file_versions"])
               for r in rows(scenario, "SELECT * FROM marts.data_quality_daily WHERE source = 'operations'")}  # fmt: skip
    assert quality == {
        ("missing_order_id", 1, 1),
        ("file_quarantined", 1, 1),
        ("anomaly:INVALID_FIELD:peso_effettivo", 1, 1),
        ("anomaly:OUT_OF_PIECE_RANGE:peso_effettivo", 1, 1),
        ("anomaly:OUT_OF_PIECE_RANGE:temperatura_effettiva", 1, 1),
        ("anomaly:UNKNOWN_ORDER_LINE:codice_pezzo", 1, 1),
    }
    days = {r["day"].isoformat() for r in rows(scenario, "SELECT day FROM marts.data_quality_daily WHERE source = 'operations' AND reason LIKE 'anomaly:%%'")}
    assert days == {"2024-05-01"}


def test_bi_reader_reads_marts_only(scenario):
    conninfo = dict(host=PG_HOST, port=PG_PORT, dbname=scenario["dbname"], user="bi_reader", password=BI_PASSWORD)
    with psycopg.connect(**conninfo) as conn:
        assert conn.execute("SELECT count(*) FROM marts.order_status").fetchone() == (4,)
        for table in ("raw.ingest_ledger", "raw.operations__operations", "staging.stg_operations__operations"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT 1 FROM {table}")
            conn.rollback()
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("DELETE FROM marts.order_status")
    with connect(scenario["dbname"]) as conn:
        role = conn.execute("SELECT rolcanlogin, rolpassword LIKE 'SCRAM-SHA-256$%%' FROM pg_authid "
                            "WHERE rolname = 'bi_reader'").fetchone()  # fmt: skip
    assert role == (True, True)


# --- the gateway's read endpoints on these marts ------------------------------------------------


@pytest.fixture(scope="module")
def gateway(scenario) -> Iterator[httpx.Client]:
    settings = GatewaySettings(
        ingest_key=INGEST_KEY, read_key=READ_KEY, landing_url=scenario["landing"].as_uri(),
        read_url=f"host={PG_HOST} port={PG_PORT} dbname={scenario['dbname']} user=bi_reader password={BI_PASSWORD}",
        timezone="Europe/Paris",
    )  # fmt: skip
    with serve(create_app(settings)) as base, httpx.Client(base_url=base, headers={"X-API-KEY": READ_KEY}) as client:
        yield client


def test_order_status_list_filters_sorts_and_pages(gateway):
    page = gateway.get("/v1/orders", params={"sort_field": "order_id"}).json()
    assert [o["order_id"] for o in page["items"]] == [1, 2, 3, 4] and page["total"] == 4
    assert page["items"][0]["completed_at"] == "2024-05-01T09:00:00+00:00"
    assert "customer_id" not in page["items"][0]
    desc = gateway.get("/v1/orders", params={"sort_field": "order_id", "desc": True, "limit": 2, "offset": 1}).json()
    assert [o["order_id"] for o in desc["items"]] == [3, 2] and (desc["total"], desc["limit"], desc["offset"]) == (4, 2, 1)
    dated = gateway.get("/v1/orders", params={"start_date": "2024-05-01", "end_date": "2024-05-01"}).json()
    assert sorted(o["order_id"] for o in dated["items"]) == [1, 2]
    assert [o["order_id"] for o in gateway.get("/v1/orders", params={"status": "COMPLETED"}).json()["items"]] == [3, 1]
    assert [o["order_id"] for o in gateway.get("/v1/orders", params={"pending": True}).json()["items"]] == [2]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 5000}, "limit"),
        ({"offset": -1}, "offset"),
        ({"sort_field": "customer_id; DROP TABLE x"}, "sort_field"),
        ({"start_date": "01/05/2024"}, "start_date"),
        ({"end_date": "2024-13-01"}, "end_date"),
        ({"start_date": "2024-05-02", "end_date": "2024-05-01"}, "start_date"),
        ({"desc": "maybe"}, "desc"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(gateway, params, named):
    response = gateway.get("/v1/orders", params=params)
    assert response.status_code == 400
    assert named in response.json()["detail"]


def test_one_order_with_its_lines_and_the_next_pieces(gateway):
    order = gateway.get("/v1/orders/1").json()
    assert (order["status"], order["remaining_quantity"]) == ("COMPLETED", 0)
    assert [(l["piece_code"], l["remaining_quantity"]) for l in order["lines"]] == [("ALB", 0), ("FLG", 0)]  # noqa: E741
    assert gateway.get("/v1/orders/999").status_code == 404
    assert gateway.get("/v1/orders/abc").status_code == 400
    assert gateway.get("/v1/next-pieces").json() == {
        "items": [{"rank": 1, "order_id": 2, "piece_code": "COR", "piece_name": "Corona", "remaining_quantity": 5,
                   "total_quantity": 5, "units_produced": 0, "order_status": "IN ATTESA",
                   "order_started_at": "2024-05-01T05:00:00+00:00"}]
    }  # fmt: skip
    stock = gateway.get("/v1/warehouse-stock", params={"sort_field": "quantity_available", "desc": True}).json()
    assert [(s["piece_code"], s["quantity_available"]) for s in stock["items"]] == [("FLG", 105), ("ALB", 8)]


def test_machine_endpoints_answer_from_their_marts(gateway):
    # machine-log marts are not built in this scenario: a clear 503, never a 500
    response = gateway.get("/v1/machine-sessions")
    assert response.status_code == 503 and "not built" in response.json()["detail"]


def test_reads_need_the_read_key(gateway):
    assert gateway.get("/v1/orders", headers={"X-API-KEY": INGEST_KEY}).status_code == 401
    assert gateway.get("/v1/next-pieces", headers={"X-API-KEY": ""}).status_code == 401
    health = gateway.get("/v1/health", headers={"X-API-KEY": ""}).json()
    assert health == {"status": "ok", "warehouse": {"ok": True}, "landing_zone": {"ok": True}}
