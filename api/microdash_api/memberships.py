"""Which tenants a dashboard user belongs to, and with which role (users and memberships tables)."""

from dataclasses import dataclass

import aiomysql
import pymysql

from .auth import CredentialStoreUnavailable, TenantContext
from .expiring_cache import ExpiringCache
from .sql import fetch


@dataclass(frozen=True)
class Membership:
    name: str
    display_name: str
    role: str


@dataclass(frozen=True)
class UserRecord:
    id: int
    email: str
    password_hash: str


async def find_user(pool: aiomysql.Pool, *, email: str) -> UserRecord | None:
    rows = await fetch(pool, "SELECT id, email, password_hash FROM users WHERE email = %s", (email,))
    return UserRecord(*rows[0]) if rows else None


async def memberships(pool: aiomysql.Pool, *, user_id: int) -> list[Membership]:
    rows = await fetch(pool, "SELECT t.name, t.display_name, m.role FROM memberships m JOIN tenants t"
                             " ON t.id = m.tenant_id WHERE m.user_id = %s ORDER BY t.name", (user_id,))
    return [Membership(*row) for row in rows]


async def tenant_of_member(pool: aiomysql.Pool, *, user_id: int, tenant_name: str | None = None,
                           tenant_id: int | None = None) -> TenantContext | None:
    """The tenant named, or of that id (or, without either, the user's first by name) with the
    user's role in it; None when the user is not a member of it."""
    sql = "SELECT t.id, t.name, m.role FROM memberships m JOIN tenants t ON t.id = m.tenant_id WHERE m.user_id = %s"
    params: list = [user_id]
    if tenant_name is not None:
        sql += " AND t.name = %s"
        params.append(tenant_name)
    if tenant_id is not None:
        sql += " AND t.id = %s"
        params.append(tenant_id)
    rows = await fetch(pool, sql + " ORDER BY t.name LIMIT 1", params)
    if not rows:
        return None
    tenant_id, name, role = rows[0]
    return TenantContext(id=tenant_id, name=name, role=role)


class MembershipCache:
    """A session's role, re-read from the memberships table at most `token_cache_seconds` ago, so a
    removed member, a changed role or a deleted tenant takes effect on open sessions as quickly as a
    revoked token does. Only memberships that exist are cached."""

    def __init__(self, pool: aiomysql.Pool, ttl_seconds: float):
        self.pool = pool
        self._cache: ExpiringCache[TenantContext] = ExpiringCache(ttl_seconds)

    async def tenant_of(self, *, user_id: int, tenant_id: int, max_age: float | None = None) -> TenantContext | None:
        """The tenant with the user's current role in it; None when the user is no longer a member."""
        cached = self._cache.get((user_id, tenant_id), max_age=max_age)
        if cached is not None:
            return cached
        try:
            tenant = await tenant_of_member(self.pool, user_id=user_id, tenant_id=tenant_id)
        except (pymysql.err.OperationalError, pymysql.err.InterfaceError, OSError) as exc:
            raise CredentialStoreUnavailable(str(exc)) from exc
        if tenant is None:
            self._cache.drop((user_id, tenant_id))
            return None
        self._cache.put((user_id, tenant_id), tenant)
        return tenant
