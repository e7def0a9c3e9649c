"""One run at a time for the scheduled jobs that work through a backlog within a time budget
(compaction, sealing, rollups): a second run would only wait on the first one's row locks."""

import logging
from contextlib import suppress
from typing import Callable

import redis
from redis.exceptions import LockNotOwnedError

log = logging.getLogger(__name__)


def run_alone(connection: redis.Redis, key: str, *, what: str, budget_seconds: float, run: Callable[[], int],
              margin_seconds: float = 60) -> int:
    """run() while holding the Redis lock `key`; 0 without running it when another run holds the
    lock. The lock expires on its own if the worker dies, after budget_seconds * 6 + margin_seconds:
    long enough for the batch running when the budget is spent."""
    lock = connection.lock(key, timeout=budget_seconds * 6 + margin_seconds, blocking=False)
    if not lock.acquire():
        log.info(f"another {what} run holds the lock; skipping")
        return 0
    try:
        return run()
    finally:
        with suppress(LockNotOwnedError):
            lock.release()
