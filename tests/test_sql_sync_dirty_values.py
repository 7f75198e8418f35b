"""Dirty source values: the SQL sync converts what MySQL connectors convert, counts it, and names
the row of anything it still cannot load. Real MariaDB and PostgreSQL, every MySQL reader.

* A NUL character in a ``VARCHAR`` or ``TEXT`` is removed (PostgreSQL text cannot hold it).
* A date with a zero part (``0000-00-00``, ``2024-00-15``, ``2024-05-00``) in a ``DATE``,
  ``DATETIME`` or ``TIMESTAMP`` column, and an impossible date (``2024-02-30``, stored under
  ``ALLOW_INVALID_DATES``), become NULL.
* Each conversion is counted per source column in ``raw.sync_runs.conversions``, for the rows a run
  writes, and reaches ``marts.data_quality_daily``; every other row of the run is loaded.
* A value PostgreSQL refuses even so (a number too large for the raw column, a ``TIME`` beyond a
  day) fails the run with a message naming the source table, the column and the row's key.
"""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import dagster as dg
import psycopg
import pytest
import sqlalchemy as sa

from factory_assets.demo.sql_sources import create_demo_sources
from factory_assets.sql_sources.assets import build_sql_source_assets, sql_source_resources
from factory_assets.sql_sources.sync import UnloadableValue, sync_table
from factory_assets.sql_sources.tables import TABLES, TableSpec, table_spec
from resources.sql_source import SqlSourceResource
from resources.warehouse import WarehouseResource
from tests.dbt_harness import rows as dbt_rows
from tests.dbt_harness import run_dbt
from tests.sql_fixtures import TODAY, execute, mariadb_url, one, postgres_url, rows, wh  # noqa: F401

pytestmark = pytest.mark.timeout(300)

MYSQL_READERS = ["connectorx", "pymysql", "sqlalchemy"]
MODES = ["snapshot", "incremental"]
UTC = ZoneInfo("UTC")
PARIS = ZoneInfo("Europe/Paris")
TOTAL = 230  # rows in the dirty table: five batches of 50
BATCH = 50

# id -> (Tag, Stempel, Utc, Name, Notiz) as stored in MariaDB (sql_mode ALLOW_INVALID_DATES)
DIRTY = {
    # NUL in a VARCHAR and in a TEXT
    7: ("2024-03-08", "2024-03-08 10:00:00", None, "Mü\x00ller", "Zeile 1\x00Zeile 2"),
    60: ("2024-00-15", "2024-00-15 10:00:00", None, "n60", "note 60"),  # partial zero dates
    61: ("0000-00-00", "0000-00-00 00:00:00", "0000-00-00 00:00:00", "n61", "note 61"),  # zero dates
    120: ("2024-02-30", "2024-02-30 08:00:00", None, "n120", "note 120"),  # impossible dates
    121: ("2024-05-00", "2023-02-29 12:00:00", None, "n121", "note 121"),  # zero day; no 29 Feb in 2023
    180: ("2024-03-01", "2024-03-01 10:00:00", None, "n180", "\x00a\x00b\x00"),  # several NULs in a TEXT
    # good values at the edges: leap day, 31st, microseconds, empty string
    200: ("2024-02-29", "2024-01-31 23:59:59.999999", "2024-04-30 00:00:00", "", "note 200"),
}
EXPECTED_CONVERSIONS = {
    "ZZ_Dirty.Name": {"nul_removed": 1},
    "ZZ_Dirty.Notiz": {"nul_removed": 2},
    "ZZ_Dirty.Tag": {"zero_date_to_null": 3, "invalid_date_to_null": 1},
    "ZZ_Dirty.Stempel": {"zero_date_to_null": 2, "invalid_date_to_null": 2},
    "ZZ_Dirty.Utc": {"zero_date_to_null": 1},
}


def clean_row(i: int) -> tuple:
    day = dt.date(2024, 3, 1) + dt.timedelta(days=i % 28)
    return (day.isoformat(), f"{day} 10:00:00", f"{day} 08:00:00", f"n{i}", f"note {i}")


