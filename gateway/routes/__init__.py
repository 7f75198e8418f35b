"""Routers of the gateway: each module here exposing ``router`` (a ``fastapi.APIRouter``) is
included by ``gateway.app.create_app`` in module-name order."""
