"""Operations figures for `factory summary`: drops, records, anomalies, order progress, next pieces;
in demo mode also where the HTTP gateway listens and its generated keys."""

from __future__ import annotations

import os

import psycopg

from factory_assets.summary import _rows
from resources import settings


def summary_lines(conn: psycopg.Connection) -> list[str]:
    lines: list[str] = []
    rows = _rows(
        conn,
        """SELECT count(*) FILTER (WHERE status = 'loaded'), count(*) FILTER (WHERE status = 'quarantined'),
                  coalesce(sum(rows_in), 0), coalesce(sum(rows_loaded), 0), coalesce(sum(rows_rejected), 0),
                  coalesce(sum(rows_duplicate), 0)
             FROM raw.ingest_ledger WHERE source = 'operations'""",
    )
    if rows and rows[0][0] + rows[0][1]:
        loaded, quarantined, rin, rload, rrej, rdup = rows[0]
        lines.append("operations (JSON drops and the HTTP gateway):")
        lines.append(
            f"  drops loaded={loaded} quarantined={quarantined}  records in={rin} loaded={rload} "
            f"rejected={rrej} duplicate={rdup}"
        )
    rows = _rows(conn, "SELECT code, count(*) FROM marts.operation_anomalies GROUP BY 1 ORDER BY 2 DESC, 1")
    if rows:
        lines.append("  anomalies: " + "  ".join(f"{code}={n}" for code, n in rows))
    rows = _rows(conn, "SELECT status, count(*) FROM marts.order_status GROUP BY 1 ORDER BY 1")
    if rows:
        lines.append("  orders (marts.order_status): " + "  ".join(f"{s}={n}" for s, n in rows))
    rows = _rows(
        conn, "SELECT rank, order_id, piece_code, remaining_quantity FROM marts.next_pieces ORDER BY rank"
    )
    if rows:
        lines.append("  next pieces: " + "; ".join(f"{r}. order {o} {p} x{left}" for r, o, p, left in rows))
    return lines + gateway_lines()


def gateway_lines() -> list[str]:
    """Demo mode: the gateway's address and its generated keys (a site install keeps its keys)."""
    if not settings.demo_mode() or not os.environ.get("FACTORY_GATEWAY_API_KEY"):
        return []
    from factory_assets.cli import gateway_url

    url = gateway_url()
    return [
        f"HTTP gateway: {url}  (OpenAPI {url}/openapi.json; demo keys, header X-API-KEY)",
        f"  ingest key (POST /v1/operations): {os.environ['FACTORY_GATEWAY_API_KEY']}",
        f"  read key (GET /v1/orders, /v1/next-pieces, ...): {os.environ.get('FACTORY_GATEWAY_READ_API_KEY', '-')}",
    ]
