"""POST /api/v1/metrics and /api/v1/metrics/bulk: microdash's own JSON samples, admitted through the
shared ingest path (ingest_pipeline), answered 202 once queued."""

from typing import Annotated

from fastapi import APIRouter, Header, Request, status
from pydantic import BaseModel, Field

from ..body import parse_json, read_json_bytes
from ..deps import StateDep, WriterTenant
from ..ingest_pipeline import admit

router = APIRouter(prefix="/api/v1/metrics", tags=["ingest"])
MAX_IDEMPOTENCY_KEY = 200


class SampleIn(BaseModel):
    """Documentation of one sample; validation itself is microdash_core.samples."""

    metric: str = Field(examples=["cpu.usage"])
    value: float = Field(examples=[12.5])
    ts: int | None = Field(None, description="epoch milliseconds; server time when absent", examples=[1764000000000])
    labels: dict[str, str] = Field(default_factory=dict, examples=[{"host": "n1"}])


class Accepted(BaseModel):
    accepted: int
    batch_id: str
    duplicate: bool = False


IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=MAX_IDEMPOTENCY_KEY)]


def _doc(schema: dict) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted,
             openapi_extra=_doc(SampleIn.model_json_schema()))
async def ingest_one(request: Request, tenant: WriterTenant, state: StateDep,
                     idempotency_key: IdempotencyKey = None) -> Accepted:
    body = await read_json_bytes(request)
    items = state.validator.accept_json(body, single=True) or [parse_json(body)]
    admitted = await admit(state, tenant, items, endpoint="single", idempotency_key=idempotency_key)
    return Accepted(accepted=admitted.accepted, batch_id=admitted.batch_id, duplicate=admitted.duplicate)


@router.post("/bulk", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted,
             openapi_extra=_doc({"type": "array", "items": SampleIn.model_json_schema()}))
async def ingest_bulk(request: Request, tenant: WriterTenant, state: StateDep,
                      idempotency_key: IdempotencyKey = None) -> Accepted:
    body = await read_json_bytes(request)
    # Plainly valid samples straight from the bytes (validate_many passes them through); anything
    # else is decoded, and validate_many reports its errors.
    items = state.validator.accept_json(body) or parse_json(body)
    admitted = await admit(state, tenant, items, endpoint="bulk", idempotency_key=idempotency_key)
    return Accepted(accepted=admitted.accepted, batch_id=admitted.batch_id, duplicate=admitted.duplicate)
