"""Coalescing of small ingest requests (group commit): while one batch is on its way to Redis, the
samples of the requests that arrive meanwhile wait and then travel together as the next batch.
A request that finds nothing on its way is sent at once, so a quiet API adds no delay, and a busy
one sends as many jobs as Redis can take one after another, each carrying every request that came
during the last. When the workers are behind (`workers_behind()`), a new batch also waits up to
`max_wait_ms` for company: its samples would wait in the queue anyway, and fewer, larger jobs
let the workers catch up. It stops waiting once it carries as many requests as the last batch
that waited the whole time: a few clients that each wait for their 202 before sending again have
all come by then, and the rest of the wait would only delay them, while a steady stream of requests
still makes batches of about `max_wait_ms` worth. That count stands for a second, then a batch
waits the whole time again to measure it anew. Each request still gets its 202 only once Redis
has its samples.

A request may leave its tenant's rate limit to the batcher (`rate=RateCheck(...)`): the flush then
decides the rate of every such request of a tenant in one Redis call (IngestRateLimiter.admit_each,
in arrival order, as one call per request would), the same call that queues the batch when all are
admitted, and a refused request gets RateRefused instead of a batch id. Only a request with
nothing to check between its rate limit and its queueing may do so (ingest_pipeline.py), so its
answers are those of a rate check of its own.
"""

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from rq import Queue

from microdash_core.batches import Batch
from microdash_core.queues import enqueue_batch, enqueue_commands
from microdash_core.rate_limit import IngestRateLimiter, RateDecision
from microdash_core.samples import Sample
from microdash_core.settings import Settings


# How long the company of a whole wait stands for the next batches (a few hundred flushes at a
# busy api's pace; one whole wait, up to max_wait_ms, a second).
COMPANY_MEMORY_SECONDS = 1.0


@dataclass(frozen=True)
class RateCheck:
    """The tenant's rate limit (samples/s; None: the default) for the batcher to apply."""

    rate: int | None


class RateRefused(Exception):
    def __init__(self, decision: RateDecision):
        super().__init__("ingest rate limit exceeded")
        self.decision = decision


@dataclass
class Waiting:
    samples: list[Sample]
    future: asyncio.Future
    rate: RateCheck | None  # None: the caller checked the rate itself


def _never_behind() -> bool:
    return False


