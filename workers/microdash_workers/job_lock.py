"""One run at a time for the scheduled jobs that work through a backlog within a time budget
(compaction, sealing, rollups): a second run would only wait on the first one's row locks.

The lock is a short lease that a thread of the run renews while it works, so a run that is killed
(SIGKILL, a node lost) frees it within one lease, not after the longest a run may take."""

import logging
import threading
from contextlib import contextmanager, suppress
from typing import Callable, Iterator

import redis
from redis.exceptions import LockError, LockNotOwnedError, RedisError
from redis.lock import Lock

log = logging.getLogger(__name__)

LEASE_SECONDS = 30.0
RENEWALS_PER_LEASE = 3  # a lease survives two missed renewals (a Redis hiccup, a long GC pause)


def run_alone(connection: redis.Redis, key: str, *, what: str, run: Callable[[], int],
              lease_seconds: float = LEASE_SECONDS) -> int:
    """run() while holding the Redis lock `key`; 0 without running it when another run holds the
    lock."""
    # thread_local=False: the renewing thread must see the token the acquiring thread got
    lock = connection.lock(key, timeout=lease_seconds, blocking=False, thread_local=False)
    if not lock.acquire():
        log.info(f"another {what} run holds the lock; skipping")
        return 0
    try:
        with _renewed(lock, every=lease_seconds / RENEWALS_PER_LEASE, what=what):
            return run()
    finally:
        with suppress(LockNotOwnedError):
            lock.release()


@contextmanager
def _renewed(lock: Lock, *, every: float, what: str) -> Iterator[None]:
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(every):
            try:
                lock.reacquire()
            except LockError:  # expired and maybe taken: the run goes on, as a killed one's next would
                log.warning(f"the {what} run lost its lock")
                return
            except RedisError as exc:  # the lease outlives a few failed renewals
                log.warning(f"could not renew the {what} run's lock", extra={"error": str(exc)})

    renewer = threading.Thread(target=renew, name=f"{what}-lock-renewal", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()
