"""Dashboard sessions in Redis: who is signed in, for which tenant, and the session's CSRF token.

A session names its tenant by id, and carries the user's session generation from when it was
created: `microdash user revoke-sessions` increments the generation, which ends them all. The role
stored here is only the one at sign-in; requests use the current one (memberships.MembershipCache).
"""

import secrets
from dataclasses import dataclass, replace

import orjson
import redis.asyncio as aioredis

from microdash_core import keys

from .auth import TenantContext

SESSION_COOKIE = "microdash_session"
CSRF_COOKIE = "microdash_csrf"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class Session:
    id: str
    user_id: int
    email: str
    tenant: TenantContext
    csrf_token: str
    generation: int = 0


async def create_session(redis: aioredis.Redis, *, user_id: int, email: str, tenant: TenantContext,
                         ttl_seconds: int) -> Session:
    session = Session(id=secrets.token_urlsafe(32), user_id=user_id, email=email, tenant=tenant,
                      csrf_token=secrets.token_urlsafe(32), generation=await _generation(redis, user_id))
    await _save(redis, session, ttl_seconds)
    return session


async def load_session(redis: aioredis.Redis, session_id: str) -> Session | None:
    """None when there is no such session, or it was revoked."""
    raw = await redis.get(keys.session(session_id))
    if raw is None:
        return None
    data = orjson.loads(raw)
    if "csrf_token" not in data:  # written by a version without CSRF tokens: sign in again
        return None
    tenant = TenantContext(id=data["tenant_id"], name=data["tenant_name"], role=data["role"])
    session = Session(id=session_id, user_id=data["user_id"], email=data["email"], tenant=tenant,
                      csrf_token=data["csrf_token"], generation=data.get("generation", 0))
    if session.generation != await _generation(redis, session.user_id):
        return None
    return session


async def _generation(redis: aioredis.Redis, user_id: int) -> int:
    return int(await redis.get(keys.user_session_generation(user_id)) or 0)


async def switch_tenant(redis: aioredis.Redis, session: Session, tenant: TenantContext) -> Session:
    """Same session id and CSRF token, another tenant; the session keeps its remaining lifetime."""
    switched = replace(session, tenant=tenant)
    ttl = await redis.ttl(keys.session(session.id))
    await _save(redis, switched, max(ttl, 1))
    return switched


async def end_session(redis: aioredis.Redis, session_id: str) -> None:
    await redis.delete(keys.session(session_id))


async def _save(redis: aioredis.Redis, session: Session, ttl_seconds: int) -> None:
    payload = {"user_id": session.user_id, "email": session.email, "tenant_id": session.tenant.id,
               "tenant_name": session.tenant.name, "role": session.tenant.role, "csrf_token": session.csrf_token,
               "generation": session.generation}
    await redis.set(keys.session(session.id), orjson.dumps(payload), ex=ttl_seconds)
