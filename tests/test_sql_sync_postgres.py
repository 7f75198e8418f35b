"""SQL sync from a real PostgreSQL source (the demo databases' dialect) into the warehouse.

The shared contract runs with the portable SQLAlchemy reader (server-side named cursor); then the
PostgreSQL specifics: ``timestamptz`` source columns keep their instant, and a source without a URL
outside demo mode fails fast, naming the variable, without touching the other sources.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import psycopg
import pytest

from factory_assets.demo.sql_sources import create_demo_sources, ddl
from factory_assets.sql_sources.assets import build_sql_source_assets, sql_source_resources
from factory_assets.sql_sources.sync import sync_table
from factory_assets.sql_sources.tables import TableSpec
from resources.embedded import EmbeddedNotRunning
from resources.sql_source import SourceNotConfigured, SqlSourceResource
from resources.warehouse import WarehouseResource
from tests.sql_fixtures import TODAY, SyncContract, execute, postgres_url, rows, wh  # noqa: F401

DATA_VERSION_TAG = "dagster/data_version"  # the tag a materialisation carries its data version in

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def source_url(postgres_url):  # noqa: F811
    return postgres_url


class TestPostgres(SyncContract):
    reader = "auto"
    expected_reader = "sqlalchemy"

    def down_url(self) -> str:
        return "postgresql://factory:s3cret@127.0.0.1:1/erp"


def test_timestamptz_source_columns_keep_their_instant(postgres_url, wh):  # noqa: F811
    execute(
        postgres_url,
        'CREATE TABLE "Stamps" (id int PRIMARY KEY, aware timestamptz, naive timestamp)',
        """INSERT INTO "Stamps" VALUES (1, '2024-10-27 02:30:00.000007+02', '2024-10-27 01:59:59.999999'),
                                       (2, NULL, NULL)""",
    )
    wh.execute("CREATE TABLE raw.plant__stamps (id bigint PRIMARY KEY, aware timestamptz, naive timestamptz)")
    spec = TableSpec("plant", "Stamps", "snapshot")
    r = sync_table(spec, SqlSourceResource(source="plant", url=postgres_url, timezone="Europe/Paris"), wh)
    assert r.rows_inserted == 2 and r.conserved
    utc = ZoneInfo("UTC")
    assert dict((i, (a, n)) for i, a, n in rows(wh, "SELECT * FROM raw.plant__stamps")) == {
        1: (
            dt.datetime(2024, 10, 27, 0, 30, 0, 7, tzinfo=utc),
            dt.datetime(2024, 10, 26, 23, 59, 59, 999999, tzinfo=utc),
        ),
        2: (None, None),
    }


def test_unset_url_outside_demo_mode_fails_fast_naming_the_variable(postgres_url, factory_env, monkeypatch):  # noqa: F811
    create_demo_sources(postgres_url, sources=("plant",), today=TODAY)
    monkeypatch.delenv("FACTORY_MES_URL", raising=False)
    monkeypatch.setenv("FACTORY_PLANT_DB_URL", postgres_url)
    with pytest.raises(SourceNotConfigured, match="FACTORY_MES_URL"):
        SqlSourceResource(source="mes").resolved_url()
    assets = [a for a in build_sql_source_assets(retry_policy=None) if a.key.path[0] in ("mes", "plant")]
    resources = {
        "warehouse": WarehouseResource(url=dg.EnvVar("FACTORY_WAREHOUSE_URL")),
        **sql_source_resources(),
    }
    result = dg.materialize(assets, resources=resources, raise_on_error=False)
    assert not result.success
    failures = result.get_step_failure_events()
    assert {f.step_key.split("__")[0] for f in failures} == {"mes"}
    assert all(
        "FACTORY_MES_URL" in str(f.event_specific_data.user_failure_data.description) for f in failures
    )
    with psycopg.connect(factory_env["warehouse_url"]) as conn:  # the other source was not affected
        assert rows(conn, "SELECT count(*) FROM raw.plant__production_raw")[0][0] > 0


def test_the_data_version_changes_only_when_a_sync_changes_rows(postgres_url, factory_env, monkeypatch):  # noqa: F811
    """A scheduled sync that finds nothing new keeps the mirror's data version, so the automation
    does not rebuild the models downstream (tests/test_definitions.py shows that side); a changed
    row gives a new version."""
    create_demo_sources(postgres_url, sources=("plant",), today=TODAY)
    monkeypatch.setenv("FACTORY_PLANT_DB_URL", postgres_url)
    assets = [a for a in build_sql_source_assets(retry_policy=None) if a.key.path[0] == "plant"]
    resources = {
        "warehouse": WarehouseResource(url=dg.EnvVar("FACTORY_WAREHOUSE_URL")),
        **sql_source_resources(),
    }

    def sync(instance) -> str:
        result = dg.materialize(assets, resources=resources, instance=instance)
        (event,) = result.get_asset_materialization_events()
        return event.materialization.tags[DATA_VERSION_TAG]

    with dg.instance_for_test() as instance:
        first = sync(instance)
        assert first != "0"  # the first sync inserted the demo rows
        assert sync(instance) == first  # nothing changed at the source
        execute(
            postgres_url,
            "UPDATE production_raw SET scrap_qty = scrap_qty + 1 WHERE id = (SELECT min(id) FROM production_raw)",
        )
        changed = sync(instance)
        assert changed != first
        assert sync(instance) == changed
        execute(postgres_url, "DELETE FROM production_raw WHERE id = (SELECT max(id) FROM production_raw)")
        assert sync(instance) not in (first, changed)  # a deletion is a change too


def test_demo_mode_resolution_and_redaction(tmp_path, monkeypatch):
    """No FACTORY_WAREHOUSE_URL = demo mode: an unset source URL means the embedded ``<source>_demo``."""
    monkeypatch.delenv("FACTORY_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("FACTORY_ERP_URL", raising=False)
    monkeypatch.setenv("FACTORY_HOME", str(tmp_path))
    with pytest.raises(EmbeddedNotRunning, match="not running"):
        SqlSourceResource(source="erp").resolved_url()
    resource = SqlSourceResource(source="plant", url="mysql://u:pw@db:3306/plant")
    assert resource.display_url() == "mysql+pymysql://u:***@db:3306/plant"
    monkeypatch.setenv("FACTORY_TIMEZONE", "Europe/Rome")
    monkeypatch.setenv("FACTORY_PLANT_DB_TIMEZONE", "America/Chicago")
    assert resource.resolved_timezone() == "America/Chicago"
    assert SqlSourceResource(source="oltp").resolved_timezone() == "Europe/Rome"


def test_demo_ddl_renders_for_both_dialects():
    mysql = "\n".join(ddl("erp", "mysql"))
    pg = "\n".join(ddl("erp", "postgresql"))
    assert "CREATE TABLE `A_Kopf`" in mysql and "`AuNummer`" in mysql and "AUTO_INCREMENT" in mysql
    assert 'CREATE TABLE "A_Kopf"' in pg and '"AuNummer"' in pg
    assert "DATETIME(6)" in "\n".join(ddl("mes", "mysql"))