def create_dirty_table(url: str) -> None:
    values = [
        {
            "id": i,
            **dict(zip(("tag", "st", "utc", "name", "notiz"), DIRTY.get(i) or clean_row(i), strict=True)),
        }
        for i in range(1, TOTAL + 1)
    ]
    execute(
        url,
        "SET SESSION sql_mode = 'ALLOW_INVALID_DATES'",
        "SET time_zone = '+00:00'",
        """CREATE TABLE ZZ_Dirty (ID int PRIMARY KEY, Tag date NULL, Stempel datetime(6) NULL,
                                  Utc timestamp(6) NULL DEFAULT NULL, Name varchar(40), Notiz text)
           CHARACTER SET utf8mb4""",
        (
            sa.text("INSERT INTO ZZ_Dirty VALUES (:id, :tag, :st, :utc, :name, :notiz)"),
            values,
        ),
    )


def create_dirty_mirror(wh) -> None:  # noqa: F811
    wh.execute(
        """CREATE TABLE raw.erp__zz_dirty (id bigint PRIMARY KEY, tag date, stempel timestamptz,
               utc timestamptz, name text, notiz text, _synced_at timestamptz NOT NULL DEFAULT now())"""
    )


def dirty_spec(mode: str, table: str = "ZZ_Dirty") -> TableSpec:
    return TableSpec("erp", table, mode, cursor="ID" if mode == "incremental" else None)


def resource(url: str, reader: str, source: str = "erp") -> SqlSourceResource:
    return SqlSourceResource(source=source, url=url, reader=reader, batch_size=BATCH, timezone="Europe/Paris")


def test_source_really_holds_the_dirty_values(mariadb_url):  # noqa: F811
    """The attack is real: MariaDB stores every one of these values as given."""
    create_dirty_table(mariadb_url)
    engine = sa.create_engine(mariadb_url)
    try:
        with engine.connect() as conn:
            got = dict(
                conn.execute(
                    sa.text(
                        "SELECT ID, CONCAT_WS('|', CAST(Tag AS CHAR), CAST(Stempel AS CHAR), HEX(Name), "
                        "HEX(Notiz)) FROM ZZ_Dirty WHERE ID IN (7, 60, 61, 120, 121, 180)"
                    )
                ).fetchall()
            )
    finally:
        engine.dispose()
    assert got[60].startswith("2024-00-15|2024-00-15 10:00:00")
    assert got[61].startswith("0000-00-00|0000-00-00 00:00:00")
    assert got[120].startswith("2024-02-30|2024-02-30 08:00:00")
    assert got[121].startswith("2024-05-00|2023-02-29 12:00:00")
    assert "C3BC006C" in got[7].split("|")[2] and got[180].split("|")[3].startswith("00")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reader", MYSQL_READERS)
