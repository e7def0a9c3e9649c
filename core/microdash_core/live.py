"""The per-tenant live feed: a Redis Stream the worker appends to after each stored batch.

Each entry holds the batch's points as ready-to-send JSON so that API processes can forward it
to SSE clients without re-encoding; its stream id is the SSE event id used for replay.
"""

import orjson

from .samples import Sample

POINTS_FIELD = b"points"


def encode_points(samples: list[Sample]) -> bytes:
    """The points as JSON; a label set given as its JSON text (a queued sample's) goes in as it is."""
    return orjson.dumps([{"metric": m, "labels": orjson.Fragment(l) if type(l) is str else l, "ts": t, "value": v}
                         for m, l, t, v in samples])


def decode_points(data: bytes) -> list[dict]:
    return orjson.loads(data)
