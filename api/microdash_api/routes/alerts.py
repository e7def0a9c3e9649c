"""/api/v1/alerts: current states, the transition history and the delivery log."""

from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Query
from pydantic import BaseModel

from .. import alerts_repository as repo
from ..deps import ReaderTenant, StateDep
from ..fields import BigRowId, RowId

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])
StateName = Literal["OK", "PENDING", "FIRING", "NODATA"]


class AlertStateOut(BaseModel):
    rule_id: int
    rule: str
    fingerprint: str
    labels: dict[str, str]
    state: StateName
    since: int
    last_value: float | None
    last_evaluated: int
    fired_at: int | None
    resolved_at: int | None


class TransitionOut(BaseModel):
    id: int
    rule_id: int
    fingerprint: str
    labels: dict[str, str]
    from_state: StateName
    to_state: StateName
    value: float | None
    at: int
    evaluator: str
    muted: bool


class DeliveryOut(BaseModel):
    id: int
    notification_id: int
    channel_id: int
    rule_id: int
    transition_ids: list[int]
    attempt: int
    status: Literal["sent", "error"]
    http_status: int | None
    latency_ms: int
    error: str | None
    next_retry_at: int | None
    permanently_failed: bool
    at: int


@router.get("/states", response_model=list[AlertStateOut])
async def list_states(tenant: ReaderTenant, state: StateDep, rule_id: RowId | None = None,
                      alert_state: Annotated[StateName | None, Query(alias="state")] = None) -> list[AlertStateOut]:
    rows = await repo.list_states(state.db, tenant_id=tenant.id, rule_id=rule_id, state=alert_state)
    return [AlertStateOut(rule_id=row[0], rule=row[1], fingerprint=bytes(row[2]).hex(), labels=orjson.loads(row[3]),
                          state=row[4], since=row[5], last_value=row[6], last_evaluated=row[7], fired_at=row[8],
                          resolved_at=row[9]) for row in rows]


@router.get("/history", response_model=list[TransitionOut])
async def history(tenant: ReaderTenant, state: StateDep, rule_id: RowId | None = None,
                  before_id: Annotated[BigRowId | None, Query(description="page: transitions older than this id")] = None,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[TransitionOut]:
    rows = await repo.list_transitions(state.db, tenant_id=tenant.id, rule_id=rule_id, before_id=before_id,
                                       limit=limit)
    return [TransitionOut(id=row[0], rule_id=row[1], fingerprint=bytes(row[2]).hex(), labels=orjson.loads(row[3]),
                          from_state=row[4], to_state=row[5], value=row[6], at=row[7], evaluator=row[8],
                          muted=bool(row[9])) for row in rows]


@router.get("/deliveries", response_model=list[DeliveryOut])
async def deliveries(tenant: ReaderTenant, state: StateDep, channel_id: RowId | None = None,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[DeliveryOut]:
    rows = await repo.list_deliveries(state.db, tenant_id=tenant.id, channel_id=channel_id, limit=limit)
    return [DeliveryOut(id=row[0], notification_id=row[1], channel_id=row[2], rule_id=row[3],
                        transition_ids=orjson.loads(row[4]), attempt=row[5], status=row[6], http_status=row[7],
                        latency_ms=row[8], error=row[9], next_retry_at=row[10], permanently_failed=bool(row[11]),
                        at=row[12]) for row in rows]
