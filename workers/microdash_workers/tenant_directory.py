"""Tenant name → id, for the bridge (the topic carries the name). Cached briefly."""

import time

import pymysql

from microdash_core import db
from microdash_core.settings import Settings

FOUND_TTL_SECONDS = 60.0
MISSING_TTL_SECONDS = 5.0


class TenantDirectory:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._cache: dict[str, tuple[float, int | None]] = {}

    def cached(self, name: str) -> tuple[bool, int | None]:
        """(hit, id) without touching the database."""
        cached = self._cache.get(name)
        if cached is not None and cached[0] > time.monotonic():
            return True, cached[1]
        return False, None

    def id_of(self, name: str) -> int | None:
        hit, tenant_id = self.cached(name)
        if hit:
            return tenant_id
        now = time.monotonic()
        tenant_id = self._lookup(name)
        self._cache[name] = (now + (FOUND_TTL_SECONDS if tenant_id else MISSING_TTL_SECONDS), tenant_id)
        return tenant_id

    def _lookup(self, name: str) -> int | None:
        while True:
            try:
                with db.transaction(self.settings) as cursor:
                    cursor.execute("SELECT id FROM tenants WHERE name = %s", (name,))
                    row = cursor.fetchone()
                return row[0] if row else None
            except pymysql.err.OperationalError:
                time.sleep(1)  # the database is down: wait rather than reject good messages
