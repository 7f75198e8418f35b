"""Logistics figures for `factory summary`: SLA per base (marts.sla_by_base_daily)."""

from __future__ import annotations

import psycopg

from factory_assets.summary import _rows


def summary_lines(conn: psycopg.Connection) -> list[str]:
    rows = _rows(
        conn,
        """SELECT base, sum(visits), sum(on_time_visits),
                  round(100.0 * sum(on_time_visits) / sum(visits), 1), min(visit_date), max(visit_date)
             FROM marts.sla_by_base_daily GROUP BY base ORDER BY base""",
    )
    if not rows:
        return []
    lines = ["SLA per base (marts.sla_by_base_daily; on time = visit date <= deadline date):"]
    for base, visits, on_time, pct, first, last in rows:
        lines.append(f"  {base:<26} visits={visits:<7} on time={on_time:<7} SLA={pct}%  ({first} .. {last})")
    rows = _rows(
        conn,
        """SELECT count(DISTINCT technician_key), round(avg(visits_per_business_day), 2)
             FROM marts.productivity_by_technician_monthly""",
    )
    if rows and rows[0][0]:
        lines.append(
            f"  technicians={rows[0][0]}  mean visits per business day and technician={rows[0][1]} "
            "(marts.productivity_by_technician_monthly)"
        )
    return lines
