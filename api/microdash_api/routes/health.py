"""Liveness, readiness and Prometheus metrics."""

import asyncio

import redis.exceptions
from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from microdash_core import keys

from ..deps import StateDep
from ..backpressure import oldest_waiting_age
from ..telemetry import PipelineSnapshot, QueueFigures, SSE_CLIENTS, exposition

router = APIRouter(tags=["health"])
CHECK_TIMEOUT = 2.0


@router.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(state: StateDep) -> JSONResponse:
    checks = {"database": await _check(_ping_database(state)), "redis": await _check(state.redis.ping())}
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"status": "ready" if ready else "unavailable", "checks": checks},
                        status_code=200 if ready else 503)


async def _ping_database(state: StateDep) -> None:
    async with state.db.acquire() as connection, connection.cursor() as cursor:
        await cursor.execute("SELECT 1")


async def _check(awaitable) -> str:
    try:
        await asyncio.wait_for(awaitable, CHECK_TIMEOUT)
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", reported with its reason
        return f"error: {type(exc).__name__}: {exc}"[:200]


@router.get("/metrics", response_class=Response)
async def metrics(state: StateDep) -> Response:
    SSE_CLIENTS.set(state.hub.client_count)
    backlog = state.backpressure.keys
    try:
        async with state.redis.pipeline(transaction=False) as pipe:
            pipe.llen(backlog.queued)
            pipe.zcard(backlog.retrying)
            pipe.zcard(backlog.failed)
            pipe.hgetall(keys.TELEMETRY_COUNTERS)
            pipe.hgetall(keys.TELEMETRY_LAG_BUCKETS)
            queued, retrying, failed, counters, lag = await pipe.execute()
        queue = QueueFigures(queued=queued, retrying=retrying, failed=failed,
                             oldest_age_seconds=await oldest_waiting_age(state.redis, backlog))
        snapshot = PipelineSnapshot(queue, counters, lag)
    except redis.exceptions.RedisError:
        snapshot = None
    return Response(exposition(snapshot), media_type="text/plain; version=0.0.4; charset=utf-8")
