"""The compaction job: the head's log (a row per stored batch and series bucket) becomes level-0
chunk parts (microdash_core.store.compaction; docs/storage.md). It runs every
COMPACT_INTERVAL_SECONDS so that the log, whose rows of a read's series buckets every read of
recent time decodes, stays small."""

import logging
import time
from contextlib import closing

import redis

from microdash_core import db, keys, telemetry
from microdash_core.settings import Settings, get_settings
from microdash_core.store import compaction

from .job_lock import run_alone

log = logging.getLogger(__name__)


def compact_log(settings: Settings | None = None) -> int:
    """RQ job (scheduled). Compacts every tenant's log until it is empty or the time budget is
    spent; returns the samples compacted. One run at a time (job_lock). Each batch commits on its
    own, so a killed run keeps what it committed and the next run compacts the rest."""
    settings = settings or get_settings()
    connection = redis.Redis.from_url(settings.redis_url)
    return run_alone(connection, keys.COMPACT_LOCK, what="compaction",
                     run=lambda: _compact(settings, connection))


def _compact(settings: Settings, connection: redis.Redis) -> int:
    with closing(db.connect(settings)) as database:
        done = compaction.compact_due(
            database, batch_rows=settings.compact_batch_rows, policy=compaction.policy_of(settings),
            deadline=time.monotonic() + settings.compact_time_budget_seconds,
            on_batch=lambda _tenant, batch: telemetry.record_compacted(connection, samples=batch.samples,
                                                                       parts=batch.parts))
    if done.samples:
        log.info("compacted the log", extra={"log_rows": done.log_rows, "samples": done.samples,
                                             "parts": done.parts, "seconds": round(done.seconds, 3)})
    return done.samples
