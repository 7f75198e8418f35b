"""The plain-Python reference of the inventory rules (factory_assets/inventory/reference.py), the
shop simulation and the summary lines.

The reference is what tests/test_dbt_inventory.py checks the dbt models against, so it is tested
on its own first: hand-computed sequences (the same figures as the dbt unit tests in
models/intermediate/inventory/_int_inventory__models.yml, computed independently), and its
emulation of PostgreSQL's numeric division compared with a real PostgreSQL on thousands of
random and adversarial operands (127.0.0.1:5432 as postgres unless FACTORY_TEST_PG_* say
otherwise; only SELECTs on the maintenance database, nothing is created).
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from factory_assets.inventory import reference as ref
from factory_assets.inventory.simulation import ProductSpec, ShopParams, random_products, simulate
from tests.dbt_harness import connect

D = Decimal
PARIS = ZoneInfo("Europe/Paris")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def tx(tid: int, kind: str, when: str, status: str = "COMPLETADA") -> ref.Transaction:
    return ref.Transaction(tid, kind, at(when), status)


def line(iid: int, tid: int, pid: int, qty, *, price=None, cost=None) -> ref.Item:
    return ref.Item(iid, tid, pid, None if qty is None else D(str(qty)), _d(price), _d(cost))


def _d(v):
    return None if v is None else D(str(v))


def outcomes_and_states(transactions, items):
    states, outcomes = ref.replay(transactions, items)
    return states, outcomes


# --- hand-computed sequences --------------------------------------------------------------------


def test_receipts_round_half_up_at_each_step():
    t = [
        tx(1, "ENTRADA_MERCANCIA", "2026-03-02T09:00:00+01:00"),
        tx(2, "ENTRADA_MERCANCIA", "2026-03-03T09:00:00+01:00"),
        tx(3, "ENTRADA_MERCANCIA", "2026-03-04T09:00:00+01:00"),
    ]
    items = [
        line(11, 1, 1, 10, cost="2.00"),
        line(21, 2, 1, 5, cost="2.03"),  # (20.00 + 10.15) / 15 = 2.01
        line(31, 3, 1, 7, cost="1.99"),  # (30.15 + 13.93) / 22 = 2.0036.. -> 2.00
        line(12, 1, 2, 1, cost="2.00"),
        line(22, 2, 2, 1, cost="2.01"),  # 2.005 -> 2.01 (half up)
        line(32, 3, 2, 2, cost="2.00"),  # (4.02 + 4.00) / 4 = 2.005 -> 2.01; unrounded path: 2.0025
        line(13, 1, 3, 3, cost="3.335"),  # zero stock, sub-cent unit cost -> 3.34
        line(14, 1, 4, 0, cost="1.50"),  # divisor 0 -> the unit cost
    ]
    states, outcomes = outcomes_and_states(t, items)
    assert (states[1].stock, states[1].moving_avg_cost) == (22, D("2.00"))
    assert (states[2].stock, states[2].moving_avg_cost) == (4, D("2.01"))
    assert (states[3].stock, states[3].moving_avg_cost) == (3, D("3.34"))
    assert (states[4].stock, str(states[4].moving_avg_cost)) == (0, "1.50")
    assert set(outcomes.values()) == {ref.APPLIED}
    moves = ref.movements(t, items)[2]
    ref.fold(moves)
    assert [str(m.state_after.moving_avg_cost) for m in moves] == ["2.00", "2.01", "2.01"]


def test_sales_insufficient_stock_and_last_applied_price():
    t = [
        tx(1, "ENTRADA_MERCANCIA", "2026-03-02T09:00:00+01:00"),
        tx(2, "VENTA", "2026-03-02T10:00:00+01:00"),
        tx(3, "VENTA", "2026-03-02T11:00:00+01:00"),
        tx(4, "VENTA", "2026-03-02T12:00:00+01:00"),
        tx(5, "ENTRADA_MERCANCIA", "2026-03-03T09:00:00+01:00"),
    ]
    items = [
        line(1, 1, 1, 10, cost="4.00"),
        line(2, 2, 1, 3, price="6.50"),
        line(3, 3, 1, 8, price="7.00"),  # 8 > 7 in stock
        line(4, 4, 1, 7, price="6.00"),
        line(5, 5, 1, 5, cost="5.00"),  # on zero stock: the old cost weighs nothing
        line(6, 2, 2, 1, price="9.99"),  # never received
    ]
    states, outcomes = outcomes_and_states(t, items)
    assert outcomes == {
        1: "APPLIED",
        2: "APPLIED",
        3: "INSUFFICIENT_STOCK",
        4: "APPLIED",
        5: "APPLIED",
        6: "INSUFFICIENT_STOCK",
    }
    s = states[1]
    assert (s.stock, s.moving_avg_cost, s.last_sale_price) == (5, D("5.00"), D("6.00"))
    assert s.last_sale_at == at("2026-03-02T12:00:00+01:00") and s.last_receipt_at == at(
        "2026-03-03T09:00:00+01:00"
    )
    assert (states[2].stock, states[2].moving_avg_cost, states[2].last_sale_price) == (0, None, None)


def test_order_is_timestamp_then_transaction_then_item():
    t = [
        tx(10, "ENTRADA_MERCANCIA", "2026-03-02T10:00:00.000000+01:00"),
        tx(11, "VENTA", "2026-03-02T10:00:00.000000+01:00"),  # same microsecond: tx 10 first
        tx(12, "ENTRADA_MERCANCIA", "2026-03-02T11:00:00.000001+01:00"),
        tx(13, "VENTA", "2026-03-02T11:00:00.000000+01:00"),  # 1 µs before the receipt
        tx(20, "ENTRADA_MERCANCIA", "2026-03-02T12:00:00.123456+01:00"),
        tx(21, "VENTA", "2026-03-02T12:00:00.123456+01:00"),
    ]
    items = [
        line(100, 10, 1, 5, cost="1.00"),
        line(101, 11, 1, 5, price="2.00"),
        line(120, 12, 1, 2, cost="1.00"),
        line(130, 13, 1, 2, price="2.00"),
        line(310, 20, 2, 1, cost="1.00"),  # higher item id, lower transaction id: first
        line(300, 21, 2, 1, price="3.00"),
    ]
    _, outcomes = outcomes_and_states(t, items)
    assert outcomes == {
        100: "APPLIED",
        101: "APPLIED",
        130: "INSUFFICIENT_STOCK",
        120: "APPLIED",
        310: "APPLIED",
        300: "APPLIED",
    }
    assert [m.item.item_id for m in ref.movements(t, items)[1]] == [100, 101, 130, 120]


def test_cancelled_returns_and_invalid_lines_do_not_count():
    t = [
        tx(1, "ENTRADA_MERCANCIA", "2026-03-02T09:00:00+01:00"),
        tx(2, "ENTRADA_MERCANCIA", "2026-03-02T10:00:00+01:00", "CANCELADA"),
        tx(3, "VENTA", "2026-03-02T11:00:00+01:00", "CANCELADA"),
        tx(4, "DEVOLUCION", "2026-03-02T12:00:00+01:00"),
        tx(5, "VENTA", "2026-03-02T13:00:00+01:00"),
        tx(6, "VENTA", "2026-03-02T14:00:00+01:00"),
        tx(7, "ENTRADA_MERCANCIA", "2026-03-02T15:00:00+01:00"),
        tx(8, "VENTA", "2026-03-02T16:00:00+01:00"),
    ]
    items = [
        line(1, 1, 1, 10, cost="3.00"),
        line(2, 2, 1, 10, cost="9.00"),
        line(3, 3, 1, 4, price="5.00"),
        line(4, 4, 1, 2, price="5.00"),
        line(5, 5, 1, 2, price="5.00"),
        line(6, 6, 1, -2, price="5.00"),
        line(7, 7, 1, 5, price="4.00"),  # a receipt line without a cost
        line(8, 8, 1, 1),  # a sale line without a price
        line(9, 99, 1, 1, price="5.00"),  # its transaction is not (yet) in the mirror
    ]
    states, outcomes = outcomes_and_states(t, items)
    assert outcomes == {
        1: "APPLIED",
        5: "APPLIED",
        6: "INVALID_QUANTITY",
        7: "INVALID_UNIT_COST",
        8: "INVALID_SALE_PRICE",
    }
    assert (states[1].stock, states[1].moving_avg_cost) == (8, D("3.00"))


def test_state_as_of_cutoff_and_buckets():
    t = [
        tx(1, "ENTRADA_MERCANCIA", "2026-03-01T09:00:00+01:00"),
        tx(2, "VENTA", "2026-03-05T23:59:59.999999+01:00"),
        tx(3, "VENTA", "2026-03-06T00:00:00+01:00"),
    ]
    items = [line(1, 1, 1, 10, cost="2.50"), line(2, 2, 1, 4, price="4.00"), line(3, 3, 1, 4, price="4.10")]
    cutoff = ref.as_of_cutoff(date(2026, 3, 5), "Europe/Paris")
    states, _ = ref.replay(t, items, cutoff=cutoff)
    assert (states[1].stock, states[1].last_sale_price) == (6, D("4.00"))
    assert ref.suggested_price(D("2.50"), D(40)) == D("3.50")
    assert ref.suggested_price(D("0.375"), D(40)) == D("0.53")  # 0.525, half up
    assert ref.suggested_price(None, D(40)) is None
    assert ref.stagnation_bucket(states[1], date(2026, 4, 4), "Europe/Paris") == "normal"  # 30 days
    assert ref.stagnation_bucket(states[1], date(2026, 4, 5), "Europe/Paris") == "attention"
    assert ref.stagnation_bucket(ref.ProductState(stock=D(1)), date(2026, 4, 5), "Europe/Paris") == "no_sales"
    assert ref.stagnation_bucket(ref.ProductState(), date(2026, 4, 5), "Europe/Paris") is None
    assert [ref.stock_bucket(D(x)) for x in ("0", "5", "5.5", "10", "10.001")] == [
        "out",
        "critical",
        "low",
        "low",
        None,
    ]


# --- PostgreSQL numeric division ------------------------------------------------------------------


def _random_decimal(rng: random.Random) -> Decimal:
    digits = rng.randint(1, 12)
    scale = rng.choice((0, 0, 1, 2, 2, 2, 3, 4, 6, 9))
    value = D(rng.randrange(10 ** (digits - 1), 10**digits)).scaleb(-scale)
    return -value if rng.random() < 0.1 else value


def test_pg_div_matches_postgresql_digit_for_digit():
    rng = random.Random(20261103)
    pairs = [(_random_decimal(rng), _random_decimal(rng)) for _ in range(4000)]
    # the shapes the fold divides: (stock × cost + qty × unit) / (stock + qty)
    for _ in range(2000):
        stock, cost = D(rng.randint(0, 500)).scaleb(-rng.choice((0, 3))), D(rng.randint(1, 99999)).scaleb(-2)
        qty, unit = (
            D(rng.randint(1, 500)).scaleb(-rng.choice((0, 3))),
            D(rng.randint(1, 99999)).scaleb(-rng.choice((2, 3))),
        )
        pairs.append((stock * cost + qty * unit, stock + qty))
    # adversarial: equal first digits, tiny / huge ratios, exact halves at the 2nd decimal
    pairs += [(D("1"), D("3")), (D("2"), D("3")), (D("9999"), D("9999.0001")), (D("1E-20"), D("7")),
              (D("123456789012"), D("0.000001")), (D("8.01"), D("4")), (D("30.15"), D("15")),
              (D("0.00001"), D("99999")), (D("5000"), D("5000")), (D("-7"), D("2"))]  # fmt: skip
    with connect("postgres") as conn:
        got = conn.execute(
            "SELECT (a / b)::text, round(a / b, 2)::text FROM unnest(%s::numeric[], %s::numeric[]) AS t (a, b)",
            ([a for a, _ in pairs], [b for _, b in pairs]),
        ).fetchall()
    mismatches = [
        (a, b, pg, format(ref.pg_div(a, b), "f"))
        for (a, b), (pg, _) in zip(pairs, got, strict=True)
        if format(ref.pg_div(a, b), "f") != pg  # same digits, same scale
    ]
    assert not mismatches, mismatches[:5]
    rounded = [
        (a, b, pg)
        for (a, b), (_, pg) in zip(pairs, got, strict=True)
        if format(ref.pg_round(ref.pg_div(a, b)), "f") != pg
    ]
    assert not rounded, rounded[:5]


def test_pg_round_is_half_away_from_zero():
    assert [str(ref.pg_round(D(x))) for x in ("2.005", "2.0049999", "-2.005", "2.015", "7")] == [
        "2.01",
        "2.00",
        "-2.01",
        "2.02",
        "7.00",
    ]


# --- the shop simulation ------------------------------------------------------------------------


def _history(seed: int):
    products = random_products(40, seed=seed)
    params = ShopParams(sale_transactions_per_day=40, invalid_rate=0.002, tie_rate=0.05, backdate_rate=0.02)
    return [
        (d.transactions, d.items, d.receipts)
        for d in simulate(products, date(2025, 1, 1), 60, params, seed=seed)
    ]


def test_simulation_is_deterministic_and_has_every_case():
    first, again, other = _history(3), _history(3), _history(4)
    assert first == again and first != other
    transactions = [t for day, _, _ in first for t in day]
    items = [i for _, day, _ in first for i in day]
    receipts = [r for _, _, day in first for r in day]
    kinds = Counter((t[1], t[3]) for t in transactions)
    assert (
        kinds[("VENTA", "CANCELADA")]
        and kinds[("ENTRADA_MERCANCIA", "COMPLETADA")]
        and kinds[("DEVOLUCION", "COMPLETADA")]
    )
    assert len(receipts) == sum(n for (kind, _), n in kinds.items() if kind == "ENTRADA_MERCANCIA")
    stamps = Counter(t[2] for t in transactions)
    assert any(n > 1 for n in stamps.values()), "no two transactions at the same microsecond"
    by_time = sorted(transactions, key=lambda t: (t[2], t[0]))
    assert [t[0] for t in by_time] != sorted(t[0] for t in transactions), "no back-dated entry"
    assert all(t[2].weekday() != 6 for t in transactions)  # closed on Sundays
    txs = [ref.Transaction(t[0], t[1], t[2].replace(tzinfo=PARIS), t[3]) for t in transactions]
    states, outcomes = ref.replay(txs, [ref.Item(*i[:6]) for i in items])
    counted = Counter(outcomes.values())
    assert counted["INSUFFICIENT_STOCK"] > 0 and counted["APPLIED"] > 0.9 * sum(counted.values())
    assert {"INVALID_QUANTITY", "INVALID_SALE_PRICE"} & set(counted)
    assert sum(1 for s in states.values() if s.stock > 0) > 30  # receipts follow demand: most are in stock


def test_simulation_scenarios_for_the_stock_age_marts():
    specs = [
        ProductSpec(1, "a", "X", D("2.00"), never_sold=True),
        ProductSpec(2, "b", "X", D("3.00"), sells_until=30),
        ProductSpec(3, "c", "X", D("4.00"), receives_until=20),
        ProductSpec(4, "d", "X", D("5.00")),
    ]
    days = list(simulate(specs, date(2025, 1, 1), 90, ShopParams(sale_transactions_per_day=20), seed=1))
    sales = {}
    for d in days:
        kinds = {t[0]: t[1] for t in d.transactions}
        for i in d.items:
            if kinds[i[1]] == "VENTA":
                sales.setdefault(i[2], []).append(d.index)
    assert 1 not in sales and max(sales[2]) <= 30 and max(sales[4]) > 80
    txs = [ref.Transaction(t[0], t[1], t[2].replace(tzinfo=UTC), t[3]) for d in days for t in d.transactions]
    states, _ = ref.replay(txs, [ref.Item(*i[:6]) for d in days for i in d.items])
    assert states[3].stock < 5 and states[1].stock > 0  # runs out / received, never sold
    assert states[3].last_receipt_at < datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=21)


@pytest.mark.parametrize("value", [D("0"), D("12.500"), D("100")])
def test_summary_quantity_format(value):
    from factory_assets.inventory.summary import _quantity

    assert D(_quantity(value)) == value and not _quantity(value).endswith(".")
