"""Failed-login throttling: failures are counted per email and per client IP over a fixed window
that starts at the first failure. Over either limit, logins are refused until the window ends,
even with the right password, so guessing cannot go on."""

import hashlib
from dataclasses import dataclass

import redis.asyncio as aioredis

from microdash_core import keys
from microdash_core.settings import Settings


@dataclass(frozen=True)
class LoginThrottle:
    redis: aioredis.Redis
    settings: Settings

    async def seconds_locked(self, *, email: str, ip: str) -> int:
        """0 when a login may be tried, else the seconds until the busier counter's window ends."""
        email_key, ip_key = self._keys(email, ip)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(email_key).ttl(email_key).get(ip_key).ttl(ip_key)
            email_count, email_ttl, ip_count, ip_ttl = await pipe.execute()
        locked = [ttl for count, ttl, limit in ((email_count, email_ttl, self.settings.login_max_failures_per_email),
                                                (ip_count, ip_ttl, self.settings.login_max_failures_per_ip))
                  if count is not None and int(count) >= limit]
        return max((max(ttl, 1) for ttl in locked), default=0)

    async def record_failure(self, *, email: str, ip: str) -> None:
        window = self.settings.login_failure_window_seconds
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in self._keys(email, ip):
                pipe.incr(key).expire(key, window, nx=True)
            await pipe.execute()

    async def record_success(self, *, email: str) -> None:
        """The email's failures are forgiven; the IP's are not (one good account must not unlock guessing others)."""
        await self.redis.delete(self._keys(email, "")[0])

    @staticmethod
    def _keys(email: str, ip: str) -> tuple[str, str]:
        digest = hashlib.blake2b(email.strip().lower().encode(), digest_size=16).hexdigest()
        return keys.login_failures_by_email(digest), keys.login_failures_by_ip(ip)
