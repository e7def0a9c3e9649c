"""POST /api/v1/metrics and /api/v1/metrics/bulk: microdash's own JSON samples, admitted through the
shared ingest path (ingest_pipeline), answered 202 once queued."""

import orjson
from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel

from ..body import parse_json, read_json_bytes
from ..deps import IDEMPOTENCY_KEY_PARAMETER, ingest_caller
from ..ingest_pipeline import Admitted, admit
from ..sample_contract import SampleIn, bulk_body_schema

router = APIRouter(prefix="/api/v1/metrics", tags=["ingest"])


class Accepted(BaseModel):
    accepted: int
    batch_id: str
    duplicate: bool = False


def _doc(schema: dict) -> dict:
    """The request body and the Idempotency-Key header, which the routes read themselves (see ingest_caller)."""
    return {"parameters": [IDEMPOTENCY_KEY_PARAMETER],
            "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


# The 422 FastAPI documents for a route with parameters; these read theirs themselves.
_RESPONSES = {422: {"description": "Validation Error", "content": {"application/json": {"schema": {
    "$ref": "#/components/schemas/HTTPValidationError"}}}}}


def _accepted(admitted: Admitted) -> Response:
    """The Accepted model's JSON, written directly: FastAPI's validation and serialisation of a
    returned model cost more than the rest of a single-sample POST's route."""
    return Response(orjson.dumps({"accepted": admitted.accepted, "batch_id": admitted.batch_id,
                                  "duplicate": admitted.duplicate}),
                    status_code=status.HTTP_202_ACCEPTED, media_type="application/json")


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted, responses=_RESPONSES,
             openapi_extra=_doc(SampleIn.model_json_schema()))
async def ingest_one(request: Request) -> Response:
    caller = await ingest_caller(request)
    body = await read_json_bytes(request)
    items = caller.state.validator.accept_json(body, single=True) or [parse_json(body)]
    return _accepted(await admit(caller.state, caller.tenant, items, endpoint="single",
                                 idempotency_key=caller.idempotency_key))


@router.post("/bulk", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted, responses=_RESPONSES,
             openapi_extra=_doc(bulk_body_schema()))
async def ingest_bulk(request: Request) -> Response:
    caller = await ingest_caller(request)
    body = await read_json_bytes(request)
    # Plainly valid samples straight from the bytes (validate_many passes them through); anything
    # else is decoded, and validate_many reports its errors.
    items = caller.state.validator.accept_json(body) or parse_json(body)
    return _accepted(await admit(caller.state, caller.tenant, items, endpoint="bulk",
                                 idempotency_key=caller.idempotency_key))


def add_plain_routes(app) -> None:
    """The same two endpoints as plain Starlette routes, added ahead of the documented FastAPI ones
    (which stay for the OpenAPI document and are never reached): they take only the request and
    answer a Response of their own, so FastAPI's per-request work (its route scope, parameter and
    dependency resolution, telemetry) buys them nothing, and it was a tenth of a single-sample POST's
    CPU. Errors raised in them go to the app's exception handlers alike."""
    app.router.add_route(router.prefix, ingest_one, methods=["POST"], include_in_schema=False)
    app.router.add_route(router.prefix + "/bulk", ingest_bulk, methods=["POST"], include_in_schema=False)
