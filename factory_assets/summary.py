"""What `factory summary` (and the end of `factory demo`) prints: one section per domain.

Each domain offers ``summary_lines(conn) -> list[str]`` and returns nothing for marts that do
not exist yet (first run, a source not configured). A new domain appends its function to
:data:`SECTIONS`.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg


def _rows(conn: psycopg.Connection, sql: str) -> list[tuple] | None:
    """Rows of ``sql``, or None when a relation does not exist (yet)."""
    try:
        return conn.execute(sql).fetchall()
    except psycopg.Error:
        conn.rollback()
        return None


def ledger_lines(conn: psycopg.Connection) -> list[str]:
    rows = _rows(
        conn,
        """SELECT source, status, count(*), coalesce(sum(rows_in), 0), coalesce(sum(rows_loaded), 0),
                  coalesce(sum(rows_rejected), 0)
             FROM raw.ingest_ledger GROUP BY 1, 2 ORDER BY 1, 2""",
    )
    lines = ["files (raw.ingest_ledger):"]
    for source, status, n, rin, rload, rrej in rows or []:
        lines.append(
            f"  {source:<14} {status:<12} files={n:<5} rows in={rin:<8} loaded={rload:<8} rejected={rrej}"
        )
    return lines


def data_quality_lines(conn: psycopg.Connection) -> list[str]:
    """Rejections per source and reason over the whole mart, with their share of the rows
    received on the days whose denominator is known (docs/data-quality.md)."""
    rows = _rows(
        conn,
        """SELECT source, reason, sum(rejected_rows),
                  sum(rejected_rows) FILTER (WHERE rows_in IS NOT NULL)::numeric
                      / nullif(sum(rows_in), 0)
             FROM marts.data_quality_daily
            GROUP BY 1, 2 ORDER BY 1, 2""",
    )
    if rows is None:
        return []
    from factory_assets.data_quality.report import format_share

    return [
        "data quality (marts.data_quality_daily; share of the rows received):",
        *(f"  {s}  {r}  {n}  ({format_share(share)})" for s, r, n, share in rows),
    ]


def mart_count_lines(conn: psycopg.Connection) -> list[str]:
    rows = _rows(
        conn,
        """SELECT table_name FROM information_schema.tables
            WHERE table_schema = 'marts' ORDER BY table_name""",
    )
    out = []
    for (table,) in rows or []:
        n = _rows(conn, f'SELECT count(*) FROM marts."{table}"')
        if n is not None:
            out.append(f"  {table:<34} {n[0][0]:>9} rows")
    return ["marts:", *out] if out else []


def _sections() -> list[Callable[[psycopg.Connection], list[str]]]:
    from factory_assets.inventory.summary import summary_lines as inventory
    from factory_assets.logistics.summary import summary_lines as logistics
    from factory_assets.machine_logs.summary import summary_lines as machine_logs
    from factory_assets.operations.summary import summary_lines as operations

    return [
        ledger_lines,
        machine_logs,
        logistics,
        operations,
        inventory,
        data_quality_lines,
        mart_count_lines,
    ]


def summary_lines(conn: psycopg.Connection) -> list[str]:
    lines: list[str] = []
    for section in _sections():
        lines.extend(section(conn))
    return lines
