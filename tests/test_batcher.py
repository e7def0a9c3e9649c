"""The API's coalescing of small ingest requests, against a real Redis queue."""

import asyncio
from dataclasses import dataclass

import pytest
import redis
import redis.asyncio
import rq

from microdash_api.batcher import COMPANY_MEMORY_SECONDS, IngestBatcher, RateCheck, RateRefused
from microdash_core import keys
from microdash_core.batches import Batch
from microdash_core.queues import ingest_queue
from microdash_core.rate_limit import IngestRateLimiter


@pytest.fixture
def queues(stack):
    """make(name): an ingest queue of its own and the settings naming it; emptied after the test."""
    made: list[rq.Queue] = []

    def make(name: str) -> tuple[rq.Queue, object]:
        settings = stack.settings.model_copy(update={"ingest_queue": name})
        queue = ingest_queue(redis.Redis.from_url(stack.env["MICRODASH_REDIS_URL"]), settings)
        made.append(queue)
        return queue, settings

    yield make
    for queue in made:
        queue.empty()


@dataclass(frozen=True)
class RateLimited:
    queue: rq.Queue
    batcher: IngestBatcher
    async_redis: redis.asyncio.Redis

    def run(self, coroutine):
        """asyncio.run(coroutine), then the rate limiter's Redis client closed in the same loop."""
        async def then_closed():
            try:
                return await coroutine
            finally:
                await self.async_redis.aclose()

        return asyncio.run(then_closed())


@pytest.fixture
def rate_limited(stack, queues):
    """make(queue name, tenant id, settings): a batcher with a rate limiter, on a queue of its own,
    the tenant's rate starting afresh."""
    def make(queue_name: str, tenant_id: int, settings_update: dict | None = None) -> RateLimited:
        stack.redis_client().delete(keys.ingest_rate(tenant_id))
        queue, settings = queues(queue_name)
        settings = settings.model_copy(update=settings_update or {})
        async_redis = redis.asyncio.Redis.from_url(stack.env["MICRODASH_REDIS_URL"])
        return RateLimited(queue, IngestBatcher(queue, settings, max_wait_ms=600_000,
                                                rate_limiter=IngestRateLimiter(async_redis, settings)), async_redis)

    return make


def test_concurrent_small_submissions_share_one_batch_and_large_ones_go_alone(queues):
    queue, settings = queues("batcher-test")
    batcher = IngestBatcher(queue, settings, max_wait_ms=5, max_samples=100)

    async def submit_all():
        small = [batcher.submit(7, [("m", {}, 1_000 + i, float(i))]) for i in range(50)]
        other_tenant = [batcher.submit(8, [("m", {}, 1_000, 1.0)])]
        large = [batcher.submit(7, [("m", {}, 2_000 + i, 0.0) for i in range(100)])]
        return await asyncio.gather(*small, *other_tenant, *large)

    ids = asyncio.run(submit_all())
    assert len(set(ids[:50])) == 1  # the 50 single samples travel together
    assert len({ids[0], ids[50], ids[51]}) == 3  # other tenant and the large one separately
    jobs = {job.id: job for job in (queue.fetch_job(job_id) for job_id in queue.job_ids)}
    assert set(jobs) == set(ids)
    shared = Batch.decode(jobs[ids[0]].args[0])
    assert shared.tenant_id == 7 and [s[3] for s in shared.samples] == [float(i) for i in range(50)]
    assert Batch.decode(jobs[ids[50]].args[0]).tenant_id == 8


def test_a_queue_outage_fails_every_waiting_submission(stack):
    settings = stack.settings
    queue = rq.Queue("batcher-outage", connection=redis.Redis(port=1, socket_connect_timeout=0.5))
    batcher = IngestBatcher(queue, settings, max_wait_ms=1)

    async def submit_two():
        return await asyncio.gather(batcher.submit(1, [("m", {}, 1, 1.0)]), batcher.submit(1, [("m", {}, 2, 1.0)]),
                                    return_exceptions=True)

    results = asyncio.run(submit_two())
    assert all(isinstance(result, redis.exceptions.ConnectionError) for result in results)


def test_a_lone_submission_is_queued_at_once_not_after_the_wait(queues):
    queue, settings = queues("batcher-lone")
    batcher = IngestBatcher(queue, settings, max_wait_ms=600_000)

    async def submit_one():
        return await asyncio.wait_for(batcher.submit(7, [("m", {}, 1_000, 1.0)]), timeout=30)

    batch_id = asyncio.run(submit_one())  # waiting max_wait_ms would time out
    assert queue.job_ids == [batch_id]


