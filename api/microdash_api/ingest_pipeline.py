"""The one path every ingest protocol shares once its payload is decoded into sample items (the JSON
form, ``{"metric", "value", "ts", "labels"}``): validate all or nothing, then backpressure, the
tenant's rate limit, idempotency, the series limit, and the queue. Each protocol's route decodes its
own format and translates the ApiError raised here into its own error body."""

import logging
import math
import time
import uuid
from dataclasses import dataclass
from typing import NoReturn

import redis.exceptions

from microdash_core import keys
from microdash_core.rate_limit import RateDecision
from microdash_core.samples import Sample

from . import sql
from .auth import TenantContext
from .backpressure import RETRY_AFTER_SECONDS
from .batcher import RateCheck, RateRefused
from .errors import ApiError, service_unavailable
from .state import AppState
from .telemetry import BATCH_SIZE, INGEST_REJECTED, INGEST_REQUESTS, INGEST_SAMPLES
from .tenant_limits import TenantLimits

log = logging.getLogger(__name__)
MAX_ERRORS_REPORTED = 100
DATABASE_ERRORS = (*sql.DATABASE_ERRORS, OSError)


@dataclass(frozen=True)
class Admitted:
    accepted: int
    batch_id: str
    duplicate: bool = False


async def admit(state: AppState, tenant: TenantContext, items: object, *, endpoint: str,
                idempotency_key: str | None = None, ok_status: int = 202, invalid_status: int = 422) -> Admitted:
    """Queue the items as one batch of the tenant's, or raise ApiError saying why not; the request
    is counted under `endpoint` with its status. `ok_status` and `invalid_status` are what the
    protocol answers when the batch is queued and when a sample is invalid or over the series limit."""
    try:
        admitted = await _validate_and_enqueue(state, tenant, items, idempotency_key, invalid_status)
    except ApiError as exc:
        INGEST_REQUESTS.labels(endpoint, str(exc.status_code)).inc()
        raise
    INGEST_REQUESTS.labels(endpoint, str(ok_status)).inc()
    return admitted


async def _validate_and_enqueue(state: AppState, tenant: TenantContext, items: object,
                                idempotency_key: str | None, invalid_status: int) -> Admitted:
    received_ms = int(time.time() * 1000)
    samples, errors = state.validator.validate_many(items, now_ms=received_ms)
    if errors:
        INGEST_REJECTED.labels("invalid").inc(len(items) if isinstance(items, list) else 1)
        raise ApiError(invalid_status, f"{len(errors)} invalid field(s); nothing was stored",
                       errors=[error.as_dict() for error in errors[:MAX_ERRORS_REPORTED]])
    request_id = uuid.uuid4().hex
    try:
        limits = await state.limits.get(tenant.id)
    except DATABASE_ERRORS as exc:
        raise service_unavailable("tenant limits") from exc
    try:
        await _check_backlog(state, len(samples))
        if not idempotency_key and limits.max_series is None:
            # Nothing to check between the rate limit and the queue: the batcher decides the rate
            # of the requests it carries together in one Redis call.
            batch_id = await _submit_rate_checked(state, tenant, limits, samples)
        else:
            await _check_rate(state, tenant, limits, len(samples))
            if idempotency_key:
                previous = await _earlier_request(state, tenant, idempotency_key)
                if previous is not None:
                    return Admitted(accepted=len(samples), batch_id=previous, duplicate=True)
            await _check_series_limit(state, tenant, limits, samples, invalid_status)
            batch_id = await state.batcher.submit(tenant.id, samples)
            if idempotency_key:
                await _remember_request(state, tenant, idempotency_key, request_id)
    except redis.exceptions.RedisError as exc:
        log.error("queue unavailable, ingest refused", extra={"tenant_id": tenant.id, "error": str(exc)})
        raise service_unavailable("ingest queue") from exc
    INGEST_SAMPLES.inc(len(samples))
    BATCH_SIZE.observe(len(samples))
    return Admitted(accepted=len(samples), batch_id=batch_id if not idempotency_key else request_id)


async def _check_backlog(state: AppState, count: int) -> None:
    behind = await state.backpressure.behind()
    if behind is not None:
        INGEST_REJECTED.labels("backpressure").inc(count)
        raise ApiError(503, f"ingest is behind ({behind}): retry later",
                       headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


async def _check_rate(state: AppState, tenant: TenantContext, limits: TenantLimits, count: int) -> None:
    decision = await state.rate_limiter.admit(tenant.id, count, limits.ingest_rate_limit)
    if not decision.admitted:
        _refuse_rate(state, limits, count, decision)


async def _submit_rate_checked(state: AppState, tenant: TenantContext, limits: TenantLimits,
                               samples: list[Sample]) -> str:
    try:
        return await state.batcher.submit(tenant.id, samples, rate=RateCheck(limits.ingest_rate_limit))
    except RateRefused as refused:
        _refuse_rate(state, limits, len(samples), refused.decision)


def _refuse_rate(state: AppState, limits: TenantLimits, count: int, decision: RateDecision) -> NoReturn:
    INGEST_REJECTED.labels("rate_limited").inc(count)
    rate = limits.ingest_rate_limit or state.settings.default_ingest_rate_limit
    if decision.never:
        raise ApiError(413, f"{count} samples in one request exceed the tenant's burst of"
                            f" {state.rate_limiter.burst(rate)} samples; send smaller batches")
    raise ApiError(429, f"ingest rate limit of {rate} samples/s exceeded",
                   headers={"Retry-After": str(max(1, math.ceil(decision.retry_after_seconds)))})


async def _check_series_limit(state: AppState, tenant: TenantContext, limits: TenantLimits,
                              samples: list[Sample], refused_status: int) -> None:
    if limits.max_series is None:
        return
    try:
        exceeded = await state.series_limiter.check(tenant.id, limits.max_series, samples)
    except DATABASE_ERRORS as exc:  # seeding the count reads the stored series
        raise service_unavailable("series index") from exc
    if exceeded is not None:
        INGEST_REJECTED.labels("series_limit").inc(len(samples))
        raise ApiError(refused_status, exceeded.reason, errors=[
            {"index": index, "field": "labels", "error": "a new series beyond the tenant's series limit"}
            for index in exceeded.first_sample_of_new_series[:MAX_ERRORS_REPORTED]])


async def _earlier_request(state: AppState, tenant: TenantContext, key: str) -> str | None:
    """The request id under which the tenant's earlier batch with this key was queued, if any."""
    previous = await state.redis.get(keys.idempotency(tenant.id, key))
    return previous.decode() if previous else None


async def _remember_request(state: AppState, tenant: TenantContext, key: str, request_id: str) -> None:
    """Recorded only once the batch is queued: a key claimed first and left behind by a Redis outage
    would answer the client's retry "duplicate" for a batch that was never queued. Two requests
    racing with one key may both be queued; storing is idempotent, so the samples are stored once."""
    await state.redis.set(keys.idempotency(tenant.id, key), request_id, nx=True,
                          ex=state.settings.idempotency_ttl_seconds)
