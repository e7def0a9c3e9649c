"""Dead letters: what a tenant sent that can never be stored (MQTT messages the bridge refused,
samples the database refused), kept per tenant with the reason, so one tenant's bad data neither
hides nor pushes out another's. Messages that name no known tenant go to keys.MQTT_DEAD_LETTER.

The list is capped, and each entry keeps an excerpt of the data (enough to find the sender and
the fault, not to replay it: a sample that lands here is one the database refuses)."""

import time

import orjson
import redis

from . import keys
from .samples import Sample

KEEP = 1000
EXCERPT_BYTES = 4096


def sample_entry(sample: Sample, *, reason: str, batch_id: str) -> bytes:
    return orjson.dumps({"source": "worker", "batch_id": batch_id, "reason": reason,
                         "sample": _excerpt(orjson.dumps(sample)), "at": int(time.time() * 1000)})


def message_entry(*, tenant: str | None, topic: str, reason: str, payload: bytes) -> bytes:
    return orjson.dumps({"source": "mqtt", "tenant": tenant, "topic": topic, "reason": reason,
                         "payload": _excerpt(payload), "at": int(time.time() * 1000)})


def push(pipe: redis.client.Pipeline, tenant_id: int | None, entries: list[bytes]) -> None:
    """Add entries to the tenant's list, or to the list of unattributed messages (tenant_id None)."""
    key = key_of(tenant_id)
    if entries:
        pipe.lpush(key, *entries)
        pipe.ltrim(key, 0, KEEP - 1)


def key_of(tenant_id: int | None) -> str:
    """The tenant's list, or the list of messages that named no known tenant (tenant_id None)."""
    return keys.MQTT_DEAD_LETTER if tenant_id is None else keys.dead_letters(tenant_id)


def decode(entries: list[bytes]) -> list[dict]:
    return [orjson.loads(entry) for entry in entries]


def latest(connection: redis.Redis, tenant_id: int | None, limit: int = 100) -> list[dict]:
    """The newest `limit` entries, newest first."""
    return decode(connection.lrange(key_of(tenant_id), 0, limit - 1))


def _excerpt(data: bytes) -> str:
    text = data[:EXCERPT_BYTES].decode(errors="ignore")
    return text if len(data) <= EXCERPT_BYTES else text + "…"