class IngestBatcher:
    def __init__(self, queue: Queue, settings: Settings, *, max_wait_ms: float = 5.0, max_samples: int = 2_000,
                 workers_behind: Callable[[], bool] = _never_behind, rate_limiter: IngestRateLimiter | None = None):
        self.queue = queue
        self.rate_limiter = rate_limiter
        self.settings = settings
        self.max_wait = max_wait_ms / 1000
        self.max_samples = max_samples
        self.workers_behind = workers_behind
        self._pending: dict[int, list[Waiting]] = defaultdict(list)
        self._pending_samples = 0
        self._pending_requests = 0
        self._scheduled: asyncio.Handle | None = None
        self._waiting_for_company = False
        self._whole_wait_ended = False
        self._company = 0  # requests carried by the last batch that waited the whole max_wait (0: none yet)
        self._company_measured_at = float("-inf")
        self._in_flight = 0
        self._flushes: set[asyncio.Task] = set()

    @property
    def sending(self) -> bool:
        """Whether batches are on their way to Redis (requests submitted now wait for them)."""
        return self._in_flight > 0

    async def submit(self, tenant_id: int, samples: list[Sample], *, rate: RateCheck | None = None) -> str:
        """Queue the samples; returns the id of the batch that carried them, once it is in Redis.
        With `rate`, raises RateRefused when the tenant's rate limit refuses them."""
        if len(samples) >= self.max_samples:
            if rate is not None:
                decision = await self._rate_limiter().admit(tenant_id, len(samples), rate.rate)
                if not decision.admitted:
                    raise RateRefused(decision)
            batch = Batch(tenant_id, uuid.uuid4().hex, int(time.time() * 1000), samples)
            await run_in_threadpool(enqueue_batch, self.queue, batch, self.settings)
            return batch.batch_id
        future = asyncio.get_running_loop().create_future()
        self._pending[tenant_id].append(Waiting(samples, future, rate))
        self._pending_samples += len(samples)
        self._pending_requests += 1
        if self._pending_samples >= self.max_samples:
            self._flush_after(0)
        elif self._waiting_for_company:
            if self._company_came():
                self._flush_after(0)
        elif self._scheduled is None and not self._in_flight:
            self._schedule_flush()
        return await future

    def _schedule_flush(self) -> None:
        if self.workers_behind():
            self._waiting_for_company = True
            if self._company_came():
                self._flush_after(0)
            else:
                self._scheduled = asyncio.get_running_loop().call_later(self.max_wait, self._end_whole_wait)
        else:
            self._flush_after(0)

    def _company_came(self) -> bool:
        """Whether the batch carries as many requests as the last whole wait brought, if that was
        measured within COMPANY_MEMORY_SECONDS: after that a batch waits the whole time again, so
        that a count measured when few requests came does not cut later waits short for ever."""
        return (self._company > 0 and self._pending_requests >= self._company
                and asyncio.get_running_loop().time() - self._company_measured_at < COMPANY_MEMORY_SECONDS)

    def _end_whole_wait(self) -> None:
        self._whole_wait_ended = True
        self._start_flush()

    def _flush_after(self, delay: float) -> None:
        """Flush the waiting requests after `delay` seconds; 0 means once the event loop has taken
        in what already arrived (call_soon), so requests read in one loop iteration share a batch."""
        if self._scheduled is not None:
            self._scheduled.cancel()
        loop = asyncio.get_running_loop()
        self._scheduled = loop.call_soon(self._start_flush) if delay <= 0 else loop.call_later(delay, self._start_flush)

    def _start_flush(self) -> None:
        self._waiting_for_company = False  # requests that come before the flush takes the batch join it anyway
        task = asyncio.get_running_loop().create_task(self._flush())
        self._flushes.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(self._flushes.discard)

    async def _flush(self) -> None:
        pending, self._pending = self._pending, defaultdict(list)
        if self._whole_wait_ended:
            self._company, self._whole_wait_ended = self._pending_requests, False
            self._company_measured_at = asyncio.get_running_loop().time()
        self._pending_samples, self._pending_requests, self._scheduled = 0, 0, None
        self._in_flight += 1
        try:
            await asyncio.gather(*(self._enqueue(tenant_id, requests) for tenant_id, requests in pending.items()))
        finally:
            self._in_flight -= 1
        if self._pending and self._scheduled is None and not self._in_flight:
            self._schedule_flush()

    async def _enqueue(self, tenant_id: int, requests: list[Waiting]) -> None:
        try:
            queued = await self._queue_admitted(tenant_id, requests)
        except Exception as exc:  # noqa: BLE001 - every waiting request gets the failure (503 at the edge)
            for request in requests:
                if not request.future.done():
                    request.future.set_exception(exc)
            return
        if queued is None:
            return
        batch, requests = queued
        for request in requests:
            if not request.future.done():
                request.future.set_result(batch.batch_id)

    async def _queue_admitted(self, tenant_id: int, requests: list[Waiting]) -> tuple[Batch, list[Waiting]] | None:
        """Queue the requests the tenant's rate limit admits (the refused ones get RateRefused);
        returns the batch and the requests it carries, or None when none was admitted.

        When the requests to check share one rate (as they do unless the tenant's limit changed
        meanwhile), the check and the enqueue are one script call: one round trip and one fsync
        before the 202s. Only a refusal costs a second call, the enqueue of the admitted ones."""
        checked = [request for request in requests if request.rate is not None]
        rates = {request.rate.rate for request in checked}
        if len(rates) == 1:
            batch = self._batch(tenant_id, requests)
            await self._read_server_version()
            commands = enqueue_commands(self.queue, batch, self.settings)
            decisions = await self._rate_limiter().admit_each_then_run(
                tenant_id, [len(request.samples) for request in checked], rates.pop(), commands)
            if all(decision.admitted for decision in decisions):
                return batch, requests
            requests = self._without_refused(requests, checked, decisions)
        elif rates:
            requests = await self._rate_admitted(tenant_id, requests)
        if not requests:
            return None
        batch = self._batch(tenant_id, requests)
        await run_in_threadpool(enqueue_batch, self.queue, batch, self.settings)
        return batch, requests

    @staticmethod
    def _batch(tenant_id: int, requests: list[Waiting]) -> Batch:
        return Batch(tenant_id, uuid.uuid4().hex, int(time.time() * 1000),
                     [sample for request in requests for sample in request.samples])

    async def _read_server_version(self) -> None:
        """RQ reads Redis' version once per queue, on the queue's (blocking) client: off the loop."""
        if self.queue.redis_server_version is None:
            await run_in_threadpool(self.queue.get_redis_server_version)

    async def _rate_admitted(self, tenant_id: int, requests: list[Waiting]) -> list[Waiting]:
        """The requests to queue: those whose rate was checked already and those the tenant's rate
        limit admits, one Redis call per rate. The refused ones get RateRefused."""
        by_rate: dict[int | None, list[Waiting]] = {}
        for request in requests:
            if request.rate is not None:
                by_rate.setdefault(request.rate.rate, []).append(request)
        for rate, checked in by_rate.items():
            decisions = await self._rate_limiter().admit_each(tenant_id, [len(r.samples) for r in checked], rate)
            requests = self._without_refused(requests, checked, decisions)
        return requests

    @staticmethod
    def _without_refused(requests: list[Waiting], checked: list[Waiting],
                         decisions: list[RateDecision]) -> list[Waiting]:
        """`requests` less the checked ones their decision refused, which get RateRefused."""
        refused: set[int] = set()
        for request, decision in zip(checked, decisions):
            if not decision.admitted:
                refused.add(id(request))
                if not request.future.done():  # its client may have gone (cancelled)
                    request.future.set_exception(RateRefused(decision))
        return [request for request in requests if id(request) not in refused] if refused else requests

    def _rate_limiter(self) -> IngestRateLimiter:
        if self.rate_limiter is None:
            raise RuntimeError("this batcher was made without a rate limiter; check the rate before submitting")
        return self.rate_limiter
