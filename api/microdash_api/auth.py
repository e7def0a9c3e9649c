"""Who is calling: API tokens (Bearer) resolve to a tenant (sessions: sessions_store.py)."""

from dataclasses import dataclass

from microdash_core import tokens
from microdash_core.settings import Settings
from microdash_core.tenants import api_tokens

from .expiring_cache import ExpiringCache
from .sql import OUTAGE_ERRORS, Pool, ask
from .tenant_limits import TenantLimits, TenantLimitsCache


class CredentialStoreUnavailable(Exception):
    """The database holding the tokens cannot be reached: the caller should get 503, not 401."""


@dataclass(frozen=True)
class TenantContext:
    """The tenant a request acts for, always derived from its credential."""

    id: int
    name: str
    role: str = "token"


class TokenAuthenticator:
    """Resolves Bearer tokens; valid tokens are cached for a few seconds, so revocation takes
    effect within ``token_cache_seconds``. A lookup also hands the tenant's limits to `limits`."""

    def __init__(self, pool: Pool, settings: Settings, limits: TenantLimitsCache):
        self.pool = pool
        self.limits = limits
        self._cache: ExpiringCache[TenantContext] = ExpiringCache(settings.token_cache_seconds)

    async def authenticate(self, token: str, *, max_age: float | None = None) -> TenantContext | None:
        """`max_age` asks for an answer fresher than the cache's lifetime (see expiring_cache.py)."""
        token_hash = tokens.hash_token(token)
        cached = self._cache.get(token_hash, max_age=max_age)
        if cached is not None:
            return cached
        tenant = await self._lookup(token, token_hash)
        if tenant is None:
            self._cache.drop(token_hash)
        else:
            self._cache.put(token_hash, tenant)
        return tenant

    async def _lookup(self, token: str, token_hash: bytes) -> TenantContext | None:
        public_id = tokens.public_id_of(token)
        if public_id is None:
            return None
        try:
            row = await ask(self.pool, api_tokens.active_token(public_id))
        except (*OUTAGE_ERRORS, OSError) as exc:
            raise CredentialStoreUnavailable(str(exc)) from exc
        if row is None or not tokens.matches(token, bytes(row[0])):
            return None
        self.limits.remember(row[1], TenantLimits(row[3], row[4]))
        return TenantContext(id=row[1], name=row[2])
