"""GET /api/v1/series and /api/v1/query: tenant-scoped reads."""

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from microdash_core.errors import InvalidInput
from microdash_core.matchers import parse_matchers
from microdash_core.samples import METRIC_NAME

from .. import repository
from ..deps import ReaderTenant, StateDep
from ..errors import ApiError

router = APIRouter(prefix="/api/v1", tags=["query"])
MAX_POINTS_PER_SERIES = 11_000
MAX_QUERY_SERIES = 500
DEFAULT_POINTS = 300


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
    aggregation: str
    resolution: Literal["raw"]
    series: list[SeriesPoints]


Matchers = Annotated[list[str], Query(alias="match", description='label matchers, e.g. host=n1, env=~"prod.*"')]


def _matchers(texts: list[str]):
    try:
        return parse_matchers(texts)
    except InvalidInput as exc:
        raise ApiError(422, str(exc)) from exc


def _check_metric(metric: str) -> None:
    if not METRIC_NAME.fullmatch(metric):
        raise ApiError(422, "metric must match [a-zA-Z_:][a-zA-Z0-9_:.]*")


@router.get("/series", response_model=SeriesList)
async def list_series(tenant: ReaderTenant, state: StateDep, metric: str | None = None, match: Matchers = [],
                      limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> SeriesList:
    if metric is not None:
        _check_metric(metric)
    rows = await repository.find_series(state.db, tenant_id=tenant.id, metric=metric,
                                        matchers=_matchers(match), limit=limit)
    return SeriesList(series=[SeriesOut(metric=row.metric, labels=row.labels) for row in rows])


@router.get("/query", response_model=QueryResult)
async def query(tenant: ReaderTenant, state: StateDep, metric: str, match: Matchers = [],
                start: Annotated[int | None, Query(description="epoch ms, default end - 1 h")] = None,
                end: Annotated[int | None, Query(description="epoch ms, default now")] = None,
                step: Annotated[int | None, Query(ge=1, description="bucket width in ms")] = None,
                aggregation: Literal["avg", "min", "max", "sum", "count", "last"] = "avg") -> QueryResult:
    _check_metric(metric)
    end = end if end is not None else int(time.time() * 1000) + 1
    start = start if start is not None else end - 3_600_000
    if start >= end:
        raise ApiError(422, "start must be before end")
    step = step or max(1, (end - start) // DEFAULT_POINTS)
    if (end - start) // step > MAX_POINTS_PER_SERIES:
        raise ApiError(422, f"range/step gives more than {MAX_POINTS_PER_SERIES} points; use a larger step")
    rows = await repository.find_series(state.db, tenant_id=tenant.id, metric=metric,
                                        matchers=_matchers(match), limit=MAX_QUERY_SERIES + 1)
    if len(rows) > MAX_QUERY_SERIES:
        raise ApiError(422, f"more than {MAX_QUERY_SERIES} series match; add label matchers")
    points = await repository.aggregate_points(state.db, tenant_id=tenant.id, series_ids=[row.id for row in rows],
                                               start_ms=start, end_ms=end, step_ms=step, aggregation=aggregation)
    return QueryResult(metric=metric, start=start, end=end, step=step, aggregation=aggregation, resolution="raw",
                       series=[SeriesPoints(labels=row.labels, points=points[row.id]) for row in rows])