def test_nul_bytes_and_zero_or_impossible_dates_are_converted_counted_and_the_rest_loads(
    mariadb_url,  # noqa: F811
    wh,  # noqa: F811
    reader,
    mode,
):
    create_dirty_table(mariadb_url)
    create_dirty_mirror(wh)
    spec = dirty_spec(mode)
    r = sync_table(spec, resource(mariadb_url, reader), wh)

    # every row of the table and run is loaded, the converted ones included
    assert r.reader == reader and r.conserved, r.as_dict()
    assert (r.rows_read, r.rows_inserted, r.batches) == (TOTAL, TOTAL, 5)
    got = {
        row[0]: row[1:]
        for row in rows(wh, "SELECT id, tag, stempel, utc, name, notiz FROM raw.erp__zz_dirty")
    }
    assert sorted(got) == list(range(1, TOTAL + 1))
    for i in set(got) - set(DIRTY):
        day = dt.date(2024, 3, 1) + dt.timedelta(days=i % 28)
        assert got[i] == (
            day,
            dt.datetime.combine(day, dt.time(10), PARIS),
            dt.datetime.combine(day, dt.time(8), UTC),
            f"n{i}",
            f"note {i}",
        ), i

    # NUL characters removed, from a VARCHAR and a TEXT
    assert got[7][3:] == ("Müller", "Zeile 1Zeile 2")
    assert got[180][4] == "ab"
    # zero, partial zero and impossible dates are NULL; the other columns of those rows are loaded
    assert got[60][:2] == (None, None) and got[60][3] == "n60"
    assert got[61][:3] == (None, None, None) and got[61][4] == "note 61"
    assert got[120][:2] == (None, None) and got[120][3] == "n120"
    assert got[121][:2] == (None, None)
    # good edge values are kept as they are
    assert got[200] == (
        dt.date(2024, 2, 29),
        dt.datetime(2024, 1, 31, 23, 59, 59, 999999, PARIS),
        dt.datetime(2024, 4, 30, tzinfo=UTC),
        "",
        "note 200",
    )

    # counted per source column and kind, in the result and in raw.sync_runs
    assert r.conversions == EXPECTED_CONVERSIONS
    status, conversions = rows(wh, "SELECT status, conversions FROM raw.sync_runs")[0]
    assert status == "success" and conversions == EXPECTED_CONVERSIONS

    # a rerun re-reads the dirty rows (all of them in a snapshot, the last 100 ids in the overlap
    # window) but writes nothing, so counts nothing; a new dirty row is counted once
    execute(
        mariadb_url,
        "SET SESSION sql_mode = ''",
        (
            sa.text("INSERT INTO ZZ_Dirty VALUES (:id, '2024-11-00', NULL, NULL, 'n', :notiz)"),
            {"id": TOTAL + 1, "notiz": "x\x00y"},
        ),
    )
    again = sync_table(spec, resource(mariadb_url, reader), wh)
    assert again.conserved and again.rows_inserted == 1 and again.rows_updated == 0
    assert again.rows_read == (TOTAL + 1 if mode == "snapshot" else 101 + 1)
    assert again.conversions == {
        "ZZ_Dirty.Notiz": {"nul_removed": 1},
        "ZZ_Dirty.Tag": {"zero_date_to_null": 1},
    }
    assert rows(wh, "SELECT tag, notiz FROM raw.erp__zz_dirty WHERE id = %s", (TOTAL + 1,)) == [(None, "xy")]
    third = sync_table(spec, resource(mariadb_url, reader), wh)
    assert third.conversions == {} and third.rows_upserted == 0
    assert [c for (c,) in rows(wh, "SELECT conversions FROM raw.sync_runs ORDER BY id")] == [
        EXPECTED_CONVERSIONS,
        again.conversions,
        {},
    ]


@pytest.mark.parametrize("reader", MYSQL_READERS)
def test_a_changed_dirty_row_is_counted_again_when_it_is_written(mariadb_url, wh, reader):  # noqa: F811
    """Counts follow the rows written: a snapshot re-reads row 61 every run, counts it only when
    the row changed; a source without a primary key (dedup path) counts the row it keeps."""
    create_dirty_table(mariadb_url)
    create_dirty_mirror(wh)
    spec = dirty_spec("snapshot")
    sync_table(spec, resource(mariadb_url, reader), wh)
    execute(mariadb_url, "SET SESSION sql_mode = ''", "UPDATE ZZ_Dirty SET Name = 'changed' WHERE ID = 61")
    r = sync_table(spec, resource(mariadb_url, reader), wh)
    assert r.rows_updated == 1 and r.conserved
    assert r.conversions == {
        "ZZ_Dirty.Tag": {"zero_date_to_null": 1},
        "ZZ_Dirty.Stempel": {"zero_date_to_null": 1},
        "ZZ_Dirty.Utc": {"zero_date_to_null": 1},
    }

    # no primary key at the source: the key comes from the spec and duplicates are collapsed
    execute(
        mariadb_url,
        "SET SESSION sql_mode = 'ALLOW_INVALID_DATES'",
        "CREATE TABLE ZZ_NoKey (Nr varchar(10), Tag date, Notiz text)",
        (
            sa.text("INSERT INTO ZZ_NoKey VALUES (:nr, :tag, :notiz)"),
            [
                {"nr": "a", "tag": "2024-01-01", "notiz": "ok"},
                {"nr": "b", "tag": "0000-00-00", "notiz": "first copy\x00"},
                {"nr": "b", "tag": "2024-01-02", "notiz": "second copy"},  # kept: staged last
                {"nr": "c", "tag": "2024-06-31", "notiz": "n\x00ul"},
            ],
        ),
    )
    wh.execute("CREATE TABLE raw.erp__zz_nokey (nr text PRIMARY KEY, tag date, notiz text)")
    nokey = TableSpec("erp", "ZZ_NoKey", "snapshot", key=("Nr",))
    n = sync_table(nokey, resource(mariadb_url, reader), wh)
    assert n.conserved and (n.rows_inserted, n.rows_duplicate) == (3, 1)
    assert rows(wh, "SELECT nr, tag, notiz FROM raw.erp__zz_nokey ORDER BY nr") == [
        ("a", dt.date(2024, 1, 1), "ok"),
        ("b", dt.date(2024, 1, 2), "second copy"),
        ("c", None, "nul"),
    ]
    assert n.conversions == {
        "ZZ_NoKey.Tag": {"invalid_date_to_null": 1},
        "ZZ_NoKey.Notiz": {"nul_removed": 1},
    }


