"""Per-tenant ingest rate limit: a fixed one-second window counted in Redis, shared by every API process."""

import time

import redis.asyncio as aioredis

from microdash_core import keys


async def try_consume(redis: aioredis.Redis, *, tenant_id: int, samples: int, limit: int) -> bool:
    """Count the samples against this second's budget; False (and nothing counted) when over it."""
    key = keys.ingest_rate(tenant_id, int(time.time()))
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incrby(key, samples)
        pipe.expire(key, 2)
        used, _ = await pipe.execute()
    if used > limit and used - samples > 0:
        await redis.decrby(key, samples)
        return False
    return True
