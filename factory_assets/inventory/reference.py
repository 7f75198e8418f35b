"""The inventory rules of DESIGN.md §6.6 in plain Python: the independent check of the dbt models.

Nothing here is shared with the SQL: the tests run both over the same generated history and
compare every product. It is written to be obviously right rather than fast (a loop over the
movements of each product in order), and it follows the rules word for word:

* only lines of *completed* sales (``VENTA``) and goods receipts (``ENTRADA_MERCANCIA``) count;
  returns (``DEVOLUCION``) and cancelled transactions (``CANCELADA``) are ignored, as are lines
  without a product or transactions without a timestamp;
* per product, in the order (timestamp, transaction id, item id);
* a line with a missing or negative quantity, a receipt without a non-negative unit cost, a
  sale without a non-negative sale price is not applied (``INVALID_*``);
* a receipt sets cost = round((stock × cost + qty × unit_cost) / (stock + qty), 2), or the
  unit cost when stock + qty = 0, and stock += qty;
* a sale larger than the stock is ``INSUFFICIENT_STOCK`` and not applied; otherwise
  stock -= qty and the sale's price becomes the last sale price;
* suggested price = round(cost × (1 + margin / 100), 2).

"Round" is PostgreSQL's ``round(numeric, 2)`` (half away from zero), applied to PostgreSQL's
``numeric`` quotient, which is itself rounded to a scale chosen by ``select_div_scale`` (at least
16 significant digits): :func:`pg_div` reproduces that rule, so the reference agrees with the
database digit for digit, even in the (astronomically rare) case where rounding the quotient
first would change the cents. ``tests/test_inventory_reference.py`` checks :func:`pg_div`
against a real PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from zoneinfo import ZoneInfo

APPLIED = "APPLIED"
INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK"

# PostgreSQL numeric constants (src/backend/utils/adt/numeric.c)
NUMERIC_MIN_SIG_DIGITS = 16
DEC_DIGITS = 4
NUMERIC_MAX_DISPLAY_SCALE = 1000


def _exact(op):
    with localcontext() as ctx:
        ctx.prec = 1000  # numeric + and * are exact in PostgreSQL
        return op()


def _scale(x: Decimal) -> int:
    exponent = x.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _weight_and_first_digit(x: Decimal) -> tuple[int, int]:
    """PostgreSQL's view of a numeric: weight of its first non-zero base-10000 digit, and that digit."""
    if x == 0:
        return 0, 0
    x = abs(x)
    weight = x.adjusted() // DEC_DIGITS
    return weight, int(_exact(lambda: x.scaleb(-DEC_DIGITS * weight)))


def _round_half_away(value: Fraction, scale: int) -> Decimal:
    scaled = value * 10**scale
    sign = -1 if scaled < 0 else 1
    magnitude = abs(scaled)
    whole = magnitude.numerator // magnitude.denominator
    if magnitude - whole >= Fraction(1, 2):
        whole += 1
    return _exact(lambda: Decimal(sign * whole).scaleb(-scale))


def pg_div(a: Decimal, b: Decimal) -> Decimal:
    """``a / b`` as PostgreSQL computes it for ``numeric``: the exact quotient rounded half away
    from zero at the scale ``select_div_scale`` picks (>= 16 significant digits, and not below
    either operand's scale)."""
    if b == 0:
        raise ZeroDivisionError("division by zero")
    w1, d1 = _weight_and_first_digit(a)
    w2, d2 = _weight_and_first_digit(b)
    qweight = w1 - w2
    if d1 <= d2:
        qweight -= 1
    rscale = NUMERIC_MIN_SIG_DIGITS - qweight * DEC_DIGITS
    rscale = min(max(rscale, _scale(a), _scale(b), 0), NUMERIC_MAX_DISPLAY_SCALE)
    return _round_half_away(Fraction(a) / Fraction(b), rscale)


def pg_round(x: Decimal, places: int = 2) -> Decimal:
    """PostgreSQL ``round(numeric, places)``: half away from zero, result scale ``places``."""
    with localcontext() as ctx:
        ctx.prec = 1000
        rounded = x.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return rounded.copy_abs() if rounded == 0 else rounded  # numeric has no negative zero


@dataclass(frozen=True)
class Transaction:
    transaction_id: int
    transaction_type: str | None
    at: datetime | None  # timezone-aware
    status: str | None


@dataclass(frozen=True)
class Item:
    item_id: int
    transaction_id: int
    product_id: int | None
    quantity: Decimal | None
    unit_sale_price: Decimal | None
    unit_purchase_cost: Decimal | None


@dataclass
class ProductState:
    stock: Decimal = Decimal(0)
    moving_avg_cost: Decimal | None = None
    last_sale_price: Decimal | None = None
    last_sale_at: datetime | None = None
    last_receipt_at: datetime | None = None


@dataclass
class Movement:
    item: Item
    transaction: Transaction
    outcome: str = ""
    state_after: ProductState = field(default_factory=ProductState)

    @property
    def order(self) -> tuple:
        return (self.transaction.at, self.transaction.transaction_id, self.item.item_id)


