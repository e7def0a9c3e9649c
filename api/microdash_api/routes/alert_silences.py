"""/api/v1/alerts/silences: mute a rule, or every alert whose labels match, until a time."""

import time
from typing import Annotated

import orjson
from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from microdash_core.alerting.rules import check_json_size
from microdash_core.audit import Change
from microdash_core.errors import InvalidInput
from microdash_core.matchers import parse_matchers

from .. import alerts_repository as repo
from ..audit_trail import AuditDep
from ..deps import ReaderTenant, StateDep, WriterTenant
from ..errors import ApiError
from ..fields import EpochMs, MatcherList, RowId, plain_text
from ..sql import transaction

router = APIRouter(prefix="/api/v1/alerts/silences", tags=["alerts"])


class SilenceIn(BaseModel):
    rule_id: RowId | None = Field(None, description="mute this rule; with matchers, only its matching alerts")
    matchers: MatcherList = Field(default=[], description="label matchers on the alert labels")
    starts_at: EpochMs | None = Field(None, description="epoch ms, default now")
    ends_at: EpochMs = Field(description="epoch ms")
    created_by: plain_text(254, min_length=1)
    comment: plain_text(1000, multiline=True) = ""


class SilenceOut(BaseModel):
    """Plain types: a silence stored before a bound was added still reads back."""
    id: int
    rule_id: int | None
    matchers: list[str]
    starts_at: int
    ends_at: int
    created_by: str
    comment: str


def _out(row: tuple) -> SilenceOut:
    return SilenceOut(id=row[0], rule_id=row[1], matchers=orjson.loads(row[2]), starts_at=row[3], ends_at=row[4],
                      created_by=row[5], comment=row[6])


@router.get("", response_model=list[SilenceOut])
async def list_silences(tenant: ReaderTenant, state: StateDep, active: bool = False) -> list[SilenceOut]:
    active_at = int(time.time() * 1000) if active else None
    return [_out(row) for row in await repo.list_silences(state.db, tenant_id=tenant.id, active_at=active_at)]


@router.post("", response_model=SilenceOut, status_code=201)
async def create_silence(body: SilenceIn, tenant: WriterTenant, state: StateDep, audit: AuditDep) -> SilenceOut:
    if body.rule_id is None and not body.matchers:
        raise ApiError(422, "a silence needs a rule_id or label matchers")
    try:
        parse_matchers(body.matchers)
        check_json_size(body.matchers, "matchers")
    except InvalidInput as exc:
        raise ApiError(422, str(exc), errors=[{"field": "matchers", "error": str(exc)}]) from exc
    starts_at = body.starts_at if body.starts_at is not None else int(time.time() * 1000)
    if body.ends_at <= starts_at:
        raise ApiError(422, "ends_at must be after starts_at")
    if body.rule_id is not None and await repo.get_rule(state.db, tenant_id=tenant.id, rule_id=body.rule_id) is None:
        raise ApiError(422, "no such rule")
    async with transaction(state.db) as tx:
        silence_id = await repo.insert_silence(tx, tenant_id=tenant.id, rule_id=body.rule_id,
                                               matchers=body.matchers, starts_at=starts_at, ends_at=body.ends_at,
                                               created_by=body.created_by, comment=body.comment)
        created = SilenceOut(id=silence_id, **{**body.model_dump(), "starts_at": starts_at})
        await audit.record(tx, tenant, Change("silence.create", silence_id, after=created.model_dump()))
    return created


@router.delete("/{silence_id}", status_code=204)
async def expire_silence(silence_id: Annotated[RowId, Path()], tenant: WriterTenant, state: StateDep,
                         audit: AuditDep) -> Response:
    """Ends the silence now; it stays listed as history."""
    found = [row for row in await repo.list_silences(state.db, tenant_id=tenant.id, active_at=None)
             if row[0] == silence_id]
    if not found:
        raise ApiError(404, "no such silence")
    now_ms = int(time.time() * 1000)
    before = _out(found[0])
    async with transaction(state.db) as tx:
        await repo.expire_silence(tx, tenant_id=tenant.id, silence_id=silence_id, now_ms=now_ms)
        await audit.record(tx, tenant, Change("silence.expire", silence_id, before=before.model_dump(),
                                              after={**before.model_dump(), "ends_at": min(before.ends_at, now_ms)}))
    return Response(status_code=204)
