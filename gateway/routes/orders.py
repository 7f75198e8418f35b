"""Order progress for the shop floor (DESIGN.md §6.4, §9), read from the marts as ``bi_reader``:

* ``GET /v1/orders``: order status, filtered (status, pending, start-date range), sorted, paged;
* ``GET /v1/orders/{order_id}``: one order with its lines (remaining quantity per line);
* ``GET /v1/next-pieces``: the next pieces to make (first 5 open lines of the oldest pending orders);
* ``GET /v1/warehouse-stock``: stock per piece (last MES quantity + units produced since).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from psycopg import sql

from gateway.deps import TEXT, Page, ReadKey, date_filter, page_params, run_read_query

router = APIRouter(tags=["orders"], dependencies=[ReadKey])
RESPONSES = {
    401: {"description": "Missing or wrong X-API-KEY"},
    403: {"description": "Read endpoints disabled (no FACTORY_GATEWAY_READ_API_KEY on the gateway)"},
    503: {"description": "The warehouse cannot answer now"},
}
ORDER_COLUMNS = (
    "order_id", "status", "mes_status", "started_at", "mes_ended_at", "lines", "open_lines", "total_quantity",
    "units_produced", "remaining_quantity", "progress_pct", "last_operation_at", "completed_at", "is_pending",
)  # fmt: skip
LINE_COLUMNS = (
    "piece_code", "piece_name", "total_quantity", "units_produced", "remaining_quantity", "excess_units",
    "last_produced_at",
)  # fmt: skip
STOCK_COLUMNS = (
    "piece_code", "piece_name", "synced_quantity", "stock_updated_at", "units_produced_since",
    "quantity_available", "last_produced_at", "in_mes_warehouse",
)  # fmt: skip
ORDER_PAGE = page_params(
    "Orders",
    (
        "order_id",
        "started_at",
        "status",
        "remaining_quantity",
        "progress_pct",
        "last_operation_at",
        "completed_at",
    ),
    "started_at",
    dates="start (plant-local day of started_at)",
)
STOCK_PAGE = page_params(
    "Stock", ("piece_code", "quantity_available", "units_produced_since", "last_produced_at"), "piece_code"
)


def _columns(names) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


@router.get("/v1/orders", summary="Order status, filtered, sorted and paged", responses=RESPONSES)
def list_orders(
    request: Request,
    page: Annotated[Page, Depends(ORDER_PAGE)],
    status: Annotated[
        str | None,
        Query(
            max_length=40,
            pattern=TEXT,
            description="Only this status: COMPLETED, IN ATTESA, IN CORSO, COMPLETATO, ANNULLATO",
        ),
    ] = None,
    pending: Annotated[
        bool | None, Query(description="Only pending (true) or not pending (false) orders")
    ] = None,
) -> dict[str, Any]:
    settings = request.app.state.settings
    where, params = date_filter(page, "started_at", settings.timezone)
    if status is not None:
        where = sql.SQL("{} AND status = %(status)s").format(where)
        params["status"] = status
    if pending is not None:
        where = sql.SQL("{} AND is_pending = %(pending)s").format(where)
        params["pending"] = pending
    query = sql.SQL("SELECT {}, count(*) OVER () AS _total FROM marts.order_status WHERE {} {} {}").format(
        _columns(ORDER_COLUMNS), where, page.order_by(["order_id"]), page.limit_offset()
    )
    return page.response(run_read_query(settings, query, params))


@router.get(
    "/v1/orders/{order_id}",
    summary="One order with the progress of each line",
    responses={**RESPONSES, 404: {"description": "No such order in the MES"}},
)
def get_order(
    request: Request, order_id: Annotated[int, Path(ge=1, le=2**63 - 1, description="MES order id")]
) -> dict[str, Any]:
    settings = request.app.state.settings
    orders = run_read_query(
        settings,
        sql.SQL("SELECT {} FROM marts.order_status WHERE order_id = %(id)s").format(_columns(ORDER_COLUMNS)),
        {"id": order_id},
    )
    if not orders:
        raise HTTPException(
            status_code=404, detail=f"order {order_id} is not in the MES (marts.order_status)"
        )
    lines = run_read_query(
        settings,
        sql.SQL("SELECT {} FROM marts.order_lines WHERE order_id = %(id)s ORDER BY piece_code").format(
            _columns(LINE_COLUMNS)
        ),
        {"id": order_id},
    )
    return {**orders[0], "lines": lines}


@router.get("/v1/next-pieces", summary="The next pieces to make", responses=RESPONSES)
def next_pieces(request: Request) -> dict[str, Any]:
    rows = run_read_query(
        request.app.state.settings,
        "SELECT rank, order_id, piece_code, piece_name, remaining_quantity, total_quantity, units_produced, "
        "order_status, order_started_at FROM marts.next_pieces ORDER BY rank",
    )
    return {"items": rows}


@router.get("/v1/warehouse-stock", summary="Warehouse stock per piece", responses=RESPONSES)
def warehouse_stock(
    request: Request,
    page: Annotated[Page, Depends(STOCK_PAGE)],
    piece_code: Annotated[
        str | None, Query(max_length=100, pattern=TEXT, description="Only this piece")
    ] = None,
) -> dict[str, Any]:
    where, params = sql.SQL("TRUE"), {}
    if piece_code is not None:
        where, params = sql.SQL("piece_code = %(piece)s"), {"piece": piece_code}
    query = sql.SQL("SELECT {}, count(*) OVER () AS _total FROM marts.warehouse_stock WHERE {} {} {}").format(
        _columns(STOCK_COLUMNS), where, page.order_by(["piece_code"]), page.limit_offset()
    )
    return page.response(run_read_query(request.app.state.settings, query, params))
