"""Connections an API process holds for its lifetime, created in the app's lifespan."""

from dataclasses import dataclass

import redis
import redis.asyncio as aioredis
from rq import Queue

from microdash_core.db import DatabaseAddress
from microdash_core.queues import ingest_queue
from microdash_core.rate_limit import IngestRateLimiter
from microdash_core.samples import SampleValidator
from microdash_core.series_limit import SeriesLimiter
from microdash_core.settings import Settings

from .auth import TokenAuthenticator
from .backpressure import Backpressure
from .batcher import IngestBatcher
from .hub import LiveHub
from .memberships import MembershipCache
from .password_checks import PasswordChecks
from .sql import Pool, open_pool
from .tenant_limits import TenantLimitsCache

REDIS_SOCKET_TIMEOUT = 2.0


@dataclass
class AppState:
    settings: Settings
    db: Pool
    redis: aioredis.Redis
    queue: Queue
    validator: SampleValidator
    tokens: TokenAuthenticator
    hub: LiveHub
    batcher: IngestBatcher
    series_limiter: SeriesLimiter
    limits: TenantLimitsCache
    members: MembershipCache
    password_checks: PasswordChecks
    rate_limiter: IngestRateLimiter
    backpressure: Backpressure

    @classmethod
    async def open(cls, settings: Settings) -> "AppState":
        pool = await open_pool(DatabaseAddress.from_url(settings.database_url))
        async_redis = aioredis.Redis.from_url(
            settings.redis_url, socket_timeout=REDIS_SOCKET_TIMEOUT, socket_connect_timeout=REDIS_SOCKET_TIMEOUT
        )
        sync_redis = redis.Redis.from_url(
            settings.redis_url, socket_timeout=REDIS_SOCKET_TIMEOUT, socket_connect_timeout=REDIS_SOCKET_TIMEOUT
        )
        hub = LiveHub(async_redis, settings)
        hub.start()
        queue = ingest_queue(sync_redis, settings)
        limits = TenantLimitsCache(pool, settings.token_cache_seconds)
        backpressure = Backpressure(async_redis, settings)
        rate_limiter = IngestRateLimiter(async_redis, settings)
        return cls(
            settings=settings, db=pool, redis=async_redis, queue=queue,
            validator=SampleValidator(settings), tokens=TokenAuthenticator(pool, settings, limits), hub=hub,
            batcher=IngestBatcher(queue, settings, workers_behind=backpressure.workers_behind,
                                  rate_limiter=rate_limiter),
            series_limiter=SeriesLimiter.from_settings(async_redis, settings),
            limits=limits,
            members=MembershipCache(pool, settings.token_cache_seconds),
            password_checks=PasswordChecks(at_once=settings.login_max_concurrent_verifications,
                                           wait_seconds=settings.login_verification_wait_seconds),
            rate_limiter=rate_limiter,
            backpressure=backpressure,
        )

    async def close(self) -> None:
        await self.hub.stop()
        self.db.close()
        await self.db.wait_closed()
        await self.redis.aclose()
        self.queue.connection.close()
