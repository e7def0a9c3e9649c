"""GET /api/v1/dead-letters: what the calling tenant sent that could never be stored, newest first.

The workers and the MQTT bridge keep the latest microdash_core.dead_letters.KEEP entries per tenant,
each with its reason and an excerpt of the data, so a tenant can find a faulty sender without
asking an operator. Messages that named no known tenant are the operator's (`microdash
dead-letters`)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from microdash_core import dead_letters

from ..deps import ReaderTenant, StateDep

router = APIRouter(prefix="/api/v1", tags=["dead letters"])


class DeadLetterOut(BaseModel):
    source: Literal["worker", "mqtt"] = Field(description="who refused it: the database write or the MQTT bridge")
    reason: str
    at: int = Field(description="epoch ms of the refusal")
    topic: str | None = Field(None, description="the MQTT topic (source mqtt)")
    payload: str | None = Field(None, description="the message's first 4 KiB (source mqtt)")
    batch_id: str | None = Field(None, description="the ingest batch (source worker)")
    sample: str | None = Field(None, description="the refused sample as JSON, first 4 KiB (source worker)")


class DeadLettersOut(BaseModel):
    kept: int = Field(description="entries kept for the tenant now (at most the cap)")
    cap: int = Field(description="entries kept at most: older ones are dropped")
    entries: list[DeadLetterOut]


@router.get("/dead-letters", response_model=DeadLettersOut)
async def tenant_dead_letters(tenant: ReaderTenant, state: StateDep,
                              limit: Annotated[int, Query(ge=1, le=dead_letters.KEEP)] = 100) -> DeadLettersOut:
    key = dead_letters.key_of(tenant.id)
    async with state.redis.pipeline(transaction=True) as pipe:
        entries, kept = await pipe.lrange(key, 0, limit - 1).llen(key).execute()
    return DeadLettersOut(kept=kept, cap=dead_letters.KEEP,
                          entries=[DeadLetterOut(**entry) for entry in dead_letters.decode(entries)])
