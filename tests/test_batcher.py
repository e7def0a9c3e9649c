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
