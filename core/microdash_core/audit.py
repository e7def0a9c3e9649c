"""The audit log: who changed what, on which object, before and after, when and from where.

Every edge records through here: the api (dashboard sessions and tokens), the CLI and the
operator. Secrets never reach the table: `redact` blanks every value under a secret-looking key
and keeps only the scheme and host of URLs (a webhook or Slack URL often is itself a credential).
The SQL lives here too; the api runs the same statements on its async pool.
"""

import getpass
import socket
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import orjson
from pymysql.cursors import Cursor

from .tenants.directory import Tenant

Source = Literal["api", "cli", "operator"]
REDACTED = "[redacted]"
_SECRET_WORDS = ("secret", "password", "token", "api_key", "authorization")
MAX_PAGE = 500


@dataclass(frozen=True)
class Actor:
    source: Source
    name: str  # user:<email>, token:<public id>, cli:<os user>, operator:<resource>
    address: str | None = None


@dataclass(frozen=True)
class Change:
    action: str  # <object type>.<verb>
    object_id: str | int | None = None
    before: Any = None
    after: Any = None

    @property
    def object_type(self) -> str:
        return self.action.partition(".")[0]


@dataclass(frozen=True)
class Filters:
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    actor: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None
    before_id: int | None = None
    limit: int = 100


def command_line_actor() -> Actor:
    """The person at a terminal: the OS user, on this host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container user without a passwd entry
        user = "unknown"
    return Actor("cli", f"cli:{user}", socket.gethostname())


def operator_actor(resource: str) -> Actor:
    return Actor("operator", f"operator:{resource}", socket.gethostname())


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _redact_field(str(key), item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(item) for item in value]
    return value


def _redact_field(key: str, value: Any) -> Any:
    lowered = key.lower()
    if any(word in lowered for word in _SECRET_WORDS) and not lowered.startswith("has_"):
        return None if value is None else REDACTED
    if lowered == "url" and isinstance(value, str):
        parts = urlsplit(value)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"
    return redact(value)


INSERT_SQL = ("INSERT INTO audit_log (tenant_id, tenant_name, source, actor, address, action, object_type,"
              " object_id, before_state, after_state) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")


def insert_params(*, tenant_id: int | None, tenant_name: str | None, actor: Actor, change: Change) -> tuple:
    return (tenant_id, tenant_name, actor.source, actor.name[:320], (actor.address or "")[:255] or None,
            change.action, change.object_type, None if change.object_id is None else str(change.object_id)[:255],
            _json(change.before), _json(change.after))


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(redact(value)).decode()


def record(cursor: Cursor, *, tenant: Tenant | None, actor: Actor, change: Change) -> None:
    """In the caller's transaction, so the entry exists exactly when the change does."""
    record_for(cursor, tenant_id=None if tenant is None else tenant.id,
               tenant_name=None if tenant is None else tenant.name, actor=actor, change=change)


def record_for(cursor: Cursor, *, tenant_id: int | None, tenant_name: str | None, actor: Actor,
               change: Change) -> None:
    cursor.execute(INSERT_SQL, insert_params(tenant_id=tenant_id, tenant_name=tenant_name, actor=actor, change=change))


@dataclass(frozen=True)
class Entry:
    id: int
    at_ms: int
    source: str
    actor: str
    address: str | None
    action: str
    object_type: str
    object_id: str | None
    before: Any
    after: Any


def select(tenant_id: int, filters: Filters) -> tuple[str, list]:
    """One tenant's entries, newest first (a page is older than `before_id`)."""
    sql = ("SELECT id, CAST(UNIX_TIMESTAMP(at) * 1000 AS SIGNED), source, actor, address, action, object_type,"
           " object_id, before_state, after_state FROM audit_log WHERE tenant_id = %s")
    params: list = [tenant_id]
    for column, value in (("action", filters.action), ("object_type", filters.object_type),
                          ("object_id", filters.object_id), ("actor", filters.actor)):
        if value is not None:
            sql += f" AND {column} = %s"
            params.append(value)
    if filters.since_ms is not None:
        sql += " AND at >= FROM_UNIXTIME(%s / 1000)"
        params.append(filters.since_ms)
    if filters.until_ms is not None:
        sql += " AND at < FROM_UNIXTIME(%s / 1000)"
        params.append(filters.until_ms)
    if filters.before_id is not None:
        sql += " AND id < %s"
        params.append(filters.before_id)
    return sql + " ORDER BY id DESC LIMIT %s", [*params, min(filters.limit, MAX_PAGE)]


def entry(row: tuple) -> Entry:
    before, after = (None if raw is None else orjson.loads(raw) for raw in row[8:10])
    return Entry(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], before, after)
