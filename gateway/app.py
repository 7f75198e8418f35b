"""``create_app()``: the gateway as a FastAPI application (DESIGN.md §9).

The configuration is read from the environment when ``create_app`` is called (never at import),
or passed in as :class:`gateway.config.GatewaySettings` (tests). Without
``FACTORY_GATEWAY_API_KEY`` it refuses to start (:class:`gateway.config.GatewayConfigError`).

Every module of ``gateway/routes`` that has a ``router`` (an ``APIRouter``) is included, in
module-name order: adding an endpoint group is adding a module there.

Errors are JSON ``{"detail": ...}``: a bad query or path parameter is a **400** naming the
parameter (FastAPI's default would be 422); the OpenAPI document says so.
"""

from __future__ import annotations

import importlib
import pkgutil
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from gateway.config import GatewaySettings, settings_from_env
from gateway.landing import ZoneHolder

VERSION = "1"
DESCRIPTION = """\
HTTP gateway of the Smart Factory Data Platform.

* **Ingest** (`X-API-KEY` = `FACTORY_GATEWAY_API_KEY`): `POST /v1/operations` with a JSON array
  of forging / CNC operation records; the body is written atomically into the landing zone
  (`operations/gateway/<drop id>.json`) and loaded like any dropped file.
* **Read** (`X-API-KEY` = `FACTORY_GATEWAY_READ_API_KEY`): order status and progress, next pieces
  to make, warehouse stock, machine sessions and OEE, served from the `marts` schema through the
  read-only `bi_reader` role. No endpoint returns personal data.
* `GET /v1/health` reports the warehouse and the landing zone (no key needed).
"""


def route_modules() -> list:
    """The modules of ``gateway/routes`` that define a ``router``, by name."""
    import gateway.routes as routes

    out = []
    for info in sorted(pkgutil.iter_modules(routes.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"gateway.routes.{info.name}")
        if getattr(module, "router", None) is not None:
            out.append(module)
    return out


def _parameter(loc: tuple) -> str:
    where, *rest = loc if loc else ("request",)
    return ".".join(str(x) for x in rest) or str(where)


async def _bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {"parameter": _parameter(tuple(e.get("loc", ()))), "in": str((e.get("loc") or ["request"])[0]),
         "message": e.get("msg", "invalid")}
        for e in exc.errors()
    ]  # fmt: skip
    detail = "; ".join(f"invalid parameter {e['parameter']!r} ({e['in']}): {e['message']}" for e in errors)
    return JSONResponse(status_code=400, content={"detail": detail, "errors": errors})


ERROR_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string"}, "errors": {"type": "array", "items": {"type": "object"}}},
    "required": ["detail"],
}


def _openapi(app: FastAPI):
    def build():
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for methods in schema.get("paths", {}).values():
            for operation in methods.values():
                responses = operation.get("responses", {})
                if responses.pop("422", None) is not None or "400" not in responses:
                    responses.setdefault(
                        "400",
                        {"description": "A parameter or the body is invalid (named in the message)",
                         "content": {"application/json": {"schema": ERROR_SCHEMA}}},
                    )  # fmt: skip
        components = schema.get("components", {}).get("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    return build


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    """The gateway application; ``settings`` default to :func:`gateway.config.settings_from_env`."""
    settings = settings or settings_from_env()
    zone = ZoneHolder(settings.landing())

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        try:
            yield
        finally:
            zone.close()

    app = FastAPI(
        title="Smart Factory gateway",
        version=VERSION,
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url=None,  # Swagger UI loads its scripts from a CDN: not on air-gapped sites
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.zone = zone
    app.add_exception_handler(RequestValidationError, _bad_request)
    for module in route_modules():
        app.include_router(module.router)
    app.openapi = _openapi(app)
    return app
