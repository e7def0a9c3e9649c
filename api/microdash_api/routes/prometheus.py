"""The Prometheus HTTP query API under /prometheus/api/v1 (GET or form POST, like Prometheus):
Grafana's Prometheus data source and promtool take http://host:8080/prometheus as their URL.
Tenant-scoped by the token (Bearer, or Basic with the token as password) or the session."""

from importlib import metadata as package_metadata

import promql_parser
from fastapi import APIRouter, Request

from microdash_core.samples import LABEL_NAME

from ..deps import StateDep
from ..prometheus import catalog
from ..prometheus.auth import PrometheusTenant
from ..prometheus.envelope import PrometheusApiError, bad_parameter, success
from ..prometheus.params import (Params, limit_of, parse_duration, parse_time, query_text, read_params, required,
                                 selectors, time_or)
from ..prometheus.running import now_ms, run_instant, run_range
from ..prometheus.series_index import TooManySeries
from ..sql import OUTAGE_ERRORS

router = APIRouter(prefix="/prometheus/api/v1", tags=["prometheus"])
MAX_POINTS_PER_SERIES = 11_000  # Prometheus' own bound on a range query's resolution
# The Prometheus API level served: Grafana reads the version to decide which features to use.
COMPATIBLE_PROMETHEUS_VERSION = "2.42.0"


def get_and_post(path: str):
    """Prometheus' API answers both methods. One route each, so that each operation has an id of its own:
    a route with two methods documents both under one id, taken from a set (invalid OpenAPI, and a
    different document from one process to the next)."""
    def register(endpoint):
        return router.post(path)(router.get(path)(endpoint))
    return register


def _timeout(params: Params, server_seconds: float) -> float:
    text = params.get("timeout")
    if not text:
        return server_seconds
    asked = parse_duration("timeout", text) / 1000
    return min(asked, server_seconds) if asked > 0 else server_seconds


@get_and_post("/query")
async def query(request: Request, tenant: PrometheusTenant, state: StateDep):
    params = await read_params(request)
    text = query_text(params)
    at = time_or(params, "time", now_ms())
    result = await run_instant(state, tenant.id, text, time_ms=at,
                               timeout_seconds=_timeout(params, state.settings.promql_timeout_seconds))
    return success(result.to_prometheus())


@get_and_post("/query_range")
async def query_range(request: Request, tenant: PrometheusTenant, state: StateDep):
    params = await read_params(request)
    text = query_text(params)
    start = parse_time("start", required(params, "start"))
    end = parse_time("end", required(params, "end"))
    step = parse_duration("step", required(params, "step"))
    if end < start:
        raise bad_parameter("end", "end timestamp must not be before start time")
    if step <= 0:
        raise bad_parameter("step", "zero or negative query resolution step widths are not accepted."
                                    " Try a positive integer")
    if (end - start) // step > MAX_POINTS_PER_SERIES:
        raise PrometheusApiError("bad_data", "exceeded maximum resolution of 11,000 points per timeseries."
                                             " Try decreasing the query resolution (?step=XX)")
    result = await run_range(state, tenant.id, text, start_ms=start, end_ms=end, step_ms=step,
                             timeout_seconds=_timeout(params, state.settings.promql_timeout_seconds))
    return success(result.to_prometheus())


@get_and_post("/series")
async def series(request: Request, tenant: PrometheusTenant, state: StateDep):
    params = await read_params(request)
    wanted = selectors(params, required_=True)
    _check_times(params)
    limit = limit_of(params)
    bound = state.settings.promql_max_series if limit is None else min(limit, state.settings.promql_max_series)
    found = await _catalog(catalog.matching_label_sets(state.db, tenant_id=tenant.id, selectors=wanted,
                                                       limit=bound, truncate=limit is not None))
    return _truncated(found, limit)


@get_and_post("/labels")
async def labels(request: Request, tenant: PrometheusTenant, state: StateDep):
    params = await read_params(request)
    wanted = selectors(params, required_=False)
    _check_times(params)
    limit = limit_of(params)
    names = await _catalog(catalog.label_names(state.db, tenant_id=tenant.id, selectors=wanted,
                                               limit=state.settings.promql_max_series))
    return _truncated(names, limit)


@router.get("/label/{name}/values")
async def label_values(name: str, request: Request, tenant: PrometheusTenant, state: StateDep):
    if not LABEL_NAME.fullmatch(name) or len(name) > state.settings.max_label_name_length:
        raise bad_parameter("label", f"invalid label name: {name[:100]!r}")
    params = await read_params(request)
    wanted = selectors(params, required_=False)
    _check_times(params)
    limit = limit_of(params)
    values = await _catalog(catalog.label_values(state.db, tenant_id=tenant.id, name=name, selectors=wanted,
                                                 limit=state.settings.promql_max_series))
    return _truncated(values, limit)


@router.get("/metadata")
async def metadata(request: Request, tenant: PrometheusTenant, state: StateDep):
    params = await read_params(request)
    limit = limit_of(params)
    found = await _catalog(catalog.metadata(state.db, tenant_id=tenant.id, metric=params.get("metric") or None))
    if limit is not None:
        found = dict(list(found.items())[:limit])
    return success(found)


@get_and_post("/query_exemplars")
async def query_exemplars(request: Request, tenant: PrometheusTenant):
    """microdash stores no exemplars; Grafana asks for them beside every query."""
    query_text(await read_params(request))
    return success([])


@get_and_post("/format_query")
async def format_query(request: Request, tenant: PrometheusTenant):
    text = query_text(await read_params(request))
    try:
        return success(promql_parser.parse(text).prettify())
    except ValueError as exc:
        raise PrometheusApiError("bad_data", f"invalid parameter 'query': {exc}") from None


@router.get("/status/buildinfo")
async def buildinfo(tenant: PrometheusTenant):
    return success({"version": COMPATIBLE_PROMETHEUS_VERSION, "revision": "", "branch": "", "buildUser": "",
                    "buildDate": "", "goVersion": "", "application": "microdash",
                    "microdashVersion": package_metadata.version("microdash-api")})


def _check_times(params: Params) -> None:
    """start and end only have to be well-formed here (see catalog)."""
    for name in ("start", "end"):
        time_or(params, name, 0)


def _truncated(items: list, limit: int | None):
    if limit is not None and len(items) > limit:
        return success(items[:limit], warnings=["results truncated due to limit"])
    return success(items)


async def _catalog(reading):
    try:
        return await reading
    except TooManySeries as exc:
        raise PrometheusApiError("limit", f"more than {exc.limit} series match (MICRODASH_PROMQL_MAX_SERIES);"
                                          " narrow match[] or pass a limit") from None
    except OUTAGE_ERRORS:
        raise PrometheusApiError("unavailable", "the database is unavailable, retry later") from None
