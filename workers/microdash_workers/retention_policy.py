"""How long each resolution is kept: the configured default, or the tenant's own override."""

from dataclasses import dataclass

from pymysql.cursors import Cursor

from microdash_core.settings import Settings

DAY_MS = 86_400_000
# Cut-offs are aligned to the widest rollup bucket, so a bounded delete never splits a bucket
# that a late sample could later re-roll from what is left of it.
CUTOFF_ALIGNMENT_MS = 300_000


@dataclass(frozen=True)
class Resolution:
    name: str
    table: str
    time_column: str
    days_column: str  # tenants column and settings attribute

    def default_days(self, settings: Settings) -> int:
        return getattr(settings, self.days_column)


RAW = Resolution("raw", "samples", "ts", "retention_raw_days")
ONE_MINUTE = Resolution("1m", "samples_1m", "bucket_ts", "retention_1m_days")
FIVE_MINUTES = Resolution("5m", "samples_5m", "bucket_ts", "retention_5m_days")
RESOLUTIONS = (RAW, ONE_MINUTE, FIVE_MINUTES)


def cutoff_ms(now_ms: int, days: int) -> int:
    """Rows older than this (ts < cutoff) are past a retention of `days`."""
    cutoff = now_ms - days * DAY_MS
    return cutoff - cutoff % CUTOFF_ALIGNMENT_MS


def tenant_days(cursor: Cursor, settings: Settings, resolution: Resolution) -> dict[int, int]:
    """Every tenant's retention for the resolution, in days."""
    cursor.execute(f"SELECT id, COALESCE({resolution.days_column}, %s) FROM tenants",
                   (resolution.default_days(settings),))
    return {tenant_id: int(days) for tenant_id, days in cursor.fetchall()}


def days_of_tenant(cursor: Cursor, settings: Settings, resolution: Resolution, tenant_id: int) -> int:
    cursor.execute(f"SELECT COALESCE({resolution.days_column}, %s) FROM tenants WHERE id = %s",
                   (resolution.default_days(settings), tenant_id))
    row = cursor.fetchone()
    return resolution.default_days(settings) if row is None else int(row[0])