def test_submissions_made_while_a_batch_is_on_its_way_travel_together_in_the_next(queues):
    queue, settings = queues("batcher-group")
    batcher = IngestBatcher(queue, settings, max_wait_ms=600_000)

    async def submit_during_first():
        first = asyncio.ensure_future(batcher.submit(7, [("m", {}, 1_000, 1.0)]))
        while not batcher.sending:
            await asyncio.sleep(0)
        later = [asyncio.ensure_future(batcher.submit(7, [("m", {}, 2_000 + i, 2.0)])) for i in range(3)]
        return await asyncio.wait_for(first, 30), await asyncio.wait_for(asyncio.gather(*later), 30)

    first_id, later_ids = asyncio.run(submit_during_first())
    assert len(set(later_ids)) == 1 and first_id not in later_ids
    assert sorted(queue.job_ids) == sorted({first_id, later_ids[0]})
    together = Batch.decode(queue.fetch_job(later_ids[0]).args[0])
    assert [sample[2] for sample in together.samples] == [2_000, 2_001, 2_002]


def test_when_the_workers_are_behind_a_batch_waits_for_company(queues):
    queue, settings = queues("batcher-behind")
    batcher = IngestBatcher(queue, settings, max_wait_ms=2_000, workers_behind=lambda: True)

    async def two_apart():
        first = asyncio.ensure_future(batcher.submit(7, [("m", {}, 1_000, 1.0)]))
        await asyncio.sleep(0.05)  # well inside the wait: the event loop runs the earlier deadline first
        second = asyncio.ensure_future(batcher.submit(7, [("m", {}, 1_001, 1.0)]))
        return await asyncio.wait_for(asyncio.gather(first, second), 30)

    ids = asyncio.run(two_apart())
    assert ids[0] == ids[1] and queue.job_ids == [ids[0]]


def test_the_rate_of_requests_carried_together_is_decided_in_arrival_order_and_refused_ones_are_not_queued(rate_limited):
    tenant_id = 990_001  # no real tenant: its own rate key
    limited = rate_limited("batcher-rate", tenant_id, {"ingest_rate_burst_seconds": 1.0})
    queue, batcher = limited.queue, limited.batcher
    rate = RateCheck(5)  # a burst of 5 samples

    async def eight_at_once():
        return await asyncio.wait_for(asyncio.gather(
            *(batcher.submit(tenant_id, [("m", {}, 1_000 + i, float(i))] * size, rate=rate)
              for i, size in enumerate((2, 2, 2, 1, 1, 1, 1, 1))), return_exceptions=True), 30)

    results = limited.run(eight_at_once())
    # 2 + 2 fit the burst of 5, the third 2 does not, the next 1 does; after that nothing fits
    admitted = [i for i, result in enumerate(results) if isinstance(result, str)]
    assert admitted == [0, 1, 3], results
    refusals = [result for result in results if isinstance(result, RateRefused)]
    assert len(refusals) == 5 and all(0 < r.decision.retry_after_seconds <= 1 for r in refusals)
    assert len({results[i] for i in admitted}) == 1 and queue.job_ids == [results[0]]
    queued = Batch.decode(queue.fetch_job(results[0]).args[0])
    assert [sample[2] for sample in queued.samples] == [1_000, 1_000, 1_001, 1_001, 1_003]


def test_requests_checked_by_their_caller_share_a_batch_with_rate_checked_ones_and_are_not_counted_again(rate_limited):
    tenant_id = 990_002
    limited = rate_limited("batcher-rate-mixed", tenant_id, {"ingest_rate_burst_seconds": 1.0})
    queue, batcher = limited.queue, limited.batcher

    async def mixed():
        return await asyncio.wait_for(asyncio.gather(
            batcher.submit(tenant_id, [("m", {}, 1, 1.0)] * 5),  # checked by its caller: not counted here
            batcher.submit(tenant_id, [("m", {}, 2, 1.0)] * 2, rate=RateCheck(3)),
            batcher.submit(tenant_id, [("m", {}, 3, 1.0)] * 4, rate=RateCheck(100)),  # its limit changed meanwhile
            batcher.submit(tenant_id, [("m", {}, 4, 1.0)] * 2, rate=RateCheck(3)),
            return_exceptions=True), 30)

    results = limited.run(mixed())
    assert isinstance(results[0], str) and results[1] == results[0] and results[2] == results[0]
    # at 3/s (a burst of 3) 2 + 2 samples do not fit; at 100/s the 4 more do, after the first 2
    assert isinstance(results[3], RateRefused)
    queued = Batch.decode(queue.fetch_job(results[0]).args[0])
    assert sorted({sample[2] for sample in queued.samples}) == [1, 2, 3] and len(queued.samples) == 11


