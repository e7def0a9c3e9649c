"""The API's coalescing of small ingest requests, against a real Redis queue."""

import asyncio

import redis
import rq

from microdash_api.batcher import IngestBatcher
from microdash_core.batches import Batch
from microdash_core.queues import ingest_queue


def test_concurrent_small_submissions_share_one_batch_and_large_ones_go_alone(stack):
    settings = stack.settings.model_copy(update={"ingest_queue": "batcher-test"})
    queue = ingest_queue(redis.Redis.from_url(stack.env["MICRODASH_REDIS_URL"]), settings)
    batcher = IngestBatcher(queue, settings, max_wait_ms=5, max_samples=100)

    async def submit_all():
        small = [batcher.submit(7, [("m", {}, 1_000 + i, float(i))]) for i in range(50)]
        other_tenant = [batcher.submit(8, [("m", {}, 1_000, 1.0)])]
        large = [batcher.submit(7, [("m", {}, 2_000 + i, 0.0) for i in range(100)])]
        return await asyncio.gather(*small, *other_tenant, *large)

    try:
        ids = asyncio.run(submit_all())
        assert len(set(ids[:50])) == 1  # the 50 single samples travel together
        assert len({ids[0], ids[50], ids[51]}) == 3  # other tenant and the large one separately
        jobs = {job.id: job for job in (queue.fetch_job(job_id) for job_id in queue.job_ids)}
        assert set(jobs) == set(ids)
        shared = Batch.decode(jobs[ids[0]].args[0])
        assert shared.tenant_id == 7 and [s[3] for s in shared.samples] == [float(i) for i in range(50)]
        assert Batch.decode(jobs[ids[50]].args[0]).tenant_id == 8
    finally:
        queue.empty()


def test_a_queue_outage_fails_every_waiting_submission(stack):
    settings = stack.settings
    queue = rq.Queue("batcher-outage", connection=redis.Redis(port=1, socket_connect_timeout=0.5))
    batcher = IngestBatcher(queue, settings, max_wait_ms=1)

    async def submit_two():
        return await asyncio.gather(batcher.submit(1, [("m", {}, 1, 1.0)]), batcher.submit(1, [("m", {}, 2, 1.0)]),
                                    return_exceptions=True)

    results = asyncio.run(submit_two())
    assert all(isinstance(result, redis.exceptions.ConnectionError) for result in results)


def _queue(stack, name: str):
    settings = stack.settings.model_copy(update={"ingest_queue": name})
    return ingest_queue(redis.Redis.from_url(stack.env["MICRODASH_REDIS_URL"]), settings), settings


def test_a_lone_submission_is_queued_at_once_not_after_the_wait(stack):
    queue, settings = _queue(stack, "batcher-lone")
    batcher = IngestBatcher(queue, settings, max_wait_ms=600_000)

    async def submit_one():
        return await asyncio.wait_for(batcher.submit(7, [("m", {}, 1_000, 1.0)]), timeout=30)

    try:
        batch_id = asyncio.run(submit_one())  # waiting max_wait_ms would time out
        assert queue.job_ids == [batch_id]
    finally:
        queue.empty()


def test_submissions_made_while_a_batch_is_on_its_way_travel_together_in_the_next(stack):
    queue, settings = _queue(stack, "batcher-group")
    batcher = IngestBatcher(queue, settings, max_wait_ms=600_000)

    async def submit_during_first():
        first = asyncio.ensure_future(batcher.submit(7, [("m", {}, 1_000, 1.0)]))
        while not batcher.sending:
            await asyncio.sleep(0)
        later = [asyncio.ensure_future(batcher.submit(7, [("m", {}, 2_000 + i, 2.0)])) for i in range(3)]
        return await asyncio.wait_for(first, 30), await asyncio.wait_for(asyncio.gather(*later), 30)

    try:
        first_id, later_ids = asyncio.run(submit_during_first())
        assert len(set(later_ids)) == 1 and first_id not in later_ids
        assert sorted(queue.job_ids) == sorted({first_id, later_ids[0]})
        together = Batch.decode(queue.fetch_job(later_ids[0]).args[0])
        assert [sample[2] for sample in together.samples] == [2_000, 2_001, 2_002]
    finally:
        queue.empty()


def test_when_the_workers_are_behind_a_batch_waits_for_company(stack):
    queue, settings = _queue(stack, "batcher-behind")
    batcher = IngestBatcher(queue, settings, max_wait_ms=2_000, workers_behind=lambda: True)

    async def two_apart():
        first = asyncio.ensure_future(batcher.submit(7, [("m", {}, 1_000, 1.0)]))
        await asyncio.sleep(0.05)  # well inside the wait: the event loop runs the earlier deadline first
        second = asyncio.ensure_future(batcher.submit(7, [("m", {}, 1_001, 1.0)]))
        return await asyncio.wait_for(asyncio.gather(first, second), 30)

    try:
        ids = asyncio.run(two_apart())
        assert ids[0] == ids[1] and queue.job_ids == [ids[0]]
    finally:
        queue.empty()