def movements(transactions: Iterable[Transaction], items: Iterable[Item]) -> dict[int, list[Movement]]:
    """The lines that count, per product, in folding order."""
    by_id = {t.transaction_id: t for t in transactions}
    out: dict[int, list[Movement]] = {}
    for item in items:
        t = by_id.get(item.transaction_id)
        if (
            t is None
            or t.status != "COMPLETADA"
            or t.transaction_type not in ("VENTA", "ENTRADA_MERCANCIA")
            or t.at is None
            or item.product_id is None
        ):
            continue
        out.setdefault(item.product_id, []).append(Movement(item, t))
    for moves in out.values():
        moves.sort(key=lambda m: m.order)
    return out


def invalid_reason(m: Movement) -> str | None:
    i, receipt = m.item, m.transaction.transaction_type == "ENTRADA_MERCANCIA"
    if i.quantity is None or i.quantity < 0:
        return "INVALID_QUANTITY"
    if receipt and (i.unit_purchase_cost is None or i.unit_purchase_cost < 0):
        return "INVALID_UNIT_COST"
    if not receipt and (i.unit_sale_price is None or i.unit_sale_price < 0):
        return "INVALID_SALE_PRICE"
    return None


def fold(moves: Iterable[Movement]) -> ProductState:
    """Apply one product's movements in order; set each movement's outcome and state after it."""
    s = ProductState()
    for m in moves:
        reason = invalid_reason(m)
        qty = m.item.quantity
        if reason:
            m.outcome = reason
        elif m.transaction.transaction_type == "ENTRADA_MERCANCIA":
            unit = m.item.unit_purchase_cost
            divisor = _exact(lambda: s.stock + qty)  # noqa: B023 - evaluated at once
            if divisor == 0:
                cost = unit
            else:
                numerator = _exact(lambda: s.stock * (s.moving_avg_cost or Decimal(0)) + qty * unit)  # noqa: B023
                cost = pg_round(pg_div(numerator, divisor), 2)
            s = ProductState(divisor, cost, s.last_sale_price, s.last_sale_at, m.transaction.at)
            m.outcome = APPLIED
        elif qty > s.stock:
            m.outcome = INSUFFICIENT_STOCK
        else:
            stock = _exact(lambda: s.stock - qty)  # noqa: B023
            s = ProductState(
                stock, s.moving_avg_cost, m.item.unit_sale_price, m.transaction.at, s.last_receipt_at
            )
            m.outcome = APPLIED
        m.state_after = s
    return s


def replay(
    transactions: Iterable[Transaction], items: Iterable[Item], *, cutoff: datetime | None = None
) -> tuple[dict[int, ProductState], dict[int, str]]:
    """Every product's state (after its last movement before ``cutoff``, if given) and every
    counted line's outcome (item id -> APPLIED / INSUFFICIENT_STOCK / INVALID_*)."""
    states: dict[int, ProductState] = {}
    outcomes: dict[int, str] = {}
    for product_id, moves in movements(transactions, items).items():
        fold(moves)
        state = ProductState()
        for m in moves:
            outcomes[m.item.item_id] = m.outcome
            if cutoff is None or m.transaction.at < cutoff:
                state = m.state_after
        states[product_id] = state
    return states, outcomes


def suggested_price(cost: Decimal | None, margin_pct: Decimal) -> Decimal | None:
    """round(cost × (1 + margin / 100), 2); None without a cost."""
    if cost is None:
        return None
    return pg_round(_exact(lambda: cost * (1 + pg_div(Decimal(margin_pct), Decimal(100)))), 2)


def margin_for(category: str | None, default_pct: Decimal, by_category: Mapping[str, Decimal]) -> Decimal:
    return by_category.get(category, default_pct) if category is not None else default_pct


def as_of_cutoff(as_of: date, timezone: str) -> datetime:
    """The end of the plant-local day ``as_of``: the instant the marts' state is taken at."""
    return datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=ZoneInfo(timezone))


def stagnation_bucket(
    state: ProductState, as_of: date, timezone: str, thresholds: tuple[int, int, int] = (30, 60, 90)
) -> str | None:
    """None when not in stock; else no_sales / critical / alert / attention / normal."""
    if state.stock <= 0:
        return None
    if state.last_sale_at is None:
        return "no_sales"
    days = (as_of - state.last_sale_at.astimezone(ZoneInfo(timezone)).date()).days
    attention, alert, critical = thresholds
    if days > critical:
        return "critical"
    if days > alert:
        return "alert"
    if days > attention:
        return "attention"
    return "normal"


def stock_bucket(stock: Decimal, critical: int = 5, low: int = 10) -> str | None:
    """out / critical / low, or None above the low threshold."""
    if stock <= 0:
        return "out"
    if stock <= critical:
        return "critical"
    if stock <= low:
        return "low"
    return None
