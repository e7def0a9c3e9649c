"""Scheduled housekeeping jobs."""

import redis

from microdash_core import db, keys, migrate
from microdash_core.settings import Settings, get_settings
from microdash_core.tenants import directory

# Per-tenant Redis keys named "<prefix>:<tenant id>" that outlive a deleted tenant.
TENANT_KEY_PATTERNS = (keys.live_stream("*"), keys.tenant_series("*"), keys.dead_letters("*"))


def maintain_partitions() -> dict[str, list[str]]:
    """Create the coming days' partitions of the sample and rollup tables ahead of time."""
    return migrate.maintain_partitions(get_settings())


def forget_deleted_tenants(settings: Settings | None = None) -> dict[str, int]:
    """Delete the live stream, series-limit set and dead letters of tenants that no longer exist (deleted by the
    CLI or the operator, perhaps while Redis was away). The keys are listed before the tenants are
    read, so a tenant created meanwhile is seen as existing."""
    settings = settings or get_settings()
    connection = redis.Redis.from_url(settings.redis_url)
    try:
        found = [key for pattern in TENANT_KEY_PATTERNS for key in connection.scan_iter(pattern, count=1000)]
        with db.transaction(settings) as cursor:
            existing = directory.existing_tenant_ids(cursor)
        orphans = [key for key in found if _tenant_id(key) not in existing]
        if orphans:
            connection.delete(*orphans)
    finally:
        connection.close()
    return {"keys_deleted": len(orphans)}


def _tenant_id(key: bytes) -> int | None:
    last = key.rsplit(b":", 1)[-1]
    return int(last) if last.isdigit() else None
