"""Ingest backpressure and backlog figures.

Above the queue's high-water mark, ingest answers 503 with Retry-After instead of growing the
backlog until Redis is full. The backlog is read at most every REFRESH_SECONDS per process, so
the check costs the hot path a clock read."""

import time

import redis.asyncio as aioredis
from rq.job import Job

from microdash_core.queues import BacklogKeys
from microdash_core.settings import Settings

REFRESH_SECONDS = 0.5
RETRY_AFTER_SECONDS = 5
# Entries of batches whose job is gone (deleted by hand, say) are dropped when met; a scrape
# looks at a few at most.
STALE_ENTRIES_PER_SCRAPE = 20


class Backpressure:
    def __init__(self, redis: aioredis.Redis, settings: Settings):
        self.redis = redis
        self.high_water = settings.ingest_queue_high_water
        self.keys = BacklogKeys.of(settings)
        self.waiting = 0
        self._read_at = -REFRESH_SECONDS

    async def behind(self) -> int | None:
        """The number of waiting batches if it is at or above the high-water mark, else None."""
        if time.monotonic() - self._read_at >= REFRESH_SECONDS:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.llen(self.keys.queued)
                pipe.zcard(self.keys.retrying)
                queued, retrying = await pipe.execute()
            self.waiting, self._read_at = queued + retrying, time.monotonic()
        return self.waiting if self.waiting >= self.high_water else None


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
