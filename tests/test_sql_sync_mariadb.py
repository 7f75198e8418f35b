"""SQL sync from a real MariaDB source into a real PostgreSQL warehouse, with both MySQL readers.

The shared contract (``tests.sql_fixtures.SyncContract``) runs once per reader: ``connectorx`` (the
fast path) and ``pymysql`` (portable, text mode). MySQL specifics follow: zero dates, ``TIMESTAMP``
columns (stored in UTC by the server), exact decimals, and the Dagster assets themselves.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
import sqlalchemy as sa

from factory_assets.demo.sql_sources import create_demo_sources
from factory_assets.sql_sources.assets import build_sql_source_assets, sql_source_resources
from factory_assets.sql_sources.sync import sync_table
from factory_assets.sql_sources.tables import TableSpec, tables_for
from resources.sql_source import SqlSourceResource
from resources.warehouse import WarehouseResource
from tests.sql_fixtures import TODAY, SyncContract, execute, mariadb_url, one, postgres_url, rows, wh  # noqa: F401

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def source_url(mariadb_url):  # noqa: F811
    return mariadb_url


class TestMariaDBConnectorx(SyncContract):
    reader = expected_reader = "connectorx"

    def down_url(self) -> str:
        return "mysql+pymysql://factory:s3cret@127.0.0.1:1/erp"


class TestMariaDBPymysql(SyncContract):
    reader = expected_reader = "pymysql"

    def down_url(self) -> str:
        return "mysql+pymysql://factory:s3cret@127.0.0.1:1/erp"


TYPES_SPEC = TableSpec("erp", "ZZ_Types", "snapshot")


@pytest.mark.parametrize("reader", ["connectorx", "pymysql", "sqlalchemy"])
def test_mysql_zero_dates_timestamps_decimals(mariadb_url, wh, reader):  # noqa: F811
    execute(
        mariadb_url,
        "SET SESSION sql_mode = ''",
        """CREATE TABLE ZZ_Types (ID int PRIMARY KEY, Tag date, Stempel datetime(6), Utc timestamp(6) NULL,
                                  Dauer time, Betrag decimal(18,4), Notiz varchar(20))""",
        "SET time_zone = '+00:00'",
        """INSERT INTO ZZ_Types VALUES
             (1, '0000-00-00', '0000-00-00 00:00:00', '2024-07-01 10:00:00.000001', '07:30:15',
              12345678901234.5678, ''),
             (2, '2024-07-01', '2024-07-01 12:00:00.5', NULL, NULL, NULL, NULL)""",
    )
    wh.execute(
        """CREATE TABLE raw.erp__zz_types (id bigint PRIMARY KEY, tag date, stempel timestamptz,
               utc timestamptz, dauer time, betrag numeric, notiz text, _synced_at timestamptz DEFAULT now())"""
    )
    source = SqlSourceResource(source="erp", url=mariadb_url, reader=reader, timezone="Europe/Paris")
    r = sync_table(TYPES_SPEC, source, wh)
    assert r.reader == reader and r.rows_inserted == 2 and r.conserved
    got = {
        row[0]: row[1:]
        for row in rows(wh, "SELECT id, tag, stempel, utc, dauer, betrag::text, notiz FROM raw.erp__zz_types")
    }
    utc = ZoneInfo("UTC")
    assert got[1] == (
        None,  # zero dates become NULL, as with every MySQL driver
        None,
        dt.datetime(2024, 7, 1, 10, 0, 0, 1, tzinfo=utc),  # TIMESTAMP: UTC whatever the source zone
        dt.time(7, 30, 15),
        "12345678901234.5678",
        "",  # empty string is not NULL
    )
    assert got[2] == (
        dt.date(2024, 7, 1),
        dt.datetime(2024, 7, 1, 10, 0, 0, 500000, tzinfo=utc),  # DATETIME: Paris summer time
        None,
        None,
        None,
        None,
    )


def test_dagster_assets_materialize_with_a_mariadb_erp(mariadb_url, factory_env, monkeypatch):  # noqa: F811
    """The real assets, resources from the environment (non-demo), checks evaluated."""
    create_demo_sources(mariadb_url, sources=("erp",), today=TODAY)
    monkeypatch.setenv("FACTORY_ERP_URL", mariadb_url)
    monkeypatch.delenv("FACTORY_ERP_TIMEZONE", raising=False)
    erp = [a for a in build_sql_source_assets(retry_policy=None) if a.key.path[0] == "erp"]
    assert len(erp) == len(tables_for("erp"))
    resources = {
        "warehouse": WarehouseResource(url=dg.EnvVar("FACTORY_WAREHOUSE_URL")),
        **sql_source_resources(),
    }
    result = dg.materialize(erp, resources=resources, tags={"factory/source": "erp"})
    assert result.success
    mats = {
        e.asset_key.path[1]: e.event_specific_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert mats["a_kopf"]["rows_read"].value == 240 and mats["a_kopf"]["reader"].value == "connectorx"
    assert mats["a_kopf"]["source_url"].value == mariadb_url
    assert mats["a_logbuch"]["watermark"].value == str(
        one_source(mariadb_url, "SELECT max(ID) FROM A_Logbuch")
    )
    checks = result.get_asset_check_evaluations()
    assert len(checks) == len(erp) and all(c.passed for c in checks)

    again = dg.materialize(erp, resources=resources)
    assert again.success
    written = [
        e.event_specific_data.materialization.metadata["rows_upserted"].value
        for e in again.get_asset_materialization_events()
    ]
    assert written == [0] * len(erp)


def one_source(url: str, query: str):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(query)).scalar()
    finally:
        engine.dispose()