# --- values that still cannot load ------------------------------------------------------------

BAD_ID = 137  # in the third batch of 50


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("reader", "column", "value", "reason"),
    [
        ("connectorx", "Menge", "3000000000", "out of range for type integer"),
        ("pymysql", "Menge", "3000000000", "out of range for type integer"),
        ("sqlalchemy", "Menge", "3000000000", "out of range for type integer"),
        ("pymysql", "Dauer", "100:00:00", "out of range"),
        ("connectorx", "Dauer", "-01:00:00", "invalid input syntax for type time"),
    ],
)
def test_a_value_that_still_cannot_load_fails_naming_table_column_and_key(
    mariadb_url,  # noqa: F811
    wh,  # noqa: F811
    mode,
    reader,
    column,
    value,
    reason,
):
    execute(
        mariadb_url,
        "SET SESSION sql_mode = ''",
        "CREATE TABLE ZZ_Bad (ID int PRIMARY KEY, Tag date, Menge bigint, Dauer time, Notiz varchar(20))",
        (
            sa.text("INSERT INTO ZZ_Bad VALUES (:id, :tag, :menge, :dauer, :notiz)"),
            [
                {
                    "id": i,
                    "tag": "0000-00-00" if i in (20, BAD_ID + 1) else "2024-02-29",  # converted, not failing
                    "menge": int(value) if i == BAD_ID and column == "Menge" else i,
                    "dauer": value if i == BAD_ID and column == "Dauer" else "01:00:00",
                    "notiz": "a\x00b" if i == 10 else f"n{i}",  # a NUL, converted, in an earlier batch
                }
                for i in range(1, TOTAL + 1)
            ],
        ),
    )
    wh.execute(
        """CREATE TABLE raw.erp__zz_bad (id bigint PRIMARY KEY, tag date, menge integer, dauer time, notiz text,
               _synced_at timestamptz NOT NULL DEFAULT now())"""
    )
    with pytest.raises(UnloadableValue) as err:
        sync_table(dirty_spec(mode, "ZZ_Bad"), resource(mariadb_url, reader), wh)
    message = str(err.value)
    assert message.startswith(f"erp.ZZ_Bad: column {column} of the row with ID='{BAD_ID}' holds '{value}'")
    assert f"raw.erp__zz_bad.{column.lower()}" in message and reason in message

    status, error, conversions = rows(wh, "SELECT status, error, conversions FROM raw.sync_runs")[0]
    assert status == "failed" and error == f"UnloadableValue: {message}"
    loaded = [i for (i,) in rows(wh, "SELECT id FROM raw.erp__zz_bad ORDER BY id")]
    if mode == "snapshot":  # one transaction: nothing written
        assert loaded == [] and conversions == {}
    else:  # the two batches before the bad one are committed, with their watermark and counts
        assert loaded == list(range(1, 101))
        assert one(wh, "SELECT watermark_id FROM raw.sync_state WHERE table_name = 'zz_bad'") == 100
        assert conversions == {"ZZ_Bad.Notiz": {"nul_removed": 1}, "ZZ_Bad.Tag": {"zero_date_to_null": 1}}


