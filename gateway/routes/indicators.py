"""Field-service indicators (DESIGN.md §6.7, §9), read from the logistics marts as ``bi_reader``:

* ``GET /v1/indicators/sla/technician``: SLA per technician over a period;
* ``GET /v1/indicators/sla/base``: SLA per base over a period;
* ``GET /v1/indicators/productivity``: visits per business day per technician over a period.

The period is ``start_date`` / ``end_date`` (inclusive; on the visit date for SLA, on the calendar
month for productivity: a month counts when any of its days is in the period). Each row sums the
daily (or monthly) mart rows of the period, so a percentage over a period is the ratio of the sums,
never an average of daily percentages. Technicians appear as their pseudonym (``technician_key``,
HMAC-SHA256 keyed by ``FACTORY_PII_KEY``); no endpoint returns a name, an e-mail or a phone.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from psycopg import sql

from gateway.deps import Page, ReadKey, page_params, run_read_query

router = APIRouter(tags=["indicators"], dependencies=[ReadKey])
RESPONSES = {
    400: {"description": "A parameter is invalid (the message names it)"},
    401: {"description": "Missing or wrong X-API-KEY"},
    403: {"description": "Read endpoints disabled (no FACTORY_GATEWAY_READ_API_KEY on the gateway)"},
    503: {"description": "The warehouse cannot answer now"},
}
SLA_SORT = ("visits", "on_time_visits", "late_visits", "sla_pct", "first_visit_date", "last_visit_date")
SLA_TECHNICIAN_PAGE = page_params(
    "SlaTechnician", ("technician_key", *SLA_SORT), "sla_pct", dates="visit date"
)
SLA_BASE_PAGE = page_params("SlaBase", ("base", *SLA_SORT), "sla_pct", dates="visit date")
PRODUCTIVITY_PAGE = page_params(
    "Productivity",
    ("technician_key", "visits", "business_days", "visits_per_business_day", "months"),
    "visits_per_business_day",
    dates="month (any day of it)",
)


def _period(page: Page, column: sql.Composable) -> tuple[sql.Composable, dict[str, Any]]:
    parts, params = [], {}
    if page.start_date:
        parts.append(sql.SQL("{} >= %(start_date)s").format(column))
        params["start_date"] = page.start_date
    if page.end_date:
        parts.append(sql.SQL("{} <= %(end_date)s").format(column))
        params["end_date"] = page.end_date
    return (sql.SQL(" AND ").join(parts) if parts else sql.SQL("TRUE")), params


def _sla(request: Request, page: Page, table: str, key: str) -> dict[str, Any]:
    where, params = _period(page, sql.Identifier("visit_date"))
    query = sql.SQL(
        """WITH period AS (
               SELECT {key}, sum(visits)::bigint AS visits, sum(on_time_visits)::bigint AS on_time_visits,
                      sum(late_visits)::bigint AS late_visits,
                      round(100.0 * sum(on_time_visits) / nullif(sum(visits), 0), 2) AS sla_pct,
                      min(visit_date) AS first_visit_date, max(visit_date) AS last_visit_date
                 FROM {table} WHERE {where} GROUP BY {key})
           SELECT *, count(*) OVER () AS _total FROM period {order} {limit}"""
    ).format(
        key=sql.Identifier(key),
        table=sql.Identifier("marts", table),
        where=where,
        order=page.order_by([key]),
        limit=page.limit_offset(),
    )
    return page.response(run_read_query(request.app.state.settings, query, params))


@router.get(
    "/v1/indicators/sla/technician",
    summary="SLA per technician (pseudonym) over a period",
    responses=RESPONSES,
)
def sla_by_technician(
    request: Request, page: Annotated[Page, Depends(SLA_TECHNICIAN_PAGE)]
) -> dict[str, Any]:
    """On time = visit date on or before the deadline date (a visit later on the deadline day is on
    time); ``sla_pct`` = on-time visits / visits x 100 over the period."""
    return _sla(request, page, "sla_by_technician_daily", "technician_key")


@router.get("/v1/indicators/sla/base", summary="SLA per base over a period", responses=RESPONSES)
def sla_by_base(request: Request, page: Annotated[Page, Depends(SLA_BASE_PAGE)]) -> dict[str, Any]:
    """As ``/v1/indicators/sla/technician``, per base (``polo``, e.g. ``CE - JUAZEIRO DO NORTE``)."""
    return _sla(request, page, "sla_by_base_daily", "base")


@router.get(
    "/v1/indicators/productivity",
    summary="Visits per business day per technician (pseudonym) over a period",
    responses=RESPONSES,
)
def productivity(request: Request, page: Annotated[Page, Depends(PRODUCTIVITY_PAGE)]) -> dict[str, Any]:
    """Business days are Monday to Friday of the whole calendar months, minus the holiday seed;
    ``visits_per_business_day`` = visits / business days summed over the months of the period."""
    month_end = sql.SQL("(month + interval '1 month' - interval '1 day')::date")
    start, params = _period(
        Page(page.limit, page.offset, page.sort_field, page.desc, page.start_date, None), month_end
    )
    end, end_params = _period(
        Page(page.limit, page.offset, page.sort_field, page.desc, None, page.end_date),
        sql.Identifier("month"),
    )
    query = sql.SQL(
        """WITH period AS (
               SELECT technician_key, sum(visits)::bigint AS visits, sum(business_days)::bigint AS business_days,
                      round(sum(visits)::numeric / nullif(sum(business_days), 0), 2) AS visits_per_business_day,
                      count(*) AS months
                 FROM marts.productivity_by_technician_monthly WHERE {start} AND {end} GROUP BY technician_key)
           SELECT *, count(*) OVER () AS _total FROM period {order} {limit}"""
    ).format(start=start, end=end, order=page.order_by(["technician_key"]), limit=page.limit_offset())
    return page.response(run_read_query(request.app.state.settings, query, {**params, **end_params}))
