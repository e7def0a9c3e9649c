"""GET /api/v1/series and /api/v1/query: tenant-scoped reads."""

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel
from starlette.routing import Match, Route

from microdash_core.bounds import MAX_EPOCH_MS
from microdash_core.errors import InvalidInput
from microdash_core.matchers import MAX_MATCHERS, parse_matchers
from microdash_core.samples import METRIC_NAME
from microdash_core.settings import Settings

from .. import repository
from ..auth import TenantContext
from ..deps import ReaderTenant, StateDep, token_or_session_tenant
from ..errors import ApiError
from ..raw_samples import SampleDecodeError, TooManySamples, unreadable_chunk_reported
from ..points_response import points_response
from ..query_params import QueryParams, plain_query_params
from ..state import AppState

router = APIRouter(prefix="/api/v1", tags=["query"])
MAX_POINTS_PER_SERIES = 11_000
MAX_QUERY_SERIES = 500
DEFAULT_POINTS = 300
MINUTE_MS = 60_000
DAY_MS = 86_400_000
# A range longer than this is read from rollups even with a small step: raw rows would be too many.
LONG_RANGE_FOR_1M_MS = DAY_MS
LONG_RANGE_FOR_5M_MS = 7 * DAY_MS

Resolution = Literal["raw", "1m", "5m"]
Aggregation = Literal["avg", "min", "max", "sum", "count", "last"]


class SeriesOut(BaseModel):
    metric: str
    labels: dict[str, str]


class SeriesList(BaseModel):
    series: list[SeriesOut]


class SeriesPoints(BaseModel):
    labels: dict[str, str]
    points: list[tuple[int, float]]


class QueryResult(BaseModel):
    metric: str
    start: int
    end: int
    step: int
    aggregation: Aggregation
    resolution: Resolution
    series: list[SeriesPoints]


Matchers = Annotated[list[str], Query(alias="match", max_length=MAX_MATCHERS, description=(
    'label matchers, e.g. host=n1, env=~"prod.*"; regexes are fully anchored RE2 (no backreferences or lookaround)'))]
TimeMs = Annotated[int | None, Query(ge=0, le=MAX_EPOCH_MS)]
MAX_METRIC_LENGTH = 200


def _matchers(texts: list[str]):
    try:
        return parse_matchers(texts)
    except InvalidInput as exc:
        raise ApiError(422, str(exc), errors=[{"field": "match", "error": str(exc)}]) from exc


def _check_metric(metric: str) -> None:
    if len(metric) > MAX_METRIC_LENGTH or not METRIC_NAME.fullmatch(metric):
        raise ApiError(422, f"metric must match [a-zA-Z_:][a-zA-Z0-9_:.]* (at most {MAX_METRIC_LENGTH} characters)",
                       errors=[{"field": "metric", "error": "bad metric name"}])


