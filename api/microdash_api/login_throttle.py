"""Failed-login backoff, per email from one address, per address and per email.

Each counter lets a few failures pass freely, then every further failure doubles the delay
before the next attempt (up to a cap), so guessing slows down exponentially while nobody is
locked out for long: a stranger guessing the admin's email from elsewhere delays the admin only
after many failures on the email as a whole. An attempt is counted *before* its password is
checked, in one Lua script over all its counters, so parallel guesses cannot all slip through
between a check and a count; a success or an attempt that was never checked is refunded.
"""

import hashlib
import math
from dataclasses import dataclass

import redis.asyncio as aioredis

from microdash_core import keys
from microdash_core.settings import Settings

# KEYS: counters (hashes of failures, until_ms). ARGV[1] base delay ms, ARGV[2] max delay ms,
# ARGV[3] window ms, ARGV[3 + i] free failures of KEYS[i]. Returns 0 when the attempt is
# admitted (and counted as a failure on every counter), else the ms to wait (nothing counted).
_ADMIT = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local wait = 0
for _, key in ipairs(KEYS) do
  local until_ms = tonumber(redis.call('HGET', key, 'until') or '0')
  if until_ms - now > wait then wait = until_ms - now end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  local failures = redis.call('HINCRBY', key, 'failures', 1)
  local free = tonumber(ARGV[3 + i])
  local ttl = tonumber(ARGV[3])
  if failures > free then
    local delay = math.min(tonumber(ARGV[1]) * 2 ^ (failures - free - 1), tonumber(ARGV[2]))
    redis.call('HSET', key, 'until', string.format('%d', now + delay))
    ttl = math.max(ttl, delay)
  end
  redis.call('PEXPIRE', key, string.format('%d', ttl))
end
return 0
"""

# KEYS: counters; ARGV[i] free failures of KEYS[i]. Takes back one counted failure; a counter
# back within its free failures no longer delays anyone.
_REFUND = """
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    local failures = redis.call('HINCRBY', key, 'failures', -1)
    if failures <= tonumber(ARGV[i]) then redis.call('HDEL', key, 'until') end
  end
end
return 0
"""


@dataclass(frozen=True)
class LoginThrottle:
    redis: aioredis.Redis
    settings: Settings

    async def admit(self, *, email: str, ip: str) -> int:
        """0 when the attempt may check a password (it now counts as a failure until `succeeded`
        or `refund`), else the seconds to wait."""
        counters = self._counters(email, ip)
        settings = self.settings
        wait_ms = await self.redis.eval(
            _ADMIT, len(counters), *(key for key, _ in counters),
            int(settings.login_backoff_base_seconds * 1000), int(settings.login_backoff_max_seconds * 1000),
            settings.login_failure_window_seconds * 1000, *(free for _, free in counters))
        return math.ceil(int(wait_ms) / 1000)

    async def refund(self, *, email: str, ip: str) -> None:
        """The admitted attempt checked no password (the server was busy or failed)."""
        counters = self._counters(email, ip)
        await self.redis.eval(_REFUND, len(counters), *(key for key, _ in counters), *(free for _, free in counters))

    async def succeeded(self, *, email: str, ip: str) -> None:
        """The email's failures are forgiven; the address's are not (one good account must not
        unlock guessing others), only this attempt is refunded."""
        (pair, _), (by_ip, ip_free), (by_email, _) = self._counters(email, ip)
        await self.redis.delete(pair, by_email)
        await self.redis.eval(_REFUND, 1, by_ip, ip_free)

    def _counters(self, email: str, ip: str) -> list[tuple[str, int]]:
        digest = hashlib.blake2b(email.strip().lower().encode(), digest_size=16).hexdigest()
        settings = self.settings
        return [(keys.login_backoff_by_email_and_ip(digest, ip), settings.login_free_failures_per_email_and_ip),
                (keys.login_backoff_by_ip(ip), settings.login_free_failures_per_ip),
                (keys.login_backoff_by_email(digest), settings.login_free_failures_per_email)]
