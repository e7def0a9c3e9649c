"""The delivery job: one attempt at sending one notification, logged whatever happens. A failed
attempt raises so that RQ retries it with exponential backoff; the last one marks it failed."""

import logging
import time

from microdash_core import db, egress
from microdash_core.errors import MicrodashError
from microdash_core.settings import Settings, get_settings

from . import delivery_failures, notification_store, senders

log = logging.getLogger(__name__)


class DeliveryFailed(MicrodashError):
    """The receiver did not take the notification; RQ retries the job."""


def deliver(notification_id: int, settings: Settings | None = None) -> str:
    """RQ job. Returns the notification's status: sent, failed, or skipped (already settled)."""
    settings = settings or get_settings()
    with db.transaction(settings) as cursor:
        notification = notification_store.claim_attempt(cursor, notification_id)
    if notification is None:
        return "skipped"
    attempt = _attempt(notification, settings)
    now_ms = int(time.time() * 1000)
    final = not attempt.ok and notification.attempts >= settings.notify_max_attempts
    retry_at = None if attempt.ok or final else now_ms + _backoff_ms(settings, notification.attempts)
    with db.transaction(settings) as cursor:
        notification_store.record_attempt(cursor, notification, attempt, now_ms=now_ms, next_retry_at=retry_at,
                                          permanently_failed=final)
    if attempt.ok:
        return "sent"
    extra = {"notification_id": notification_id, "attempt": notification.attempts, "error": attempt.error,
             "detail": attempt.detail}
    if final:
        log.error("notification failed permanently", extra=extra)
        return "failed"
    log.warning("notification attempt failed, will retry", extra=extra)
    raise DeliveryFailed(f"attempt {notification.attempts}: {attempt.error}")


def _attempt(notification: notification_store.Notification, settings: Settings) -> notification_store.Attempt:
    """One send. Any exception the sender lets through (a stored value it cannot use, a bug) is a
    failed attempt with a coarse class, so every attempt leaves its delivery row and retries run."""
    started = time.monotonic()
    try:
        return senders.send(notification.channel, notification.payload, timeout=settings.notify_timeout_seconds,
                            policy=egress.policy_from(settings))
    except Exception as exc:  # noqa: BLE001 - recorded as the attempt's failure, detail in the worker log
        log.exception("delivery attempt raised", extra={"notification_id": notification.id})
        return delivery_failures.failed_attempt(started, exc)


def _backoff_ms(settings: Settings, attempts: int) -> int:
    return settings.notify_retry_base_seconds * 2 ** (attempts - 1) * 1000
