"""Ingest backpressure and backlog figures.

Above the queue's high-water mark (or Redis' memory high-water mark), ingest answers 503 with
Retry-After instead of growing the backlog until Redis is full. The backlog is read at most every
REFRESH_SECONDS per process, so the check costs the hot path a clock read."""

import asyncio
import time

import redis.asyncio as aioredis
from rq.job import Job

from microdash_core.queues import Backlog, BacklogKeys
from microdash_core.settings import Settings

REFRESH_SECONDS = 0.5
RETRY_AFTER_SECONDS = 5
# From this many batches waiting, the workers are behind: new batches may wait for company
# (batcher.py), as their samples would wait in the queue anyway.
WORKERS_BEHIND_FROM_BATCHES = 4
# Entries of batches whose job is gone (deleted by hand, say) are dropped when met; a scrape
# looks at a few at most.
STALE_ENTRIES_PER_SCRAPE = 20


class Backpressure:
    def __init__(self, redis: aioredis.Redis, settings: Settings):
        self.redis = redis
        self.settings = settings
        self.keys = BacklogKeys.of(settings)
        self.backlog = Backlog(0, 0, 0)
        self._read_at = -REFRESH_SECONDS
        self._reading: asyncio.Future | None = None

    async def behind(self) -> str | None:
        """Why ingest must wait (the queue or Redis above its high-water mark), or None."""
        if time.monotonic() - self._read_at >= REFRESH_SECONDS:
            # The requests that come while the figures are on their way wait for the same read
            # (8 concurrent requests made ~8 reads every 0.5 s); a failed read fails them all (503),
            # and the next request reads again.
            if self._reading is None:
                self._reading = asyncio.ensure_future(self._read())
                self._reading.add_done_callback(self._read_done)
            await asyncio.shield(self._reading)
        return self.backlog.too_far_behind(self.settings)

    async def _read(self) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            Backlog.add_reads(pipe, self.settings)
            self.backlog = Backlog.from_replies(await pipe.execute())
        self._read_at = time.monotonic()

    def _read_done(self, reading: asyncio.Future) -> None:
        self._reading = None
        if not reading.cancelled():
            reading.exception()  # retrieved: a read no request waits for any more is not an "unretrieved" error

    def workers_behind(self) -> bool:
        """Whether batches were waiting for a worker when the backlog was last read (no Redis call)."""
        return self.backlog.waiting >= WORKERS_BEHIND_FROM_BATCHES


async def oldest_waiting_age(redis: aioredis.Redis, keys: BacklogKeys) -> float:
    """Seconds since the oldest batch not yet stored was received (0 when none waits)."""
    for _ in range(STALE_ENTRIES_PER_SCRAPE):
        oldest = await redis.zrange(keys.pending, 0, 0, withscores=True)
        if not oldest:
            return 0.0
        (batch_id, received_ms), = oldest
        if await redis.exists(Job.key_for(batch_id.decode())):
            return max(0.0, time.time() - received_ms / 1000)
        await redis.zrem(keys.pending, batch_id)
    return 0.0
