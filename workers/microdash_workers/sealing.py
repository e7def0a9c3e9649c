"""The sealing job: moves every 2 h window that is over (its end plus MICRODASH_SEAL_GRACE_SECONDS)
from the head into compressed chunks (microdash_core.store.sealing; docs/storage.md)."""

import logging
import time
from contextlib import closing

import redis

from microdash_core import db, keys, telemetry
from microdash_core.settings import Settings, get_settings
from microdash_core.store import sealing

from .job_lock import run_alone
from .reclaiming import reclaim_head

log = logging.getLogger(__name__)


def seal_windows(settings: Settings | None = None, *, now_ms: int | None = None) -> int:
    """RQ job (scheduled). Seals due windows, oldest first, until none is left or the time budget
    is spent; returns the samples sealed. One run at a time (job_lock). Each batch commits on its
    own, so a run that is killed or times out keeps what it committed and the next run seals the
    rest."""
    settings = settings or get_settings()
    connection = redis.Redis.from_url(settings.redis_url)
    return run_alone(connection, keys.SEAL_LOCK, what="sealing", run=lambda: _seal(settings, connection, now_ms))


def _seal(settings: Settings, connection: redis.Redis, now_ms: int | None) -> int:
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    deadline = time.monotonic() + settings.seal_time_budget_seconds
    with closing(db.connect(settings)) as database:
        sealed = sealing.seal_due(
            database, cutoff_ms=sealing.sealed_before(now, settings.seal_grace_seconds * 1000),
            batch_series=settings.seal_batch_series, deadline=deadline,
            on_batch=lambda _batch, done: telemetry.record_sealed(connection, samples=done.samples,
                                                                  chunks=done.chunks))
        # Only once nothing due is left: while a backlog is being sealed, each run frees more.
        if settings.reclaim_enabled and time.monotonic() <= deadline:
            reclaim_head(database, settings, connection)
    if sealed.samples:
        log.info("sealed windows", extra={"samples": sealed.samples, "chunks": sealed.chunks,
                                          "series_windows": sealed.series_windows,
                                          "seconds": round(sealed.seconds, 3)})
    return sealed.samples
