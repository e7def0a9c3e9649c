"""Nothing accepted is lost or duplicated when the worker, MariaDB or Redis go away."""

import os
import signal
import subprocess
import sys
import threading
import time

import httpx
import pymysql
import redis
from rq import Queue
from rq.registry import FailedJobRegistry, StartedJobRegistry

from support import recent_ms
from microdash_cli.localstack import start_component
from microdash_core import db, keys
from microdash_core.queues import INGEST_JOB, ingest_queue


def batch(n, ts, **labels):
    return [{"metric": "durable", "value": float(i), "ts": ts + i, "labels": {"i": str(i % 50), **labels}}
            for i in range(n)]


def test_worker_killed_mid_batch_loses_and_duplicates_nothing(private_stack):
    stack = private_stack(extra_env={"MICRODASH_INGEST_JOB_TIMEOUT_SECONDS": "10", "MICRODASH_WORKER_TTL_SECONDS": "20"})
    tenant, token = stack.new_tenant()
    ts = recent_ms(-60_000)
    with stack.client(token) as client:
        assert client.post("/api/v1/metrics/bulk", json=batch(50, ts)).status_code == 202  # creates the series
    assert stack.wait_for_samples(tenant.id, 50) == 50
    (series_id,), = stack.sql("SELECT id FROM series WHERE tenant_id = %s AND labels = %s", (tenant.id, '{"i":"10"}'))

    # Hold a lock on the log so the worker blocks in the middle of appending the next batch.
    blocker = db.connect(stack.settings)
    blocker.cursor().execute("LOCK TABLES sample_log WRITE")
    with stack.client(token) as client:
        assert client.post("/api/v1/metrics/bulk", json=batch(1000, ts + 1000)).status_code == 202
    deadline = time.monotonic() + 10
    while not stack.sql("SELECT 1 FROM information_schema.PROCESSLIST WHERE INFO LIKE 'INSERT INTO sample_log%%'"):
        assert time.monotonic() < deadline, "the worker never reached the insert"
        time.sleep(0.05)
    worker = stack.processes.pop("worker0")
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    blocker.cursor().execute("UNLOCK TABLES")
    blocker.close()

    stack.processes["worker1"] = start_component(["worker"], stack.env, stack.log_dir / "worker1.log")
    assert stack.wait_for_samples(tenant.id, 1050, timeout=90) == 1050
    time.sleep(1)
    assert stack.count_samples(tenant.id) == 1050  # a re-delivered batch is another log row, read once
    assert (series_id, ts + 1000 + 10, 10.0) in stack.stored_samples(tenant.id)


def test_mariadb_restart_while_batches_are_queued(private_stack):
    stack = private_stack(extra_env={"MICRODASH_TOKEN_CACHE_SECONDS": "120"})
    tenant, token = stack.new_tenant()
    ts = recent_ms(-60_000)
    accepted = 0
    with stack.client(token) as client:
        assert client.get("/api/v1/series").status_code == 200  # caches the token
        stack.services.stop_service("mariadb")
        for round_ in range(5):
            response = client.post("/api/v1/metrics/bulk", json=batch(100, ts + round_ * 1000))
            assert response.status_code == 202, response.text
            accepted += response.json()["accepted"]
        assert client.get("/readyz").status_code == 503
        assert client.get("/api/v1/series").status_code == 503
        time.sleep(2)  # the worker fails and schedules retries meanwhile
        stack.services.restart_service("mariadb")
    assert stack.wait_for_samples(tenant.id, accepted, timeout=60) == accepted == 500
    time.sleep(1)
    assert stack.count_samples(tenant.id) == 500


def test_mariadb_outage_longer_than_the_retry_schedule_loses_nothing(private_stack):
    """Batches are retried for ever on an outage: the schedule of intervals is used up long
    before MariaDB returns (it used to send them to the failed registry), and yet all is stored."""
    stack = private_stack(extra_env={"MICRODASH_TOKEN_CACHE_SECONDS": "120", "MICRODASH_INGEST_RETRY_INTERVALS": "[1,1]"})
    tenant, token = stack.new_tenant()
    connection = stack.redis_client()
    ts = recent_ms(-60_000)
    with stack.client(token) as client:
        assert client.get("/api/v1/series").status_code == 200  # caches the token
        stack.services.stop_service("mariadb")
        for round_ in range(3):
            assert client.post("/api/v1/metrics/bulk", json=batch(100, ts + round_ * 1000)).status_code == 202
    old_attempt_limit = 3 * (1 + 2)  # three batches, one attempt each plus two retries
    deadline = time.monotonic() + 60
    while int(connection.hget(keys.TELEMETRY_COUNTERS, "batches_retried") or 0) <= old_attempt_limit + 3:
        assert time.monotonic() < deadline, "the worker stopped retrying"
        time.sleep(0.2)
    failed = FailedJobRegistry(queue=ingest_queue(connection, stack.settings))
    assert failed.get_job_ids() == []
    metrics = httpx.get(stack.api_url + "/metrics").text
    oldest = next(line for line in metrics.splitlines() if line.startswith("microdash_queue_oldest_batch_age_seconds"))
    assert float(oldest.split()[-1]) > 2

    stack.services.restart_service("mariadb")
    assert stack.wait_for_samples(tenant.id, 300, timeout=60) == 300
    assert failed.get_job_ids() == []
    assert connection.zcard(keys.ingest_pending(stack.settings.ingest_queue)) == 0