@router.get("/series", response_model=SeriesList)
async def list_series(tenant: ReaderTenant, state: StateDep, metric: str | None = None, match: Matchers = [],
                      limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> SeriesList:
    if metric is not None:
        _check_metric(metric)
    rows = await repository.find_series(state.db, tenant_id=tenant.id, metric=metric,
                                        matchers=_matchers(match), limit=limit)
    return SeriesList(series=[SeriesOut(metric=row.metric, labels=row.labels) for row in rows])


def pick_resolution(*, start: int, end: int, step: int, now_ms: int, settings: Settings) -> Resolution:
    """The coarsest resolution the step allows; a long range, or one reaching back past the
    default retention of a finer resolution, is read from rollups."""
    span = end - start
    if (step >= 5 * MINUTE_MS or span > LONG_RANGE_FOR_5M_MS
            or start < now_ms - settings.retention_1m_days * DAY_MS):
        return "5m"
    if step >= MINUTE_MS or span > LONG_RANGE_FOR_1M_MS or start < now_ms - settings.retention_raw_days * DAY_MS:
        return "1m"
    return "raw"


@router.get("/query", response_model=QueryResult)
async def query(tenant: ReaderTenant, state: StateDep, metric: str, match: Matchers = [],
                start: Annotated[TimeMs, Query(description="epoch ms, default end - 1 h")] = None,
                end: Annotated[TimeMs, Query(description="epoch ms, default now")] = None,
                step: Annotated[int | None, Query(ge=1, le=MAX_EPOCH_MS, description="bucket width in ms")] = None,
                aggregation: Aggregation = "avg",
                resolution: Annotated[Literal["auto", "raw", "1m", "5m"], Query(
                    description="auto: raw for short ranges and steps, 1m rollups from a 60 s step, 5m from 300 s"
                )] = "auto") -> QueryResult:
    # Documents the endpoint and answers what the plain route below leaves to it.
    return await answer_query(state, tenant, QueryParams(metric=metric, match=match, start=start, end=end, step=step,
                                                         aggregation=aggregation, resolution=resolution))


async def answer_query(state: AppState, tenant: TenantContext, params: QueryParams) -> Response:
    metric, aggregation, resolution = params.metric, params.aggregation, params.resolution
    _check_metric(metric)
    now_ms = int(time.time() * 1000)
    end = params.end if params.end is not None else now_ms + 1
    start = params.start if params.start is not None else end - 3_600_000
    if start >= end:
        raise ApiError(422, "start must be before end")
    step = params.step or max(1, (end - start) // DEFAULT_POINTS)
    if (end - start) // step > MAX_POINTS_PER_SERIES:
        raise ApiError(422, f"range/step gives more than {MAX_POINTS_PER_SERIES} points; use a larger step")
    rows = await repository.find_series(state.db, tenant_id=tenant.id, metric=metric,
                                        matchers=_matchers(params.match), limit=MAX_QUERY_SERIES + 1)
    if len(rows) > MAX_QUERY_SERIES:
        raise ApiError(422, f"more than {MAX_QUERY_SERIES} series match; add label matchers")
    if resolution == "auto":
        resolution = pick_resolution(start=start, end=end, step=step, now_ms=now_ms, settings=state.settings)
    try:
        points = await repository.aggregate_arrays(
            state.db, tenant_id=tenant.id, series_ids=[row.id for row in rows], start_ms=start, end_ms=end,
            step_ms=step, aggregation=aggregation, resolution=resolution,
            max_raw_samples=state.settings.query_max_raw_samples)
    except TooManySamples as exc:
        raise ApiError(422, f"{exc}; use resolution=1m or 5m, a shorter range or fewer series") from exc
    except SampleDecodeError as exc:
        raise ApiError(500, unreadable_chunk_reported(exc, api="native", tenant_id=tenant.id)) from None
    # Built by hand, not validated against QueryResult (which still documents the shape): that
    # validation of tens of thousands of points cost more than the query itself.
    return points_response({"metric": metric, "start": start, "end": end, "step": step, "aggregation": aggregation,
                            "resolution": resolution}, [(row.labels, points.get(row.id)) for row in rows])


_PLAIN_PARAMS = "microdash.query_params"


class _PlainQueryRoute(Route):
    """GET /api/v1/query when its parameters are plainly valid (query_params); any other request
    does not match here and reaches the documented FastAPI route above."""

    def matches(self, scope):
        match, child_scope = super().matches(scope)
        if match is not Match.FULL or scope["method"] != "GET":
            return Match.NONE, {}
        params = plain_query_params(scope["query_string"])
        if params is None:
            return Match.NONE, {}
        return match, {**child_scope, _PLAIN_PARAMS: params}


async def _plain_query(request: Request) -> Response:
    state = request.app.state.microdash
    tenant = await token_or_session_tenant(request, state)
    return await answer_query(state, tenant, request.scope[_PLAIN_PARAMS])


def add_plain_routes(app) -> None:
    """The raw and rollup query as a plain Starlette route ahead of the documented one (which stays
    for the OpenAPI document and for every request the plain one leaves to it): FastAPI's
    parameter and dependency resolution (~0.4 ms of CPU a query) buys a valid request nothing.
    Errors raised in it go to the app's exception handlers alike."""
    app.router.routes.append(_PlainQueryRoute(router.prefix + "/query", _plain_query, methods=["GET"],
                                              include_in_schema=False))
