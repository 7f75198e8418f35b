"""``GET /v1/health``: can the gateway read the warehouse and write the landing zone? (no key)

200 with ``"status": "ok"`` when both answer, 503 with ``"degraded"`` otherwise. The reasons
are given only to a caller presenting a valid key (they may name internal hosts).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from gateway.deps import HEADER, key_matches, run_read_query
from gateway.landing import LandingUnavailable

router = APIRouter(tags=["health"])


def _probe(request: Request) -> dict:
    settings = request.app.state.settings
    out = {}
    try:
        run_read_query(settings, "SELECT 1 AS ok")
        out["warehouse"] = {"ok": True}
    except Exception as exc:  # noqa: BLE001 - reported, never raised
        out["warehouse"] = {"ok": False, "detail": getattr(exc, "detail", None) or type(exc).__name__}
    try:
        request.app.state.zone.check("operations")
        out["landing_zone"] = {"ok": True}
    except LandingUnavailable as exc:
        out["landing_zone"] = {"ok": False, "detail": str(exc)}
    return out


@router.get(
    "/v1/health",
    summary="Warehouse and landing-zone reachability",
    responses={503: {"description": "The warehouse or the landing zone does not answer"}},
)
async def health(request: Request) -> JSONResponse:
    key = request.headers.get(HEADER)  # optional: not a security requirement of this endpoint
    checks = await run_in_threadpool(_probe, request)
    settings = request.app.state.settings
    trusted = key_matches(key, settings.ingest_key) or key_matches(key, settings.read_key)
    if not trusted:
        checks = {name: {"ok": c["ok"]} for name, c in checks.items()}
    ok = all(c["ok"] for c in checks.values())
    body = {"status": "ok" if ok else "degraded", **checks}
    if not trusted and not ok:
        body["hint"] = f"send a valid {HEADER} to see the reasons"
    return JSONResponse(status_code=200 if ok else 503, content=body)
