"""What every route shares: API-key checks, the read-only query helper and paging parameters.

(No ``from __future__ import annotations`` here: FastAPI reads these signatures at run time,
including the per-endpoint ``sort_field`` enum built by :func:`page_params`.)
"""

import hmac
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any

import psycopg
from fastapi import Depends, HTTPException, Query, Request, Security
from fastapi.security import APIKeyHeader
from psycopg import sql
from psycopg.rows import dict_row

from gateway.config import GatewayConfigError, GatewaySettings
from resources import settings as platform

log = logging.getLogger("gateway")
HEADER = "X-API-KEY"
MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000
TEXT = r"^[^\x00]*$"  # text parameters: no NUL character (PostgreSQL text cannot hold one)

# Two OpenAPI security schemes on the same header, so clients (and schemathesis) see which key
# each endpoint wants.
ingest_key_header = APIKeyHeader(
    name=HEADER, scheme_name="IngestKey", auto_error=False,
    description="FACTORY_GATEWAY_API_KEY: may POST operation drops.",
)  # fmt: skip
read_key_header = APIKeyHeader(
    name=HEADER, scheme_name="ReadKey", auto_error=False,
    description="FACTORY_GATEWAY_READ_API_KEY: may read the marts endpoints.",
)  # fmt: skip


def get_settings(request: Request) -> GatewaySettings:
    return request.app.state.settings


def key_matches(presented: str | None, expected: str | None) -> bool:
    """Constant-time comparison (``hmac.compare_digest`` on bytes; header values are latin-1)."""
    if not presented or not expected:
        return False
    return hmac.compare_digest(presented.encode("latin-1", "replace"), expected.encode("utf-8"))


def _unauthorized(what: str) -> HTTPException:
    return HTTPException(
        status_code=401,
        detail=f"missing or wrong API key: send the {what} in the {HEADER} header",
        headers={"WWW-Authenticate": f'ApiKey header="{HEADER}"'},
    )


def require_ingest_key(
    request: Request, key: Annotated[str | None, Security(ingest_key_header)] = None
) -> None:
    """401 unless ``X-API-KEY`` is ``FACTORY_GATEWAY_API_KEY``. Runs before the body is read."""
    if not key_matches(key, get_settings(request).ingest_key):
        raise _unauthorized("ingest key (FACTORY_GATEWAY_API_KEY)")


def require_read_key(request: Request, key: Annotated[str | None, Security(read_key_header)] = None) -> None:
    """403 when the gateway has no read key (reads are disabled); 401 unless the key matches."""
    expected = get_settings(request).read_key
    if not expected:
        raise HTTPException(
            status_code=403,
            detail="read endpoints are disabled: the gateway has no FACTORY_GATEWAY_READ_API_KEY",
        )
    if not key_matches(key, expected):
        raise _unauthorized("read key (FACTORY_GATEWAY_READ_API_KEY)")


# --- reading the marts --------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return (
            int(value)
            if value == value.to_integral_value() and value.as_tuple().exponent >= 0
            else float(value)
        )
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


class ReadUnavailable(HTTPException):
    def __init__(self, detail: str):
        super().__init__(status_code=503, detail=detail)


def run_read_query(
    settings: GatewaySettings, query: str | sql.Composable, params: Mapping[str, Any] | Sequence | None = None
) -> list[dict[str, Any]]:
    """Rows of a query on the ``marts`` schema, as JSON-able dicts, read as ``bi_reader``.

    A read-only transaction with a statement timeout on a connection of its own (the role can
    read ``marts`` only, so a mistake here cannot reach raw data). Failures become 503 with a
    message for the client; the details (never a password) go to the gateway log.
    """
    try:
        url = settings.resolved_read_url()
    except GatewayConfigError as exc:
        log.error("read endpoints unavailable: %s", exc)
        raise ReadUnavailable("the gateway cannot reach the warehouse (configuration); see its log") from None
    try:
        with psycopg.connect(url, connect_timeout=5, row_factory=dict_row) as conn:
            conn.read_only = True
            with conn.transaction():
                conn.execute(
                    sql.SQL("SET LOCAL statement_timeout = {}").format(
                        sql.Literal(settings.statement_timeout_ms)
                    )
                )
                rows = conn.execute(query, params).fetchall()
    except psycopg.errors.UndefinedTable:
        raise ReadUnavailable(
            "this data is not built yet in the warehouse (marts missing); try again later"
        ) from None
    except psycopg.errors.InsufficientPrivilege as exc:
        log.error("bi_reader cannot read: %s", platform.redact_text(str(exc)))
        raise ReadUnavailable(
            "the gateway's read role may not read this mart (bi_reader grants missing); see the gateway log"
        ) from None
    except psycopg.errors.QueryCanceled:
        raise ReadUnavailable("the query took too long; narrow the date range or the page") from None
    except psycopg.OperationalError as exc:
        log.error("warehouse unreachable for reads: %s", platform.redact_text(str(exc)))
        raise ReadUnavailable("the warehouse cannot be reached; see the gateway log") from None
    except psycopg.Error as exc:
        log.exception("read failed: %s", platform.redact_text(str(exc)))
        raise ReadUnavailable("the warehouse could not answer this read; see the gateway log") from None
    return [{k: jsonable(v) for k, v in row.items()} for row in rows]


