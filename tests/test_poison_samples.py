"""A batch the database refuses for some of its samples: every good sample is stored, only the
bad ones are dead-lettered in their tenant's list with the reason, and the refusal is counted."""

import time
import uuid

import httpx
from rq.registry import FailedJobRegistry

from support import recent_ms
from microdash_core import dead_letters
from microdash_core.batches import Batch
from microdash_core.queues import enqueue_batch, ingest_queue
from sse_reader import StreamReader


def pipeline_counter(stack, name: str) -> float:
    text = httpx.get(stack.api_url + "/metrics").text
    line = next(line for line in text.splitlines() if line.startswith(f"microdash_{name}_total "))
    return float(line.split()[-1])


def enqueue_directly(stack, tenant_id: int, samples: list) -> str:
    """Bypasses the edge's validation, as a future edge bug or a schema change could."""
    connection = stack.redis_client()
    batch = Batch(tenant_id, uuid.uuid4().hex, recent_ms(), samples)
    enqueue_batch(ingest_queue(connection, stack.settings), batch, stack.settings)
    return batch.batch_id


def wait_for_dead_letters(stack, tenant_id: int, expected: int, timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    while len(letters := dead_letters.latest(stack.redis_client(), tenant_id, limit=1000)) < expected:
        assert time.monotonic() < deadline, letters
        time.sleep(0.1)
    return letters


def test_one_refused_sample_does_not_lose_the_rest_of_its_batch(stack):
    tenant, _ = stack.new_tenant()
    other, _ = stack.new_tenant()
    poisoned_before = pipeline_counter(stack, "batches_poisoned")
    dead_before = pipeline_counter(stack, "samples_dead_lettered")
    ts = recent_ms(-60_000)
    good = [("poison.test", {"i": str(i)}, ts + i, float(i)) for i in range(40)]
    too_long = ("poison.test", {"big": "x" * 70_000}, ts, 1.0)  # series.labels holds 65535 bytes
    malformed = ("poison.test", {"i": "m"}, "0); DROP TABLE samples; --", 1.0)
    batch_id = enqueue_directly(stack, tenant.id, good[:13] + [too_long] + good[13:30] + [malformed] + good[30:])

    letters = wait_for_dead_letters(stack, tenant.id, 2)
    assert stack.wait_for_samples(tenant.id, 40) == 40
    stored = sorted((ts, value) for _series, ts, value in stack.stored_samples(tenant.id))
    assert stored == [(ts + i, float(i)) for i in range(40)]
    reasons = sorted(letter["reason"] for letter in letters)
    assert "1406" in reasons[1] and "Data too long" in reasons[1], reasons
    assert reasons[0].startswith("malformed sample"), reasons
    assert {letter["batch_id"] for letter in letters} == {batch_id}
    assert len(letters[0]["sample"].encode()) < 5000  # an excerpt, not the 70 KB
    assert dead_letters.latest(stack.redis_client(), other.id) == []  # kept per tenant
    assert pipeline_counter(stack, "samples_dead_lettered") == dead_before + 2
    assert pipeline_counter(stack, "batches_poisoned") >= poisoned_before + 1
    failed = FailedJobRegistry(queue=ingest_queue(stack.redis_client(), stack.settings))
    assert batch_id not in failed.get_job_ids()


def test_a_batch_in_columns_refused_in_part_is_stored_but_for_the_refused_sample(stack):
    """Such a batch is first stored whole from its columns (ColumnBatch); the database's refusal
    sends it down the row path, which isolates the refused sample."""
    tenant, _ = stack.new_tenant()
    ts = recent_ms(-60_000)
    good = [("poison.columns", {"i": str(i)}, ts + i, float(i)) for i in range(20)]
    too_long = ("poison.columns", {"big": "x" * 70_000}, ts, 1.0)
    samples = good[:7] + [too_long] + good[7:]
    assert Batch(tenant.id, "probe", ts, samples).encode()[:1] == b"\x99"  # a batch in columns
    batch_id = enqueue_directly(stack, tenant.id, samples)

    letters = wait_for_dead_letters(stack, tenant.id, 1)
    assert stack.wait_for_samples(tenant.id, 20) == 20
    assert sorted((ts, value) for _series, ts, value in stack.stored_samples(tenant.id)) == [
        (ts + i, float(i)) for i in range(20)]
    assert "1406" in letters[0]["reason"] and letters[0]["batch_id"] == batch_id


def test_a_batch_of_a_deleted_tenant_is_dead_lettered_at_once(stack):
    tenant, _ = stack.new_tenant()
    stack.sql("DELETE FROM tenants WHERE id = %s", (tenant.id,))
    samples = [("gone", {"i": str(i)}, recent_ms(-1000) + i, 1.0) for i in range(500)]
    enqueue_directly(stack, tenant.id, samples)
    letters = wait_for_dead_letters(stack, tenant.id, 500, timeout=20)
    assert {letter["reason"] for letter in letters} == {"the tenant no longer exists"}
    from microdash_workers.maintenance import forget_deleted_tenants

    forget_deleted_tenants(stack.settings)
    assert dead_letters.latest(stack.redis_client(), tenant.id) == []  # no list outlives its tenant


def test_a_payload_that_is_not_a_batch_fails_at_once_instead_of_being_retried(stack):
    from rq import Queue

    from microdash_core.queues import INGEST_JOB

    job = Queue(stack.settings.ingest_queue, connection=stack.redis_client()).enqueue(
        INGEST_JOB, b'[1, "not-a-batch", 0, 5]', job_id=f"not-a-batch-{uuid.uuid4().hex}")
    deadline = time.monotonic() + 20
    while job.get_status(refresh=True) != "failed":
        assert time.monotonic() < deadline, job.get_status()
        time.sleep(0.1)


def test_the_live_stream_carries_only_the_stored_samples_of_a_poisoned_batch(stack):
    tenant, token = stack.new_tenant()
    ts = recent_ms(-60_000)
    good = [("poison.live", {"i": str(i)}, ts + i, float(i)) for i in range(6)]
    malformed = ("poison.live", {"i": "m"}, ts, "not a number")
    reader = StreamReader(stack, token)
    try:
        enqueue_directly(stack, tenant.id, good[:3] + [malformed] + good[3:])
        reader.wait_for(6)
        time.sleep(0.5)
    finally:
        reader.close()
    assert [(p["labels"], p["ts"], p["value"]) for p in reader.points()] == [
        ({"i": str(i)}, ts + i, float(i)) for i in range(6)]
