"""Machine-log figures for `factory summary`: per-centre sessions and OEE."""

from __future__ import annotations

import psycopg

from factory_assets.summary import _rows


def summary_lines(conn: psycopg.Connection) -> list[str]:
    lines: list[str] = []
    rows = _rows(
        conn,
        """SELECT centre, count(*), sum(pieces), round(avg(occupation_rate_pct), 1),
                  round(sum(stops)::numeric / count(*), 1)
             FROM marts.machine_sessions GROUP BY centre ORDER BY centre""",
    )
    if rows:
        lines.append("machine sessions (marts.machine_sessions):")
        for centre, days, pieces, occ, stops in rows:
            lines.append(
                f"  {centre:<8} days={days:<3} pieces={pieces:<6} mean occupation={occ}%  stops/day={stops}"
            )
    rows = _rows(
        conn,
        """SELECT centre, round(avg(availability), 3), round(avg(performance), 3),
                  round(avg(oee_excluding_quality), 3), round(avg(oee), 3)
             FROM marts.oee_daily WHERE has_log GROUP BY centre ORDER BY centre""",
    )
    if rows:
        lines.append("OEE (marts.oee_daily, shifts with a log):")
        lines.extend(f"  {c:<8} availability={a} performance={p} A×P={ap} OEE={o}" for c, a, p, ap, o in rows)
    return lines
