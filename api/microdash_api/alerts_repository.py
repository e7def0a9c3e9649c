"""Tenant-scoped reads and writes of alerting data for the API. Every function takes the tenant id
and every statement filters by it: an id of another tenant's row finds nothing."""

from typing import NamedTuple

import orjson

from microdash_core.alerting.rule_rows import RULE_COLUMNS, WRITABLE_COLUMNS, row_values, rule_from_row
from microdash_core.alerting.rules import Rule

from .sql import execute, fetch


# Rules

class StoredRule(NamedTuple):
    rule: Rule
    enabled: bool
    managed_by: str
    eval_error: str | None  # the evaluator's, for an expression rule whose last evaluation failed


_STORED_RULE_COLUMNS = f"{RULE_COLUMNS}, enabled, managed_by, eval_error"


def _stored(row) -> StoredRule:
    return StoredRule(rule_from_row(row[:-3]), bool(row[-3]), row[-2], row[-1])


async def list_rules(pool, *, tenant_id: int) -> list[StoredRule]:
    rows = await fetch(pool, f"SELECT {_STORED_RULE_COLUMNS} FROM alert_rules WHERE tenant_id = %s ORDER BY name",
                       (tenant_id,))
    return [_stored(row) for row in rows]


async def get_rule(pool, *, tenant_id: int, rule_id: int) -> StoredRule | None:
    rows = await fetch(pool, f"SELECT {_STORED_RULE_COLUMNS} FROM alert_rules WHERE tenant_id = %s AND id = %s",
                       (tenant_id, rule_id))
    return _stored(rows[0]) if rows else None


async def insert_rule(pool, *, tenant_id: int, rule: Rule, enabled: bool) -> int:
    columns = ", ".join(("tenant_id", *WRITABLE_COLUMNS, "enabled"))
    placeholders = ", ".join(["%s"] * (len(WRITABLE_COLUMNS) + 2))
    _, rule_id = await execute(pool, f"INSERT INTO alert_rules ({columns}) VALUES ({placeholders})",
                               [tenant_id, *row_values(rule), int(enabled)])
    return rule_id


async def update_rule(pool, *, tenant_id: int, rule_id: int, rule: Rule, enabled: bool) -> None:
    assignments = ", ".join(f"{column} = %s" for column in (*WRITABLE_COLUMNS, "enabled"))
    await execute(pool, f"UPDATE alert_rules SET {assignments} WHERE tenant_id = %s AND id = %s AND managed_by = 'api'",
                  [*row_values(rule), int(enabled), tenant_id, rule_id])


async def delete_rule(pool, *, tenant_id: int, rule_id: int) -> None:
    await execute(pool, "DELETE FROM alert_rules WHERE tenant_id = %s AND id = %s AND managed_by = 'api'",
                  (tenant_id, rule_id))


# States and history

async def list_states(pool, *, tenant_id: int, rule_id: int | None, state: str | None) -> list[tuple]:
    sql = ("SELECT s.rule_id, r.name, s.fingerprint, s.labels, s.state, s.since, s.last_value, s.last_evaluated,"
           " s.fired_at, s.resolved_at FROM alert_states s JOIN alert_rules r ON r.id = s.rule_id"
           " WHERE s.tenant_id = %s AND r.tenant_id = %s")
    params: list = [tenant_id, tenant_id]
    if rule_id is not None:
        sql += " AND s.rule_id = %s"
        params.append(rule_id)
    if state is not None:
        sql += " AND s.state = %s"
        params.append(state)
    return await fetch(pool, sql + " ORDER BY s.rule_id, s.labels", params)


async def list_transitions(pool, *, tenant_id: int, rule_id: int | None, before_id: int | None,
                           limit: int) -> list[tuple]:
    sql = ("SELECT id, rule_id, fingerprint, labels, from_state, to_state, value, at, evaluator, muted"
           " FROM alert_transitions WHERE tenant_id = %s")
    params: list = [tenant_id]
    if rule_id is not None:
        sql += " AND rule_id = %s"
        params.append(rule_id)
    if before_id is not None:
        sql += " AND id < %s"
        params.append(before_id)
    return await fetch(pool, sql + " ORDER BY id DESC LIMIT %s", [*params, limit])


