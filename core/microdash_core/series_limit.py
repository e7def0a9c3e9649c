"""Per-tenant series limits (tenants.max_series, the Tenant's `limits.maxSeries`).

Like InfluxDB's max-series-per-database, a limit caps how many distinct series a tenant may
have stored: samples of known series are always accepted, a request or MQTT message that would
add series beyond the limit is refused whole, before it is queued. The count lives in a Redis
set of series hashes per tenant (the same hashes as `series.series_hash`), seeded from MariaDB
the first time it is needed, so it is shared by every api and bridge process. Each process also
remembers the series it has seen admitted, so known series cost no hashing and no Redis call.

After Redis loses the set, the next check reseeds it from MariaDB; series admitted but still
queued at that moment are not counted until their next sample, so a limit can be overshot by
those few series, never undershot.
"""

from collections.abc import Awaitable, Callable, Iterable
import asyncio
import uuid
from dataclasses import dataclass

import redis.asyncio as aioredis

from . import db, keys
from .samples import Sample
from .series import canonical_labels, series_hash
from .settings import Settings

# A member no hash can equal (hashes are 16 bytes): the set exists once seeded, even when empty.
SEEDED = b"seeded"
SEED_CHUNK = 5000
KNOWN_PER_TENANT_LIMIT = 100_000

# KEYS[1] the tenant's set; ARGV[1] the limit, ARGV[2..] hashes not known to the caller.
# Returns {"unseeded"}, {"ok", used} or {"over", used, new hashes...}: all hashes are added, or none.
_ADMIT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'unseeded'} end
local new = {}
for i = 2, #ARGV do
  if redis.call('SISMEMBER', KEYS[1], ARGV[i]) == 0 then new[#new + 1] = ARGV[i] end
end
local used = redis.call('SCARD', KEYS[1]) - 1
if used + #new > tonumber(ARGV[1]) then
  local refused = {'over', used}
  for i = 1, #new do refused[i + 2] = new[i] end
  return refused
end
for i = 1, #new, 1000 do
  redis.call('SADD', KEYS[1], unpack(new, i, math.min(i + 999, #new)))
end
return {'ok', used + #new}
"""

# KEYS[1] the tenant's set, KEYS[2] a fully written seed: the seed becomes the set unless a
# concurrent seeder got there first (its set may already hold newer admissions: keep it).
_INSTALL_SEED = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('DEL', KEYS[2]) return 0 end
redis.call('RENAME', KEYS[2], KEYS[1])
return 1
"""

SeriesHashLoader = Callable[[int], Awaitable[list[bytes]]]


@dataclass(frozen=True)
class SeriesLimitExceeded:
    limit: int
    used: int
    new: int
    first_sample_of_new_series: list[int]

    @property
    def reason(self) -> str:
        return (f"series limit of {self.limit} reached: {self.used} series stored, this would add {self.new} new;"
                " nothing was stored")


def hashes_by_sample(samples: list[tuple[int, Sample]]) -> dict[bytes, int]:
    """Each distinct series of the (index, sample) pairs, with the index of its first sample."""
    first_index: dict[bytes, int] = {}
    for index, (metric, labels, _ts, _value) in samples:
        first_index.setdefault(series_hash(metric, canonical_labels(labels)), index)
    return first_index


def load_series_hashes(settings: Settings, tenant_id: int) -> list[bytes]:
    """The hashes of a tenant's stored series (synchronous; run it in a thread from async code)."""
    with db.transaction(settings) as cursor:
        cursor.execute("SELECT series_hash FROM series WHERE tenant_id = %s", (tenant_id,))
        return [bytes(row[0]) for row in cursor.fetchall()]


class SeriesLimiter:
    def __init__(self, redis: aioredis.Redis, load_hashes: SeriesHashLoader):
        self.redis = redis
        self.load_hashes = load_hashes
        self._admit = redis.register_script(_ADMIT)
        self._install_seed = redis.register_script(_INSTALL_SEED)
        self._known: dict[int, set[bytes]] = {}

    @classmethod
    def from_settings(cls, redis: aioredis.Redis, settings: Settings) -> "SeriesLimiter":
        """Seeding reads MariaDB with the synchronous driver, in a thread."""
        return cls(redis, lambda tenant_id: asyncio.to_thread(load_series_hashes, settings, tenant_id))

    async def check(self, tenant_id: int, limit: int, samples: list[Sample]) -> SeriesLimitExceeded | None:
        """Admit the samples' series, or say why not (then nothing was admitted).

        Series this process admitted before are recognised by their labels as they came (about
        three times cheaper than hashing them canonically); only the others are hashed and asked."""
        known = self._known.setdefault(tenant_id, set())
        unknown = [(index, sample) for index, sample in enumerate(samples)
                   if (sample[0], tuple(sample[1].items())) not in known]
        if not unknown:
            return None
        first_index = hashes_by_sample(unknown)
        answer = await self._admit(keys=[keys.tenant_series(tenant_id)], args=[limit, *first_index])
        if answer[0] == b"unseeded":
            await self._seed(tenant_id)
            answer = await self._admit(keys=[keys.tenant_series(tenant_id)], args=[limit, *first_index])
        if answer[0] == b"over":
            used, new = answer[1], answer[2:]
            return SeriesLimitExceeded(limit, used, len(new), sorted(first_index[one] for one in new))
        if len(known) + len(unknown) > KNOWN_PER_TENANT_LIMIT:
            known.clear()
        known.update((metric, tuple(labels.items())) for _index, (metric, labels, _ts, _value) in unknown)
        return None

    async def _seed(self, tenant_id: int) -> None:
        stored = await self.load_hashes(tenant_id)
        seed_key = keys.tenant_series_seed(tenant_id, uuid.uuid4().hex)
        for chunk in _chunks([SEEDED, *stored], SEED_CHUNK):
            await self.redis.sadd(seed_key, *chunk)
        await self._install_seed(keys=[keys.tenant_series(tenant_id), seed_key])


def _chunks(items: list[bytes], size: int) -> Iterable[list[bytes]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