def test_mariadb_paused_longer_than_the_retry_schedule_loses_nothing(private_stack):
    """A paused (SIGSTOP) MariaDB hangs connections instead of refusing them: attempts end by the
    job timeout, mid-query, and the worker must not reuse such a connection afterwards."""
    stack = private_stack(extra_env={"MICRODASH_TOKEN_CACHE_SECONDS": "120", "MICRODASH_INGEST_RETRY_INTERVALS": "[1,1]"})
    tenant, token = stack.new_tenant()
    connection = stack.redis_client()
    ts = recent_ms(-60_000)
    mariadb = stack.services.processes["mariadb"]
    with stack.client(token) as client:
        assert client.post("/api/v1/metrics/bulk", json=batch(100, ts)).status_code == 202  # a warm connection
        assert stack.wait_for_samples(tenant.id, 100) == 100
        os.kill(mariadb.pid, signal.SIGSTOP)
        try:
            for round_ in range(1, 4):
                assert client.post("/api/v1/metrics/bulk", json=batch(100, ts + round_ * 1000)).status_code == 202
            deadline = time.monotonic() + 90
            while int(connection.hget(keys.TELEMETRY_COUNTERS, "batches_retried") or 0) <= 3 * (1 + 2) + 3:
                assert time.monotonic() < deadline, "the worker stopped retrying"
                time.sleep(0.5)
        finally:
            os.kill(mariadb.pid, signal.SIGCONT)
    assert stack.wait_for_samples(tenant.id, 400, timeout=90) == 400
    assert FailedJobRegistry(queue=ingest_queue(connection, stack.settings)).get_job_ids() == []


def test_queued_batches_survive_a_redis_restart(private_stack):
    stack = private_stack(workers=0)
    tenant, token = stack.new_tenant()
    with stack.client(token) as client:
        for round_ in range(3):
            assert client.post("/api/v1/metrics/bulk", json=batch(100, recent_ms(-60_000) + round_ * 1000)).status_code == 202
    stack.services.restart_service("redis")  # SIGTERM: Redis writes its append-only file and exits
    stack.processes["worker0"] = start_component(["worker"], stack.env, stack.log_dir / "worker0.log")
    assert stack.wait_for_samples(tenant.id, 300, timeout=30) == 300


def test_poison_batch_goes_to_failed_registry_with_its_reason(stack):
    connection = redis.Redis.from_url(stack.env["MICRODASH_REDIS_URL"])
    job = Queue("ingest", connection=connection).enqueue(INGEST_JOB, b"{not a batch", job_id="poison-test-batch")
    deadline = time.monotonic() + 20
    while job.get_status(refresh=True) != "failed":
        assert time.monotonic() < deadline, job.get_status()
        time.sleep(0.1)
    output = _microdash(stack, "jobs", "failed")
    assert "poison-test-batch" in output and "PoisonBatch: undecodable batch" in output
    import httpx
    metrics = httpx.get(stack.api_url + "/metrics").text
    poisoned = next(line for line in metrics.splitlines() if line.startswith("microdash_batches_poisoned_total"))
    assert float(poisoned.split()[-1]) >= 1
    assert job.retries_left in (None, 0)