# --- paging, sorting, date filters --------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int
    sort_field: str
    desc: bool
    start_date: date | None
    end_date: date | None

    def order_by(self, tiebreak: Sequence[str] = ()) -> sql.Composable:
        """``ORDER BY <sort_field> [DESC] NULLS LAST, <tiebreak>...`` (whitelisted identifiers only)."""
        direction = sql.SQL("DESC" if self.desc else "ASC")
        parts = [sql.SQL("{} {} NULLS LAST").format(sql.Identifier(self.sort_field), direction)]
        parts += [sql.Identifier(c) for c in tiebreak if c != self.sort_field]
        return sql.SQL("ORDER BY ") + sql.SQL(", ").join(parts)

    def limit_offset(self) -> sql.Composable:
        return sql.SQL("LIMIT {} OFFSET {}").format(sql.Literal(self.limit), sql.Literal(self.offset))

    def response(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """``{"items", "total", "limit", "offset"}`` from rows carrying ``_total`` (count(*) over ())."""
        total = rows[0].pop("_total") if rows else 0
        for row in rows[1:]:
            row.pop("_total", None)
        return {"items": rows, "total": total, "limit": self.limit, "offset": self.offset}


def page_params(
    name: str, sort_fields: Sequence[str], default_sort: str, *, dates: str | None = None
) -> Callable:
    """A FastAPI dependency giving a :class:`Page`: ``limit`` (1–1000), ``offset``, ``sort_field``
    (one of ``sort_fields``: an enum in the OpenAPI document), ``desc`` and, when ``dates`` names
    what they filter, ``start_date`` / ``end_date`` (inclusive, ``YYYY-MM-DD``). A bad value is a
    400 naming the parameter (see ``gateway.app``)."""
    if default_sort not in sort_fields:
        raise ValueError(f"{default_sort} is not one of {sort_fields}")
    SortField = Enum(f"{name}SortField", {f: f for f in sort_fields}, type=str)  # noqa: N806
    default = SortField(default_sort)
    start_doc = f"Only rows whose {dates} is on or after this day (YYYY-MM-DD)." if dates else ""
    end_doc = start_doc.replace("on or after", "on or before")
    Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows per page (1–1000).")]  # noqa: N806
    Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip.")]  # noqa: N806
    Sort = Annotated[SortField, Query(description="Column to sort by.")]  # noqa: N806
    Desc = Annotated[bool, Query(description="Sort in descending order.")]  # noqa: N806

    if not dates:  # endpoints without a date: the parameters do not exist for them

        def without_dates(
            limit: Limit = 100, offset: Offset = 0, sort_field: Sort = default, desc: Desc = False
        ):
            return Page(limit, offset, sort_field.value, desc, None, None)

        return without_dates

    def with_dates(
        limit: Limit = 100,
        offset: Offset = 0,
        sort_field: Sort = default,
        desc: Desc = False,
        start_date: Annotated[date | None, Query(description=start_doc)] = None,
        end_date: Annotated[date | None, Query(description=end_doc)] = None,
    ) -> Page:
        if start_date and end_date and start_date > end_date:
            raise HTTPException(
                status_code=400,
                detail=f"invalid parameters start_date / end_date: start_date {start_date} is after end_date {end_date}",
            )
        return Page(limit, offset, sort_field.value, desc, start_date, end_date)

    return with_dates


def date_filter(page: Page, column: str, tz: str | None = None) -> tuple[sql.Composable, dict[str, Any]]:
    """``AND``-able SQL for the page's date range on ``column`` (a date, or a timestamptz turned
    into the plant-local date with ``tz``), and its parameters."""
    target = sql.Identifier(column)
    if tz:
        target = sql.SQL("({} AT TIME ZONE %(tz)s)::date").format(target)
    parts, params = [], {"tz": tz} if tz else {}
    if page.start_date:
        parts.append(sql.SQL("{} >= %(start_date)s").format(target))
        params["start_date"] = page.start_date
    if page.end_date:
        parts.append(sql.SQL("{} <= %(end_date)s").format(target))
        params["end_date"] = page.end_date
    return (sql.SQL(" AND ").join(parts) if parts else sql.SQL("TRUE")), params


ReadKey = Depends(require_read_key)
IngestKey = Depends(require_ingest_key)