@pytest.mark.parametrize("mode", MODES)
def test_postgres_source_value_that_cannot_load_names_the_compound_key(postgres_url, wh, mode):  # noqa: F811
    execute(
        postgres_url,
        'CREATE TABLE "Teile" (werk text, nr int, menge bigint, PRIMARY KEY (werk, nr))',
        """INSERT INTO "Teile" SELECT 'W' || (n % 3), n, CASE WHEN n = 77 THEN 5000000000 ELSE n END
             FROM generate_series(1, 120) AS n""",
    )
    wh.execute("CREATE TABLE raw.plant__teile (werk text, nr bigint, menge integer, PRIMARY KEY (werk, nr))")
    spec = TableSpec("plant", "Teile", mode, cursor="nr" if mode == "incremental" else None)
    with pytest.raises(UnloadableValue, match="out of range for type integer") as err:
        sync_table(spec, resource(postgres_url, "auto", source="plant"), wh)
    assert str(err.value).startswith(
        "plant.Teile: column menge of the row with werk='W2', nr='77' holds '5000000000', "
        "which cannot be loaded into raw.plant__teile.menge (integer)"
    )
    assert one(wh, "SELECT error FROM raw.sync_runs").startswith("UnloadableValue: plant.Teile: column menge")
    expected = 0 if mode == "snapshot" else 50  # incremental: the first batch of 50 is committed
    assert one(wh, "SELECT count(*) FROM raw.plant__teile") == expected


# --- marts.data_quality_daily ----------------------------------------------------------------


def test_conversions_reach_data_quality_daily(mariadb_url, wh, tmp_path):  # noqa: F811
    """Real ERP and MES tables synced from MariaDB with dirty values, then dbt: one mart row per
    (day, source, '<conversion>:<Table>.<Column>'), the runs of a day added up."""
    create_demo_sources(mariadb_url, sources=("erp", "mes"), today=TODAY)
    execute(
        mariadb_url,
        "SET SESSION sql_mode = ''",
        "UPDATE A_Logbuch SET Notiz = CONCAT('cde', CHAR(0), 'Planifiee') WHERE ID IN (5, 6)",
        "UPDATE A_Logbuch SET Datum = '2024-00-15' WHERE ID = 7",
        "UPDATE ordine SET data_inizio = '0000-00-00 00:00:00' WHERE id_ordine = 1001",
    )
    erp = SqlSourceResource(source="erp", url=mariadb_url)
    mes = SqlSourceResource(source="mes", url=mariadb_url)
    logbook, ordine = table_spec("erp", "A_Logbuch"), table_spec("mes", "ordine")
    first = sync_table(logbook, erp, wh)
    assert first.reader == "connectorx" and first.conserved
    assert first.conversions == {
        "A_Logbuch.Notiz": {"nul_removed": 2},
        "A_Logbuch.Datum": {"zero_date_to_null": 1},
    }
    assert sync_table(ordine, mes, wh).conversions == {"ordine.data_inizio": {"zero_date_to_null": 1}}
    execute(mariadb_url, "UPDATE A_Logbuch SET Notiz = CONCAT('x', CHAR(0)) ORDER BY ID DESC LIMIT 1")
    assert sync_table(logbook, erp, wh).conversions == {"A_Logbuch.Notiz": {"nul_removed": 1}}
    assert sync_table(ordine, mes, wh).conversions == {}  # re-read, unchanged: not counted again

    dbname = wh.info.dbname
    run_dbt(dbname, tmp_path, "build", select=["+data_quality_daily"], cautious=True)
    day = one(wh, "SELECT DISTINCT (started_at AT TIME ZONE 'Europe/Paris')::date FROM raw.sync_runs")
    got = {
        (r["day"], r["source"], r["reason"]): (r["rejected_rows"], r["file_versions"])
        for r in dbt_rows(dbname, "SELECT * FROM marts.data_quality_daily")
    }
    assert got == {
        (day, "erp", "nul_removed:A_Logbuch.Notiz"): (3, 0),
        (day, "erp", "zero_date_to_null:A_Logbuch.Datum"): (1, 0),
        (day, "mes", "zero_date_to_null:ordine.data_inizio"): (1, 0),
    }
    # share of the rows the syncs of that table wrote that day: the first A_Logbuch run inserted
    # every row, the second changed one; the second ordine run re-read its rows unchanged (none)
    logbook_rows = one(wh, "SELECT count(*) FROM raw.erp__a_logbuch")
    ordine_rows = one(wh, "SELECT count(*) FROM raw.mes__ordine")
    share = {
        r["reason"]: (r["rows_in"], float(r["share_of_rows"]))
        for r in dbt_rows(dbname, "SELECT * FROM marts.data_quality_daily")
    }
    assert share["nul_removed:A_Logbuch.Notiz"] == (logbook_rows + 1, pytest.approx(3 / (logbook_rows + 1)))
    assert share["zero_date_to_null:A_Logbuch.Datum"][0] == logbook_rows + 1
    assert share["zero_date_to_null:ordine.data_inizio"] == (ordine_rows, pytest.approx(1 / ordine_rows))
    staged = dbt_rows(
        dbname,
        "SELECT table_name, source_table, source_column, conversion, converted_rows, run_status"
        " FROM staging.stg_sql_sources__sync_conversions ORDER BY sync_run_id, source_column",
    )
    assert [tuple(r.values()) for r in staged] == [
        ("a_logbuch", "A_Logbuch", "Datum", "zero_date_to_null", 1, "success"),
        ("a_logbuch", "A_Logbuch", "Notiz", "nul_removed", 2, "success"),
        ("ordine", "ordine", "data_inizio", "zero_date_to_null", 1, "success"),
        ("a_logbuch", "A_Logbuch", "Notiz", "nul_removed", 1, "success"),
    ]

    # lineage: every sync asset (through its raw mirror's dbt source) is a parent of the staging model
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    model = manifest["nodes"]["model.factory.stg_sql_sources__sync_conversions"]
    assert sorted(model["depends_on"]["nodes"]) == sorted(
        f"source.factory.{t.source}.{t.name}" for t in TABLES
    )
    assert {
        tuple(manifest["sources"][s]["meta"]["dagster"]["asset_key"]) for s in model["depends_on"]["nodes"]
    } == {tuple(t.asset_key) for t in TABLES}


