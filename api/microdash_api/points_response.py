"""The /api/v1/query body: serialised by orjson one series at a time, and streamed once it grows.

A series' points are written from its two arrays, not from Python pairs: orjson writes each array
(OPT_SERIALIZE_NUMPY: the same digits it writes for Python ints and floats, NaN and ±Inf as null),
the two texts are split at their commas and interleaved by one join. The pairs cost ~8,640 tuples
for a day of raw points (the garbage collector's work, and ~0.3 ms more of CPU); bytes are not
tracked by the collector.

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

from .step_buckets import Points

STREAM_FROM_BYTES = 1024 * 1024
_SEND_BYTES = 256 * 1024
_NO_POINTS: Points = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64))
MEDIA_TYPE = "application/json"


def points_response(head: dict, series: list[tuple[dict, Points | None]]) -> Response:
    """`head` and then "series": [{"labels", "points": [[ms, value], ...]}, ...], in order."""
    parts = _parts(head, series)
    first: list[bytes] = []
    size = 0
    for part in parts:
        first.append(part)
        size += len(part)
        if size >= STREAM_FROM_BYTES:
            return StreamingResponse(_sends(first, parts), media_type=MEDIA_TYPE)
    return Response(b"".join(first), media_type=MEDIA_TYPE)


def _parts(head: dict, series: list[tuple[dict, Points | None]]) -> Iterator[bytes]:
    yield orjson.dumps(head)[:-1] + b',"series":['
    for n, (labels, points) in enumerate(series):
        starts, values = points if points is not None else _NO_POINTS
        yield b"".join((b',{"labels":' if n else b'{"labels":', orjson.dumps(labels), b',"points":',
                        points_json(starts, values), b"}"))
    yield b"]}"


def points_json(starts: np.ndarray, values: np.ndarray) -> bytes:
    """[[start, value], ...] exactly as orjson writes the pairs (int64 starts, float64 values)."""
    count = len(starts)
    if not count:
        return b"[]"
    texts = [b"],["] * (4 * count)
    texts[0::4] = _items_json(np.ascontiguousarray(starts, dtype=np.int64))
    texts[1::4] = [b","] * count
    texts[2::4] = _items_json(np.ascontiguousarray(values, dtype=np.float64))
    texts[-1] = b"]]"
    return b"[[" + b"".join(texts)


def _items_json(array: np.ndarray) -> list[bytes]:
    # orjson writes numpy arrays only when contiguous and native; a JSON number holds no comma
    return orjson.dumps(array, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1].split(b",")


async def _sends(first: list[bytes], rest: Iterator[bytes]):
    yield b"".join(first)
    batch: list[bytes] = []
    size = 0
    for part in rest:
        batch.append(part)
        size += len(part)
        if size >= _SEND_BYTES:
            yield b"".join(batch)
            batch, size = [], 0
    if batch:
        yield b"".join(batch)