# Silences

SILENCE_COLUMNS = "id, rule_id, matchers, starts_at, ends_at, created_by, comment"


async def list_silences(pool, *, tenant_id: int, active_at: int | None) -> list[tuple]:
    sql = f"SELECT {SILENCE_COLUMNS} FROM silences WHERE tenant_id = %s"
    params: list = [tenant_id]
    if active_at is not None:
        sql += " AND starts_at <= %s AND ends_at > %s"
        params += [active_at, active_at]
    return await fetch(pool, sql + " ORDER BY id DESC", params)


async def insert_silence(pool, *, tenant_id: int, rule_id: int | None, matchers: list[str], starts_at: int,
                         ends_at: int, created_by: str, comment: str) -> int:
    _, silence_id = await execute(
        pool, "INSERT INTO silences (tenant_id, rule_id, matchers, starts_at, ends_at, created_by, comment)"
              " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (tenant_id, rule_id, orjson.dumps(matchers).decode(), starts_at, ends_at, created_by, comment))
    return silence_id


async def expire_silence(pool, *, tenant_id: int, silence_id: int, now_ms: int) -> int:
    affected, _ = await execute(pool, "UPDATE silences SET ends_at = LEAST(ends_at, %s)"
                                      " WHERE tenant_id = %s AND id = %s", (now_ms, tenant_id, silence_id))
    return affected


# Channels and deliveries

CHANNEL_COLUMNS = "id, name, kind, config, secret <> '', enabled"


async def list_channels(pool, *, tenant_id: int, channel_id: int | None = None) -> list[tuple]:
    sql = f"SELECT {CHANNEL_COLUMNS} FROM notification_channels WHERE tenant_id = %s"
    params: list = [tenant_id]
    if channel_id is not None:
        sql += " AND id = %s"
        params.append(channel_id)
    return await fetch(pool, sql + " ORDER BY name", params)


async def insert_channel(pool, *, tenant_id: int, name: str, kind: str, config: dict, secret: str,
                         enabled: bool) -> int:
    _, channel_id = await execute(
        pool, "INSERT INTO notification_channels (tenant_id, name, kind, config, secret, enabled)"
              " VALUES (%s, %s, %s, %s, %s, %s)",
        (tenant_id, name, kind, orjson.dumps(config).decode(), secret, int(enabled)))
    return channel_id


async def update_channel(pool, *, tenant_id: int, channel_id: int, name: str, kind: str, config: dict,
                         secret: str | None, enabled: bool) -> None:
    """A secret of None keeps the stored one (the API never shows it, so clients cannot send it back)."""
    sql = "UPDATE notification_channels SET name = %s, kind = %s, config = %s, enabled = %s"
    params: list = [name, kind, orjson.dumps(config).decode(), int(enabled)]
    if secret is not None:
        sql += ", secret = %s"
        params.append(secret)
    await execute(pool, sql + " WHERE tenant_id = %s AND id = %s", [*params, tenant_id, channel_id])


async def delete_channel(pool, *, tenant_id: int, channel_id: int) -> int:
    affected, _ = await execute(pool, "DELETE FROM notification_channels WHERE tenant_id = %s AND id = %s",
                                (tenant_id, channel_id))
    return affected


async def list_deliveries(pool, *, tenant_id: int, channel_id: int | None, limit: int) -> list[tuple]:
    sql = ("SELECT d.id, d.notification_id, d.channel_id, n.rule_id, n.transition_ids, d.attempt, d.status,"
           " d.http_status, d.latency_ms, d.error, d.next_retry_at, d.permanently_failed, d.at"
           " FROM deliveries d JOIN notifications n ON n.id = d.notification_id AND n.tenant_id = %s"
           " WHERE d.tenant_id = %s")
    params: list = [tenant_id, tenant_id]
    if channel_id is not None:
        sql += " AND d.channel_id = %s"
        params.append(channel_id)
    return await fetch(pool, sql + " ORDER BY d.id DESC LIMIT %s", [*params, limit])
