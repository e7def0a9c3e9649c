"""GET /api/v1/stream: the tenant's points as they are stored, over Server-Sent Events."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Annotated

import orjson
import redis.exceptions
from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse

from microdash_core import live
from microdash_core.matchers import Matcher, all_match

from ..auth import CredentialStoreUnavailable, TenantContext
from ..deps import ReaderTenant, StateDep, bearer_token, current_session
from ..errors import ApiError, service_unavailable
from ..hub import Subscriber, is_stream_id
from ..sessions_store import SESSION_COOKIE
from ..telemetry import SSE_CLIENTS
from .query import Matchers, _check_metric, _matchers

router = APIRouter(prefix="/api/v1", tags=["stream"])


def _point_filter(metric: str | None, matchers: list[Matcher]):
    if metric is None and not matchers:
        return None

    def keep(data: bytes) -> bytes | None:
        points = [point for point in live.decode_points(data)
                  if (metric is None or point["metric"] == metric) and all_match(matchers, point["labels"])]
        return orjson.dumps(points) if points else None

    return keep


@router.get("/stream", response_class=EventSourceResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "`points` events: a JSON array of {metric, labels, ts, value}"}})
async def stream(request: Request, tenant: ReaderTenant, state: StateDep, metric: str | None = None,
                 match: Matchers = [],
                 last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
                 last_event_id_query: Annotated[str | None, Query(alias="lastEventId")] = None):
    if metric is not None:
        _check_metric(metric)
    transform = _point_filter(metric, _matchers(match))
    resume_after = last_event_id or last_event_id_query
    if resume_after is not None and not is_stream_id(resume_after):
        raise ApiError(422, "Last-Event-ID must be an event id this stream sent (milliseconds-sequence)",
                       errors=[{"field": "Last-Event-ID", "error": "not a stream id"}])
    try:
        subscriber = await state.hub.subscribe(tenant.id, last_event_id=resume_after, transform=transform)
    except redis.exceptions.RedisError as exc:
        raise service_unavailable("live stream") from exc
    every = _recheck_seconds(state)
    events = _events(state.hub, subscriber, _credential_check(request, state, tenant, every), every)
    return EventSourceResponse(events, ping=state.settings.sse_ping_seconds, headers={"X-Accel-Buffering": "no"})


CredentialCheck = Callable[[], Awaitable[bool]]
MIN_RECHECK_SECONDS = 0.5


def _recheck_seconds(state: StateDep) -> float:
    """Half the credential cache's lifetime, with answers at most that old: a revoked token, an ended
    or revoked session or a removed member loses its stream within TOKEN_CACHE_SECONDS."""
    return max(MIN_RECHECK_SECONDS, min(state.settings.sse_ping_seconds, state.settings.token_cache_seconds / 2))


def _credential_check(request: Request, state: StateDep, tenant: TenantContext, every: float) -> CredentialCheck:
    """Does the stream's credential still hold for the same tenant? A logout, a tenant switch, a
    revocation or a removed membership so ends the streams it had open."""
    token = bearer_token(request)
    session_id = request.cookies.get(SESSION_COOKIE, "")

    async def current_tenant() -> TenantContext | None:
        if token is not None:
            return await state.tokens.authenticate(token, max_age=every)
        session = await current_session(state, session_id, max_age=every)
        return None if session is None else session.tenant

    async def still_valid() -> bool:
        try:
            current = await current_tenant()
        except (redis.exceptions.RedisError, CredentialStoreUnavailable):
            return True  # a blip must not cut every dashboard at once; the next check decides
        return current is not None and current.id == tenant.id

    return still_valid


async def _events(hub, subscriber: Subscriber, still_valid: CredentialCheck, recheck_seconds: float):
    SSE_CLIENTS.inc()
    next_check = time.monotonic() + recheck_seconds
    try:
        yield {"event": "ready", "data": "{}"}
        while True:
            wait = max(0.0, next_check - time.monotonic())
            try:
                item = await asyncio.wait_for(subscriber.queue.get(), timeout=wait)
            except TimeoutError:
                item = False
            if time.monotonic() >= next_check:
                if not await still_valid():
                    return
                next_check = time.monotonic() + recheck_seconds
            if item is False:  # only the check was due
                continue
            if item is None:  # dropped for being too slow: close, the client resumes with Last-Event-ID
                return
            entry_id, data = item
            yield {"id": entry_id, "event": "points", "data": data.decode()}
    except asyncio.CancelledError:
        raise
    finally:
        hub.unsubscribe(subscriber)
        SSE_CLIENTS.dec()
