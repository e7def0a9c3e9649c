"""Tenants by name or id: creation, lookups, the list, owners (the `tenants` table's rows)."""

import re
from dataclasses import dataclass

import pymysql
from pymysql.cursors import Cursor

from ..errors import AlreadyExists, InvalidInput, NotFound
from .queries import Query, first_row, first_value

TENANT_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


@dataclass(frozen=True)
class Tenant:
    id: int
    name: str
    display_name: str
    ingest_rate_limit: int | None
    max_series: int | None
    mqtt_enabled: bool = True


_TENANT_COLUMNS = "id, name, display_name, ingest_rate_limit, max_series, mqtt_enabled = 1"


def create_tenant(cursor: Cursor, *, name: str, display_name: str | None = None,
                  ingest_rate_limit: int | None = None, max_series: int | None = None) -> Tenant:
    if not TENANT_NAME.fullmatch(name):
        raise InvalidInput("tenant name must be a DNS label: lowercase letters, digits and '-', at most 63")
    try:
        cursor.execute(
            "INSERT INTO tenants (name, display_name, ingest_rate_limit, max_series) VALUES (%s, %s, %s, %s)",
            (name, display_name or name, ingest_rate_limit, max_series),
        )
    except pymysql.err.IntegrityError as exc:
        raise AlreadyExists(f"tenant {name!r} already exists") from exc
    return get_tenant(cursor, name=name)


def get_tenant(cursor: Cursor, *, name: str) -> Tenant:
    return _one_tenant(cursor, "name", name, missing=f"tenant {name!r} does not exist")


def tenant_by_id(cursor: Cursor, *, tenant_id: int) -> Tenant:
    """Credentials name their tenant by id: a tenant deleted and re-created under the same name is
    another tenant, which an old session or token must not reach."""
    return _one_tenant(cursor, "id", tenant_id, missing=f"tenant {tenant_id} does not exist")


def _one_tenant(cursor: Cursor, key_column: str, key: str | int, *, missing: str) -> Tenant:
    cursor.execute(f"SELECT {_TENANT_COLUMNS} FROM tenants WHERE {key_column} = %s", (key,))
    row = cursor.fetchone()
    if row is None:
        raise NotFound(missing)
    return Tenant(*row)


def list_tenants(cursor: Cursor) -> list[Tenant]:
    cursor.execute(f"SELECT {_TENANT_COLUMNS} FROM tenants ORDER BY name")
    return [Tenant(*row) for row in cursor.fetchall()]


def tenant_id_of(cursor: Cursor, *, name: str) -> int | None:
    return Query("SELECT id FROM tenants WHERE name = %s", (name,), first_value).run(cursor)


def existing_tenant_ids(cursor: Cursor) -> set[int]:
    cursor.execute("SELECT id FROM tenants")
    return {row[0] for row in cursor.fetchall()}


def tenant_name_or_blank(cursor: Cursor, *, tenant_id: int) -> str:
    """The tenant's name, "" when it was deleted meanwhile."""
    return Query("SELECT name FROM tenants WHERE id = %s", (tenant_id,), first_value).run(cursor) or ""


def ingest_profile_by_name(cursor: Cursor, *, name: str) -> tuple[int, int | None, int | None] | None:
    """(id, max_series, ingest_rate_limit) of the tenant a topic names; None when there is none."""
    cursor.execute("SELECT id, max_series, ingest_rate_limit FROM tenants WHERE name = %s", (name,))
    return cursor.fetchone()


def tenant_summary(tenant_id: int) -> Query[tuple[str, str, int | None, int | None] | None]:
    """(name, display_name, ingest_rate_limit, max_series); None when the tenant was deleted."""
    return Query("SELECT name, display_name, ingest_rate_limit, max_series FROM tenants WHERE id = %s",
                 (tenant_id,), first_row)


def id_and_owner(cursor: Cursor, *, name: str) -> tuple[int, str | None] | None:
    """The owner is None for a tenant made by the CLI or the API."""
    cursor.execute("SELECT id, owner FROM tenants WHERE name = %s", (name,))
    return cursor.fetchone()


def owner_of(cursor: Cursor, *, tenant_id: int) -> str | None:
    return Query("SELECT owner FROM tenants WHERE id = %s", (tenant_id,), first_value).run(cursor)


def owned_tenant_id(cursor: Cursor, *, name: str, owner: str) -> int | None:
    """The tenant's id if `owner` manages it, else None."""
    return Query("SELECT id FROM tenants WHERE name = %s AND owner = %s", (name, owner), first_value).run(cursor)


def delete_tenant_row(cursor: Cursor, *, tenant_id: int) -> None:
    """Its tokens and memberships go with it (ON DELETE CASCADE); its data does not (see deletion)."""
    cursor.execute("DELETE FROM tenants WHERE id = %s", (tenant_id,))
