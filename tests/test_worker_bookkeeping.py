"""The worker's trimmed RQ 2.12 bookkeeping against a real Redis: a finished job leaves exactly what
RQ's own worker leaves (nothing of a job kept 0 s), a finished job kept for a while and a failed
one are handled as RQ does, the worker's state is written once per change, and `rq suspend`
still stops it."""

import uuid

import redis
from rq import Queue, SimpleWorker
from rq.job import JobStatus
from rq.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry
from rq.suspension import resume, suspend

from microdash_workers.worker import IngestWorker, WorkerJob


def _connection(stack) -> redis.Redis:
    return redis.Redis.from_url(stack.env["MICRODASH_REDIS_URL"])


def _keys_of(connection: redis.Redis, queue: Queue, job_id: str) -> set[bytes]:
    return set(connection.scan_iter(f"*{job_id}*")) | {
        member for registry in (StartedJobRegistry(queue=queue), FinishedJobRegistry(queue=queue))
        for member in connection.zrange(registry.key, 0, -1) if job_id.encode() in member}


def _run_one(worker_class, connection: redis.Redis, argument, **enqueue_options):
    queue = Queue(f"bookkeeping-{uuid.uuid4().hex}", connection=connection, job_class=WorkerJob)
    job = queue.enqueue("math.sqrt", argument, **enqueue_options)
    worker = worker_class([queue], connection=connection, job_class=WorkerJob)
    worker.work(burst=True)
    return queue, job, worker


def test_a_finished_job_kept_0_s_leaves_what_rqs_own_worker_leaves(stack):
    connection = _connection(stack)
    left: dict[str, set] = {}
    for worker_class in (SimpleWorker, IngestWorker):
        queue, job, _ = _run_one(worker_class, connection, 3, result_ttl=0)
        left[worker_class.__name__] = {key.replace(job.id.encode(), b"JOB") for key in _keys_of(connection, queue, job.id)}
        assert not connection.exists(job.key)
        assert StartedJobRegistry(queue=queue).get_job_ids() == []
    assert left["IngestWorker"] == left["SimpleWorker"] == set()


def test_a_job_kept_for_a_while_and_a_failed_one_take_rqs_way(stack):
    connection = _connection(stack)
    queue, job, _ = _run_one(IngestWorker, connection, 3, result_ttl=60)
    assert job.get_status(refresh=True) == JobStatus.FINISHED and job.return_value() == 3 ** 0.5
    assert job.id in FinishedJobRegistry(queue=queue).get_job_ids()
    queue, job, _ = _run_one(IngestWorker, connection, "not a number", result_ttl=0)  # sqrt raises TypeError
    assert job.get_status(refresh=True) == JobStatus.FAILED
    assert job.id in FailedJobRegistry(queue=queue).get_job_ids()
    assert StartedJobRegistry(queue=queue).get_job_ids() == []


def test_the_state_is_written_once_per_change(stack):
    connection = _connection(stack)
    worker = IngestWorker([f"state-{uuid.uuid4().hex}"], connection=connection)
    try:
        worker.set_state("idle")
        connection.hset(worker.key, "state", "marker")
        worker.set_state("idle")  # unchanged: not written again
        assert connection.hget(worker.key, "state") == b"marker"
        worker.set_state("busy")
        assert connection.hget(worker.key, "state") == b"busy"
    finally:
        connection.delete(worker.key)


def test_rq_suspend_still_stops_a_burst_worker(stack):
    connection = _connection(stack)
    queue = Queue(f"suspend-{uuid.uuid4().hex}", connection=connection, job_class=WorkerJob)
    job = queue.enqueue("math.sqrt", 4, result_ttl=60)
    suspend(connection)
    try:
        IngestWorker([queue], connection=connection, job_class=WorkerJob).work(burst=True)
        assert job.get_status(refresh=True) == JobStatus.QUEUED
    finally:
        resume(connection)