def test_a_large_request_is_rate_checked_before_it_is_queued_alone(rate_limited):
    tenant_id = 990_003
    limited = rate_limited("batcher-rate-large", tenant_id)
    queue, batcher = limited.queue, limited.batcher
    batcher.max_samples = 10

    async def two_large():
        first = await batcher.submit(tenant_id, [("m", {}, 1, 1.0)] * 10, rate=RateCheck(10))
        with pytest.raises(RateRefused) as refused:
            await batcher.submit(tenant_id, [("m", {}, 2, 1.0)] * 10, rate=RateCheck(10))
        return first, refused.value

    first, refused = limited.run(two_large())
    assert queue.job_ids == [first] and not refused.decision.never


def test_a_refused_request_whose_client_went_away_does_not_fail_the_others(rate_limited):
    tenant_id = 990_004
    limited = rate_limited("batcher-rate-gone", tenant_id, {"ingest_rate_burst_seconds": 1.0})
    queue, batcher = limited.queue, limited.batcher

    async def one_gone():
        kept = asyncio.ensure_future(batcher.submit(tenant_id, [("m", {}, 1, 1.0)] * 5, rate=RateCheck(5)))
        gone = asyncio.ensure_future(batcher.submit(tenant_id, [("m", {}, 2, 1.0)], rate=RateCheck(5)))
        await asyncio.sleep(0)  # both wait for the flush, which has not run yet
        gone.cancel()
        return await asyncio.wait_for(kept, 30), await asyncio.gather(gone, return_exceptions=True)

    batch_id, (gone,) = limited.run(one_gone())
    assert isinstance(gone, asyncio.CancelledError) and queue.job_ids == [batch_id]


def _aof_bytes(stack) -> bytes:
    return b"".join(path.read_bytes() for path in (stack.services.root / "redis").glob("appendonlydir/*.incr.aof"))


def _script_and_transaction_calls(connection) -> tuple[int, int]:
    stats = connection.info("commandstats")
    return (sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("evalsha", "eval")),
            int(stats.get("cmdstat_exec", {}).get("calls", 0)))


def test_rate_checked_requests_are_admitted_and_queued_in_one_script_call_written_to_the_aof(stack, rate_limited):
    tenant_id = 990_005
    connection = stack.redis_client()
    limited = rate_limited("batcher-one-call", tenant_id, {"ingest_rate_burst_seconds": 1.0})
    queue, batcher = limited.queue, limited.batcher

    async def three_together():
        return await asyncio.wait_for(asyncio.gather(
            *(batcher.submit(tenant_id, [("m", {}, 1_000 + i, float(i))], rate=RateCheck(3)) for i in range(3))),
            30)

    asyncio.run(batcher_warmed(batcher))  # RQ reads the server's version once per queue
    scripts_before, transactions_before = _script_and_transaction_calls(connection)
    ids = limited.run(three_together())
    scripts_after, transactions_after = _script_and_transaction_calls(connection)
    assert len(set(ids)) == 1 and queue.job_ids == [ids[0]]
    assert (scripts_after - scripts_before, transactions_after - transactions_before) == (1, 0)
    queued = Batch.decode(queue.fetch_job(ids[0]).args[0])
    assert [sample[2] for sample in queued.samples] == [1_000, 1_001, 1_002]
    assert connection.zscore(keys.ingest_pending(queue.name), ids[0]) is not None
    # answered only once Redis had written the enqueue to its AOF; the rate's TAT (3 samples at 3/s:
    # it lives a second) stays out of it
    aof = _aof_bytes(stack)
    assert ids[0].encode() in aof and connection.exists(keys.ingest_rate(tenant_id))
    assert keys.ingest_rate(tenant_id).encode() not in aof


async def batcher_warmed(batcher) -> None:
    await batcher._read_server_version()


