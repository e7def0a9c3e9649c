"""The sealing job's part of reclaiming the head's disk (microdash_core.store.reclaim), with a
backoff per table: a rebuild that gave up (an open transaction held the table's metadata lock past
RECLAIM_LOCK_WAIT_SECONDS) or failed is not tried again by the next run a minute later, where the
same long transaction would stall ingest for the lock wait again, but after
RECLAIM_BACKOFF_SECONDS, doubled for each further failure in a row up to
RECLAIM_BACKOFF_MAX_SECONDS. The backoff lives in Redis, shared by every worker."""

import logging

import redis

from microdash_core import keys, telemetry
from microdash_core.settings import Settings
from microdash_core.store import reclaim

log = logging.getLogger(__name__)
# How long a table's failures in a row are remembered after the last one's backoff ends: a failure
# a day after the previous one starts the backoff over.
FAILURES_REMEMBERED_SECONDS = 24 * 3600


class Backoff:
    """Per table: a key with a TTL while the table waits, and a count of failures in a row."""

    def __init__(self, connection: redis.Redis, settings: Settings):
        self.connection = connection
        self.base_seconds = settings.reclaim_backoff_seconds
        self.max_seconds = settings.reclaim_backoff_max_seconds

    def waiting(self, table: str) -> bool:
        return bool(self.connection.exists(keys.reclaim_backoff(table)))

    def failed(self, table: str) -> int:
        """Start the table's backoff; returns its seconds."""
        failures = self.connection.incr(keys.reclaim_failures(table))
        seconds = min(self.base_seconds * 2 ** min(failures - 1, 32), self.max_seconds)
        with self.connection.pipeline() as pipe:
            if seconds:
                pipe.set(keys.reclaim_backoff(table), failures, ex=seconds)
            pipe.expire(keys.reclaim_failures(table), seconds + FAILURES_REMEMBERED_SECONDS)
            pipe.execute()
        return seconds

    def succeeded(self, table: str) -> None:
        self.connection.delete(keys.reclaim_backoff(table), keys.reclaim_failures(table))


def reclaim_head(database, settings: Settings, connection: redis.Redis) -> list[reclaim.Reclaimed]:
    """Give the head's free space back to the file system where it is worth it, leaving alone the
    tables that wait out a backoff. A failure is logged, counted and backed off; it never fails the
    sealing run."""
    backoff = Backoff(connection, settings)
    _drop_left_behind_copies(database, connection)
    done = []
    for table in reclaim.HEAD_TABLES:
        if backoff.waiting(table):
            telemetry.record_reclaim_skipped(connection, "backoff")
            continue
        outcome = _reclaim_table(database, settings, connection, table, backoff)
        if outcome is not None:
            done.append(outcome)
    return done


def _reclaim_table(database, settings: Settings, connection: redis.Redis, table: str,
                   backoff: Backoff) -> reclaim.Reclaimed | None:
    try:
        done = reclaim.reclaim_table(database, table, reclaim.policy_of(settings))
    except Exception:
        telemetry.record_reclaim_failed(connection)
        seconds = backoff.failed(table)
        log.exception("reclaiming a head table's free space failed", extra={"table": table, "retry_in_seconds": seconds})
        return None
    if done.outcome == "not worth it":
        return done
    telemetry.record_reclaimed(connection, rebuilt=done.rebuilt, bytes_returned=done.bytes_returned)
    if done.rebuilt:
        backoff.succeeded(table)
    else:
        seconds = backoff.failed(table)
        log.warning("a head table's rebuild backs off", extra={"table": table, "outcome": done.outcome,
                                                              "retry_in_seconds": seconds})
    return done


def _drop_left_behind_copies(database, connection: redis.Redis) -> None:
    """Without the PROCESS privilege (the chart's database user) this is skipped, logged once by
    store.reclaim and counted every run; the rebuilds go on."""
    try:
        dropped = reclaim.drop_left_behind_copies(database)
    except Exception:
        log.exception("dropping the copies of rebuilds a MariaDB crash interrupted failed; the next run tries again")
        return
    if dropped is None:
        telemetry.record_reclaim_skipped(connection, "no_process_privilege")
