"""dbt inventory models (DESIGN.md §6.6) on a real PostgreSQL: the stock card and the marts
product_pricing, stagnant_products, low_stock_products, inventory_rejects, and their arm of
data_quality_daily.

Two scenarios, each in its own throw-away database (raw migrations applied, raw rows written as
the SQL sync writes them, `_synced_at` included):

* ``scenario``: a hand-built week, figures computed by hand in the comments below, built five
  times: (1) first build; (2) a new day: only its lines are written; (3) history changes: a
  late sale dated before everything, a receipt cancelled, a transaction deleted at the source,
  a cancelled sale completed after all, a transaction moved in time, an unchanged transaction
  re-synced, plus a new day: only the touched products are refolded, each from its first
  changed line; (4) the same again without changes: nothing is written; (5) --full-refresh
  gives the same stock card. Then FACTORY_AS_OF_DATE, the summary lines;
* ``history``: a simulated year of more than 100,000 lines (factory_assets.inventory.simulation)
  built in two steps (the first 330 days, then the rest with cancellations, un-cancellations,
  deletions, moved and back-dated transactions), compared product by product and line by line
  with the plain-Python reference (factory_assets.inventory.reference), with the default margin
  and then with category margins in the seed.

Only the inventory models and their parents are built, with ``--indirect-selection cautious``
(plus ``+data_quality_daily`` in the first scenario), so that work in progress elsewhere does not
fail these tests. Server: 127.0.0.1:5432 as postgres unless FACTORY_TEST_PG_* say otherwise.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from factory_assets.inventory import reference as ref
from factory_assets.inventory.simulation import (
    ITEM_COLUMNS,
    PRODUCT_COLUMNS,
    RECEIPT_COLUMNS,
    TRANSACTION_COLUMNS,
    ShopParams,
    copy_into_raw,
    product_rows,
    random_products,
    sales_per_day_for,
    simulate,
)
from factory_assets.inventory.summary import summary_lines
from tests.dbt_harness import TIMEZONE, connect, run_dbt, scratch_database
from tests.dbt_harness import rows as _rows

D = Decimal
TZ = ZoneInfo(TIMEZONE)
INVENTORY = [
    "path:models/staging/oltp",
    "path:seeds/inventory",
    "path:models/intermediate/inventory",
    "path:models/marts/inventory",
]
UNSET_ENV = ["FACTORY_AS_OF_DATE", "FACTORY_OLTP_TIMEZONE"]
STAMPS = {
    "computed_at",
    "items_read_through",
    "transactions_read_through",
}


# What the snapshot sync of the transaction mirror writes in the transaction that deletes rows
# gone at the source (factory_assets/sql_sources/sync.py): the stock card looks for deleted
# transactions only after such a sync run (macros/sql_sources__rows_deleted_since.sql).
_SYNC_DELETED_ROWS = (
    "INSERT INTO raw.sync_runs (source, table_name, mode, status, rows_deleted, started_at, finished_at)"
    " VALUES ('oltp', 'transacciones', 'snapshot', 'success', 1, now(), clock_timestamp())",
    (),
)


def _dbt(
    dbname: str, work: Path, *args: str, as_of: str | None = None, select=None, unset=UNSET_ENV, **kw
) -> str:
    return run_dbt(
        dbname,
        work,
        *args,
        select=select or INVENTORY,
        cautious=True,
        dbt_vars={"inventory_as_of_date": as_of} if as_of else None,
        unset_env=unset,
        **kw,
    )


def _execute(dbname: str, *statements: tuple[str, tuple | list]) -> None:
    with connect(dbname) as conn:  # one transaction
        for sql, params in statements:
            conn.execute(sql, params)


def _card(dbname: str) -> dict[int, dict]:
    """The stock card by item id."""
    return {
        r["item_id"]: r for r in _rows(dbname, "SELECT * FROM intermediate.int_inventory__stock_movements")
    }


def _card_without_stamps(dbname: str) -> dict[int, dict]:
    return {k: {c: v for c, v in r.items() if c not in STAMPS} for k, r in _card(dbname).items()}


def _mart(dbname: str, name: str) -> dict[int, dict]:
    return {r["product_id"]: r for r in _rows(dbname, f"SELECT * FROM marts.{name}")}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


# --------------------------------------------------------------------------------------------
# scenario: a hand-built week

SYNC_1 = _at("2026-03-05 02:00")  # nightly sync after 03-04
SYNC_2 = _at("2026-03-06 02:00")
SYNC_3 = _at("2026-03-07 02:00")

PRODUCTS = [
    (1, "Tornillo M8", "Ferreteria"),
    (2, "Pintura blanca 15 L", "Pintura"),
    (3, "Cable 2,5 mm2", "Electricidad"),
    (4, "Casco obra", "Seguridad"),
    (5, "Nivel 60 cm", "Herramienta"),  # never moves
    (6, "Guantes T9", "Seguridad"),
    (7, "Gafas proteccion", "Seguridad"),
]
TRANSACTIONS_1 = [
    # id, type, local time, state
    (1, "ENTRADA_MERCANCIA", "2026-03-02 09:00", "COMPLETADA"),
    (11, "ENTRADA_MERCANCIA", "2026-03-02 09:30", "COMPLETADA"),
    (2, "VENTA", "2026-03-02 12:00", "COMPLETADA"),
    (3, "ENTRADA_MERCANCIA", "2026-03-03 10:00", "COMPLETADA"),
    (4, "VENTA", "2026-03-03 15:00", "COMPLETADA"),
    (5, "VENTA", "2026-03-04 09:00", "CANCELADA"),
    (6, "DEVOLUCION", "2026-03-04 10:00", "COMPLETADA"),
    (7, "ENTRADA_MERCANCIA", "2026-03-04 11:00", "COMPLETADA"),
    (8, "VENTA", "2026-03-04 12:00", "COMPLETADA"),
]
ITEMS_1 = [
    # item, tx, product, qty, sale price, unit cost
    (1, 1, 1, "10", None, "2.00"),
    (2, 1, 2, "4", None, "5.00"),
    (3, 1, 3, "20", None, "1.10"),
    (4, 1, 6, "8", None, "0.90"),
    (16, 11, 7, "10", None, "3.00"),
    (5, 2, 1, "3", "3.00", None),
    (6, 2, 2, "1", "8.00", None),
    (7, 3, 1, "5", None, "2.03"),  # P1: (7 × 2.00 + 5 × 2.03) / 12 = 2.0125 -> 2.01
    (8, 4, 2, "5", "8.50", None),  # P2: 5 > 3 in stock -> INSUFFICIENT_STOCK
    (9, 5, 3, "2", "1.80", None),  # cancelled
    (10, 6, 1, "1", "3.00", None),  # a return
    (11, 7, 4, "6", None, "12.00"),
    (12, 8, 6, "2", "1.50", None),
]


def _insert(dbname: str, transactions, items, synced_at: datetime) -> None:
    with connect(dbname) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO raw.oltp__transacciones (transaccion_id, tipo_transaccion, fecha_hora, estado, _synced_at)"
            " VALUES (%s, %s, %s, %s, %s)",
            [(tid, kind, _at(when), state, synced_at) for tid, kind, when, state in transactions],
        )
        cur.executemany(
            "INSERT INTO raw.oltp__items_transaccion (item_id, transaccion_id, producto_id, cantidad,"
            " precio_unitario_venta, costo_unitario_compra, _synced_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [
                (*row[:3], D(row[3]), *(None if v is None else D(v) for v in row[4:]), synced_at)
                for row in items
            ],
        )


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Iterator[dict]:
    with scratch_database("test_dbt_inventory") as dbname:
        yield _run_scenario(dbname, tmp_path_factory.mktemp("dbt_inventory"))


def _run_scenario(dbname: str, work: Path) -> dict:
    seen: dict = {"db": dbname, "work": work}
    with connect(dbname) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO raw.oltp__productos_maestro (producto_id, nombre_producto, categoria, _synced_at)"
            " VALUES (%s, %s, %s, %s)",
            [(*p, SYNC_1) for p in PRODUCTS],
        )
    _insert(dbname, TRANSACTIONS_1, ITEMS_1, SYNC_1)
    everything = [*INVENTORY, "+data_quality_daily"]

    # 1. first build, as of 03-04
    _dbt(dbname, work, "build", as_of="2026-03-04", select=everything)
    seen["card_1"] = _card(dbname)
    seen["pricing_1"] = _mart(dbname, "product_pricing")
    seen["dq_1"] = _rows(
        dbname, "SELECT day, reason, rejected_rows FROM marts.data_quality_daily WHERE source = 'oltp'"
    )

    # 2. a new day (03-05), synced the next night
    _insert(
        dbname,
        [(9, "VENTA", "2026-03-05 10:00", "COMPLETADA")],
        [(13, 9, 1, "2", "3.10", None), (14, 9, 3, "5", "1.80", None)],
        SYNC_2,
    )
    _dbt(dbname, work, "run", as_of="2026-03-05")
    seen["card_2"] = _card(dbname)

    # 3. history changes, and a new day (03-06)
    _insert(
        dbname,
        [
            (10, "VENTA", "2026-03-02 08:00", "COMPLETADA"),  # late: before P4's receipt
            (12, "VENTA", "2026-03-06 10:00", "COMPLETADA"),  # the new day
        ],
        [(15, 10, 4, "1", "15.00", None), (17, 12, 1, "1", "3.20", None)],
        SYNC_3,
    )
    _execute(
        dbname,
        (
            "UPDATE raw.oltp__transacciones SET estado = 'CANCELADA', _synced_at = %s WHERE transaccion_id = 3",
            (SYNC_3,),
        ),
        ("DELETE FROM raw.oltp__transacciones WHERE transaccion_id = 4", ()),  # gone at the source
        _SYNC_DELETED_ROWS,  # ... which the snapshot sync records with the delete
        (
            "UPDATE raw.oltp__transacciones SET estado = 'COMPLETADA', _synced_at = %s WHERE transaccion_id = 5",
            (SYNC_3,),
        ),
        (
            "UPDATE raw.oltp__transacciones SET fecha_hora = %s, _synced_at = %s WHERE transaccion_id = 8",
            (_at("2026-03-02 08:00"), SYNC_3),
        ),
        (
            "UPDATE raw.oltp__transacciones SET _synced_at = %s WHERE transaccion_id = 11",
            (SYNC_3,),
        ),  # unchanged
    )
    _dbt(dbname, work, "build", as_of="2026-03-06", select=everything)
    seen["card_3"] = _card(dbname)
    seen["pricing_3"] = _mart(dbname, "product_pricing")
    seen["stagnant_3"] = _mart(dbname, "stagnant_products")
    seen["low_3"] = _mart(dbname, "low_stock_products")
    seen["rejects_3"] = {r["item_id"]: r for r in _rows(dbname, "SELECT * FROM marts.inventory_rejects")}
    seen["dq_3"] = _rows(
        dbname, "SELECT day, reason, rejected_rows FROM marts.data_quality_daily WHERE source = 'oltp'"
    )
    with connect(dbname) as conn:
        seen["summary"] = summary_lines(conn)

    # 4. again, nothing changed
    _dbt(dbname, work, "run", as_of="2026-03-06")
    seen["card_4"] = _card(dbname)
    seen["pricing_4"] = _mart(dbname, "product_pricing")

    # 5. full refresh of the stock card
    _dbt(dbname, work, "run", "--full-refresh", as_of="2026-03-06")
    seen["card_5"] = _card(dbname)
    return seen


def _state(card: dict[int, dict], item_id: int) -> tuple:
    r = card[item_id]
    return r["outcome"], r["stock_after"], r["moving_avg_cost_after"], r["last_sale_price_after"]


def test_first_build_hand_computed(scenario):
    card, pricing = scenario["card_1"], scenario["pricing_1"]
    assert set(card) == {1, 2, 3, 4, 16, 5, 6, 7, 8, 11, 12}  # no cancelled line (9), no return (10)
    assert _state(card, 7) == ("APPLIED", 12, D("2.01"), D("3.00"))
    assert _state(card, 8) == ("INSUFFICIENT_STOCK", 3, D("5.00"), D("8.00"))
    p = pricing
    assert (p[1]["stock"], p[1]["moving_avg_cost"], p[1]["suggested_price"], p[1]["last_sale_price"]) == (
        12,
        D("2.01"),
        D("2.81"),  # 2.01 × 1.40 = 2.814
        D("3.00"),
    )
    assert (p[2]["stock"], p[2]["moving_avg_cost"], p[2]["suggested_price"]) == (3, D("5.00"), D("7.00"))
    assert (p[3]["stock"], p[3]["last_sale_price"], p[3]["suggested_price"]) == (20, None, D("1.54"))
    assert (p[5]["stock"], p[5]["moving_avg_cost"], p[5]["suggested_price"]) == (0, None, None)
    assert p[1]["markup_pct"] == D("49.25") and p[1]["gross_margin_pct"] == D("33.00")  # 0.99/2.01, 0.99/3.00
    assert p[4]["inventory_value_at_cost"] == D("72.00") and p[4]["inventory_value_at_suggested_price"] == D(
        "100.80"
    )
    assert {r["as_of_date"] for r in p.values()} == {date(2026, 3, 4)}
    assert scenario["dq_1"] == [{"day": date(2026, 3, 3), "reason": "INSUFFICIENT_STOCK", "rejected_rows": 1}]


def test_new_day_folds_only_its_lines(scenario):
    before, after = scenario["card_1"], scenario["card_2"]
    assert set(after) == set(before) | {13, 14}
    first_run = before[1]["computed_at"]
    assert {k for k, r in after.items() if r["computed_at"] != first_run} == {13, 14}
    assert _state(after, 13) == ("APPLIED", 10, D("2.01"), D("3.10"))  # continues from stock 12
    assert _state(after, 14) == ("APPLIED", 15, D("1.10"), D("1.80"))
    assert all(after[k] == before[k] for k in before)


def test_changed_history_refolds_touched_products_from_their_first_change(scenario):
    before, card = scenario["card_2"], scenario["card_3"]
    # P1: receipt 7 cancelled -> from its position: 7 (stock 7, cost 2.00), sale 13 -> 5, new sale 17 -> 4
    assert 7 not in card and _state(card, 13) == ("APPLIED", 5, D("2.00"), D("3.10"))
    assert _state(card, 17) == ("APPLIED", 4, D("2.00"), D("3.20"))
    # P2: the refused sale's transaction was deleted at the source
    assert 8 not in card and _state(card, 6) == ("APPLIED", 3, D("5.00"), D("8.00"))
    # P3: the cancelled sale of 03-04 completed after all: 20 - 2 - 5 = 13
    assert _state(card, 9) == ("APPLIED", 18, D("1.10"), D("1.80")) and card[14]["stock_after"] == 13
    # P4: a sale synced late, dated before its receipt: refused, then the receipt
    assert _state(card, 15) == ("INSUFFICIENT_STOCK", 0, None, None) and card[11]["stock_after"] == 6
    # P6: its sale moved before the receipt: refused
    assert _state(card, 12) == ("INSUFFICIENT_STOCK", 0, None, None) and card[4]["stock_after"] == 8
    # rewritten: only lines at or after each touched product's first change. Kept as they were:
    # P1's lines 1 and 5 (before its cancelled receipt), P2's 2 and 6 (before the deleted
    # refusal), P3's receipt 3 (before the sale completed after all), P7's receipt 16 (re-synced
    # unchanged)
    untouched = {k for k, r in card.items() if k in before and r == before[k]}
    assert untouched == {1, 5, 2, 6, 3, 16}
    assert set(card) - set(before) == {9, 15, 17}


def test_marts_after_the_changes(scenario):
    p, stagnant, low = scenario["pricing_3"], scenario["stagnant_3"], scenario["low_3"]
    assert {k: (r["stock"], r["moving_avg_cost"], r["last_sale_price"]) for k, r in p.items()} == {
        1: (4, D("2.00"), D("3.20")),
        2: (3, D("5.00"), D("8.00")),
        3: (13, D("1.10"), D("1.80")),
        4: (6, D("12.00"), None),
        5: (0, None, None),
        6: (8, D("0.90"), None),
        7: (10, D("3.00"), None),
    }
    assert p[1]["suggested_price"] == D("2.80") and p[6]["suggested_price"] == D("1.26")
    assert {k: r["stagnation_bucket"] for k, r in stagnant.items()} == {
        1: "normal",
        2: "normal",
        3: "normal",
        4: "no_sales",
        6: "no_sales",
        7: "no_sales",
    }
    assert stagnant[2]["days_since_last_sale"] == 4 and stagnant[1]["days_since_last_sale"] == 0
    assert {k: r["stock_bucket"] for k, r in low.items()} == {
        1: "critical",
        2: "critical",
        4: "low",
        5: "out",
        6: "low",
        7: "low",
    }
    assert low[5]["last_receipt_at"] is None


def test_rejects_and_data_quality(scenario):
    rejects = scenario["rejects_3"]
    assert {k: (r["reason"], r["movement_date"], r["stock_at_movement"]) for k, r in rejects.items()} == {
        15: ("INSUFFICIENT_STOCK", date(2026, 3, 2), 0),
        12: ("INSUFFICIENT_STOCK", date(2026, 3, 2), 0),
    }
    # the deleted refusal of 03-03 left data_quality_daily; the two of 03-02 entered it
    assert scenario["dq_3"] == [{"day": date(2026, 3, 2), "reason": "INSUFFICIENT_STOCK", "rejected_rows": 2}]


def test_rerun_without_changes_writes_nothing(scenario):
    assert scenario["card_4"] == scenario["card_3"]  # computed_at included: no row rewritten
    assert scenario["pricing_4"] == scenario["pricing_3"]


def test_incremental_equals_full_refresh(scenario):
    strip = lambda card: {k: {c: v for c, v in r.items() if c not in STAMPS} for k, r in card.items()}  # noqa: E731
    assert strip(scenario["card_5"]) == strip(scenario["card_4"])


def test_summary_lines(scenario):
    lines = scenario["summary"]
    assert lines[0].startswith("inventory (marts.product_pricing, as of 2026-03-06)")
    ranked = [line.split(".", 1)[1].split("stock=")[0].strip() for line in lines[1:6]]
    assert ranked == ["Casco obra", "Gafas proteccion", "Pintura blanca 15 L", "Cable 2,5 mm2", "Tornillo M8"]
    assert "value=72.00" in lines[1]
    assert lines[-1].endswith("no_sales=3  critical=0  alert=0  attention=0  normal=3")


def test_summary_lines_before_the_first_build():
    with scratch_database("test_dbt_inventory_empty") as dbname, connect(dbname) as conn:
        assert summary_lines(conn) == []
        conn.execute("SELECT 1")  # the connection is still usable


def test_as_of_date_from_the_environment(scenario, monkeypatch):
    dbname, work = scenario["db"], scenario["work"]
    marts = ["product_pricing", "stagnant_products", "low_stock_products"]
    monkeypatch.setenv("FACTORY_AS_OF_DATE", "2026-03-04")
    _dbt(dbname, work, "run", select=marts, unset=["FACTORY_OLTP_TIMEZONE"])
    first = {m: _mart(dbname, m) for m in marts}
    p = first["product_pricing"]
    assert {r["as_of_date"] for r in p.values()} == {date(2026, 3, 4)}
    # the state at the end of 03-04: P1 before its sales of 03-05 and 03-06; P3 before 03-05
    assert (p[1]["stock"], p[1]["last_sale_price"]) == (7, D("3.00"))
    assert (p[3]["stock"], p[3]["last_sale_price"]) == (18, D("1.80"))
    assert first["stagnant_products"][2]["days_since_last_sale"] == 2
    _dbt(dbname, work, "run", select=marts, unset=["FACTORY_OLTP_TIMEZONE"])
    assert {m: _mart(dbname, m) for m in marts} == first  # reproducible

    monkeypatch.setenv("FACTORY_AS_OF_DATE", "04/03/2026")
    with pytest.raises(AssertionError, match="FACTORY_AS_OF_DATE .* must be a date YYYY-MM-DD"):
        _dbt(dbname, work, "run", select=["product_pricing"], unset=["FACTORY_OLTP_TIMEZONE"])

    monkeypatch.delenv("FACTORY_AS_OF_DATE")
    before = datetime.now(TZ).date()
    _dbt(dbname, work, "run", select=["product_pricing"])
    after = datetime.now(TZ).date()
    assert {r["as_of_date"] for r in _mart(dbname, "product_pricing").values()} <= {before, after}


def test_marts_are_views_kept_across_runs_and_a_card_of_the_census_era_upgrades(scenario):
    """The marts are views over the stock card: a run that changes nothing keeps them (same
    relation), and a card built when it still carried the census stamps (three columns since
    replaced by the sync's record of deletions) loses them in the next incremental run instead
    of stopping it on the schema change. A card built before the post-hook's indexes (lines not
    applied; run stamps) gets them in that run too."""
    dbname, work = scenario["db"], scenario["work"]
    marts = ("product_pricing", "stagnant_products", "low_stock_products", "inventory_rejects")
    kinds = "SELECT relname, relkind, oid::bigint AS oid FROM pg_class WHERE relnamespace = 'marts'::regnamespace AND relname = ANY(%s)"
    before = {r["relname"]: r for r in _rows(dbname, kinds, (list(marts),))}
    assert {name: r["relkind"] for name, r in before.items()} == {m: "v" for m in marts}
    card = "intermediate.int_inventory__stock_movements"
    _execute(
        dbname,
        (
            f"ALTER TABLE {card} ADD COLUMN transactions_census_max_id bigint,"
            " ADD COLUMN transactions_census_count bigint, ADD COLUMN transactions_census_checksum bigint",
            (),
        ),
    )
    made_by_hook = (
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'intermediate'"
        " AND tablename = 'int_inventory__stock_movements'"
        " AND (indexname LIKE 'inventory\\_not\\_applied\\_%%' OR indexname LIKE 'inventory\\_run\\_stamps\\_%%')"
    )
    for index in _rows(dbname, made_by_hook):
        _execute(dbname, (f'DROP INDEX intermediate."{index["indexname"]}"', ()))
    _insert(
        dbname,
        [(13, "VENTA", "2026-03-06 16:00", "COMPLETADA")],
        [(18, 13, 1, "1", "3.20", None)],
        datetime.now(TZ),
    )
    _dbt(dbname, work, "run", as_of="2026-03-06", select=INVENTORY)
    definitions = sorted(r["indexdef"].split(" USING ")[1] for r in _rows(dbname, made_by_hook))
    assert definitions == ["btree (computed_at)", "btree (moved_at) WHERE (outcome <> 'APPLIED'::text)"]
    census = _rows(
        dbname,
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attname LIKE 'transactions_census%%'"
        " AND NOT attisdropped",
        (card,),
    )
    assert census == []
    assert _card(dbname)[18]["outcome"] == "APPLIED"  # the run went on incrementally
    pricing = _mart(dbname, "product_pricing")
    assert pricing[1]["stock"] == scenario["pricing_3"][1]["stock"] - 1  # the view reads the card live
    after = {r["relname"]: r["oid"] for r in _rows(dbname, kinds, (list(marts),))}
    assert after == {name: r["oid"] for name, r in before.items()}  # replaced in place, never dropped


# --------------------------------------------------------------------------------------------
# history: a simulated year of more than 100,000 lines against the plain-Python reference

START = date(2025, 1, 6)
DAYS = 365
FIRST_PART = 330
MARGINS = {"Pintura": D("25"), "Herramienta": D("32.5")}


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Iterator[dict]:
    with scratch_database("test_dbt_inventory_history") as dbname:
        yield _run_history(dbname, tmp_path_factory.mktemp("dbt_inventory_history"))


def _nightly(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), TZ) + timedelta(hours=2)


def _run_history(dbname: str, work: Path) -> dict:
    products = random_products(300, seed=11)
    params = ShopParams(
        sale_transactions_per_day=sales_per_day_for(100_000, DAYS),
        invalid_rate=0.0005,
        tie_rate=0.02,
        backdate_rate=0.01,
        sub_cent_cost_rate=0.1,
    )
    days = list(simulate(products, START, DAYS + 2, params, seed=11))
    nights = days[DAYS:]  # kept aside: the two nights after the year (see the end)
    del days[DAYS:]
    transactions = {t[0]: list(t) for d in days for t in d.transactions}
    items = [i for d in days for i in d.items]
    assert len(items) >= 100_000
    with connect(dbname) as conn:
        copy_into_raw(
            conn,
            "productos_maestro",
            PRODUCT_COLUMNS,
            product_rows(products, START),
            _nightly(START),
            TIMEZONE,
        )
        for d in days[:FIRST_PART]:
            synced = _nightly(d.day)
            copy_into_raw(conn, "transacciones", TRANSACTION_COLUMNS, d.transactions, synced, TIMEZONE)
            copy_into_raw(conn, "items_transaccion", ITEM_COLUMNS, d.items, synced, TIMEZONE)
            copy_into_raw(conn, "entradas_mercancia", RECEIPT_COLUMNS, d.receipts, synced, TIMEZONE)
    last_first = START + timedelta(days=FIRST_PART - 1)
    _dbt(dbname, work, "seed", select="path:seeds/inventory")
    _dbt(dbname, work, "run", as_of=last_first.isoformat())
    first_card = _card(dbname)

    # the rest of the year, synced in one go, with the history changing underneath
    rng = random.Random(5)
    loaded = [tid for d in days[:FIRST_PART] for tid, *_ in d.transactions]
    completed = [tid for tid in loaded if transactions[tid][3] == "COMPLETADA"]
    cancelled = [tid for tid in loaded if transactions[tid][3] == "CANCELADA"]
    to_cancel = rng.sample(completed, 40)
    to_complete = rng.sample(cancelled, 15)
    to_delete = rng.sample([t for t in completed if t not in to_cancel], 8)
    to_move = rng.sample([t for t in completed if t not in to_cancel + to_delete], 15)
    now = _nightly(START + timedelta(days=DAYS))
    for tid in to_cancel:
        transactions[tid][3] = "CANCELADA"
    for tid in to_complete:
        transactions[tid][3] = "COMPLETADA"
    for tid in to_move:
        transactions[tid][2] = transactions[tid][2] + timedelta(
            days=rng.randint(-20, 20), microseconds=rng.randint(0, 10**6)
        )
    for tid in to_delete:
        del transactions[tid]
    # late arrivals: lines keyed in now for transactions dated months ago
    late_tx, late_items = [], []
    next_tx, next_item = max(transactions) + 1000, max(i[0] for i in items) + 1000
    for k in range(25):
        when = datetime.combine(
            START + timedelta(days=rng.randint(10, FIRST_PART - 1)), datetime.min.time()
        ) + timedelta(hours=rng.randint(8, 19), microseconds=rng.randint(0, 10**6))
        kind = "ENTRADA_MERCANCIA" if k % 3 == 0 else "VENTA"
        late_tx.append([next_tx + k, kind, when, "COMPLETADA", D(0), None, when])
        for _ in range(rng.randint(1, 3)):
            p = rng.choice(products)
            qty = D(rng.randint(1, 30))
            price, cost = (
                (None, (p.base_cost * D("0.97")).quantize(D("0.01")))
                if k % 3 == 0
                else (p.base_cost * 2, None)
            )
            late_items.append((next_item, next_tx + k, p.product_id, qty, price, cost, when))
            next_item += 1
    with connect(dbname) as conn:
        for tid in to_cancel + to_complete + to_move:
            t = transactions[tid]
            conn.execute(
                "UPDATE raw.oltp__transacciones SET estado = %s, fecha_hora = %s, _synced_at = %s WHERE transaccion_id = %s",
                (t[3], t[2].replace(tzinfo=TZ), now, tid),
            )
        conn.execute("DELETE FROM raw.oltp__transacciones WHERE transaccion_id = ANY(%s)", (to_delete,))
        conn.execute(*_SYNC_DELETED_ROWS)
        for d in days[FIRST_PART:]:
            copy_into_raw(conn, "transacciones", TRANSACTION_COLUMNS, d.transactions, now, TIMEZONE)
            copy_into_raw(conn, "items_transaccion", ITEM_COLUMNS, d.items, now, TIMEZONE)
        copy_into_raw(conn, "transacciones", TRANSACTION_COLUMNS, late_tx, now, TIMEZONE)
        copy_into_raw(conn, "items_transaccion", ITEM_COLUMNS, late_items, now, TIMEZONE)
    for t in late_tx:
        transactions[t[0]] = t
    items += late_items

    as_of = START + timedelta(days=DAYS - 1)
    _dbt(dbname, work, "build", as_of=as_of.isoformat())
    seen = {
        "db": dbname,
        "as_of": as_of,
        "products": {p.product_id: p for p in products},
        "transactions": [
            ref.Transaction(t[0], t[1], t[2].replace(tzinfo=TZ), t[3]) for t in transactions.values()
        ],
        "items": [ref.Item(*i[:6]) for i in items],
        "first_card": first_card,
        "card": _card(dbname),
        "pricing": _mart(dbname, "product_pricing"),
        "stagnant": _mart(dbname, "stagnant_products"),
        "low": _mart(dbname, "low_stock_products"),
        "rejects": {
            r["item_id"]: r["reason"]
            for r in _rows(dbname, "SELECT item_id, reason FROM marts.inventory_rejects")
        },
    }
    # category margins in the seed, then only product_pricing again
    with connect(dbname) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO seeds.inventory_category_margins (category, margin_pct) VALUES (%s, %s)",
            list(MARGINS.items()),
        )
    _dbt(dbname, work, "run", as_of=as_of.isoformat(), select=["product_pricing"])
    seen["pricing_margins"] = _mart(dbname, "product_pricing")
    _dbt(
        dbname,
        work,
        "run",
        "--full-refresh",
        as_of=as_of.isoformat(),
        select=["int_inventory__stock_movements"],
    )
    seen["card_full"] = _card(dbname)

    # the next two nights: one more day of lines each, then the stock card alone. A run re-reads
    # the previous night's lines (the sync overlap), so the second night is the one measured
    seen["next_night"] = {}
    for n, night in enumerate(nights, start=1):
        with connect(dbname) as conn:
            synced = now + timedelta(days=n)
            copy_into_raw(conn, "transacciones", TRANSACTION_COLUMNS, night.transactions, synced, TIMEZONE)
            copy_into_raw(conn, "items_transaccion", ITEM_COLUMNS, night.items, synced, TIMEZONE)
        before = _line_mirror_scans(dbname)
        _dbt(dbname, work, "run", as_of=as_of.isoformat(), select=["int_inventory__stock_movements"])
        counted = {
            t[0]
            for t in night.transactions
            if t[3] == "COMPLETADA" and t[1] in ("VENTA", "ENTRADA_MERCANCIA")
        }
        seen["next_night"].setdefault("lines", set()).update(i[0] for i in night.items if i[1] in counted)
        seen["next_night"]["scans"] = (before, _line_mirror_scans(dbname, after=before))
    seen["next_night"]["card"] = _card(dbname)
    return seen


def _line_mirror_scans(dbname: str, after: tuple[int, int] | None = None) -> tuple[int, int]:
    """(sequential scans, index scans) of raw.oltp__items_transaccion since the server started.
    With ``after``: wait (up to 10 s) until the index scans have grown past it, since a backend
    reports its counters when its connection ends."""
    deadline = time.monotonic() + 10
    while True:
        (row,) = _rows(
            dbname,
            "SELECT seq_scan, idx_scan FROM pg_stat_user_tables WHERE relid = 'raw.oltp__items_transaccion'::regclass",
        )
        counts = (row["seq_scan"], row["idx_scan"] or 0)
        if after is None or counts[1] > after[1] or time.monotonic() > deadline:
            return counts
        time.sleep(0.2)


def _reference(history):
    cutoff = ref.as_of_cutoff(history["as_of"], TIMEZONE)
    return ref.replay(history["transactions"], history["items"], cutoff=cutoff)


def test_history_is_large_and_has_every_case(history):
    assert len(history["items"]) >= 100_000
    reasons = set(history["rejects"].values())
    assert {"INSUFFICIENT_STOCK", "INVALID_QUANTITY"} <= reasons
    buckets = {r["stagnation_bucket"] for r in history["stagnant"].values()}
    assert {"normal", "no_sales"} <= buckets and len(buckets) >= 4


def test_marts_equal_the_reference_for_every_product(history):
    states, _ = _reference(history)
    pricing = history["pricing"]
    assert set(pricing) == set(history["products"])
    mismatches = []
    for pid, row in pricing.items():
        s = states.get(pid, ref.ProductState())
        expected = (
            s.stock,
            s.moving_avg_cost,
            ref.suggested_price(s.moving_avg_cost, D(40)),
            s.last_sale_price,
            s.last_sale_at,
            s.last_receipt_at,
        )
        got = (
            row["stock"],
            row["moving_avg_cost"],
            row["suggested_price"],
            row["last_sale_price"],
            row["last_sale_at"],
            row["last_receipt_at"],
        )
        if got != expected:
            mismatches.append((pid, got, expected))
    assert not mismatches, mismatches[:5]
    # the exact digits, scale included (e.g. 2.00, not 2.0)
    assert all(
        str(r["moving_avg_cost"]) == str(states[p].moving_avg_cost) for p, r in pricing.items() if p in states
    )


def test_stock_age_marts_equal_the_reference(history):
    states, _ = _reference(history)
    as_of = history["as_of"]
    expected_stagnant = {
        pid: ref.stagnation_bucket(s, as_of, TIMEZONE) for pid, s in states.items() if s.stock > 0
    }
    assert {pid: r["stagnation_bucket"] for pid, r in history["stagnant"].items()} == expected_stagnant
    expected_low = {
        pid: ref.stock_bucket(states.get(pid, ref.ProductState()).stock) for pid in history["products"]
    }
    assert {pid: r["stock_bucket"] for pid, r in history["low"].items()} == {
        pid: b for pid, b in expected_low.items() if b is not None
    }


def test_every_line_has_the_reference_outcome(history):
    _, outcomes = ref.replay(history["transactions"], history["items"])
    assert {k: r["outcome"] for k, r in history["card"].items()} == outcomes
    assert history["rejects"] == {k: v for k, v in outcomes.items() if v != "APPLIED"}


def test_category_margins_from_the_seed(history):
    states, _ = _reference(history)
    for pid, row in history["pricing_margins"].items():
        margin = ref.margin_for(history["products"][pid].category, D(40), MARGINS)
        assert row["margin_pct"] == margin
        assert row["suggested_price"] == ref.suggested_price(
            states.get(pid, ref.ProductState()).moving_avg_cost, margin
        )
    assert {r["margin_pct"] for r in history["pricing_margins"].values()} == {D(40), D(25), D("32.5")}


def test_history_incremental_equals_full_refresh(history):
    strip = lambda card: {k: {c: v for c, v in r.items() if c not in STAMPS} for k, r in card.items()}  # noqa: E731
    assert strip(history["card_full"]) == strip(history["card"])
    # the second step did not rewrite the whole card
    first, card = history["first_card"], history["card"]
    kept = sum(1 for k, r in card.items() if k in first and r["computed_at"] == first[k]["computed_at"])
    assert kept > 0.5 * len(first)


def test_the_next_night_reads_its_lines_by_index_not_the_whole_mirror(history):
    """A new day of lines is folded without a pass over the line mirror's history: the run finds
    what the sync wrote since its watermark through the `_synced_at` index (raw migration 0010)."""
    night = history["next_night"]
    (seq_before, idx_before), (seq_after, idx_after) = night["scans"]
    assert idx_after > idx_before, "the run did not read the line mirror by index"
    assert seq_after == seq_before, "the run scanned the whole line mirror"
    card = night["card"]
    assert night["lines"] and night["lines"] <= set(card)
    assert set(card) - night["lines"] == set(history["card_full"])  # nothing else came or went
