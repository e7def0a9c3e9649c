"""The /api/v1/query body: the same JSON whether it goes out whole or streamed, series in order,
a series without points as an empty list, timestamps as integers."""

import asyncio

import numpy as np
import orjson
from starlette.responses import StreamingResponse

from microdash_api import points_response as module
from microdash_api.points_response import points_response

HEAD = {"metric": "m", "start": 0, "end": 10, "step": 1, "aggregation": "avg", "resolution": "raw"}


def _series(count: int, points: int):
    rng = np.random.default_rng(count)
    return [({"host": f"h{n}"}, (np.arange(points, dtype=np.int64) * 1000 + 1_764_000_000_000,
                                 rng.standard_normal(points))) for n in range(count)] + [({"host": "none"}, None)]


def _body(response) -> bytes:
    if not isinstance(response, StreamingResponse):
        return response.body

    async def collect():
        return b"".join([chunk async for chunk in response.body_iterator])

    return asyncio.run(collect())


def _expected(series) -> dict:
    return {**HEAD, "series": [{"labels": labels, "points": [] if points is None else
                                [[int(t), float(v)] for t, v in zip(*points)]} for labels, points in series]}


def test_a_small_body_goes_out_whole():
    series = _series(3, 10)
    response = points_response(HEAD, series)
    assert not isinstance(response, StreamingResponse)
    assert response.headers["content-length"] == str(len(response.body))
    assert orjson.loads(_body(response)) == _expected(series)


def test_a_large_body_is_streamed_with_the_same_json(monkeypatch):
    series = _series(40, 2000)
    response = points_response(HEAD, series)
    assert isinstance(response, StreamingResponse)
    body = _body(response)
    assert orjson.loads(body) == _expected(series)
    assert list(orjson.loads(body)) == [*HEAD, "series"]
    monkeypatch.setattr(module, "STREAM_FROM_BYTES", 10 ** 9)
    assert _body(points_response(HEAD, series)) == body
    assert b'"points":[[1764000000000,' in body


def _pairs_writer(labels: dict, starts: np.ndarray, values: np.ndarray) -> bytes:
    """The writer points_json replaced: orjson on Python pairs (the API's definition of the body)."""
    return orjson.dumps({"labels": labels, "points": list(zip(starts.tolist(), values.tolist()))})


SPECIAL_VALUES = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 5e-324, -5e-324, 1e300, 1.7976931348623157e308,
                           1e16, 1e-7, 123456789.123, 0.1, -1.5, 2.0**53, 1e21, 1e22, 3.14159e-300])


def test_points_are_written_byte_for_byte_as_orjson_writes_the_pairs():
    rng = np.random.default_rng(13)
    nan_payload = np.array([0x7FF8_0000_0000_0001, 0xFFF0_0000_0000_0001], dtype=np.uint64).view(np.float64)
    cases = [
        (np.arange(SPECIAL_VALUES.size, dtype=np.int64) - 5, SPECIAL_VALUES),  # NaN, ±Inf as null; -0.0 kept
        (np.array([0, 2**63 - 1, -(2**63)], dtype=np.int64), np.concatenate((nan_payload, [7.0]))),
        (np.array([1_764_000_000_000], dtype=np.int64), np.array([42.0])),
        (np.arange(8640, dtype=np.int64) * 10_000 + 1_764_000_000_000,
         rng.standard_normal(8640) * 10.0 ** rng.integers(-30, 30, 8640)),
        (np.arange(500, dtype=np.int64), (np.arange(500) % 97).astype(np.float64)),
        (np.arange(0, 40, 2, dtype=np.int64)[::2], np.linspace(-1, 1, 20)[::2]),  # strided views
    ]
    for starts, values in cases:
        written = b"".join(module._parts({"metric": "m"}, [({"host": "a"}, (starts, values))]))
        assert written == b'{"metric":"m","series":[' + _pairs_writer({"host": "a"}, starts, values) + b"]}"


def test_a_series_without_points_or_with_no_pairs_is_an_empty_list():
    empty = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64))
    assert module.points_json(*empty) == b"[]"
    body = b"".join(module._parts({"metric": "m"}, [({"a": "1"}, None), ({"b": "2"}, empty)]))
    assert body == b'{"metric":"m","series":[{"labels":{"a":"1"},"points":[]},{"labels":{"b":"2"},"points":[]}]}'
