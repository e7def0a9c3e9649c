"""One Redis reader per API process, fanning each tenant's live stream out to its SSE clients.

A client starts at a cursor (a stream id). With a Last-Event-ID it first replays what it missed
from the tenant's stream (bounded by its MAXLEN), then continues live; entries at or below the
cursor are never sent twice. A client whose queue is full is dropped (it reconnects with its
Last-Event-ID and replays), so a slow reader never grows the process's memory.
"""

import asyncio
import logging
import re
from dataclasses import dataclass, field
from typing import Callable

import redis.asyncio as aioredis
import redis.exceptions

from microdash_core import keys, live
from microdash_core.settings import Settings

log = logging.getLogger(__name__)
READ_BLOCK_MS = 200
READ_COUNT = 500
EntryFilter = Callable[[bytes], bytes | None]


# A Redis stream id: milliseconds and a sequence number, each an unsigned 64-bit integer.
_STREAM_ID = re.compile(r"([0-9]{1,20})(?:-([0-9]{1,20}))?")
_UINT64_END = 2**64


def is_stream_id(text: str) -> bool:
    """Whether Redis accepts `text` as a stream id (what a client may send as Last-Event-ID)."""
    match = _STREAM_ID.fullmatch(text)
    return match is not None and int(match.group(1)) < _UINT64_END and int(match.group(2) or 0) < _UINT64_END


def parse_id(stream_id: str) -> tuple[int, int]:
    millis, _, seq = stream_id.partition("-")
    return int(millis), int(seq or 0)


@dataclass(eq=False)
class Subscriber:
    tenant_id: int
    cursor: tuple[int, int]
    queue: asyncio.Queue
    transform: EntryFilter | None = None
    dropped: bool = False
    replaying: bool = True
    pending: list[tuple[str, bytes]] = field(default_factory=list)

    def offer(self, entry_id: str, data: bytes) -> None:
        if self.dropped:
            return
        if self.replaying:
            self.pending.append((entry_id, data))
            return
        self._put(entry_id, data)

    def _put(self, entry_id: str, data: bytes) -> None:
        position = parse_id(entry_id)
        if position <= self.cursor:
            return
        self.cursor = position
        if self.transform is not None:
            data = self.transform(data)
            if data is None:
                return
        try:
            self.queue.put_nowait((entry_id, data))
        except asyncio.QueueFull:
            self.dropped = True
            while not self.queue.empty():  # free the backlog; the client replays it on reconnect
                self.queue.get_nowait()
            self.queue.put_nowait(None)
            log.warning("slow SSE client dropped", extra={"tenant_id": self.tenant_id})

    def finish_replay(self, replayed: list[tuple[str, bytes]]) -> None:
        for entry_id, data in replayed + self.pending:
            self._put(entry_id, data)
            if self.dropped:
                break
        self.pending.clear()
        self.replaying = False


class LiveHub:
    def __init__(self, redis: aioredis.Redis, settings: Settings):
        self.redis = redis
        self.settings = settings
        self.subscribers: dict[int, set[Subscriber]] = {}
        self.positions: dict[int, str] = {}
        self._task: asyncio.Task | None = None
        self._streams_wanted = asyncio.Event()  # set while some tenant has clients

    @property
    def client_count(self) -> int:
        return sum(len(subs) for subs in self.subscribers.values())

    def start(self) -> None:
        self._task = asyncio.create_task(self._read_forever(), name="live-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def subscribe(self, tenant_id: int, *, last_event_id: str | None,
                        transform: EntryFilter | None = None) -> Subscriber:
        key = keys.live_stream(tenant_id)
        if tenant_id not in self.positions:
            newest = await self.redis.xrevrange(key, count=1)
            self.positions[tenant_id] = newest[0][0].decode() if newest else "0-0"
            self._streams_wanted.set()
        start = last_event_id if last_event_id and is_stream_id(last_event_id) else self.positions[tenant_id]
        subscriber = Subscriber(tenant_id, parse_id(start), asyncio.Queue(self.settings.sse_client_queue_size),
                                transform)
        self.subscribers.setdefault(tenant_id, set()).add(subscriber)
        replayed: list[tuple[str, bytes]] = []
        try:
            if last_event_id and is_stream_id(last_event_id):
                entries = await self.redis.xrange(key, min=f"({start}", count=self.settings.live_stream_maxlen)
                replayed = [(entry_id.decode(), points) for entry_id, fields in entries
                            if (points := live.entry_points(fields)) is not None]
        except BaseException:
            self.unsubscribe(subscriber)
            raise
        subscriber.finish_replay(replayed)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        subs = self.subscribers.get(subscriber.tenant_id)
        if subs is None:
            return
        subs.discard(subscriber)
        if not subs:
            del self.subscribers[subscriber.tenant_id]
            self.positions.pop(subscriber.tenant_id, None)

    async def _read_forever(self) -> None:
        while True:
            if not self.positions:  # nobody listens: wait for the first client instead of polling
                self._streams_wanted.clear()
                await self._streams_wanted.wait()
                continue
            streams = {keys.live_stream(tenant_id): position for tenant_id, position in self.positions.items()}
            try:
                response = await self.redis.xread(streams, count=READ_COUNT, block=READ_BLOCK_MS)
            except redis.exceptions.RedisError as exc:
                log.error("live stream read failed, retrying", extra={"error": str(exc)})
                await asyncio.sleep(1)
                continue
            for key, entries in response or []:
                self._dispatch(int(key.decode().rsplit(":", 1)[1]), entries)

    def _dispatch(self, tenant_id: int, entries: list) -> None:
        if tenant_id not in self.positions:
            return
        for entry_id, fields in entries:
            entry_id = entry_id.decode()
            self.positions[tenant_id] = entry_id
            points = live.entry_points(fields)  # once per entry, whatever the number of clients
            if points is None:
                log.error("unreadable live stream entry skipped", extra={"tenant_id": tenant_id, "entry_id": entry_id})
                continue
            for subscriber in list(self.subscribers.get(tenant_id, ())):
                subscriber.offer(entry_id, points)
