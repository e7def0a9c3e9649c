"""A tenant's own settings: ingest limits, retention overrides, and what a managed spec sets."""

from collections.abc import Sequence

from pymysql.cursors import Cursor

from .queries import Query, first_row

RETENTION_COLUMNS = ("retention_raw_days", "retention_1m_days", "retention_5m_days")
# What a Tenant resource's spec sets, in the order `apply_managed_settings` takes the values.
MANAGED_COLUMNS = ("display_name", "ingest_rate_limit", "max_series", *RETENTION_COLUMNS, "mqtt_enabled")


def ingest_limits(tenant_id: int) -> Query[tuple[int | None, int | None] | None]:
    """(ingest_rate_limit, max_series); None when the tenant was deleted."""
    return Query("SELECT ingest_rate_limit, max_series FROM tenants WHERE id = %s", (tenant_id,), first_row)


def retention_days_by_tenant(cursor: Cursor, *, column: str, default_days: int) -> dict[int, int]:
    """Every tenant's retention (`column`, one of RETENTION_COLUMNS), the default where it has none."""
    cursor.execute(f"SELECT id, COALESCE({_retention(column)}, %s) FROM tenants", (default_days,))
    return {tenant_id: int(days) for tenant_id, days in cursor.fetchall()}


def retention_days_of(cursor: Cursor, *, column: str, default_days: int, tenant_id: int) -> int:
    cursor.execute(f"SELECT COALESCE({_retention(column)}, %s) FROM tenants WHERE id = %s", (default_days, tenant_id))
    row = cursor.fetchone()
    return default_days if row is None else int(row[0])


def _retention(column: str) -> str:
    if column not in RETENTION_COLUMNS:
        raise ValueError(f"{column!r} is not a retention column")
    return column


def managed_settings(cursor: Cursor, *, tenant_id: int) -> dict:
    cursor.execute(f"SELECT {', '.join(MANAGED_COLUMNS)} FROM tenants WHERE id = %s", (tenant_id,))
    row = cursor.fetchone()
    return {**dict(zip(MANAGED_COLUMNS, row)), "mqtt_enabled": bool(row[-1])}


def apply_managed_settings(cursor: Cursor, *, tenant_id: int, values: Sequence, owner: str) -> None:
    """`values` in MANAGED_COLUMNS order; the tenant becomes `owner`'s."""
    assignments = ", ".join(f"{column} = %s" for column in MANAGED_COLUMNS)
    cursor.execute(f"UPDATE tenants SET {assignments}, owner = %s WHERE id = %s", (*values, owner, tenant_id))
