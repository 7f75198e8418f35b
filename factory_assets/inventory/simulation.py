"""A shop's receipts and sales, day by day: the OLTP history behind the demo, the tests and the
benchmark of the inventory marts (DESIGN.md §6.6, §6.8).

Why a simulation rather than random rows: the moving-average cost and the stock only look like
a real shop's when receipts follow demand. Random receipts give stocks that grow without bound
or sales refused every day. Here each product has a popularity; customers buy it every day
(Sundays closed); when the expected stock falls under a reorder point (``reorder_days`` of
demand) an order covering ``cover_days`` is placed and arrives after a lead time of 1-4 days,
grouped by supplier into goods receipts. Purchase costs drift (about 3 % a year) and scatter
around each product's base cost; sale prices carry a 30-60 % markup. What the rules must cope
with appears at realistic rates:

* a sale larger than the stock (a delivery late or cancelled, a run on a product):
  ``INSUFFICIENT_STOCK``;
* cancelled transactions (``CANCELADA``) and returns (``DEVOLUCION``), which do not count;
* transactions at the very same microsecond (``tie_rate``: ties broken by transaction id, then
  item id), and back-dated entries whose id is out of time order (``backdate_rate``);
* products sold by length or weight (quantities with 3 decimals) and purchase costs with a
  third decimal (``sub_cent_cost_rate``, e.g. 2.005), so that rounding at each receipt matters;
* optionally lines without a price or with a negative quantity (``invalid_rate``);
* per product, scenarios for the stock-age marts: never sold, no sales after a given day
  (stagnant), no receipts after a given day (runs out).

Everything is a pure function of the arguments and the seed. Timestamps are naive, in the
source's local time, as the OLTP database stores them; rows are tuples in the column order of
the source tables (:data:`TRANSACTION_COLUMNS`, :data:`ITEM_COLUMNS`, :data:`RECEIPT_COLUMNS`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

TRANSACTION_COLUMNS = (
    "transaccion_id",
    "tipo_transaccion",
    "fecha_hora",
    "estado",
    "total_bruto",
    "notas",
    "created_at",
)
ITEM_COLUMNS = (
    "item_id",
    "transaccion_id",
    "producto_id",
    "cantidad",
    "precio_unitario_venta",
    "costo_unitario_compra",
    "created_at",
)
RECEIPT_COLUMNS = ("entrada_id", "transaccion_id", "nombre_proveedor", "numero_factura", "fecha_recepcion")
PRODUCT_COLUMNS = ("producto_id", "nombre_producto", "categoria", "created_at", "updated_at")

SUPPLIERS = (
    "Suministros Iberica SL",
    "Ferreteria Mayorista del Sur",
    "ElectroDistribucion SA",
    "Pinturas Levante",
    "Herramientas Norte SA",
)
NOTES = (None, None, None, "Cliente habitual", "Pago con tarjeta", "Factura solicitada")
PACK_SIZES = (6, 10, 12, 20, 24, 50, 100)
SALE_QUANTITIES = (1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5, 6, 10)  # mean ~3.1
CENT = Decimal("0.01")
MILLI = Decimal("0.001")


@dataclass(frozen=True)
class ProductSpec:
    """One product of the simulated shop."""

    product_id: int
    name: str
    category: str
    base_cost: Decimal
    popularity: float = 1.0  # relative share of sale lines
    fractional: bool = False  # sold by length / weight: quantities with 3 decimals
    sells_until: int | None = None  # last day (index) with sales; None: every day
    receives_until: int | None = None  # last day (index) a delivery can arrive; None: every day
    never_sold: bool = False


@dataclass(frozen=True)
class ShopParams:
    sale_transactions_per_day: float = 6.0
    max_sale_lines: int = 3
    cancel_rate: float = 0.04
    return_rate: float = 0.03  # returns per sale transaction
    tie_rate: float = 0.01
    backdate_rate: float = 0.005
    invalid_rate: float = 0.0
    sub_cent_cost_rate: float = 0.05
    lead_days: tuple[int, int] = (1, 4)
    reorder_days: float = 7.0
    cover_days: float = 24.0
    max_receipt_lines: int = 12
    opening_hour: int = 8
    open_hours: int = 12
    closed_weekdays: tuple[int, ...] = (6,)  # Sunday


@dataclass
class Day:
    """One simulated day: its transactions (in id order), their lines and goods receipts."""

    index: int
    day: date
    transactions: list[tuple] = field(default_factory=list)
    items: list[tuple] = field(default_factory=list)
    receipts: list[tuple] = field(default_factory=list)


def random_products(
    count: int, *, seed: int = 7, first_id: int = 1, categories: Sequence[str] | None = None
) -> list[ProductSpec]:
    """``count`` anonymous products with Zipf-like popularity (a few sell a lot, most a little),
    one in ten sold by length or weight, and a few stock-age scenarios spread over the year."""
    rng = random.Random(f"products:{seed}")
    cats = tuple(
        categories or ("Ferreteria", "Electricidad", "Fontaneria", "Pintura", "Seguridad", "Herramienta")
    )
    out = []
    for n in range(count):
        pid = first_id + n
        kind = rng.random()
        out.append(
            ProductSpec(
                product_id=pid,
                name=f"Articulo {pid:05d}",
                category=cats[n % len(cats)],
                base_cost=Decimal(rng.randint(50, 9000)) / 100,
                popularity=1.0 / (1 + n % 97) ** 0.8,
                fractional=rng.random() < 0.1,
                never_sold=kind < 0.01,
                sells_until=rng.randint(150, 330) if 0.01 <= kind < 0.03 else None,
                receives_until=rng.randint(200, 340) if 0.03 <= kind < 0.05 else None,
            )
        )
    return out


def product_rows(products: Sequence[ProductSpec], start: date, *, seed: int = 7) -> list[tuple]:
    """``productos_maestro`` rows: created before ``start``; 70 % edited since (``updated_at``),
    the others never (NULL, as a new product is in the OLTP)."""
    rng = random.Random(f"master:{seed}")
    first = datetime.combine(start, time(8, 0))
    rows = []
    for p in products:
        created = first - timedelta(days=rng.randint(30, 400), microseconds=rng.randint(0, 999_999))
        updated = created + (first - created) * rng.random() if rng.random() < 0.7 else None
        rows.append((p.product_id, p.name, p.category, created, updated))
    return rows


def simulate(
    products: Sequence[ProductSpec],
    start: date,
    days: int,
    params: ShopParams | None = None,
    *,
    seed: int = 42,
    first_transaction_id: int = 1,
    first_item_id: int = 1,
) -> Iterator[Day]:
    """Yield ``days`` days of the shop from ``start``, one :class:`Day` at a time (memory does
    not grow with the number of days: the benchmark streams a million lines through it)."""
    params = params or ShopParams()
    rng = random.Random(f"shop:{seed}")
    by_id = {p.product_id: p for p in products}
    supplier = {
        p.product_id: SUPPLIERS[(p.product_id * 7 + len(p.category)) % len(SUPPLIERS)] for p in products
    }
    drift_per_day = math.log(1.03) / 365

    # expected daily demand per product (quantity), for reorder points and order sizes
    mean_lines = (1 + params.max_sale_lines) / 2
    total_pop = sum(p.popularity for p in products if not p.never_sold) or 1.0
    mean_qty_int = sum(SALE_QUANTITIES) / len(SALE_QUANTITIES)
    demand = {
        p.product_id: params.sale_transactions_per_day
        * mean_lines
        * (p.popularity / total_pop)
        * (2.6 if p.fractional else mean_qty_int)
        for p in products
    }
    stock = {p.product_id: Decimal(0) for p in products}  # what the simulation believes
    on_order: dict[int, Decimal] = {p.product_id: Decimal(0) for p in products}
    arrivals: dict[int, list[tuple[int, Decimal]]] = {}  # day index -> [(product, qty)]
    # opening stock: one order per product arriving on the first day (a never-sold product too)
    for p in products:
        qty = _order_quantity(max(demand[p.product_id], 0.2) * params.cover_days, p)
        arrivals.setdefault(0, []).append((p.product_id, qty))
        on_order[p.product_id] += qty

    quantities = [Decimal(q) for q in SALE_QUANTITIES]
    markup = {p.product_id: Decimal(str(round(rng.uniform(1.3, 1.6), 3))) for p in products}
    tx_id, item_id, receipt_id = first_transaction_id, first_item_id, 1
    for index in range(days):
        today = start + timedelta(days=index)
        drift = Decimal(str(round(math.exp(drift_per_day * index), 6)))
        out = Day(index, today)
        if today.weekday() in params.closed_weekdays:
            # closed: nothing sold; deliveries due today wait for the next open day
            if index in arrivals:
                arrivals.setdefault(index + 1, []).extend(arrivals.pop(index))
            yield out
            continue
        opening = datetime.combine(today, time(params.opening_hour, 0))
        span_us = params.open_hours * 3600 * 1_000_000

        def at(opening: datetime = opening, span_us: int = span_us) -> datetime:
            return opening + timedelta(microseconds=rng.randrange(span_us))

        drafts: list[tuple] = []  # (at, kind, state, lines, supplier)
        # goods receipts: today's arrivals, grouped by supplier
        due: dict[str, list[tuple[int, Decimal]]] = {}
        for pid, qty in arrivals.pop(index, []):
            due.setdefault(supplier[pid], []).append((pid, qty))
        for name, lines in sorted(due.items()):
            for k in range(0, len(lines), params.max_receipt_lines):
                chunk = lines[k : k + params.max_receipt_lines]
                body = []
                for pid, qty in chunk:
                    p = by_id[pid]
                    cost = p.base_cost * drift * Decimal(str(round(rng.uniform(0.92, 1.1), 4)))
                    q = MILLI if rng.random() < params.sub_cent_cost_rate else CENT
                    body.append((pid, qty, None, cost.quantize(q)))
                drafts.append((at(), "ENTRADA_MERCANCIA", _state(rng, params), body, name))
        # sales
        sellable = [
            p for p in products if not p.never_sold and (p.sells_until is None or index <= p.sells_until)
        ]
        if sellable:
            ids = [p.product_id for p in sellable]
            cum, acc = [], 0.0
            for p in sellable:
                acc += p.popularity
                cum.append(acc)
            prices: dict[int, Decimal] = {}
            n_sales = _poisson(rng, params.sale_transactions_per_day)
            for _ in range(n_sales):
                body = []
                for pid in rng.choices(ids, cum_weights=cum, k=rng.randint(1, params.max_sale_lines)):
                    p = by_id[pid]
                    qty = (
                        Decimal(rng.randint(250, 5000)).scaleb(-3) if p.fractional else rng.choice(quantities)
                    )
                    price = prices.get(pid)
                    if price is None:  # today's shelf price: 30-60 % on the drifting base cost
                        price = prices[pid] = (p.base_cost * drift * markup[pid]).quantize(CENT)
                    body.append((pid, qty, price, None))
                drafts.append((at(), "VENTA", _state(rng, params), body, None))
                if rng.random() < params.return_rate:
                    pid, qty, price, _ = body[0]
                    drafts.append(
                        (at(), "DEVOLUCION", "COMPLETADA", [(pid, min(qty, Decimal(2)), price, None)], None)
                    )
        # ids follow time, except ties (same microsecond as the previous transaction) and
        # back-dated entries (keyed in later with an earlier time)
        drafts.sort(key=lambda d: d[0])
        for k in range(1, len(drafts)):
            if rng.random() < params.tie_rate:
                drafts[k] = (drafts[k - 1][0], *drafts[k][1:])
        for k in range(len(drafts)):
            if rng.random() < params.backdate_rate:
                drafts[k] = (drafts[k][0] - timedelta(minutes=rng.randint(1, 120)), *drafts[k][1:])
        for when, kind, state, body, name in drafts:
            total = Decimal(0)
            for pid, qty, price, cost in body:
                if params.invalid_rate and rng.random() < params.invalid_rate:
                    if rng.random() < 0.5:
                        qty = -qty
                    elif kind == "VENTA":
                        price = None
                    else:
                        cost = None
                out.items.append((item_id, tx_id, pid, qty, price, cost, when))
                item_id += 1
                total += qty * (price if price is not None else cost if cost is not None else 0)
                if state != "COMPLETADA" or qty < 0:
                    continue
                if kind == "ENTRADA_MERCANCIA" and cost is not None:
                    stock[pid] += qty
                elif kind == "VENTA" and price is not None and qty <= stock[pid]:
                    stock[pid] -= qty
            out.transactions.append(
                (
                    tx_id,
                    kind,
                    when,
                    state,
                    total.quantize(CENT),
                    rng.choice(NOTES),
                    when + timedelta(seconds=rng.randint(0, 5)),
                )
            )
            if kind == "ENTRADA_MERCANCIA":
                number = f"F{when:%Y}-{rng.randint(10000, 99999)}"
                out.receipts.append(
                    (receipt_id, tx_id, name, number, when - timedelta(hours=rng.randint(0, 48)))
                )
                receipt_id += 1
            tx_id += 1
        for pid, qty in [
            (pid, qty)
            for when, kind, _, body, _ in drafts
            if kind == "ENTRADA_MERCANCIA"
            for pid, qty, *_ in body
        ]:
            on_order[pid] = max(on_order[pid] - qty, Decimal(0))
        # reorder: expected stock (incl. open orders) under the reorder point
        for p in products:
            pid = p.product_id
            if p.never_sold or (
                p.receives_until is not None and index + params.lead_days[1] > p.receives_until
            ):
                continue
            if p.sells_until is not None and index >= p.sells_until:
                continue  # no longer sold: what is left stays on the shelf
            d = demand[pid]
            if d <= 0 or stock[pid] + on_order[pid] >= Decimal(str(round(d * params.reorder_days, 3))):
                continue
            qty = _order_quantity(d * params.cover_days, p)
            on_order[pid] += qty
            arrivals.setdefault(index + rng.randint(*params.lead_days), []).append((pid, qty))
        yield out


def _state(rng: random.Random, params: ShopParams) -> str:
    return "CANCELADA" if rng.random() < params.cancel_rate else "COMPLETADA"


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 30:  # normal approximation: fast for the benchmark's ~1,000 sales a day
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, prod = math.exp(-mean), 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


def _order_quantity(quantity: float, p: ProductSpec) -> Decimal:
    """An order of about ``quantity``, in whole packs (fractional products: whole metres / kg)."""
    if p.fractional:
        return Decimal(max(5, math.ceil(quantity)))
    pack = next((s for s in PACK_SIZES if s * 4 >= quantity), PACK_SIZES[-1])
    return Decimal(pack * max(1, math.ceil(quantity / pack)))


def sales_per_day_for(items: int, days: int = 365) -> float:
    """Sale transactions a day that give about ``items`` lines in ``days`` with the default
    :class:`ShopParams` (measured: 1.75-1.85 lines per sale transaction and calendar day, receipts
    and returns included; Sundays are closed), rounded up so that at least ``items`` come out."""
    return items / (1.74 * days)


def copy_into_raw(conn, table: str, columns: Sequence[str], rows, synced_at: datetime, timezone: str) -> int:
    """COPY simulated ``rows`` (tuples in ``columns`` order) into ``raw.oltp__<table>`` as the SQL
    sync would have written them: naive local timestamps read in ``timezone``, ``_synced_at`` =
    ``synced_at``. For the tests and the benchmark, which skip the source database. Returns rows."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(timezone)
    cols = ", ".join((*columns, "_synced_at"))
    n = 0
    with conn.cursor().copy(f"COPY raw.oltp__{table} ({cols}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(
                tuple(
                    v.replace(tzinfo=tz) if isinstance(v, datetime) and v.tzinfo is None else v for v in row
                )
                + (synced_at,)
            )
            n += 1
    return n
