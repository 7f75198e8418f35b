"""dbt project, SQL-source models: ERP roller-shutter orders, production fact / rejects, order
status snapshots, on a real PostgreSQL, against figures computed by hand below.

Creates a throw-away database, applies the raw migrations (``factory_assets.ingest.migrate``),
inserts hand-built raw rows as the SQL-source sync would write them and runs ``dbt build``
several times, with ``--vars as_of_date`` standing for the plant-local "today":

1. as of 2026-03-05: every roller-shutter rule, every production reject rule (and their
   precedence), valid rows on several dates, rows dated in the future;
2. as of 2026-03-06, with one new raw row for 2026-03-03 and two status changes: only
   2026-03-03 is rewritten, the earlier FUTURE_DATE row of 2026-03-06 enters production_fact,
   the snapshots record the status changes;
3. the same again without any change: production_fact is identical (loaded_at included);
4. a raw row deleted at the source and one moved to another plant: their old keys disappear,
   nothing else is rewritten; an ERP order deleted at the source is closed in its snapshot;
5. ``--full-refresh`` of production_fact gives the same figures as the incremental runs.

Only this domain's models (and their parents, plus data_quality_daily) are built, with
``--indirect-selection cautious``, so that work in progress elsewhere in the project does not
fail this test. Server: 127.0.0.1:5432 as postgres (trust auth) unless FACTORY_TEST_PG_HOST /
_PORT / _USER say otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tests.dbt_harness import connect, run_dbt, scratch_database
from tests.dbt_harness import rows as _rows

SELECTION = [
    "+roller_shutter_orders",
    "+production_fact",
    "+production_rejects",
    "+data_quality_daily",
    "+erp_order_status_snapshot",
    "+mes_order_status_snapshot",
    "path:models/staging/erp",
    "path:models/staging/mes",
    "path:models/staging/plant",
    "path:models/staging/oltp",
]

D = date.fromisoformat
FACT_COLUMNS = "production_date, plant, line, produced_qty, scrap_qty, good_qty, scrap_rate, valid_rows"


# --------------------------------------------------------------------------------------------
# database and dbt helpers


# per-source time-zone overrides would change the figures: dbt runs without them
UNSET_ENV = [f"FACTORY_{source}_TIMEZONE" for source in ("ERP", "MES", "PLANT_DB", "OLTP")]


def _execute(dbname: str, *statements: tuple[str, tuple]) -> None:
    with connect(dbname) as conn:  # one transaction, committed on exit
        for sql, params in statements:
            conn.execute(sql, params)


def _dbt(dbname: str, work: Path, *args: str, **options) -> str:
    return run_dbt(dbname, work, *args, unset_env=UNSET_ENV, **options)


def _build(dbname: str, work: Path, as_of: str) -> str:
    return _dbt(dbname, work, "build", select=SELECTION, cautious=True, dbt_vars={"as_of_date": as_of})


def _fact(dbname: str) -> dict[tuple, dict]:
    """production_fact keyed by (date, plant, line)."""
    return {
        (r["production_date"], r["plant"], r["line"]): r
        for r in _rows(dbname, "SELECT * FROM marts.production_fact")
    }


def _figures(fact: dict[tuple, dict]) -> dict[tuple, tuple]:
    return {
        key: (r["produced_qty"], r["scrap_qty"], r["good_qty"], r["scrap_rate"], r["valid_rows"])
        for key, r in fact.items()
    }


def _rejects(dbname: str) -> dict[int, str]:
    return {
        r["production_raw_id"]: r["reject_reason"]
        for r in _rows(dbname, "SELECT production_raw_id, reject_reason FROM marts.production_rejects")
    }


# --------------------------------------------------------------------------------------------
# hand-built raw rows

SYNC_1 = "2026-03-05 05:00:00+00"  # first sync, before build 1
SYNC_2 = "2026-03-06 05:00:00+00"  # second sync, before build 2

ERP_ORDERS = [
    # id, AuNummer, AuAlpha, AufStatus
    (1, "5001", "", "Planifiee"),  # SOP box, planned -> in
    (2, "5002", "A", "a lancer en prod"),  # 'S P ' box and a VR event -> in, stock-managed
    (3, "5003", "", "attente vitrage"),  # 'SP 12': no space after S -> out
    (4, "5004", "", "En attente"),  # box + note, status not planned (yet) -> out in run 1
    (5, "5005", "", "Planifiee"),  # note in the wrong case -> out
    (6, "5006", "B", "Planifiee"),  # same number + extension as 7; no VR, newer note
    (7, "5006", "B", "Planifiee"),  # ... has the VR event: this row wins
    (8, "5008", None, "Planifiee"),  # 'S TABLE' is neither 'S TAB ' nor 'S T ' -> out
]
ERP_LOGBOOK = [
    # ID, ID_A_Kopf, Datum, Zeit, Notiz
    (101, 1, "2026-03-02", "10:15:00", "cde Planifiee le 02/03"),
    (102, 2, "2026-03-03", "08:00:00", "Info client; cde Planifiee S10"),
    (103, 3, "2026-03-03", "08:00:00", "cde Planifiee"),
    (104, 4, "2026-03-03", "09:30:00", "cde Planifiee"),
    (105, 5, "2026-03-03", "08:00:00", "cde planifiee"),
    (106, 6, "2026-03-04", "16:00:00", "cde Planifiee"),
    (107, 7, "2026-03-02", "07:45:00", "cde Planifiee"),
    (108, 8, "2026-03-02", "07:45:00", "cde Planifiee"),
    (109, 1, "2026-03-01", "12:00:00", "devis accepte"),  # not a planning note
]
ERP_ACCESSORIES = [
    # ID_A_Kopf, Position, Kennung, ZCode
    (1, 1, "Z1", "SOP 80"),
    (1, 2, "Z1", "JOINT"),
    (2, 1, "Z1", "S P 12"),
    (3, 1, "Z1", "SP 12"),
    (4, 1, "Z1", "S T 7"),
    (5, 1, "Z1", "S TAB 9"),
    (6, 1, "Z1", "S Q 1"),
    (7, 1, "Z1", "S D 4"),
    (8, 1, "Z1", "S TABLE"),
]
ERP_EVENTS = [
    # ID_A_Kopf, Nummer
    (2, "2026VR0042"),
    (2, "LIV-1"),
    (6, "LIV-2"),
    (7, "VR-7"),
]

PRODUCTION_RAW = [
    # id, plant, line, machine, date, produced, scrap           expected in run 1 (as of 03-05)
    (1, "P1", "L1", "M1", "2026-03-02", 100, 5),  # valid
    (2, "P1", "L1", "M2", "2026-03-02", 50, 0),  # valid
    (3, "P1", "L2", "M3", "2026-03-02", 80, 8),  # valid
    (4, "P1", "L1", "M1", "2026-03-03", 120, 6),  # valid
    (5, " P2 ", "L1", "M9", "2026-03-04", 60, 3),  # valid, plant trimmed to P2
    (6, "P1", "L1", "M1", "2026-03-05", 90, 9),  # valid: today is not the future
    (10, None, "L1", "M1", "2026-03-02", 10, 1),  # NULL_KEY (plant)
    (11, "P1", " ", "M1", "2026-03-02", 10, 1),  # NULL_KEY (blank line)
    (12, "P1", "L1", "M1", None, 10, 1),  # NULL_KEY (date): counted on its sync day
    (13, "P1", "L1", "M1", "2026-03-03", -1, 0),  # NEGATIVE_VALUES
    (14, "P1", "L1", "M1", "2026-03-07", 10, -2),  # NEGATIVE_VALUES before FUTURE_DATE
    (15, "P1", "L1", "M1", "2026-03-06", 70, 7),  # FUTURE_DATE, valid as of 03-06
    (16, "P1", "L1", "M2", "2026-03-03", 20, 30),  # SCRAP_GT_PRODUCTION
    (17, "P1", "L1", "M1", "2026-03-09", 5, 9),  # FUTURE_DATE before SCRAP_GT_PRODUCTION
]


def _load_raw(dbname: str) -> None:
    with connect(dbname) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO raw.erp__a_kopf (id, auftragstyp, aunummer, aualpha, kundennr, kundenbez,"
            " aufstatus, _synced_at) VALUES (%s, 'A', %s, %s, 'K1', 'Client', %s, %s)",
            [(*row, SYNC_1) for row in ERP_ORDERS],
        )
        cur.executemany(
            "INSERT INTO raw.erp__a_logbuch (id, id_a_kopf, code, datum, zeit, benutzer, notiz, _synced_at)"
            " VALUES (%s, %s, 'NOTE', %s, %s, 'planner', %s, %s)",
            [(*row, SYNC_1) for row in ERP_LOGBOOK],
        )
        cur.executemany(
            "INSERT INTO raw.erp__p_zubeh (id_a_kopf, position, kennung, zcode, stueck, _synced_at)"
            " VALUES (%s, %s, %s, %s, 1, %s)",
            [(*row, SYNC_1) for row in ERP_ACCESSORIES],
        )
        cur.executemany(
            "INSERT INTO raw.erp__a_vorgang (id_a_kopf, nummer, datum, zeit, _synced_at)"
            " VALUES (%s, %s, '2026-03-01', '12:00', %s)",
            [(*row, SYNC_1) for row in ERP_EVENTS],
        )
        cur.execute(
            "INSERT INTO raw.erp__a_kopffreie (id_a_kopf, nummer, feldtyp, feldinhalt) VALUES (1, '1', 'T', 'x')"
        )
        cur.execute(
            "INSERT INTO raw.erp__p_artikel (id, id_a_kopf, position, artikelid, dim1, dim2)"
            " VALUES (1, 1, 1, 'VR-ALU', 1200, 1500)"
        )
        cur.executemany(
            "INSERT INTO raw.mes__ordine (id_ordine, id_cliente, data_inizio, totale_pezzi, stato, _synced_at)"
            " VALUES (%s, 7, '2026-03-01 08:00+01', 10, %s, %s)",
            [(1, "IN ATTESA", SYNC_1), (2, "IN CORSO", SYNC_1)],
        )
        cur.execute(
            "INSERT INTO raw.mes__pezzi (codice_pezzo, nome, peso_min, peso_max, temperatura_min,"
            " temperatura_max) VALUES ('F-100', 'flangia', 10, 12, 900, 1200)"
        )
        cur.execute(
            "INSERT INTO raw.mes__pezzi_ordine (id_ordine, codice_pezzo, quantita_totale) VALUES (1, 'F-100', 10)"
        )
        cur.execute(
            "INSERT INTO raw.mes__magazzino (codice_pezzo, quantita_disponibile, data_ultimo_aggiornamento)"
            " VALUES ('F-100', 4, '2026-03-01 18:00+01')"
        )
        cur.execute(
            "INSERT INTO raw.oltp__productos_maestro (producto_id, nombre_producto, categoria) VALUES (1, 'Tornillo', 'F')"
        )
        cur.execute(
            "INSERT INTO raw.oltp__transacciones (transaccion_id, tipo_transaccion, fecha_hora, estado)"
            " VALUES (1, 'ENTRADA_MERCANCIA', '2026-03-01 09:00+01', 'COMPLETADA')"
        )
        cur.execute(
            "INSERT INTO raw.oltp__items_transaccion (item_id, transaccion_id, producto_id, cantidad,"
            " costo_unitario_compra) VALUES (1, 1, 1, 100, 0.25)"
        )
        cur.execute(
            "INSERT INTO raw.oltp__entradas_mercancia (entrada_id, transaccion_id, nombre_proveedor,"
            " numero_factura, fecha_recepcion) VALUES (1, 1, 'Acme', 'F-1', '2026-03-01 09:00+01')"
        )
        cur.executemany(
            "INSERT INTO raw.plant__production_raw (id, plant, line, machine_id, production_date,"
            " produced_qty, scrap_qty, created_at, _synced_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    *row,
                    SYNC_1,
                    "2026-03-04 23:30:00+00" if row[0] == 12 else SYNC_1,
                )  # 00:30 in Paris on 03-05
                for row in PRODUCTION_RAW
            ],
        )


# --------------------------------------------------------------------------------------------
# fixture: the whole scenario, each step's observations kept for the tests


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Iterator[dict]:
    with scratch_database("test_dbt_sql") as dbname:
        yield _run_scenario(dbname, tmp_path_factory)


def _run_scenario(dbname: str, tmp_path_factory) -> dict:
    """The five steps of the module docstring on ``dbname``; what each step saw, by name."""
    _load_raw(dbname)
    work = tmp_path_factory.mktemp("dbt_sql")
    seen: dict = {"db": dbname}

    # 1. as of 2026-03-05 ----------------------------------------------------------------
    _build(dbname, work, "2026-03-05")
    seen["fact_1"] = _fact(dbname)
    seen["rejects_1"] = _rejects(dbname)
    seen["dq_1"] = _rows(dbname, "SELECT * FROM marts.data_quality_daily WHERE source = 'plant'")
    seen["orders_1"] = _rows(dbname, "SELECT * FROM marts.roller_shutter_orders")

    # 2. a new raw row for 03-03, status changes; as of 2026-03-06 ---------------------------
    _execute(
        dbname,
        (
            "INSERT INTO raw.plant__production_raw (id, plant, line, machine_id, production_date,"
            " produced_qty, scrap_qty, created_at, _synced_at)"
            " VALUES (20, 'P1', 'L1', 'M2', '2026-03-03', 30, 3, %s, %s)",
            (SYNC_2, SYNC_2),
        ),
        ("UPDATE raw.erp__a_kopf SET aufstatus = 'Planifiee', _synced_at = %s WHERE id = 4", (SYNC_2,)),
        ("UPDATE raw.mes__ordine SET stato = 'IN CORSO', _synced_at = %s WHERE id_ordine = 1", (SYNC_2,)),
    )
    _build(dbname, work, "2026-03-06")
    seen["fact_2"] = _fact(dbname)
    seen["rejects_2"] = _rejects(dbname)
    seen["orders_2"] = _rows(dbname, "SELECT * FROM marts.roller_shutter_orders")

    # 3. nothing changed --------------------------------------------------------------------
    _build(dbname, work, "2026-03-06")
    seen["fact_3"] = _fact(dbname)

    # 4. a row deleted at the source, a row moved to another plant, an ERP order deleted ------
    _execute(
        dbname,
        ("DELETE FROM raw.plant__production_raw WHERE id = 3", ()),
        (
            "UPDATE raw.plant__production_raw SET plant = 'P3', _synced_at = '2026-03-06 07:00+00' WHERE id = 5",
            (),
        ),
        ("DELETE FROM raw.erp__a_kopf WHERE id = 3", ()),
    )
    _build(dbname, work, "2026-03-06")
    seen["fact_4"] = _fact(dbname)
    seen["erp_snapshot"] = _rows(
        dbname,
        "SELECT order_id, order_status, dbt_valid_from, dbt_valid_to"
        " FROM snapshots.erp_order_status_snapshot ORDER BY order_id, dbt_valid_from",
    )
    seen["mes_snapshot"] = _rows(
        dbname,
        "SELECT order_id, order_status, dbt_valid_from, dbt_valid_to"
        " FROM snapshots.mes_order_status_snapshot ORDER BY order_id, dbt_valid_from",
    )

    # 5. full refresh: must give what the incremental runs built ------------------------------
    _dbt(
        dbname, work, "run", "--full-refresh", select="production_fact", dbt_vars={"as_of_date": "2026-03-06"}
    )
    seen["fact_full_refresh"] = _fact(dbname)
    return seen


# --------------------------------------------------------------------------------------------
# staging


def test_staging_views_for_every_raw_mirror(scenario):
    views = {
        r["table_name"]
        for r in _rows(
            scenario["db"], "SELECT table_name FROM information_schema.views WHERE table_schema = 'staging'"
        )
    }
    expected = {
        f"stg_{name}"
        for name in (
            "erp__a_kopf",
            "erp__a_logbuch",
            "erp__a_kopffreie",
            "erp__a_vorgang",
            "erp__p_artikel",
            "erp__p_zubeh",
            "mes__ordine",
            "mes__pezzi",
            "mes__pezzi_ordine",
            "mes__magazzino",
            "plant__production_raw",
            "oltp__productos_maestro",
            "oltp__transacciones",
            "oltp__items_transaccion",
            "oltp__entradas_mercancia",
        )
    }
    assert expected <= views
    for view in sorted(expected):  # every one is readable and has the row(s) inserted
        assert _rows(scenario["db"], f"SELECT count(*) AS n FROM staging.{view}")[0]["n"] >= 1, view


def test_erp_logbook_local_date_and_time_become_timestamptz(scenario):
    row = _rows(
        scenario["db"], "SELECT entry_at FROM staging.stg_erp__a_logbuch WHERE logbook_entry_id = 101"
    )[0]
    # 2026-03-02 10:15 in Paris (UTC+01 in March) = 09:15 UTC
    assert row["entry_at"] == datetime(2026, 3, 2, 9, 15, tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# roller-shutter orders


def test_roller_shutter_orders_rules(scenario):
    got = {(r["order_number"], r["order_extension"]): r for r in scenario["orders_1"]}
    # 5003 'SP 12', 5004 status, 5005 note case, 5008 'S TABLE' are out
    assert set(got) == {("5001", ""), ("5002", "A"), ("5006", "B")}

    o1 = got[("5001", "")]
    assert (o1["order_id"], o1["order_status"], o1["box_code"], o1["is_stock_managed"]) == (
        1,
        "Planifiee",
        "SOP 80",
        False,
    )
    assert o1["modified_on"] == D("2026-03-02")
    assert o1["modified_at"] == datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
    assert o1["logbook_entry_id"] == 101  # the planning note, not the older 'devis accepte'

    o2 = got[("5002", "A")]
    assert (o2["box_code"], o2["is_stock_managed"], o2["order_status"]) == (
        "S P 12",
        True,
        "a lancer en prod",
    )

    # two ERP headers for 5006/B: the stock-managed one (7) wins over the newer note of 6
    o6 = got[("5006", "B")]
    assert (o6["order_id"], o6["box_code"], o6["is_stock_managed"], o6["candidate_rows"]) == (
        7,
        "S D 4",
        True,
        2,
    )
    assert o6["modified_on"] == D("2026-03-02")


def test_roller_shutter_orders_follow_status_changes(scenario):
    got = {r["order_number"]: r for r in scenario["orders_2"]}
    # 5004 went from 'En attente' to 'Planifiee' between runs 1 and 2
    assert set(got) == {"5001", "5002", "5004", "5006"}
    assert (got["5004"]["box_code"], got["5004"]["order_status"]) == ("S T 7", "Planifiee")


# --------------------------------------------------------------------------------------------
# production


def test_production_rejects_each_rule_first_match_wins(scenario):
    assert scenario["rejects_1"] == {
        10: "NULL_KEY",
        11: "NULL_KEY",
        12: "NULL_KEY",
        13: "NEGATIVE_VALUES",
        14: "NEGATIVE_VALUES",  # also future
        15: "FUTURE_DATE",
        16: "SCRAP_GT_PRODUCTION",
        17: "FUTURE_DATE",  # also scrap > produced
    }
    # as of 03-06 the row dated 03-06 is no longer a reject
    assert scenario["rejects_2"] == {k: v for k, v in scenario["rejects_1"].items() if k != 15}


def test_production_fact_hand_computed(scenario):
    assert _figures(scenario["fact_1"]) == {
        # produced, scrap, good, scrap rate, valid rows
        (D("2026-03-02"), "P1", "L1"): (150, 5, 145, Decimal("0.0333"), 2),
        (D("2026-03-02"), "P1", "L2"): (80, 8, 72, Decimal("0.1000"), 1),
        (D("2026-03-03"), "P1", "L1"): (120, 6, 114, Decimal("0.0500"), 1),
        (D("2026-03-04"), "P2", "L1"): (60, 3, 57, Decimal("0.0500"), 1),
        (D("2026-03-05"), "P1", "L1"): (90, 9, 81, Decimal("0.1000"), 1),
    }
    assert len({r["loaded_at"] for r in scenario["fact_1"].values()}) == 1  # one run, one load time


def test_production_fact_new_row_and_arrived_future_date(scenario):
    before, after = scenario["fact_1"], scenario["fact_2"]
    touched = {(D("2026-03-03"), "P1", "L1"), (D("2026-03-06"), "P1", "L1")}
    assert set(after) == set(before) | {(D("2026-03-06"), "P1", "L1")}
    assert _figures(after)[(D("2026-03-03"), "P1", "L1")] == (150, 9, 141, Decimal("0.0600"), 2)
    # the row rejected as FUTURE_DATE in run 1 is valid now that its date has arrived
    assert _figures(after)[(D("2026-03-06"), "P1", "L1")] == (70, 7, 63, Decimal("0.1000"), 1)
    # every other row is untouched, its load timestamp included
    for key in set(before) - touched:
        assert after[key] == before[key], key
    run_2_loaded_at = {after[key]["loaded_at"] for key in touched}
    assert len(run_2_loaded_at) == 1
    assert run_2_loaded_at.pop() > before[(D("2026-03-03"), "P1", "L1")]["loaded_at"]


def test_production_fact_rerun_without_changes_is_identical(scenario):
    assert scenario["fact_3"] == scenario["fact_2"]


def test_production_fact_deleted_and_moved_rows(scenario):
    before, after = scenario["fact_3"], scenario["fact_4"]
    gone = {(D("2026-03-02"), "P1", "L2"), (D("2026-03-04"), "P2", "L1")}
    moved_to = (D("2026-03-04"), "P3", "L1")
    assert set(after) == (set(before) - gone) | {moved_to}
    assert _figures(after)[moved_to] == (60, 3, 57, Decimal("0.0500"), 1)
    for key in set(before) - gone:
        assert after[key] == before[key], key  # same date 03-02 P1/L1 included: not rewritten


def test_production_fact_incremental_equals_full_refresh(scenario):
    assert _figures(scenario["fact_full_refresh"]) == _figures(scenario["fact_4"])


def test_data_quality_daily_counts_production_rejects(scenario):
    got = {
        (r["day"], r["reason"]): (r["rejected_rows"], r["file_versions"], r["rows_in"])
        for r in scenario["dq_1"]
    }
    # rows_in = production_raw rows of that production date (a row without one: its sync day)
    assert got == {
        (D("2026-03-02"), "NULL_KEY"): (2, 0, 5),  # rows 10, 11 of 1, 2, 3, 10, 11
        (D("2026-03-05"), "NULL_KEY"): (1, 0, 2),  # row 12: no date, synced 00:30 Paris on 03-05; and row 6
        (D("2026-03-03"), "NEGATIVE_VALUES"): (1, 0, 3),  # row 13 of 4, 13, 16
        (D("2026-03-07"), "NEGATIVE_VALUES"): (1, 0, 1),
        (D("2026-03-06"), "FUTURE_DATE"): (1, 0, 1),
        (D("2026-03-09"), "FUTURE_DATE"): (1, 0, 1),
        (D("2026-03-03"), "SCRAP_GT_PRODUCTION"): (1, 0, 3),  # row 16 of 4, 13, 16
    }
    share = {(r["day"], r["reason"]): r["share_of_rows"] for r in scenario["dq_1"]}
    assert share[(D("2026-03-02"), "NULL_KEY")] == Decimal("0.4")  # 2 / 5
    assert share[(D("2026-03-05"), "NULL_KEY")] == Decimal("0.5")  # 1 / 2
    assert share[(D("2026-03-07"), "NEGATIVE_VALUES")] == Decimal("1")
    assert float(share[(D("2026-03-03"), "SCRAP_GT_PRODUCTION")]) == pytest.approx(1 / 3)


# --------------------------------------------------------------------------------------------
# snapshots


def test_snapshots_capture_status_changes(scenario):
    erp: dict[int, list] = {}
    for r in scenario["erp_snapshot"]:
        erp.setdefault(r["order_id"], []).append(r)
    assert set(erp) == {1, 2, 3, 4, 5, 6, 7, 8}
    changed = erp[4]
    assert [r["order_status"] for r in changed] == ["En attente", "Planifiee"]
    assert changed[0]["dbt_valid_to"] == changed[1]["dbt_valid_from"]
    assert changed[1]["dbt_valid_to"] is None
    # deleted at the source in step 4: its version is closed, not removed
    assert len(erp[3]) == 1 and erp[3][0]["dbt_valid_to"] is not None
    for order_id in (1, 2, 5, 6, 7, 8):
        assert [(r["order_status"], r["dbt_valid_to"]) for r in erp[order_id]] == [
            (ERP_ORDERS[order_id - 1][3], None)
        ]

    mes = [(r["order_id"], r["order_status"], r["dbt_valid_to"] is None) for r in scenario["mes_snapshot"]]
    assert mes == [(1, "IN ATTESA", False), (1, "IN CORSO", True), (2, "IN CORSO", True)]
