"""The worker's own heartbeat goes at most once a second, in one round trip, against a real Redis."""

import redis

from microdash_workers.worker import IngestWorker


def _worker(stack) -> tuple[IngestWorker, redis.Redis]:
    connection = redis.Redis.from_url(stack.env["MICRODASH_REDIS_URL"])
    return IngestWorker(["heartbeat-test"], connection=connection), connection


def test_a_heartbeat_right_after_another_is_not_sent_but_one_in_a_pipeline_is(stack):
    worker, connection = _worker(stack)
    try:
        worker.heartbeat()
        first = connection.hget(worker.key, "last_heartbeat")
        assert first is not None and connection.ttl(worker.key) > 0
        worker.heartbeat()  # RQ sends one before and one after each dequeue: the second is dropped
        assert connection.hget(worker.key, "last_heartbeat") == first
        with connection.pipeline() as pipe:  # RQ's heartbeats together with a job's always go
            worker.heartbeat(30, pipeline=pipe)
            pipe.execute()
        assert connection.hget(worker.key, "last_heartbeat") != first
        assert 0 < connection.ttl(worker.key) <= 30
    finally:
        connection.delete(worker.key)


def test_a_heartbeat_with_its_own_timeout_is_always_sent(stack):
    worker, connection = _worker(stack)
    try:
        worker.heartbeat()
        worker.heartbeat(500)
        assert 400 < connection.ttl(worker.key) <= 500
    finally:
        connection.delete(worker.key)
