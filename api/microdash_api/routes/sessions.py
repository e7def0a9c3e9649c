"""Dashboard sessions: /api/v1/auth/login, /logout, /me and /tenant (switch the session's tenant)."""

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from microdash_core.tenants.memberships import Role

from .. import memberships
from ..client_address import client_address
from ..deps import OptionalSession, SessionDep, StateDep
from ..errors import ApiError
from ..login_throttle import LoginThrottle
from ..password_checks import ChecksBusy
from ..sessions_store import CSRF_COOKIE, SESSION_COOKIE, Session, create_session, end_session, switch_tenant

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
WRONG_CREDENTIALS = "wrong email, password or tenant"


class Login(BaseModel):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=1024)
    tenant: str | None = Field(None, max_length=63,
                               description="sign in to this tenant; default: the first one by name")


class TenantChoice(BaseModel):
    tenant: str = Field(min_length=1, max_length=63)


class TenantMembership(BaseModel):
    name: str
    display_name: str
    role: Role


class Me(BaseModel):
    email: str
    tenant: str
    role: Role
    tenants: list[TenantMembership] = Field(description="only the tenants this user is a member of")
    csrf_token: str = Field(description="send it back as X-CSRF-Token on every POST, PUT, PATCH and DELETE")


@router.post("/login", response_model=Me)
async def login(body: Login, request: Request, response: Response, state: StateDep) -> Me:
    """A new session every time; a session this browser still had is ended (no session fixation)."""
    throttle = LoginThrottle(state.redis, state.settings)
    ip = client_address(request, state.settings.trusted_proxy_hops)
    wait = await throttle.admit(email=body.email, ip=ip)
    if wait:
        raise ApiError(429, f"too many failed logins; try again in {wait} s", headers={"Retry-After": str(wait)})
    try:
        user = await _verified_user(state, body)
    except BaseException as exc:
        await throttle.refund(email=body.email, ip=ip)  # no password was checked
        if isinstance(exc, ChecksBusy):
            raise ApiError(503, "too many logins at once; try again shortly", headers={"Retry-After": "1"}) from None
        raise
    tenant = None if user is None else await memberships.tenant_of_member(state.db, user_id=user.id,
                                                                           tenant_name=body.tenant)
    if tenant is None:
        raise ApiError(401, WRONG_CREDENTIALS)
    await throttle.succeeded(email=body.email, ip=ip)
    if previous := request.cookies.get(SESSION_COOKIE):
        await end_session(state.redis, previous)
    session = await create_session(state.redis, user_id=user.id, email=user.email, tenant=tenant,
                                   ttl_seconds=state.settings.session_ttl_seconds)
    _set_cookies(response, request, session, state.settings.session_ttl_seconds)
    return await _me(state, session)


@router.post("/logout", status_code=204)
async def logout(session: OptionalSession, state: StateDep) -> Response:
    """Ends the session (this needs its CSRF token); without a live session it only clears the cookies."""
    if session is not None:
        await end_session(state.redis, session.id)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/me", response_model=Me)
async def me(session: SessionDep, state: StateDep) -> Me:
    return await _me(state, session)


@router.post("/tenant", response_model=Me)
async def choose_tenant(body: TenantChoice, session: SessionDep, state: StateDep) -> Me:
    """Switch the session to another of the user's tenants; the role is the user's role there."""
    tenant = await memberships.tenant_of_member(state.db, user_id=session.user_id, tenant_name=body.tenant)
    if tenant is None:
        raise ApiError(404, f"you are not a member of tenant {body.tenant!r}")
    return await _me(state, await switch_tenant(state.redis, session, tenant))


async def _verified_user(state: StateDep, body: Login) -> memberships.UserRecord | None:
    user = await memberships.find_user(state.db, email=body.email)
    if not await state.password_checks.verify(user.password_hash if user else None, body.password):
        return None
    return user


def _set_cookies(response: Response, request: Request, session: Session, ttl_seconds: int) -> None:
    secure = request.url.scheme == "https"
    response.set_cookie(SESSION_COOKIE, session.id, max_age=ttl_seconds, httponly=True, samesite="lax",
                        secure=secure, path="/")
    # Readable by the page's script (not HttpOnly), which echoes it in X-CSRF-Token.
    response.set_cookie(CSRF_COOKIE, session.csrf_token, max_age=ttl_seconds, httponly=False, samesite="lax",
                        secure=secure, path="/")


async def _me(state: StateDep, session: Session) -> Me:
    tenants = await memberships.memberships(state.db, user_id=session.user_id)
    return Me(email=session.email, tenant=session.tenant.name, role=session.tenant.role, csrf_token=session.csrf_token,
              tenants=[TenantMembership(name=m.name, display_name=m.display_name, role=m.role) for m in tenants])
