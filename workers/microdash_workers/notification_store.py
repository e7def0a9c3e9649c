"""Database access for notifications: the channels a rule notifies, the notifications built by an
evaluation, and the log of every delivery attempt."""

from dataclasses import dataclass

import orjson
from pymysql.cursors import Cursor

from microdash_core.alerting.rules import Rule


@dataclass(frozen=True)
class Channel:
    id: int
    kind: str
    config: dict
    secret: str


@dataclass(frozen=True)
class Notification:
    id: int
    tenant_id: int
    status: str
    attempts: int
    payload: bytes
    channel: Channel


def channels_for(cursor: Cursor, rule: Rule) -> list[Channel]:
    """The rule's named channels, or every enabled channel of the tenant when it names none."""
    sql = "SELECT id, kind, config, secret, name FROM notification_channels WHERE tenant_id = %s AND enabled = 1"
    cursor.execute(sql + " ORDER BY id", (rule.tenant_id,))
    return [Channel(row[0], row[1], orjson.loads(row[2]), row[3]) for row in cursor.fetchall()
            if not rule.channels or row[4] in rule.channels]


def create_notification(cursor: Cursor, rule: Rule, channel: Channel, *, transition_ids: list[int], payload: dict,
                        now_ms: int) -> int:
    cursor.execute(
        "INSERT INTO notifications (tenant_id, channel_id, rule_id, transition_ids, payload, created_at)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (rule.tenant_id, channel.id, rule.id, orjson.dumps(transition_ids).decode(), orjson.dumps(payload).decode(),
         now_ms),
    )
    return cursor.lastrowid


def claim_attempt(cursor: Cursor, notification_id: int) -> Notification | None:
    """The pending notification with its attempt counter raised, its row locked; None once settled."""
    cursor.execute(
        "SELECT n.id, n.tenant_id, n.status, n.attempts, n.payload, c.id, c.kind, c.config, c.secret"
        " FROM notifications n JOIN notification_channels c ON c.id = n.channel_id AND c.tenant_id = n.tenant_id"
        " WHERE n.id = %s FOR UPDATE", (notification_id,))
    row = cursor.fetchone()
    if row is None or row[2] != "pending":
        return None
    cursor.execute("UPDATE notifications SET attempts = attempts + 1 WHERE id = %s", (notification_id,))
    channel = Channel(row[5], row[6], orjson.loads(row[7]), row[8])
    return Notification(row[0], row[1], row[2], row[3] + 1, row[4].encode() if isinstance(row[4], str) else row[4],
                        channel)


@dataclass(frozen=True)
class Attempt:
    ok: bool
    latency_ms: int
    http_status: int | None = None
    error: str | None = None  # a coarse class, shown to the tenant in the delivery log
    detail: str | None = None  # the full exception, for the worker's log only


def record_attempt(cursor: Cursor, notification: Notification, attempt: Attempt, *, now_ms: int,
                   next_retry_at: int | None, permanently_failed: bool) -> None:
    cursor.execute(
        "INSERT INTO deliveries (tenant_id, notification_id, channel_id, attempt, status, http_status, latency_ms,"
        " error, next_retry_at, permanently_failed, at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (notification.tenant_id, notification.id, notification.channel.id, notification.attempts,
         "sent" if attempt.ok else "error", attempt.http_status, attempt.latency_ms,
         (attempt.error or "")[:1000] or None, next_retry_at, int(permanently_failed), now_ms),
    )
    status = "sent" if attempt.ok else ("failed" if permanently_failed else "pending")
    cursor.execute("UPDATE notifications SET status = %s WHERE id = %s", (status, notification.id))