def _microdash(stack, *args) -> str:
    import subprocess

    result = subprocess.run(["microdash", *args], env={**os.environ, **stack.env}, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_local_redis_acknowledges_only_fsynced_writes_and_never_evicts(stack):
    """`make run` and the tests run Redis as the chart does: a 202 means the batch is on disk."""
    connection = stack.redis_client()
    assert connection.config_get("appendfsync") == {"appendfsync": "always"}
    assert connection.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    assert int(connection.config_get("maxmemory")["maxmemory"]) > 0


def test_a_batch_rq_lost_track_of_is_stored_all_the_same(private_stack):
    """A worker on several queues takes a job with BLPOP before it records it as started: a Redis
    restart in between leaves the acknowledged batch in no queue and no registry. Here the BLPOP is
    done by hand and nothing records it; the worker's maintenance finds the batch and stores it."""
    stack = private_stack(workers=0, extra_env={"MICRODASH_INGEST_ORPHAN_AFTER_SECONDS": "2"})
    tenant, token = stack.new_tenant()
    with stack.client(token) as client:
        assert client.post("/api/v1/metrics/bulk", json=batch(30, recent_ms(-60_000))).status_code == 202
    connection = redis.Redis.from_url(stack.env["MICRODASH_REDIS_URL"])
    assert connection.blpop([Queue("ingest", connection=connection).key], timeout=5) is not None
    stack.processes["worker0"] = start_component(["worker"], stack.env, stack.log_dir / "worker0.log")
    assert stack.wait_for_samples(tenant.id, 30, timeout=60) == 30


# A worker whose BLPOP has just taken a job off the queue gets SIGTERM (as Kubernetes sends when it
# deletes the pod), before RQ records the job as started. The signal is sent from inside RQ's
# dequeue so that it lands in exactly that window, which under load is a few milliseconds per job.
SIGTERM_RIGHT_AFTER_DEQUEUE = """
import os, signal
from rq import Queue
from microdash_cli.main import app

dequeue_any = Queue.dequeue_any.__func__

def dequeue_then_sigterm(cls, *args, **kwargs):
    result = dequeue_any(cls, *args, **kwargs)
    if result is not None:
        os.kill(os.getpid(), signal.SIGTERM)
    return result

Queue.dequeue_any = classmethod(dequeue_then_sigterm)
app(["worker"])
"""


def test_a_worker_stopped_right_after_taking_a_batch_stores_it_first(private_stack):
    """RQ's warm shutdown raised StopRequested whenever the worker was not busy, also just after
    BLPOP had taken a batch: that batch was then in no queue and no registry, and only the orphan
    sweep found it minutes later (the cluster test's pod deletions under load lost MQTT samples
    for longer than it waits). A stop request now waits for the batch in hand to be stored."""
    stack = private_stack(workers=0)
    tenant, token = stack.new_tenant()
    with stack.client(token) as client:
        assert client.post("/api/v1/metrics/bulk", json=batch(30, recent_ms(-60_000))).status_code == 202
    log_path = stack.log_dir / "worker-sigterm.log"
    with open(log_path, "wb") as log:
        worker = subprocess.run([sys.executable, "-c", SIGTERM_RIGHT_AFTER_DEQUEUE], env={**os.environ, **stack.env},
                                stdout=log, stderr=subprocess.STDOUT, timeout=120)
    assert worker.returncode == 0, log_path.read_text()[-3000:]
    assert stack.count_samples(tenant.id) == 30, log_path.read_text()[-3000:]


def test_an_idle_worker_stops_on_sigterm(private_stack):
    """Stop requests are no longer raised into BLPOP (see above): an idle worker sees one after its
    current short wait, and exits cleanly instead of waiting for Kubernetes' SIGKILL."""
    stack = private_stack(workers=0)
    log_path = stack.log_dir / "worker-idle.log"
    worker = start_listening_worker(log_path, stack)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=20) == 0, log_path.read_text()[-3000:]


def test_workers_stopped_by_sigterm_under_steady_ingest_lose_nothing(private_stack):
    """What a rolling update or a pod deletion does: workers stopped one after the other while
    small batches keep coming. Before the fix a batch taken by BLPOP just before the stop request
    was left in no queue or registry for minutes, in about one stop of two."""
    stack = private_stack(workers=0)
    tenant, token = stack.new_tenant()
    accepted: list[int] = []
    stopping = threading.Event()
    base_ts = recent_ms(-60_000)

    def steady_ingest() -> None:
        with stack.client(token) as client:
            while not stopping.is_set():
                sample = {"metric": "steady", "value": 1.0, "ts": base_ts + len(accepted)}
                assert client.post("/api/v1/metrics/bulk", json=[sample]).status_code == 202
                accepted.append(sample["ts"])
                time.sleep(0.02)

    load = threading.Thread(target=steady_ingest, daemon=True)
    load.start()
    for generation in range(6):
        log_path = stack.log_dir / f"worker-{generation}.log"
        worker = start_listening_worker(log_path, stack)
        time.sleep(2)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, log_path.read_text()[-3000:]
    stack.processes["worker0"] = start_component(["worker"], stack.env, stack.log_dir / "worker-last.log")
    stopping.set()
    load.join(timeout=30)
    assert stack.wait_for_samples(tenant.id, len(accepted), timeout=30) == len(accepted)


def start_listening_worker(log_path, stack) -> subprocess.Popen:
    """A worker process, returned once it waits for jobs (state "idle", written after RQ installed
    its signal handlers; its "Listening on" log line comes before them, and a SIGTERM sent then
    killed the worker under load)."""
    worker = start_component(["worker"], stack.env, log_path)
    connection = redis.Redis.from_url(stack.env["MICRODASH_REDIS_URL"])
    deadline = time.monotonic() + 60
    while not any(connection.hget(key, "state") == b"idle" and connection.hget(key, "pid") == str(worker.pid).encode()
                  for key in connection.scan_iter("rq:worker:*")):
        assert time.monotonic() < deadline and worker.poll() is None, log_path.read_text()[-3000:]
        time.sleep(0.1)
    return worker
