"""Coalescing of small ingest requests: the samples of many requests of one API process become one
queued batch per tenant every few milliseconds, so a thousand single-sample requests cost the
workers one job, not a thousand. Each request still gets its 202 only once Redis has its samples.
"""

import asyncio
import time
import uuid
from collections import defaultdict

from starlette.concurrency import run_in_threadpool
from rq import Queue

from microdash_core.batches import Batch
from microdash_core.queues import enqueue_batch
from microdash_core.samples import Sample
from microdash_core.settings import Settings


class IngestBatcher:
    def __init__(self, queue: Queue, settings: Settings, *, max_wait_ms: float = 5.0, max_samples: int = 2_000):
        self.queue = queue
        self.settings = settings
        self.max_wait = max_wait_ms / 1000
        self.max_samples = max_samples
        self._pending: dict[int, list[tuple[list[Sample], asyncio.Future]]] = defaultdict(list)
        self._pending_samples = 0
        self._timer: asyncio.TimerHandle | None = None

    async def submit(self, tenant_id: int, samples: list[Sample]) -> str:
        """Queue the samples; returns the id of the batch that carried them, once it is in Redis."""
        if len(samples) >= self.max_samples:
            batch = Batch(tenant_id, uuid.uuid4().hex, int(time.time() * 1000), samples)
            await run_in_threadpool(enqueue_batch, self.queue, batch, self.settings)
            return batch.batch_id
        future = asyncio.get_running_loop().create_future()
        self._pending[tenant_id].append((samples, future))
        self._pending_samples += len(samples)
        if self._pending_samples >= self.max_samples:
            self._flush_soon(0)
        elif self._timer is None:
            self._flush_soon(self.max_wait)
        return await future

    def _flush_soon(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(delay, lambda: loop.create_task(self._flush()))

    async def _flush(self) -> None:
        pending, self._pending = self._pending, defaultdict(list)
        self._pending_samples, self._timer = 0, None
        await asyncio.gather(*(self._enqueue(tenant_id, requests) for tenant_id, requests in pending.items()))

    async def _enqueue(self, tenant_id: int, requests: list[tuple[list[Sample], asyncio.Future]]) -> None:
        samples = [sample for request_samples, _ in requests for sample in request_samples]
        batch = Batch(tenant_id, uuid.uuid4().hex, int(time.time() * 1000), samples)
        try:
            await run_in_threadpool(enqueue_batch, self.queue, batch, self.settings)
        except Exception as exc:  # noqa: BLE001 - every waiting request gets the failure (503 at the edge)
            for _, future in requests:
                if not future.done():
                    future.set_exception(exc)
            return
        for _, future in requests:
            if not future.done():
                future.set_result(batch.batch_id)
