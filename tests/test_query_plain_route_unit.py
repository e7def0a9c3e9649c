"""/api/v1/query's plain route takes a request only when its parameters are plainly valid; any
other request reaches the documented FastAPI route, which keeps every refusal as it was."""

from urllib.parse import urlencode

import numpy as np
import pytest
from starlette.routing import Match

from microdash_api.app import create_app
from microdash_api.query_params import QueryParams, plain_query_params
from microdash_core.settings import Settings
from microdash_core.store import reads

PLAIN = {"metric": "cpu", "start": 0, "end": 86_400_000, "step": 10_000, "aggregation": "last", "resolution": "raw"}


def _query_string(params) -> bytes:
    return urlencode(params, doseq=True).encode()


def test_plain_parameters_are_read_as_fastapi_reads_them():
    params = plain_query_params(_query_string({**PLAIN, "match": ['host=a b', 'env=~"prod.*"']}))
    assert params == QueryParams(metric="cpu", match=["host=a b", 'env=~"prod.*"'], start=0, end=86_400_000,
                                 step=10_000, aggregation="last", resolution="raw")
    assert plain_query_params(b"metric=m") == QueryParams(metric="m", match=[], start=None, end=None, step=None,
                                                          aggregation="avg", resolution="auto")
    assert plain_query_params(b"metric=") == QueryParams(metric="", match=[], start=None, end=None, step=None,
                                                         aggregation="avg", resolution="auto")


@pytest.mark.parametrize("changed", [
    {"metric": None}, {"start": "-1"}, {"start": "+5"}, {"start": " 5"}, {"start": "5.0"}, {"start": "1_000"},
    {"start": "007"}, {"start": ""}, {"start": "abc"}, {"end": str(253_402_300_799_999 + 1)}, {"step": "0"},
    {"step": "9" * 19}, {"aggregation": "median"}, {"aggregation": "AVG"}, {"resolution": "10s"},
    {"series_id": "1"}, {"match": ["a=b"] * 21}])
def test_anything_else_is_left_to_the_documented_route(changed):
    params = {**PLAIN, **changed}
    if params["metric"] is None:
        del params["metric"]
    assert plain_query_params(_query_string(params)) is None


def test_a_repeated_scalar_is_left_to_the_documented_route():
    assert plain_query_params(b"metric=a&metric=b") is None
    assert plain_query_params(b"metric=a&step=1&step=2") is None


def _matching_route(app, method: str, query: bytes):
    scope = {"type": "http", "method": method, "path": "/api/v1/query", "root_path": "", "query_string": query,
             "headers": []}
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route
    return None


def test_only_a_plain_get_matches_the_plain_route():
    app = create_app(Settings(database_url="mysql://u:p@127.0.0.1:1/d", redis_url="redis://127.0.0.1:1/0"))
    plain = _matching_route(app, "GET", _query_string(PLAIN))
    documented = _matching_route(app, "GET", _query_string({**PLAIN, "step": "0"}))
    assert plain is not None and plain.include_in_schema is False
    assert documented is not None and documented is not plain  # the included query router
    assert _matching_route(app, "HEAD", _query_string(PLAIN)) is not plain
    assert _matching_route(app, "POST", _query_string(PLAIN)) is not plain
    paths = app.openapi()["paths"]
    assert list(paths["/api/v1/query"]) == ["get"]


def test_a_head_group_out_of_time_order_is_sorted():
    """The head's texts come without ORDER BY (MariaDB sorted each group in a tree); both texts
    follow the same rows, so a group in another order is sorted here, values with their times."""
    span = reads.Span(0, 10_000)
    rows = [(7, 1, 0, 0, b"3000,1000,2000", b"3.5,1.5,2.5"), (7, 1, 1, 0, b"4000", b"4.5")]
    (ts, vs), = reads.assemble(rows, span, series_ids=[7]).values()
    assert ts.tolist() == [1000, 2000, 3000, 4000] and ts.dtype == np.int64
    assert vs.tolist() == [1.5, 2.5, 3.5, 4.5]