def test_a_queue_outage_fails_every_rate_checked_submission_and_queues_nothing(stack):
    settings = stack.settings
    dead = redis.asyncio.Redis(port=1, socket_connect_timeout=0.5)
    queue = rq.Queue("batcher-outage-rate", connection=redis.Redis(port=1, socket_connect_timeout=0.5))
    queue.redis_server_version = (7, 0, 0)  # the dead Redis cannot say; the script call is what fails
    batcher = IngestBatcher(queue, settings, max_wait_ms=1, rate_limiter=IngestRateLimiter(dead, settings))

    async def submit_two():
        try:
            return await asyncio.gather(*(batcher.submit(1, [("m", {}, ts, 1.0)], rate=RateCheck(None)) for ts in (1, 2)),
                                        return_exceptions=True)
        finally:
            await dead.aclose()

    results = asyncio.run(submit_two())
    assert all(isinstance(result, redis.exceptions.ConnectionError) for result in results), results


def test_waves_of_rate_checked_requests_queue_every_sample_exactly_once(rate_limited):
    tenant_id = 990_006
    limited = rate_limited("batcher-waves", tenant_id)
    queue, batcher = limited.queue, limited.batcher

    async def waves():
        ids = []
        for wave in range(20):  # each wave meets the previous one's flush on its way
            ids += await asyncio.wait_for(asyncio.gather(
                *(batcher.submit(tenant_id, [("m", {"c": str(c)}, wave, float(c))], rate=RateCheck(10_000))
                  for c in range(8))), 30)
            await asyncio.sleep(0)
        return ids

    ids = limited.run(waves())
    assert sorted(queue.job_ids) == sorted(set(ids))
    stored = [(sample[2], sample[3]) for job_id in queue.job_ids
              for sample in Batch.decode(queue.fetch_job(job_id).args[0]).samples]
    assert sorted(stored) == sorted((wave, float(c)) for wave in range(20) for c in range(8))


def test_when_the_workers_are_behind_a_batch_stops_waiting_once_the_company_of_the_last_whole_wait_has_come(queues):
    queue, settings = queues("batcher-behind-company")
    batcher = IngestBatcher(queue, settings, max_wait_ms=3_000, workers_behind=lambda: True)

    def wave(start: int) -> list[asyncio.Future]:
        return [asyncio.ensure_future(batcher.submit(7, [("m", {}, start + i, 1.0)])) for i in range(3)]

    async def two_waves_and_a_smaller_one():
        first = await asyncio.wait_for(asyncio.gather(*wave(1_000)), 30)  # waits the whole 3 s: 3 came
        second = await asyncio.wait_for(asyncio.gather(*wave(2_000)), 1.5)  # leaves once the 3 are in
        third = asyncio.ensure_future(batcher.submit(7, [("m", {}, 3_000, 1.0)]))
        await asyncio.sleep(1.5)
        waited = not third.done()  # 1 of the 3: it waits for the rest, up to the whole wait
        return first, second, await asyncio.wait_for(third, 30), waited

    first, second, third, waited = asyncio.run(two_waves_and_a_smaller_one())
    assert len(set(first)) == 1 and len(set(second)) == 1 and waited
    assert sorted(queue.job_ids) == sorted({first[0], second[0], third})
    assert [s[2] for s in Batch.decode(queue.fetch_job(second[0]).args[0]).samples] == [2_000, 2_001, 2_002]


def test_the_company_of_a_whole_wait_stands_for_a_second_only(queues):
    queue, settings = queues("batcher-behind-memory")
    batcher = IngestBatcher(queue, settings, max_wait_ms=600, workers_behind=lambda: True)

    async def lone_requests():
        await asyncio.wait_for(batcher.submit(7, [("m", {}, 1, 1.0)]), 30)  # a whole wait: company 1
        soon = asyncio.ensure_future(batcher.submit(7, [("m", {}, 2, 1.0)]))
        await asyncio.sleep(0.3)
        left_at_once = soon.done()  # the company of 1 has come
        await asyncio.sleep(COMPANY_MEMORY_SECONDS)
        later = asyncio.ensure_future(batcher.submit(7, [("m", {}, 3, 1.0)]))
        await asyncio.sleep(0.3)
        waited = not later.done()  # the count is too old: a whole wait again
        await asyncio.wait_for(asyncio.gather(soon, later), 30)
        return left_at_once, waited

    assert asyncio.run(lone_requests()) == (True, True)
    assert len(queue.job_ids) == 3
