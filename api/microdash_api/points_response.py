"""The /api/v1/query body: serialised by orjson one series at a time, and streamed once it grows.

A series' points are written from its two arrays, not from Python pairs (`points_text`: orjson
writes each array and numpy places the two texts into one buffer, byte for byte what orjson
writes for the pairs): no tuple per point for the garbage collector, and from points_text.SMALL
points on no small bytes object per point either. Each series' points text is a part of its own, so it is copied once, into the
body, not first into a per-series join.

Points stay numpy arrays until their series is written, so a body of 500 series x 11,000 points
never exists as ~6 million Python pairs at once (~600 MB); one series' pairs are a few MB. A body
under STREAM_FROM_BYTES (the common case) goes out as one response with a Content-Length, which
costs less than a stream for a small answer. Everything that can fail (the reads) has run before
the first byte, so a stream never has to break off with an error.
"""

from collections.abc import Iterator

import numpy as np
import orjson
from starlette.responses import Response, StreamingResponse

from .points_text import points_json
from .step_buckets import Points

STREAM_FROM_BYTES = 1024 * 1024
_SEND_BYTES = 256 * 1024
_NO_POINTS: Points = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64))
MEDIA_TYPE = "application/json"


def points_response(head: dict, series: list[tuple[dict, Points | None]]) -> Response:
    """`head` and then "series": [{"labels", "points": [[ms, value], ...]}, ...], in order."""
    parts = _parts(head, series)
    first: list[bytes | memoryview] = []
    size = 0
    for part in parts:
        first.append(part)
        size += len(part)
        if size >= STREAM_FROM_BYTES:
            return StreamingResponse(_sends(first, parts), media_type=MEDIA_TYPE)
    return Response(b"".join(first), media_type=MEDIA_TYPE)


def _parts(head: dict, series: list[tuple[dict, Points | None]]) -> Iterator[bytes | memoryview]:
    yield orjson.dumps(head)[:-1] + b',"series":['
    for n, (labels, points) in enumerate(series):
        yield b"".join((b',{"labels":' if n else b'{"labels":', orjson.dumps(labels), b',"points":'))
        yield points_json(*(points if points is not None else _NO_POINTS))  # not copied into a join of its own
        yield b"}"
    yield b"]}"


async def _sends(first: list[bytes | memoryview], rest: Iterator[bytes | memoryview]):
    yield b"".join(first)
    batch: list[bytes | memoryview] = []
    size = 0
    for part in rest:
        batch.append(part)
        size += len(part)
        if size >= _SEND_BYTES:
            yield b"".join(batch)
            batch, size = [], 0
    if batch:
        yield b"".join(batch)
