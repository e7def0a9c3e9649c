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

from ..auth import TenantContext
from ..deps import ReaderTenant, StateDep, bearer_token
from ..errors import service_unavailable
from ..hub import Subscriber
from ..sessions_store import SESSION_COOKIE, load_session
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
    try:
        subscriber = await state.hub.subscribe(tenant.id, last_event_id=last_event_id or last_event_id_query,
                                               transform=transform)
    except redis.exceptions.RedisError as exc:
        raise service_unavailable("live stream") from exc
    events = _events(state.hub, subscriber, _session_check(request, state, tenant), state.settings.sse_ping_seconds)
    return EventSourceResponse(events, ping=state.settings.sse_ping_seconds, headers={"X-Accel-Buffering": "no"})


SessionCheck = Callable[[], Awaitable[bool]]


def _session_check(request: Request, state: StateDep, tenant: TenantContext) -> SessionCheck | None:
    """For a stream opened with a session: is the session still alive and on the same tenant?
    A logout or a tenant switch so ends the streams it had open. Token streams need no check."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if bearer_token(request) is not None or not session_id:
        return None

    async def still_signed_in() -> bool:
        try:
            session = await load_session(state.redis, session_id)
        except redis.exceptions.RedisError:
            return True  # a Redis blip must not cut every dashboard at once; the next check decides
        return session is not None and session.tenant.id == tenant.id

    return still_signed_in


async def _events(hub, subscriber: Subscriber, still_signed_in: SessionCheck | None, recheck_seconds: float):
    SSE_CLIENTS.inc()
    next_check = time.monotonic() + recheck_seconds
    try:
        yield {"event": "ready", "data": "{}"}
        while True:
            wait = None if still_signed_in is None else max(0.0, next_check - time.monotonic())
            try:
                item = await asyncio.wait_for(subscriber.queue.get(), timeout=wait)
            except TimeoutError:
                item = False
            if still_signed_in is not None and time.monotonic() >= next_check:
                if not await still_signed_in():
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
