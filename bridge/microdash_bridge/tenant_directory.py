"""Tenant name → id, series limit and rate limit, for the bridge (the topic carries the name). Cached briefly."""

import time
from dataclasses import dataclass

import pymysql

from microdash_core import db
from microdash_core.settings import Settings
from microdash_core.tenants import directory

FOUND_TTL_SECONDS = 60.0
MISSING_TTL_SECONDS = 5.0


@dataclass(frozen=True)
class KnownTenant:
    id: int
    max_series: int | None
    ingest_rate_limit: int | None = None


class TenantDirectory:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._cache: dict[str, tuple[float, KnownTenant | None]] = {}

    def cached(self, name: str) -> tuple[bool, KnownTenant | None]:
        """(hit, tenant) without touching the database."""
        cached = self._cache.get(name)
        if cached is not None and cached[0] > time.monotonic():
            return True, cached[1]
        return False, None

    def find(self, name: str) -> KnownTenant | None:
        hit, tenant = self.cached(name)
        if hit:
            return tenant
        now = time.monotonic()
        tenant = self._lookup(name)
        self._cache[name] = (now + (FOUND_TTL_SECONDS if tenant else MISSING_TTL_SECONDS), tenant)
        return tenant

    def _lookup(self, name: str) -> KnownTenant | None:
        while True:
            try:
                with db.transaction(self.settings) as cursor:
                    row = directory.ingest_profile_by_name(cursor, name=name)
                return KnownTenant(*row) if row else None
            except pymysql.err.OperationalError:
                time.sleep(1)  # the database is down: wait rather than reject good messages
