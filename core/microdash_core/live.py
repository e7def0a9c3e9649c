"""The per-tenant live feed: a Redis Stream the worker appends to after each stored batch.

Each entry holds the stored batch as it was queued (MessagePack in columns, microdash_core.batches),
so the worker appends the bytes it was handed instead of encoding every point again for a feed
nobody may be watching. API processes turn an entry into the JSON points they send once per
entry, and only while a client listens (entry_points); its stream id is the SSE event id used for
replay. Entries written by earlier workers hold the JSON points already (POINTS_FIELD).

Entries are appended outside the AOF (and replicas): with `appendfsync always`, Redis answers
no client before the fsync of the writes it just ran, and that includes the API's blocked XREAD,
so a logged append would add an fsync to every point's way to the dashboards. The points are
durable in MariaDB already; a Redis restart only empties the replay window.
"""

import orjson
import redis

from .batches import Batch
from .samples import Sample

BATCH_FIELD = b"batch"
POINTS_FIELD = b"points"  # entries of earlier workers: the points as JSON

# KEYS[1] the tenant's stream; ARGV[1] its MAXLEN, ARGV[2] the oldest id kept, ARGV[3] the field, ARGV[4]
# the entry.
_APPEND = """
redis.set_repl(redis.REPL_NONE)
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', ARGV[3], ARGV[4])
redis.call('XTRIM', KEYS[1], 'MINID', '~', ARGV[2])
return id
"""


class LiveAppender:
    """Appends a stored batch to its tenant's stream, bounded by count and by age."""

    def __init__(self, connection: redis.Redis, *, maxlen: int, window_seconds: int):
        self._append = connection.register_script(_APPEND)
        self.maxlen = maxlen
        self.window_ms = window_seconds * 1000

    def append(self, stream: str, encoded_batch: bytes, *, now_ms: int) -> bytes:
        """The entry's id. encoded_batch: a Batch holding exactly the samples stored, encoded.
        One round trip of its own: an fsync for other writes must not delay it."""
        return self._append(keys=[stream], args=[self.maxlen, now_ms - self.window_ms, BATCH_FIELD,
                                                        encoded_batch])


def entry_points(fields: dict) -> bytes | None:
    """An entry's points as the JSON array SSE clients receive; None for an entry that holds neither
    a batch nor points (not one a worker wrote)."""
    encoded_batch = fields.get(BATCH_FIELD)
    if encoded_batch is None:
        return fields.get(POINTS_FIELD)
    try:
        return encode_points(Batch.decode(encoded_batch).samples)
    except (ValueError, TypeError):  # msgspec's and orjson's decode errors are ValueErrors
        return None


def encode_points(samples: list[Sample]) -> bytes:
    """The points as JSON; a label set given as its JSON text (a queued sample's) goes in as it is."""
    return orjson.dumps([{"metric": m, "labels": orjson.Fragment(l) if type(l) is str else l, "ts": t, "value": v}
                         for m, l, t, v in samples])


def decode_points(data: bytes) -> list[dict]:
    return orjson.loads(data)
