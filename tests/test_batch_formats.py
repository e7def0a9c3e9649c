"""The queued batch's formats: columns (each name and label text once, samples by index), and the
formats of earlier versions a queue may still hold across an upgrade (MessagePack rows, JSON in a
zlib-compressed job), decoded to the same samples and stored by a real worker."""

import math
import uuid

import msgspec
import orjson
import pytest
from rq import Queue, Retry

from support import recent_ms
from microdash_core import keys, queues
from microdash_core.batches import Batch
from microdash_core.series import LabelSet
from microdash_workers.poison import malformation

CPU = LabelSet({"host": "a", "cpu": "0"})


def agent_like(received_ms: int, cycles: int = 50) -> list[tuple]:
    series = [("cpu", CPU), ("cpu", LabelSet({"host": "a", "cpu": "1"})), ("load1", LabelSet({"host": "a"}))]
    return [(metric, labels, received_ms - 1_000_000 + cycle * 10_000 + n, cycle * 0.5 + n)
            for cycle in range(cycles) for n, (metric, labels) in enumerate(series)]


def queued(samples: list[tuple]) -> list[tuple]:
    return [(metric, orjson.dumps(dict(labels), option=orjson.OPT_SORT_KEYS).decode(), ts, value)
            for metric, labels, ts, value in samples]


def test_a_batch_in_columns_holds_each_name_and_label_text_once_and_decodes_typed():
    received = recent_ms()
    samples = agent_like(received)
    samples.append(("load1", {"host": "a"}, received - 5, -1.5))  # another object, the same label text
    samples.append(("cpu", {"cpu": "0", "host": "a"}, received + 5, math.inf))  # keys in another order
    payload = Batch(7, "b1", received, samples).encode()
    tenant, batch_id, received_ms, names, texts, name_refs, label_refs, deltas, values = msgspec.msgpack.decode(payload)
    assert (tenant, batch_id, received_ms) == (7, "b1", received)
    assert names == ["cpu", "load1"]
    assert texts == ['{"cpu":"0","host":"a"}', '{"cpu":"1","host":"a"}', '{"host":"a"}']
    assert len(name_refs) == len(label_refs) == len(deltas) == len(values) == len(samples)
    decoded = Batch.decode(payload)
    assert decoded.typed and (decoded.tenant_id, decoded.batch_id, decoded.received_ms) == (7, "b1", received)
    assert decoded.samples == queued(samples)


def test_columns_take_a_fraction_of_the_rows_for_few_series_and_no_more_for_distinct_ones():
    received = recent_ms()
    few = Batch(1, "b", received, agent_like(received, cycles=500))
    assert len(few.encode()) * 3 < len(few.encode_rows())
    distinct = Batch(1, "b", received, [("m", LabelSet({"i": str(i)}), received - i, 1.0) for i in range(1000)])
    assert len(distinct.encode()) < len(distinct.encode_rows())


def test_batches_of_earlier_versions_decode_to_the_same_samples():
    received = recent_ms()
    samples = agent_like(received, cycles=3)
    as_json = orjson.dumps([3, "old", received, [[m, dict(labels), ts, v] for m, labels, ts, v in samples]])
    as_rows = msgspec.msgpack.encode([3, "old", received, [[m, labels.canonical, ts, v] for m, labels, ts, v in samples]])
    assert as_rows == Batch(3, "old", received, samples).encode_rows()
    for payload in (as_json, as_rows, Batch(3, "old", received, samples).encode()):
        decoded = Batch.decode(payload)
        assert (decoded.tenant_id, decoded.batch_id, decoded.received_ms) == (3, "old", received)
        assert [tuple(sample) for sample in decoded.samples] == queued(samples)


def test_samples_the_columns_cannot_type_are_kept_for_the_worker_to_refuse_one_by_one():
    received = recent_ms()
    good = agent_like(received, cycles=2)
    for bad, fallback in (
        (("cpu", CPU, "0); DROP TABLE samples; --", 1.0), b"\x94"),  # ts no integer: rows, as before
        (("cpu", ["not", "a label set"], received, 1.0), b"\x94"),
        (("cpu", CPU, received, "1.0"), b"\x99"),  # columns, decoded untyped
        ((42, CPU, received, 1.0), b"\x99"),
    ):
        payload = Batch(1, "b", received, good[:3] + [bad] + good[3:]).encode()
        assert payload[:1] == fallback
        decoded = Batch.decode(payload)
        reasons = [malformation(sample) for sample in decoded.samples]
        assert reasons[3] is not None and reasons[:3] + reasons[4:] == [None] * len(good), (bad, reasons)
        assert [tuple(s) for i, s in enumerate(decoded.samples) if i != 3] == queued(good)


@pytest.mark.parametrize("columns", [
    [["m"], ["{}"], [0, 0], [0], [0], [1.0]],  # columns of different lengths
    [["m"], ["{}"], [1], [0], [0], [1.0]],  # a name index the batch does not hold
    [["m"], ["{}"], [0], [-1], [0], [1.0]],
    [["m"], ["{}"], [0], [0], ["0"], [1.0]],  # a delta that is no integer
])
def test_a_batch_in_columns_that_does_not_add_up_is_no_batch(columns):
    with pytest.raises(ValueError):
        Batch.decode(msgspec.msgpack.encode([1, "b", recent_ms(), *columns]))


def enqueue_payload(stack, queue: Queue, batch_id: str, payload: bytes, received_ms: int) -> None:
    """As an earlier version's edge put its batch on the queue."""
    queue.enqueue(queues.INGEST_JOB, payload, job_id=batch_id, result_ttl=0, retry=Retry(max=3, interval=[1, 1, 1]))
    stack.redis_client().zadd(keys.ingest_pending(queue.name), {batch_id: received_ms})


def test_batches_queued_by_earlier_versions_are_stored_after_an_upgrade(stack):
    tenant, _ = stack.new_tenant()
    received = recent_ms()
    samples = [("upgrade.test", LabelSet({"n": str(n % 3)}), received - 60_000 + n, float(n)) for n in range(90)]
    old, older, new = samples[:30], samples[30:60], samples[60:]
    connection = stack.redis_client()
    zlib_queue = Queue(stack.settings.ingest_queue, connection=connection)  # RQ's own Job: zlib, as before
    as_json = orjson.dumps([tenant.id, uuid.uuid4().hex, received, [[m, dict(l), ts, v] for m, l, ts, v in older]])
    enqueue_payload(stack, zlib_queue, orjson.loads(as_json)[1], as_json, received)
    rows = Batch(tenant.id, uuid.uuid4().hex, received, old)
    enqueue_payload(stack, queues.ingest_queue(connection, stack.settings), rows.batch_id, rows.encode_rows(), received)
    queues.enqueue_batch(queues.ingest_queue(connection, stack.settings),
                         Batch(tenant.id, uuid.uuid4().hex, received, new), stack.settings)
    assert stack.wait_for_samples(tenant.id, 90) == 90
    stored = sorted((ts, value) for _series, ts, value in stack.stored_samples(tenant.id))
    assert stored == [(ts, value) for _m, _l, ts, value in samples]
