"""Machining centres (DESIGN.md §9): sessions and OEE per centre and day, from the marts.

* ``GET /v1/machine-sessions``: ``marts.machine_sessions`` (centre, production date);
* ``GET /v1/oee``: ``marts.oee_daily`` (centre, date, shift).

Both take ``centre``, ``start_date`` / ``end_date`` (on the production / shift date), sorting and
paging.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from psycopg import sql

from gateway.deps import TEXT, Page, ReadKey, date_filter, page_params, run_read_query

router = APIRouter(tags=["machines"], dependencies=[ReadKey])
RESPONSES = {
    401: {"description": "Missing or wrong X-API-KEY"},
    403: {"description": "Read endpoints disabled (no FACTORY_GATEWAY_READ_API_KEY on the gateway)"},
    503: {"description": "The warehouse cannot answer now"},
}
SESSION_COLUMNS = (
    "centre", "production_date", "pieces", "job_profiles", "first_piece_at", "last_piece_at",
    "production_span_h", "wait_h", "stop_h", "downtime_h", "effective_h", "occupation_rate_pct",
    "wait_rate_pct", "stop_rate_pct", "stops", "waits", "lines_in", "lines_rejected",
)  # fmt: skip
OEE_COLUMNS = (
    "centre", "shift_date", "shift_name", "shift_start_at", "shift_end_at", "has_log", "planned_busy_time_h",
    "actual_production_time_h", "stops", "waits", "pieces", "availability", "performance", "quality", "oee",
    "oee_excluding_quality", "mtbf_s", "mttr_s",
)  # fmt: skip
SESSION_PAGE = page_params(
    "Sessions", ("production_date", "centre", "pieces", "occupation_rate_pct", "stops"), "production_date",
    dates="production_date",
)  # fmt: skip
OEE_PAGE = page_params(
    "Oee", ("shift_date", "centre", "shift_name", "oee", "oee_excluding_quality", "availability", "performance"),
    "shift_date", dates="shift_date",
)  # fmt: skip
Centre = Annotated[
    str | None, Query(max_length=40, pattern=TEXT, description="Only this machining centre, e.g. DEM12")
]


def _read(request: Request, table: str, columns, page: Page, date_column: str, centre: str | None, tiebreak):
    where, params = date_filter(page, date_column)
    if centre is not None:
        where = sql.SQL("{} AND centre = %(centre)s").format(where)
        params["centre"] = centre
    query = sql.SQL("SELECT {}, count(*) OVER () AS _total FROM {} WHERE {} {} {}").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        sql.Identifier("marts", table),
        where,
        page.order_by(tiebreak),
        page.limit_offset(),
    )
    return page.response(run_read_query(request.app.state.settings, query, params))


@router.get("/v1/machine-sessions", summary="Machine sessions per centre and day", responses=RESPONSES)
def machine_sessions(
    request: Request, page: Annotated[Page, Depends(SESSION_PAGE)], centre: Centre = None
) -> dict[str, Any]:
    return _read(request, "machine_sessions", SESSION_COLUMNS, page, "production_date", centre,
                 ["centre", "production_date"])  # fmt: skip


@router.get("/v1/oee", summary="OEE per centre, day and shift", responses=RESPONSES)
def oee(request: Request, page: Annotated[Page, Depends(OEE_PAGE)], centre: Centre = None) -> dict[str, Any]:
    return _read(request, "oee_daily", OEE_COLUMNS, page, "shift_date", centre,
                 ["centre", "shift_date", "shift_name"])  # fmt: skip
