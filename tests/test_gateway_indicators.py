"""Field-service indicators over real HTTP (uvicorn on loopback), read as ``bi_reader`` from the
logistics marts: period filters, sorting, paging, validation, and no personal data."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from factory_assets.ingest.roles import ensure_bi_reader
from gateway.app import create_app
from gateway.config import GatewaySettings
from tests.dbt_harness import PG_HOST, PG_PORT, connect, scratch_database
from tests.gateway_helpers import INGEST_KEY, READ_KEY, serve

BI_PASSWORD = "bi-reader-indicators-test"
# (visit_date, technician_key, base, visits, on_time)
DAILY = [
    ("2024-03-04", "tk_a", "CE - JUAZEIRO DO NORTE", 10, 9),
    ("2024-03-05", "tk_a", "CE - JUAZEIRO DO NORTE", 10, 6),
    ("2024-03-05", "tk_b", "CE - CRATO", 4, 4),
    ("2024-04-01", "tk_b", "CE - CRATO", 6, 3),
    ("2024-04-02", "tk_c", "PE - PETROLINA", 5, 5),
]
# (month, technician_key, visits, business_days)
MONTHLY = [
    ("2024-03-01", "tk_a", 20, 21),
    ("2024-03-01", "tk_b", 4, 21),
    ("2024-04-01", "tk_b", 6, 22),
    ("2024-04-01", "tk_c", 5, 22),
]


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[httpx.Client]:
    with scratch_database("test_indicators") as dbname:
        with connect(dbname, autocommit=True) as conn:
            conn.execute("CREATE SCHEMA IF NOT EXISTS marts")
            for table, key in (("sla_by_technician_daily", "technician_key"), ("sla_by_base_daily", "base")):
                conn.execute(
                    f"CREATE TABLE marts.{table} (visit_date date, {key} text, visits integer, "
                    "on_time_visits integer, late_visits integer, sla_pct numeric)"
                )
            conn.execute(
                "CREATE TABLE marts.productivity_by_technician_monthly (month date, technician_key text, "
                "visits integer, business_days integer, visits_per_business_day numeric)"
            )
            with conn.cursor() as cur:
                for day, tech, base, visits, on_time in DAILY:
                    row = (day, visits, on_time, visits - on_time, round(100 * on_time / visits, 2))
                    cur.execute(
                        "INSERT INTO marts.sla_by_technician_daily VALUES (%s, %s, %s, %s, %s, %s)",
                        (row[0], tech, *row[1:]),
                    )
                    cur.execute(
                        "INSERT INTO marts.sla_by_base_daily VALUES (%s, %s, %s, %s, %s, %s)",
                        (row[0], base, *row[1:]),
                    )
                for month, tech, visits, days in MONTHLY:
                    cur.execute(
                        "INSERT INTO marts.productivity_by_technician_monthly VALUES (%s, %s, %s, %s, %s)",
                        (month, tech, visits, days, round(visits / days, 2)),
                    )
            assert ensure_bi_reader(conn, BI_PASSWORD) == []
        settings = GatewaySettings(
            ingest_key=INGEST_KEY,
            read_key=READ_KEY,
            landing_url=tmp_path_factory.mktemp("landing").as_uri(),
            read_url=f"host={PG_HOST} port={PG_PORT} dbname={dbname} user=bi_reader password={BI_PASSWORD}",
            timezone="Europe/Paris",
        )
        with (
            serve(create_app(settings)) as base,
            httpx.Client(base_url=base, headers={"X-API-KEY": READ_KEY}) as c,
        ):
            yield c


def test_sla_per_technician_over_a_period_is_the_ratio_of_the_sums(client):
    page = client.get("/v1/indicators/sla/technician", params={"sort_field": "technician_key"}).json()
    assert page["total"] == 3 and [r["technician_key"] for r in page["items"]] == ["tk_a", "tk_b", "tk_c"]
    a = page["items"][0]
    assert (a["visits"], a["on_time_visits"], a["late_visits"], a["sla_pct"]) == (20, 15, 5, 75.0)
    assert (a["first_visit_date"], a["last_visit_date"]) == ("2024-03-04", "2024-03-05")
    march = client.get(
        "/v1/indicators/sla/technician", params={"start_date": "2024-03-05", "end_date": "2024-03-31"}
    ).json()
    assert {r["technician_key"]: r["sla_pct"] for r in march["items"]} == {"tk_a": 60.0, "tk_b": 100.0}


def test_sla_per_base_sorts_and_pages(client):
    page = client.get(
        "/v1/indicators/sla/base", params={"sort_field": "visits", "desc": "true", "limit": 2}
    ).json()
    assert page["total"] == 3 and page["limit"] == 2
    assert [(r["base"], r["visits"]) for r in page["items"]] == [
        ("CE - JUAZEIRO DO NORTE", 20),
        ("CE - CRATO", 10),
    ]
    rest = client.get(
        "/v1/indicators/sla/base", params={"sort_field": "visits", "desc": "true", "limit": 2, "offset": 2}
    )
    assert [r["base"] for r in rest.json()["items"]] == ["PE - PETROLINA"]
    worst = client.get("/v1/indicators/sla/base", params={"sort_field": "sla_pct"}).json()["items"][0]
    assert (worst["base"], worst["sla_pct"]) == ("CE - CRATO", 70.0)


def test_productivity_sums_visits_and_business_days_of_the_months_of_the_period(client):
    page = client.get("/v1/indicators/productivity", params={"sort_field": "technician_key"}).json()
    b = next(r for r in page["items"] if r["technician_key"] == "tk_b")
    assert (b["visits"], b["business_days"], b["months"], b["visits_per_business_day"]) == (10, 43, 2, 0.23)
    # a period from 15 March to 10 April takes both whole months; one inside April only April
    assert (
        client.get(
            "/v1/indicators/productivity", params={"start_date": "2024-03-15", "end_date": "2024-04-10"}
        ).json()["total"]
        == 3
    )
    april = client.get(
        "/v1/indicators/productivity",
        params={"start_date": "2024-04-05", "end_date": "2024-04-20", "sort_field": "visits", "desc": "true"},
    ).json()
    assert [(r["technician_key"], r["visits"], r["business_days"]) for r in april["items"]] == [
        ("tk_b", 6, 22),
        ("tk_c", 5, 22),
    ]


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        ("/v1/indicators/sla/technician", {"start_date": "03/04/2024"}, "start_date"),
        ("/v1/indicators/sla/base", {"end_date": "2024-02-30"}, "end_date"),
        ("/v1/indicators/productivity", {"sort_field": "name"}, "sort_field"),
        ("/v1/indicators/productivity", {"limit": "0"}, "limit"),
        ("/v1/indicators/sla/base", {"start_date": "2024-05-01", "end_date": "2024-04-01"}, "start_date"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(client, path, params, named):
    r = client.get(path, params=params)
    assert r.status_code == 400 and named in r.text


def test_indicators_need_the_read_key_and_carry_no_personal_data(client):
    for path in ("/v1/indicators/sla/technician", "/v1/indicators/sla/base", "/v1/indicators/productivity"):
        assert client.get(path, headers={"X-API-KEY": "wrong"}).status_code == 401
        body = client.get(path).json()
        keys = set().union(*(row.keys() for row in body["items"]))
        assert not keys & {"name", "email", "phone", "angel", "technician", "customer_name"}