def test_dagster_asset_reports_conversions_and_fails_clearly_on_an_unloadable_value(
    mariadb_url,  # noqa: F811
    factory_env,
    monkeypatch,
):
    """The real asset: conversions in its metadata, rows_conserved passes; then a TIME beyond a day
    fails the step with the table, column and key, and the mirror keeps the earlier rows."""
    create_demo_sources(mariadb_url, sources=("erp",), today=TODAY)
    execute(
        mariadb_url,
        "SET SESSION sql_mode = ''",
        "UPDATE A_Logbuch SET Notiz = CONCAT('a', CHAR(0), 'b'), Datum = '0000-00-00' WHERE ID = 3",
    )
    monkeypatch.setenv("FACTORY_ERP_URL", mariadb_url)
    asset = next(a for a in build_sql_source_assets(retry_policy=None) if a.key.path == ["erp", "a_logbuch"])
    resources = {
        "warehouse": WarehouseResource(url=dg.EnvVar("FACTORY_WAREHOUSE_URL")),
        **sql_source_resources(),
    }
    result = dg.materialize([asset], resources=resources)
    assert result.success
    (mat,) = result.get_asset_materialization_events()
    meta = mat.event_specific_data.materialization.metadata
    assert meta["conversions"].value == {
        "A_Logbuch.Notiz": {"nul_removed": 1},
        "A_Logbuch.Datum": {"zero_date_to_null": 1},
    }
    assert meta["rows_read"].value == meta["rows_inserted"].value
    assert all(c.passed for c in result.get_asset_check_evaluations())

    total = one_source(mariadb_url, "SELECT count(*) FROM A_Logbuch")
    execute(mariadb_url, f"INSERT INTO A_Logbuch (ID, Zeit, Notiz) VALUES ({total + 1}, '25:30:00', 'late')")
    failed = dg.materialize([asset], resources=resources, raise_on_error=False)
    assert not failed.success
    (failure,) = failed.get_step_failure_events()
    description = failure.event_specific_data.user_failure_data.description
    assert description.startswith(
        f"erp.A_Logbuch: erp.A_Logbuch: column Zeit of the row with ID='{total + 1}' holds '25:30:00'"
    )
    with psycopg.connect(factory_env["warehouse_url"]) as conn:
        assert one(conn, "SELECT count(*) FROM raw.erp__a_logbuch") == total


def one_source(url: str, query: str):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(query)).scalar()
    finally:
        engine.dispose()


def test_psycopg_refuses_nul_in_text_which_is_why_rows_are_cleaned(wh):  # noqa: F811
    """The failure the sync works around, shown once: the issue's exact message."""
    with pytest.raises(psycopg.DataError, match=r"cannot contain NUL \(0x00\) bytes"):
        wh.execute("SELECT %s::text", ("a\x00b",))
