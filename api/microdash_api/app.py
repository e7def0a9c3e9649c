"""The FastAPI application factory."""

import logging
from contextlib import asynccontextmanager

import numpy.ma  # noqa: F401  (see below)
import redis.exceptions

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError

from microdash_core.settings import Settings, get_settings

from .body import BodySizeLimit
from .errors import ApiError
from .metrics_port import MetricsPortOnly
from .responses import OrjsonResponse
from .prometheus.envelope import PrometheusApiError, error_response
from .routes import (alert_channels, alert_rules, alert_silences, alerts, audit, dead_letters, docs, frontend, health,
                     influx, ingest, otlp, prometheus, query, remote_write, sessions, stream, tenant, tokens)
from .security_headers import SecurityHeaders
from .sql import OUT_OF_RANGE_ERRORS, OUTAGE_ERRORS
from .state import AppState
from .validation_errors import invalid_request

log = logging.getLogger(__name__)
# numpy 2 imports numpy.ma lazily, on the first np.unique/np.isin (which ask np.ma.is_masked): ~45 ms
# charged to the first query that needs one (the first rollup query's p99). Imported here, at start.
# Paths whose bodies are batches of samples: they take max_body_bytes, every other route less.
# The api has no OpenTelemetry SDK (its metrics are Prometheus'): FastAPI's own telemetry would only
# look for one on every request (get_tracer_provider and friends read the environment each time).
NO_FASTAPI_TELEMETRY = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}
INGEST_PATHS = (ingest.router.prefix, remote_write.router.prefix, "/api/v2/write", "/write", "/v1/metrics")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.microdash = await AppState.open(settings)
        try:
            yield
        finally:
            await app.state.microdash.close()

    app = FastAPI(title="microdash", version="0.1.0", lifespan=lifespan, telemetry=NO_FASTAPI_TELEMETRY,
                  description="Multi-tenant metrics ingest, query and live stream.", docs_url=None, redoc_url=None)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(PrometheusApiError, _prometheus_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    for outage in (*OUTAGE_ERRORS, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        app.add_exception_handler(outage, _dependency_outage)
    for out_of_range in OUT_OF_RANGE_ERRORS:
        app.add_exception_handler(out_of_range, _value_out_of_range)
    ingest.add_plain_routes(app)
    query.add_plain_routes(app)
    for module in (ingest, remote_write, influx, otlp, query, stream, sessions, tokens, health, alerts, alert_rules,
                   alert_silences, alert_channels, tenant, audit, dead_letters, prometheus):
        app.include_router(module.router)
    docs.mount(app)
    app.include_router(frontend.router_for(settings))
    if settings.metrics_port is not None:
        app.add_middleware(MetricsPortOnly, metrics_port=settings.metrics_port)
    app.add_middleware(BodySizeLimit, default=settings.max_request_body_bytes,
                       limits={path: settings.max_body_bytes for path in INGEST_PATHS})
    app.add_middleware(SecurityHeaders)
    return app


async def _dependency_outage(request: Request, exc: Exception) -> OrjsonResponse:
    log.error("dependency unavailable", extra={"path": request.url.path, "error": repr(exc)})
    return OrjsonResponse({"detail": "a dependency is unavailable, retry later"}, status_code=503,
                          headers={"Retry-After": "5"})


async def _value_out_of_range(request: Request, exc: Exception) -> OrjsonResponse:
    """The safety net behind the request models' bounds: a value MariaDB refuses is the caller's fault."""
    log.warning("database refused a value", extra={"path": request.url.path, "error": repr(exc)[:500]})
    return OrjsonResponse({"detail": "a value is out of the range the database accepts"}, status_code=422)


async def _prometheus_error(request: Request, exc: PrometheusApiError) -> OrjsonResponse:
    return error_response(exc)


async def _api_error(request: Request, exc: ApiError) -> OrjsonResponse:
    body: dict = {"detail": exc.detail}
    if exc.errors is not None:
        body["errors"] = exc.errors
    return OrjsonResponse(body, status_code=exc.status_code, headers=exc.headers)
