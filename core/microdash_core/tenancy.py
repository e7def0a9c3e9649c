"""The tenant service, shared by the CLI and (later) the operator: tenants and their API tokens."""

import re
from dataclasses import dataclass

import pymysql
from pymysql.cursors import Cursor

from . import tokens
from .errors import AlreadyExists, InvalidInput, NotFound

TENANT_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
SAMPLE_DELETE_CHUNK = 10_000
# A sealed chunk row holds hundreds of samples (~720 at 10 s), so fewer of them per DELETE.
SEALED_CHUNK_DELETE_CHUNK = 100


@dataclass(frozen=True)
class Tenant:
    id: int
    name: str
    display_name: str
    ingest_rate_limit: int | None
    max_series: int | None
    mqtt_enabled: bool = True


@dataclass(frozen=True)
class TokenInfo:
    id: int
    public_id: str
    name: str
    revoked: bool
    broker_cleared: bool = False


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
    cursor.execute(f"SELECT {_TENANT_COLUMNS} FROM tenants WHERE name = %s", (name,))
    row = cursor.fetchone()
    if row is None:
        raise NotFound(f"tenant {name!r} does not exist")
    return Tenant(*row)


def tenant_by_id(cursor: Cursor, *, tenant_id: int) -> Tenant:
    """Credentials name their tenant by id: a tenant deleted and re-created under the same name is
    another tenant, which an old session or token must not reach."""
    cursor.execute(f"SELECT {_TENANT_COLUMNS} FROM tenants WHERE id = %s", (tenant_id,))
    row = cursor.fetchone()
    if row is None:
        raise NotFound(f"tenant {tenant_id} does not exist")
    return Tenant(*row)


def list_tenants(cursor: Cursor) -> list[Tenant]:
    cursor.execute(f"SELECT {_TENANT_COLUMNS} FROM tenants ORDER BY name")
    return [Tenant(*row) for row in cursor.fetchall()]


def delete_tenant(cursor: Cursor, *, tenant: Tenant) -> int:
    """Delete a tenant, its tokens, memberships, series, samples (the log, the legacy head and the
    chunks) and rollups. Returns the samples deleted (a re-delivered batch's log rows counted again).

    Rows are deleted in bounded chunks so that a large tenant never holds long locks
    against concurrent ingest of other tenants. The partitioned tables cannot have foreign keys,
    so they are emptied here rather than by ON DELETE CASCADE. The log and the head go before the
    chunks, because compaction and sealing racing with the deletion move samples into chunks, never back;
    rollups last, so that a rollup run racing with the deletion finds no samples left to
    re-create them from.
    """
    deleted = _delete_log_rows(cursor, tenant.id)
    deleted += _delete_in_chunks(cursor, "samples", tenant.id)
    deleted += _delete_sealed_chunks(cursor, tenant.id)
    for rollup_table in ("samples_1m", "samples_5m"):
        _delete_in_chunks(cursor, rollup_table, tenant.id)
    cursor.execute("DELETE FROM tenants WHERE id = %s", (tenant.id,))
    return deleted


def _delete_in_chunks(cursor: Cursor, table: str, tenant_id: int) -> int:
    deleted = 0
    while True:
        cursor.execute(f"DELETE FROM {table} WHERE tenant_id = %s LIMIT %s", (tenant_id, SAMPLE_DELETE_CHUNK))
        deleted += cursor.rowcount
        cursor.connection.commit()
        if cursor.rowcount < SAMPLE_DELETE_CHUNK:
            return deleted


def _delete_log_rows(cursor: Cursor, tenant_id: int) -> int:
    """Returns the samples the deleted log rows held. A row holds up to MAX_BATCH_SAMPLES samples,
    so fewer rows per statement than for the head."""
    samples = 0
    while True:
        cursor.execute("DELETE FROM sample_log WHERE tenant_id = %s LIMIT %s RETURNING sample_count",
                       (tenant_id, SEALED_CHUNK_DELETE_CHUNK))
        counts = cursor.fetchall()
        samples += sum(count for (count,) in counts)
        cursor.connection.commit()
        if len(counts) < SEALED_CHUNK_DELETE_CHUNK:
            return samples


def _delete_sealed_chunks(cursor: Cursor, tenant_id: int) -> int:
    """Returns the samples the deleted chunks held."""
    samples = 0
    while True:
        cursor.execute("DELETE FROM sample_chunks WHERE tenant_id = %s LIMIT %s RETURNING sample_count",
                       (tenant_id, SEALED_CHUNK_DELETE_CHUNK))
        counts = cursor.fetchall()
        samples += sum(count for (count,) in counts)
        cursor.connection.commit()
        if len(counts) < SEALED_CHUNK_DELETE_CHUNK:
            return samples


def issue_token(cursor: Cursor, *, tenant: Tenant, name: str = "default") -> str:
    """Create a token for the tenant; the returned plaintext is shown once and never stored."""
    new = tokens.generate()
    cursor.execute(
        "INSERT INTO api_tokens (tenant_id, public_id, token_hash, name) VALUES (%s, %s, %s, %s)",
        (tenant.id, new.public_id, new.token_hash, name),
    )
    return new.token


def list_tokens(cursor: Cursor, *, tenant: Tenant) -> list[TokenInfo]:
    cursor.execute(
        "SELECT id, public_id, name, revoked_at IS NOT NULL, broker_cleared_at IS NOT NULL FROM api_tokens"
        " WHERE tenant_id = %s ORDER BY id",
        (tenant.id,),
    )
    return [TokenInfo(row[0], row[1], row[2], bool(row[3]), bool(row[4])) for row in cursor.fetchall()]


def mark_broker_cleared(cursor: Cursor, *, public_ids: list[str]) -> None:
    """The broker no longer has these revoked tokens' clients."""
    if public_ids:
        cursor.execute("UPDATE api_tokens SET broker_cleared_at = CURRENT_TIMESTAMP(3)"
                       f" WHERE revoked_at IS NOT NULL AND public_id IN ({', '.join(['%s'] * len(public_ids))})",
                       public_ids)


def revoke_tokens(cursor: Cursor, *, tenant: Tenant, public_id: str | None = None) -> int:
    """Revoke one of the tenant's tokens (by public id) or all of them. Returns how many."""
    sql = "UPDATE api_tokens SET revoked_at = CURRENT_TIMESTAMP(3) WHERE tenant_id = %s AND revoked_at IS NULL"
    params: tuple = (tenant.id,)
    if public_id is not None:
        sql += " AND public_id = %s"
        params += (public_id,)
    cursor.execute(sql, params)
    return cursor.rowcount


def rotate_token(cursor: Cursor, *, tenant: Tenant, name: str = "default") -> str:
    """Revoke every active token of the tenant and issue a new one, in one transaction."""
    revoke_tokens(cursor, tenant=tenant)
    return issue_token(cursor, tenant=tenant, name=name)
