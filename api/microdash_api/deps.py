"""Typed dependencies: the app state, the calling tenant and the dashboard session."""

import base64
import binascii
import hmac
from dataclasses import dataclass, replace
from typing import Annotated

import redis.exceptions
from fastapi import Depends, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError

from microdash_core.tokens import public_id_of as token_public_id

from .auth import CredentialStoreUnavailable, TenantContext
from .errors import ApiError, service_unavailable
from .sessions_store import CSRF_HEADER, SESSION_COOKIE, Session, load_session
from .state import AppState

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def get_state(request: Request) -> AppState:
    # async although it awaits nothing: FastAPI runs a plain def dependency in its thread pool, a
    # thread hop per use (~50 µs of CPU each, 4 per /api/v1/query) for reading one attribute.
    return request.app.state.microdash


StateDep = Annotated[AppState, Depends(get_state)]

_UNAUTHORIZED = HTTPException(
    status.HTTP_401_UNAUTHORIZED, "missing or invalid API token", headers={"WWW-Authenticate": "Bearer"}
)
_NOT_SIGNED_IN = ApiError(401, "not signed in")


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    return credential.strip() if scheme.lower() == "bearer" and credential.strip() else None


def protocol_token(request: Request) -> str | None:
    """The API token as the ecosystem's clients send it: `Bearer <token>`, InfluxDB's `Token <token>`,
    or HTTP basic auth with the token as the password (InfluxDB 1.x clients, Telegraf's username and
    password settings); the user name is ignored. A token in the URL (`?p=`) is refused: URLs end
    up in access logs and proxies."""
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    scheme, credential = scheme.lower(), credential.strip()
    if scheme in ("bearer", "token") and credential:
        return credential
    if scheme == "basic" and credential:
        try:
            _, _, password = base64.b64decode(credential, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return password or None
    if "p" in request.query_params:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "send the API token in the Authorization header"
                            " (Token, Bearer or basic auth password), never in the URL",
                            headers={"WWW-Authenticate": "Bearer"})
    return None


async def _tenant_of(request: Request, state: AppState, token: str | None) -> TenantContext:
    if token is None:
        raise _UNAUTHORIZED
    return await tenant_of_token(request, state, token)


async def tenant_of_token(request: Request, state: AppState, token: str) -> TenantContext:
    try:
        tenant = await state.tokens.authenticate(token)
    except CredentialStoreUnavailable as exc:
        raise service_unavailable("credential store") from exc
    if tenant is None:
        raise _UNAUTHORIZED
    request.state.actor = f"token:{token_public_id(token)}"
    return tenant


async def token_tenant(request: Request, state: StateDep) -> TenantContext:
    return await _tenant_of(request, state, bearer_token(request))


async def protocol_tenant(request: Request, state: StateDep) -> TenantContext:
    return await _tenant_of(request, state, protocol_token(request))


async def current_session(state: AppState, session_id: str, *, max_age: float | None = None) -> Session | None:
    """The session with the user's current role in its tenant; None when it ended, was revoked, or
    its user is no longer a member of that tenant (removed, or the tenant deleted). Raises RedisError
    and CredentialStoreUnavailable."""
    session = await load_session(state.redis, session_id)
    if session is None:
        return None
    tenant = await state.members.tenant_of(user_id=session.user_id, tenant_id=session.tenant.id, max_age=max_age)
    return None if tenant is None else replace(session, tenant=tenant)


async def cookie_session(request: Request, state: StateDep) -> Session | None:
    """The session named by the cookie, None when there is none or it ended. A session-authenticated
    change (POST, PUT, PATCH, DELETE) must echo the session's CSRF token in X-CSRF-Token."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    try:
        session = await current_session(state, session_id)
    except redis.exceptions.RedisError as exc:
        raise service_unavailable("session store") from exc
    except CredentialStoreUnavailable as exc:
        raise service_unavailable("credential store") from exc
    if session is not None and request.method in MUTATING_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
            raise ApiError(403, "missing or wrong CSRF token")
    if session is not None:
        request.state.actor = f"user:{session.email}"
    return session


OptionalSession = Annotated[Session | None, Depends(cookie_session)]


async def signed_in(session: OptionalSession) -> Session:
    if session is None:
        raise _NOT_SIGNED_IN
    return session


SessionDep = Annotated[Session, Depends(signed_in)]


async def token_or_session_tenant(request: Request, state: StateDep) -> TenantContext:
    if bearer_token(request) is not None:
        return await token_tenant(request, state)
    session = await cookie_session(request, state)
    if session is None:
        raise _UNAUTHORIZED
    return session.tenant


IngestTenant = Annotated[TenantContext, Depends(token_tenant)]
# The standard protocols' writers (Influx, OTLP): a token only, in any form protocol_token accepts.
ProtocolTenant = Annotated[TenantContext, Depends(protocol_tenant)]
ReaderTenant = Annotated[TenantContext, Depends(token_or_session_tenant)]


async def writer_tenant(tenant: ReaderTenant) -> TenantContext:
    """Changes need an API token or an admin's session; a viewer's session may only read."""
    return _may_write(tenant)


def _may_write(tenant: TenantContext) -> TenantContext:
    if tenant.role not in ("token", "admin"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this session may only read; an admin or a token may write")
    return tenant


WriterTenant = Annotated[TenantContext, Depends(writer_tenant)]


@dataclass(frozen=True)
class IngestCaller:
    """Everything the JSON ingest routes take from a request besides its body."""

    state: AppState
    tenant: TenantContext
    idempotency_key: str | None


IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY = 200


async def ingest_caller(request: Request) -> IngestCaller:
    """WriterTenant, StateDep and the Idempotency-Key header in one call, checked in the same order
    and answered alike (401/403/503, then 422 for a key that is too long). The JSON ingest routes
    call it themselves: FastAPI resolves each dependency and parameter of a route on every request
    (cache keys, query string, cookies), which was a third of the API's CPU per single-sample POST."""
    state = request.app.state.microdash
    tenant = _may_write(await token_or_session_tenant(request, state))
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
        raise RequestValidationError([{
            "type": "string_too_long", "loc": ("header", IDEMPOTENCY_HEADER),
            "msg": f"String should have at most {MAX_IDEMPOTENCY_KEY} characters", "input": key,
            "ctx": {"max_length": MAX_IDEMPOTENCY_KEY}}])
    return IngestCaller(state, tenant, key)


# What the OpenAPI document says of the header ingest_caller reads.
IDEMPOTENCY_KEY_PARAMETER = {"name": IDEMPOTENCY_HEADER, "in": "header", "required": False,
                             "schema": {"anyOf": [{"type": "string", "maxLength": MAX_IDEMPOTENCY_KEY},
                                                  {"type": "null"}], "title": IDEMPOTENCY_HEADER}}


def admin_session_to(doing: str):
    """A dependency: the session of an admin signed in to the dashboard, for what no token may do
    (`doing`: "manage tokens", say)."""

    async def admin_session(request: Request, state: StateDep) -> Session:
        if bearer_token(request) is not None:
            raise ApiError(403, f"API tokens cannot {doing}; sign in to the dashboard as an admin")
        session = await signed_in(await cookie_session(request, state))
        if session.tenant.role != "admin":
            raise ApiError(403, f"only an admin of this tenant may {doing}")
        return session

    return admin_session


# Managing API tokens takes an admin signed in to the dashboard; a token cannot mint or revoke tokens.
AdminSession = Annotated[Session, Depends(admin_session_to("manage tokens"))]
