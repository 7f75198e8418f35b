"""What ``factory demo`` / ``factory summary`` print about inventory (DESIGN.md §6.6).

``summary_lines(conn)`` reads the inventory marts through a psycopg 3 connection to the warehouse:
the five products with the most money in stock (``marts.product_pricing``, inventory value at
cost) and the number of products per stagnation bucket (``marts.stagnant_products``). Before the
first dbt build the marts do not exist and it returns ``[]``; it checks with ``to_regclass``
rather than catching an error, so the caller's transaction is never left aborted.
"""

from __future__ import annotations

BUCKETS = ("no_sales", "critical", "alert", "attention", "normal")


def summary_lines(conn) -> list[str]:
    """Lines for the demo summary, or ``[]`` while the inventory marts do not exist."""
    present = conn.execute(
        "SELECT to_regclass('marts.product_pricing') IS NOT NULL AND to_regclass('marts.stagnant_products') IS NOT NULL"
    ).fetchone()[0]
    if not present:
        return []
    top = conn.execute(
        """SELECT product_id, coalesce(product_name, '#' || product_id), stock, moving_avg_cost,
                  suggested_price, inventory_value_at_cost, as_of_date
             FROM marts.product_pricing
            WHERE stock > 0
            ORDER BY inventory_value_at_cost DESC, product_id
            LIMIT 5"""
    ).fetchall()
    counts = dict(
        conn.execute("SELECT stagnation_bucket, count(*) FROM marts.stagnant_products GROUP BY 1").fetchall()
    )
    as_of = (
        top[0][6] if top else conn.execute("SELECT max(as_of_date) FROM marts.product_pricing").fetchone()[0]
    )
    lines = [f"inventory (marts.product_pricing, as of {as_of}): most valuable in stock"]
    if not top:
        lines.append("  (nothing in stock)")
    for rank, (_pid, name, stock, cost, suggested, value, _) in enumerate(top, start=1):
        lines.append(
            f"  {rank}. {name[:36]:<36} stock={_quantity(stock):<8} cost={_money(cost):<8} "
            f"suggested={_money(suggested):<8} value={_money(value)}"
        )
    lines.append(
        "stagnant products (marts.stagnant_products): "
        + "  ".join(f"{bucket}={counts.get(bucket, 0)}" for bucket in BUCKETS)
    )
    return lines


def _quantity(value) -> str:
    return format(value.normalize(), "f") if value is not None else "-"


def _money(value) -> str:
    return f"{value:.2f}" if value is not None else "-"
