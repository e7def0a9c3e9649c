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

# The GCRA as a Lua function: ARGV[first..last] are the sample counts of batches, in order (read in
# place: a bridge's burst may be more than Lua's unpack takes); returns per batch 0 when admitted
# (and recorded), else the µs until it would be.
# The TAT is kept out of the AOF (and replicas): with appendfsync always, a write makes Redis fsync
# before it answers, and the check is on every ingest request's path before the enqueue's own fsync.
# A Redis restart forgets the TATs, which gives each tenant at most one more burst.
_GCRA_FUNCTION = """
local function gcra(key, per_sample, burst, first, last)
  redis.set_repl(redis.REPL_NONE)
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local waits = {}
  for i = first, last do
    local new_tat = tat + per_sample * tonumber(ARGV[i])
    local wait = new_tat - now - burst
    if wait > 0 then waits[i - first + 1] = math.ceil(wait) else waits[i - first + 1] = 0; tat = new_tat end
  end
  if tat > now then
    redis.call('SET', key, string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
  end
  redis.set_repl(redis.REPL_ALL)
  return waits
end
"""
# KEYS[1] the TAT (µs); ARGV[1] µs per sample, ARGV[2] burst in µs, ARGV[3..] the sample counts.
_GCRA = _GCRA_FUNCTION + """
return gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), 3, #ARGV)
"""
# The same check, then, only when every batch is admitted, the commands that follow the counts
# (ARGV[3] says how many counts there are; each command is its argument count and its arguments).
# They are the enqueue of a batch (queues.enqueue_commands), written to the AOF like any enqueue, so
# the caller learns "admitted and durably queued" in one round trip and one fsync. A script runs
# whole, like the enqueue's MULTI/EXEC. The keys the commands touch are named in ARGV, not KEYS:
# microdash runs one Redis, not a cluster.
_GCRA_THEN_RUN = _GCRA_FUNCTION + """
local ncounts = tonumber(ARGV[3])
local waits = gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), 4, 3 + ncounts)
for _, wait in ipairs(waits) do
  if wait > 0 then return waits end
end
local i = 4 + ncounts
while i <= #ARGV do
  local argc = tonumber(ARGV[i])
  redis.call(unpack(ARGV, i + 1, i + argc))
  i = i + argc + 1
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
        self._gcra_then_run = redis.register_script(_GCRA_THEN_RUN)
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
        limits, key = self._limits(rate), [keys.ingest_rate(tenant_id)]
        if len(batches) > 1 and (await self._gcra(keys=key, args=[*limits, sum(batches)]))[0] == 0:
            return [ADMITTED] * len(batches)
        return self._decisions(batches, rate, await self._gcra(keys=key, args=[*limits, *batches]))

    async def admit_each_then_run(self, tenant_id: int, batches: list[int], rate: int | None,
                                  commands: list[tuple]) -> list[RateDecision]:
        """As admit_each, and when every batch is admitted, Redis runs `commands` (argument tuples)
        in the same script: a refusal leaves them unrun, and the caller runs what it still wants
        (the admitted batches are recorded either way)."""
        flat: list = [len(batches), *batches]
        for command in commands:
            flat += [len(command), *command]
        waits = await self._gcra_then_run(keys=[keys.ingest_rate(tenant_id)], args=[*self._limits(rate), *flat])
        return self._decisions(batches, rate, waits)

    def _limits(self, rate: int | None) -> list[str]:
        """The script's first two arguments: µs per sample and the burst in µs."""
        rate = rate or self.default_rate
        per_sample_us = 1_000_000 / rate
        return [repr(per_sample_us), repr(per_sample_us * self.burst(rate))]

    def _decisions(self, batches: list[int], rate: int | None, waits: list[int]) -> list[RateDecision]:
        burst = self.burst(rate or self.default_rate)
        return [ADMITTED if wait == 0 else RateDecision(False, int(wait) / 1_000_000, never=count > burst)
                for count, wait in zip(batches, waits)]
