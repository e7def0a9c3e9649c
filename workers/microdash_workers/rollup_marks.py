"""The rollup work list in Redis: the (tenant, minute) buckets that stored samples touched.

Ingest marks buckets after its commit. A rollup run claims the closed ones (moving them to a
claimed set in one atomic step) and releases them only after its own commit, so a crash leaves
them claimed and the next run redoes them; a late sample marks its bucket dirty again."""

from typing import Iterable

import numpy as np
import redis

from microdash_core import keys
from microdash_core.samples import Sample

MINUTE_MS = 60_000

_CLAIM_SCRIPT = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
for i = 1, #due, 2 do
    redis.call('ZADD', KEYS[2], due[i + 1], due[i])
    redis.call('ZREM', KEYS[1], due[i])
end
return #due / 2
"""


def minute_of(ts_ms: int) -> int:
    return ts_ms - ts_ms % MINUTE_MS


def member(tenant_id: int, minute_ms: int) -> str:
    return f"{tenant_id}:{minute_ms}"


def parse_member(raw: bytes | str) -> tuple[int, int]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    tenant, minute = text.split(":")
    return int(tenant), int(minute)


def mark_touched(pipe: redis.client.Pipeline, tenant_id: int, samples: Iterable[Sample]) -> None:
    minutes = {ts - ts % MINUTE_MS for _metric, _labels, ts, _value in samples}  # minute_of, inlined: per sample
    if minutes:
        pipe.zadd(keys.ROLLUP_DIRTY, {member(tenant_id, minute): minute for minute in minutes})


def mark_touched_at(pipe: redis.client.Pipeline, tenant_id: int, timestamps: np.ndarray) -> None:
    """mark_touched for samples given by their timestamps (int64): one C loop, no tuple per sample."""
    minutes = (np.unique(timestamps // MINUTE_MS) * MINUTE_MS).tolist()  # minute_of, floored alike
    if minutes:
        pipe.zadd(keys.ROLLUP_DIRTY, {member(tenant_id, minute): minute for minute in minutes})


def claim_closed(connection: redis.Redis, *, closed_before_ms: int, limit: int) -> int:
    """Move up to `limit` dirty buckets whose minute ended by closed_before_ms to the claimed set."""
    latest_start = closed_before_ms - MINUTE_MS
    return int(connection.eval(_CLAIM_SCRIPT, 2, keys.ROLLUP_DIRTY, keys.ROLLUP_CLAIMED, latest_start, limit))


def claimed(connection: redis.Redis, *, limit: int) -> list[tuple[int, int]]:
    return [parse_member(raw) for raw in connection.zrange(keys.ROLLUP_CLAIMED, 0, limit - 1)]


def release(connection: redis.Redis, buckets: list[tuple[int, int]]) -> None:
    if buckets:
        connection.zrem(keys.ROLLUP_CLAIMED, *(member(tenant, minute) for tenant, minute in buckets))
