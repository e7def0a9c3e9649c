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
