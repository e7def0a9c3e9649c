"""/api/v1/tokens: a tenant's admins list, create (the plaintext is shown once) and revoke API tokens.

The database changes first; the broker follows (each token has an MQTT client). If the broker is
down the change stands, a warning is logged, and `microdash broker sync` repairs the broker later.
"""

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from microdash_core import tokens
from microdash_core.errors import NotFound
from microdash_core.tenant_service import TenantService
from microdash_core.tenants import api_tokens

from ..audit_trail import AuditDep
from ..deps import AdminSession, StateDep
from ..errors import ApiError
from ..sql import ask

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f]+$")


class TokenPublic(BaseModel):
    public_id: str
    name: str
    created_at: str
    revoked_at: str | None


class TokenCreated(BaseModel):
    public_id: str
    name: str
    created_at: str
    token: str = Field(description="shown once; only its hash is stored")


@router.get("", response_model=list[TokenPublic])
async def list_tokens(session: AdminSession, state: StateDep) -> list[TokenPublic]:
    return await _token_rows(state, tenant_id=session.tenant.id)


@router.post("", response_model=TokenCreated, status_code=201)
async def create_token(body: TokenCreate, session: AdminSession, state: StateDep, audit: AuditDep) -> TokenCreated:
    service = TenantService(state.settings)
    try:
        token, broker_error = await run_in_threadpool(service.issue_token, session.tenant.id, token_name=body.name,
                                                      actor=audit.actor())
    except NotFound as exc:  # the tenant was deleted since the membership was last read
        raise ApiError(404, "no such tenant") from exc
    _log_broker_error(broker_error, "create", session.tenant.name)
    public_id = tokens.public_id_of(token)
    created, = await _token_rows(state, tenant_id=session.tenant.id, public_id=public_id)
    return TokenCreated(public_id=public_id, name=created.name, created_at=created.created_at, token=token)


@router.delete("/{public_id}", status_code=204)
async def revoke_token(public_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9]{12}$")], session: AdminSession,
                       state: StateDep, audit: AuditDep) -> Response:
    service = TenantService(state.settings)
    try:
        broker_error = await run_in_threadpool(service.revoke_token, session.tenant.id, public_id,
                                               actor=audit.actor())
    except NotFound as exc:
        raise ApiError(404, "no such token") from exc
    _log_broker_error(broker_error, "revoke", session.tenant.name)
    return Response(status_code=204)


def _log_broker_error(error: str | None, action: str, tenant: str) -> None:
    if error is not None:
        log.warning("token %s stored, but the broker did not follow", action, extra={"tenant": tenant, "error": error})


async def _token_rows(state: StateDep, *, tenant_id: int, public_id: str | None = None) -> list[TokenPublic]:
    rows = await ask(state.db, api_tokens.token_listing(tenant_id, public_id=public_id))
    return [TokenPublic(**view) for view in api_tokens.token_views(rows)]
