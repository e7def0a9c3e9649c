"""Which tenants a dashboard user belongs to, and with which role (read through tenants.memberships)."""

from dataclasses import dataclass

from microdash_core.tenants import memberships as member_store

from .auth import CredentialStoreUnavailable, TenantContext
from .expiring_cache import ExpiringCache
from .sql import OUTAGE_ERRORS, Pool, ask


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


async def find_user(pool: Pool, *, email: str) -> UserRecord | None:
    row = await ask(pool, member_store.user_by_email(email))
    return UserRecord(*row) if row else None


async def memberships(pool: Pool, *, user_id: int) -> list[Membership]:
    return [Membership(*row) for row in await ask(pool, member_store.member_tenants_for_display(user_id))]


async def tenant_of_member(pool: Pool, *, user_id: int, tenant_name: str | None = None,
                           tenant_id: int | None = None) -> TenantContext | None:
    """The tenant named, or of that id (or, without either, the user's first by name) with the
    user's role in it; None when the user is not a member of it."""
    row = await ask(pool, member_store.member_tenant(user_id, tenant_name=tenant_name, tenant_id=tenant_id))
    if row is None:
        return None
    tenant_id, name, role = row
    return TenantContext(id=tenant_id, name=name, role=role)


class MembershipCache:
    """A session's role, re-read from the database at most `token_cache_seconds` ago, so a
    removed member, a changed role or a deleted tenant takes effect on open sessions as quickly as a
    revoked token does. Only memberships that exist are cached."""

    def __init__(self, pool: Pool, ttl_seconds: float):
        self.pool = pool
        self._cache: ExpiringCache[TenantContext] = ExpiringCache(ttl_seconds)

    async def tenant_of(self, *, user_id: int, tenant_id: int, max_age: float | None = None) -> TenantContext | None:
        """The tenant with the user's current role in it; None when the user is no longer a member."""
        cached = self._cache.get((user_id, tenant_id), max_age=max_age)
        if cached is not None:
            return cached
        try:
            tenant = await tenant_of_member(self.pool, user_id=user_id, tenant_id=tenant_id)
        except (*OUTAGE_ERRORS, OSError) as exc:
            raise CredentialStoreUnavailable(str(exc)) from exc
        if tenant is None:
            self._cache.drop((user_id, tenant_id))
            return None
        self._cache.put((user_id, tenant_id), tenant)
        return tenant
