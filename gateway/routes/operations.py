"""``POST /v1/operations``: a JSON array of operation records into the landing zone (DESIGN.md §9).

The key is checked before the body is read. The body is read with a running size limit (the
operations file kind's, ``FACTORY_OPERATIONS_MAX_FILE_MB``), not trusting ``Content-Length``;
it must parse as a JSON array with the same parser the loader uses (else 400, nothing written);
then it is written atomically (temporary ``.name.part``, then rename) as
``operations/gateway/<drop id>.json``, where the landing sensor takes it like any dropped file.
Records are validated by the loader, not here: a drop with bad records is accepted and its bad
records are rejected or flagged with reasons in the warehouse.
"""

from __future__ import annotations

import os
import time

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from factory_assets.operations.records import NotADrop, drop_json_schema, parse_drop
from gateway.deps import IngestKey
from gateway.landing import LandingUnavailable

router = APIRouter(tags=["ingest"])
FOLDER = "operations/gateway"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_drop_id() -> str:
    """A ULID: 48 bits of milliseconds then 80 random bits, 26 Crockford base-32 characters;
    drop files sort by arrival time."""
    value = ((time.time_ns() // 1_000_000) << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


class DropAccepted(BaseModel):
    drop_id: str = Field(description="ULID of the drop; the file is operations/gateway/<drop_id>.json")
    path: str = Field(description="Landing-zone path written")
    records: int = Field(description="Records in the array (validated when the drop is loaded)")
    bytes: int = Field(description="Size of the body written")


class TooLarge(HTTPException):
    def __init__(self, limit: int):
        super().__init__(
            status_code=413,
            detail=f"body too large: the limit is {limit:,} bytes (FACTORY_OPERATIONS_MAX_FILE_MB); "
            "split the records into several drops",
        )


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise HTTPException(status_code=400, detail="invalid Content-Length header")
        if int(declared) > limit:
            raise TooLarge(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


_REQUEST_BODY = {
    "required": True,
    "description": "A JSON array of operation records (DESIGN.md §6.4); docs/operations.schema.json.",
    "content": {"application/json": {"schema": drop_json_schema()}},
}


@router.post(
    "/v1/operations",
    status_code=202,
    response_model=DropAccepted,
    dependencies=[IngestKey],
    summary="Send operation records (a JSON array)",
    openapi_extra={"requestBody": _REQUEST_BODY},
    responses={
        400: {"description": "The body is not a JSON array (nothing written)"},
        401: {"description": "Missing or wrong X-API-KEY (nothing read, nothing written)"},
        413: {"description": "Body larger than FACTORY_OPERATIONS_MAX_FILE_MB (nothing written)"},
        503: {"description": "The landing zone cannot be reached (nothing written)"},
    },
)
async def post_operations(request: Request) -> DropAccepted:
    settings = request.app.state.settings
    body = await read_body(request, settings.max_body_bytes)

    def store() -> DropAccepted:
        try:
            records = len(parse_drop(body))
        except NotADrop as exc:
            raise HTTPException(status_code=400, detail=f"{exc}; nothing was written") from None
        drop_id = new_drop_id()
        path = f"{FOLDER}/{drop_id}.json"
        try:
            request.app.state.zone.write(path, body)
        except LandingUnavailable as exc:
            raise HTTPException(
                status_code=503,
                detail=f"the landing zone is unreachable, nothing was written; retry later ({exc})",
                headers={"Retry-After": "30"},
            ) from None
        return DropAccepted(drop_id=drop_id, path=path, records=records, bytes=len(body))

    return await run_in_threadpool(store)
