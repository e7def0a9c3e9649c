"""Dashboard sessions: POST /api/v1/auth/login, /logout, GET /api/v1/auth/me."""

import aiomysql
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from microdash_core.users import verify_password

from ..auth import SESSION_COOKIE, SESSION_TTL_SECONDS, TenantContext, create_session, end_session
from ..deps import ReaderTenant, StateDep
from ..errors import ApiError

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class Login(BaseModel):
    email: str
    password: str
    tenant: str | None = None


class Me(BaseModel):
    tenant: str
    role: str


@router.post("/login", response_model=Me)
async def login(body: Login, request: Request, response: Response, state: StateDep) -> Me:
    tenant = await _authenticate(state.db, body)
    if tenant is None:
        raise ApiError(401, "wrong email, password or tenant")
    session_id = await create_session(state.redis, user_id=tenant[0], tenant=tenant[1])
    response.set_cookie(SESSION_COOKIE, session_id, max_age=SESSION_TTL_SECONDS, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/")
    return Me(tenant=tenant[1].name, role=tenant[1].role)


@router.post("/logout", status_code=204)
async def logout(request: Request, state: StateDep) -> Response:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        await end_session(state.redis, session_id)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", response_model=Me)
async def me(tenant: ReaderTenant) -> Me:
    return Me(tenant=tenant.name, role=tenant.role)


async def _authenticate(pool: aiomysql.Pool, body: Login) -> tuple[int, TenantContext] | None:
    sql = ("SELECT u.id, u.password_hash, t.id, t.name, t.ingest_rate_limit, m.role FROM users u"
           " JOIN memberships m ON m.user_id = u.id JOIN tenants t ON t.id = m.tenant_id WHERE u.email = %s")
    params: list = [body.email]
    if body.tenant:
        sql += " AND t.name = %s"
        params.append(body.tenant)
    async with pool.acquire() as connection, connection.cursor() as cursor:
        await cursor.execute(sql + " ORDER BY t.name LIMIT 1", params)
        row = await cursor.fetchone()
    if row is None or not await run_in_threadpool(verify_password, row[1], body.password):
        return None
    return row[0], TenantContext(id=row[2], name=row[3], ingest_rate_limit=row[4], role=row[5])
