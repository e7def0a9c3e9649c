"""A tenant's ingest limits, for every credential alike (token or dashboard session).

Limits belong to the tenant, not to the credential: a changed limit (the Tenant's spec, or
`UPDATE tenants`) applies to every caller within `token_cache_seconds`. Token lookups read the
limits with the token and remember them here; while MariaDB is down the last limits known are
used, so that ingest with a cached token keeps working (its batches wait in Redis).
"""

from dataclasses import dataclass

from microdash_core.tenants import limits

from .expiring_cache import ExpiringCache
from .sql import DATABASE_ERRORS, Pool, ask


@dataclass(frozen=True)
class TenantLimits:
    ingest_rate_limit: int | None
    max_series: int | None


NO_LIMITS = TenantLimits(None, None)


class TenantLimitsCache:
    def __init__(self, pool: Pool, ttl_seconds: float):
        self.pool = pool
        self._cache: ExpiringCache[TenantLimits] = ExpiringCache(ttl_seconds)

    async def get(self, tenant_id: int) -> TenantLimits:
        """Raises the database's errors when it cannot be read and no limits are known (the caller
        answers 503)."""
        cached = self._cache.get(tenant_id)
        if cached is not None:
            return cached
        try:
            row = await ask(self.pool, limits.ingest_limits(tenant_id))
        except (*DATABASE_ERRORS, OSError):
            if (last_known := self._cache.last_known(tenant_id)) is None:
                raise
            return last_known
        found = TenantLimits(*row) if row else NO_LIMITS  # a tenant deleted meanwhile stores nothing anyway
        self.remember(tenant_id, found)
        return found

    def remember(self, tenant_id: int, limits: TenantLimits) -> None:
        self._cache.put(tenant_id, limits)
