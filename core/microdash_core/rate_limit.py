"""Per-tenant ingest rate limits (samples/s), shared by every api and bridge process through Redis.

GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp): each sample moves
the tenant's theoretical arrival time (TAT) on by 1/rate seconds; a batch is admitted while the
TAT stays within `burst` samples' worth of now. Over any interval of t seconds at most
rate * t + burst samples pass, with no window edge to exploit. Redis's clock is the one clock,
and a batch is admitted whole or not at all.
"""

from dataclasses import dataclass

import redis.asyncio as aioredis

from . import keys
from .settings import Settings

# KEYS[1] the TAT (µs); ARGV[1] µs per sample, ARGV[2] burst in µs, ARGV[3..] the sample counts of
# batches, in order. Returns per batch 0 when admitted (and recorded), else the µs until it would be.
# The TAT is kept out of the AOF (and replicas): with appendfsync always, a write makes Redis fsync
# before it answers, and the check is on every ingest request's path before the enqueue's own fsync.
# A Redis restart forgets the TATs, which gives each tenant at most one more burst.
_GCRA = """
redis.set_repl(redis.REPL_NONE)
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local per_sample, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local waits = {}
for i = 3, #ARGV do
  local new_tat = tat + per_sample * tonumber(ARGV[i])
  local wait = new_tat - now - burst
  if wait > 0 then waits[i - 2] = math.ceil(wait) else waits[i - 2] = 0; tat = new_tat end
end
if tat > now then
  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
end
return waits
"""


@dataclass(frozen=True)
class RateDecision:
    admitted: bool
    retry_after_seconds: float = 0.0
    never: bool = False  # the batch alone is larger than the burst: it must be split


ADMITTED = RateDecision(True)


class IngestRateLimiter:
    def __init__(self, redis: aioredis.Redis, settings: Settings):
        self._gcra = redis.register_script(_GCRA)  # EVALSHA: ingest does not send the script each request
        self.default_rate = settings.default_ingest_rate_limit
        self.burst_seconds = settings.ingest_rate_burst_seconds

    def burst(self, rate: int) -> int:
        return max(1, int(rate * self.burst_seconds))

    async def admit(self, tenant_id: int, samples: int, rate: int | None) -> RateDecision:
        return (await self.admit_each(tenant_id, [samples], rate))[0]

    async def admit_each(self, tenant_id: int, batches: list[int], rate: int | None) -> list[RateDecision]:
        """Each batch (a sample count) in order, admitted whole or refused: one Redis call for many
        (the bridge checks a burst of messages at once).

        The TAT only grows from batch to batch, so all of them pass in order exactly when their
        sum passes as one: that is asked first (three arguments instead of one per message, which
        cost the bridge microseconds per message), and only a refusal is decided batch by batch."""
        rate = rate or self.default_rate
        burst = self.burst(rate)
        per_sample_us = 1_000_000 / rate
        limits = [repr(per_sample_us), repr(per_sample_us * burst)]
        key = [keys.ingest_rate(tenant_id)]
        if len(batches) > 1 and (await self._gcra(keys=key, args=[*limits, sum(batches)]))[0] == 0:
            return [ADMITTED] * len(batches)
        waits = await self._gcra(keys=key, args=[*limits, *batches])
        return [ADMITTED if wait == 0 else RateDecision(False, int(wait) / 1_000_000, never=count > burst)
                for count, wait in zip(batches, waits)]
