"""GET /api/v1/stream: the tenant's points as they are stored, over Server-Sent Events."""

import asyncio
from typing import Annotated

import orjson
import redis.exceptions
from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse

from microdash_core import live
from microdash_core.matchers import Matcher, all_match

from ..deps import ReaderTenant, StateDep
from ..errors import service_unavailable
from ..hub import Subscriber
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
    return EventSourceResponse(_events(state.hub, subscriber), ping=state.settings.sse_ping_seconds,
                               headers={"X-Accel-Buffering": "no"})


async def _events(hub, subscriber: Subscriber):
    SSE_CLIENTS.inc()
    try:
        yield {"event": "ready", "data": "{}"}
        while True:
            item = await subscriber.queue.get()
            if item is None:  # dropped for being too slow: close, the client resumes with Last-Event-ID
                return
            entry_id, data = item
            yield {"id": entry_id, "event": "points", "data": data.decode()}
    except asyncio.CancelledError:
        raise
    finally:
        hub.unsubscribe(subscriber)
        SSE_CLIENTS.dec()
