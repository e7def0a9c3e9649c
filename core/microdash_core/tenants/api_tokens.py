"""A tenant's API tokens (the `api_tokens` table): issued, listed, revoked, and found by the token."""

from dataclasses import dataclass
from datetime import datetime, timezone

from pymysql.cursors import Cursor

from .. import tokens
from .directory import Tenant
from .queries import Query, all_rows, first_row


@dataclass(frozen=True)
class TokenInfo:
    id: int
    public_id: str
    name: str
    revoked: bool
    broker_cleared: bool = False


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


def stored_hash(cursor: Cursor, *, public_id: str) -> bytes:
    """The hash stored for a token known to exist."""
    cursor.execute("SELECT token_hash FROM api_tokens WHERE public_id = %s", (public_id,))
    (stored,), = cursor.fetchall()
    return stored


def active_token(public_id: str) -> Query[tuple[bytes, int, str, int | None, int | None] | None]:
    """(token_hash, tenant id, tenant name, ingest_rate_limit, max_series) of the unrevoked token
    with this public id: the credential check and the tenant's limits in one statement."""
    return Query("SELECT k.token_hash, t.id, t.name, t.ingest_rate_limit, t.max_series FROM api_tokens k"
                 " JOIN tenants t ON t.id = k.tenant_id WHERE k.public_id = %s AND k.revoked_at IS NULL",
                 (public_id,), first_row)


def token_listing(tenant_id: int, *, public_id: str | None = None) -> Query[list[tuple]]:
    """(public_id, name, created_at, revoked_at or None), times as epoch seconds, oldest first."""
    sql = ("SELECT public_id, name, UNIX_TIMESTAMP(created_at), UNIX_TIMESTAMP(revoked_at) FROM api_tokens"
           " WHERE tenant_id = %s")
    params: tuple = (tenant_id,)
    if public_id is not None:
        sql += " AND public_id = %s"
        params += (public_id,)
    return Query(sql + " ORDER BY id", params, all_rows)


def token_views(rows: list[tuple]) -> list[dict]:
    """`token_listing` rows as the api shows a token (and the audit log records it): times as
    ISO 8601 UTC with milliseconds."""
    return [{"public_id": row[0], "name": row[1], "created_at": _iso(row[2]), "revoked_at": _iso(row[3])}
            for row in rows]


def token_view(cursor: Cursor, *, tenant_id: int, public_id: str) -> dict:
    query = token_listing(tenant_id, public_id=public_id)
    cursor.execute(query.sql, query.params)
    view, = token_views(query.answer(cursor.fetchall()))
    return view


def _iso(epoch_seconds) -> str | None:
    if epoch_seconds is None:
        return None
    return datetime.fromtimestamp(float(epoch_seconds), timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")
