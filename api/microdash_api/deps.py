"""Typed dependencies: the app state and the calling tenant."""

from typing import Annotated

import redis.exceptions
from fastapi import Depends, HTTPException, Request, status

from .auth import SESSION_COOKIE, CredentialStoreUnavailable, TenantContext, session_tenant
from .errors import service_unavailable
from .state import AppState


def get_state(request: Request) -> AppState:
    return request.app.state.microdash


StateDep = Annotated[AppState, Depends(get_state)]

_UNAUTHORIZED = HTTPException(
    status.HTTP_401_UNAUTHORIZED, "missing or invalid API token", headers={"WWW-Authenticate": "Bearer"}
)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    return credential.strip() if scheme.lower() == "bearer" and credential.strip() else None


async def token_tenant(request: Request, state: StateDep) -> TenantContext:
    token = _bearer(request)
    if token is None:
        raise _UNAUTHORIZED
    try:
        tenant = await state.tokens.authenticate(token)
    except CredentialStoreUnavailable as exc:
        raise service_unavailable("credential store") from exc
    if tenant is None:
        raise _UNAUTHORIZED
    return tenant


async def token_or_session_tenant(request: Request, state: StateDep) -> TenantContext:
    if _bearer(request) is not None:
        return await token_tenant(request, state)
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        try:
            tenant = await session_tenant(state.redis, session_id)
        except redis.exceptions.RedisError as exc:
            raise service_unavailable("session store") from exc
        if tenant is not None:
            return tenant
    raise _UNAUTHORIZED


IngestTenant = Annotated[TenantContext, Depends(token_tenant)]
ReaderTenant = Annotated[TenantContext, Depends(token_or_session_tenant)]


async def writer_tenant(tenant: ReaderTenant) -> TenantContext:
    """Changes need an API token or an admin's session; a viewer's session may only read."""
    if tenant.role not in ("token", "admin"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this session may only read; an admin or a token may write")
    return tenant


WriterTenant = Annotated[TenantContext, Depends(writer_tenant)]
