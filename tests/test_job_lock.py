"""One run at a time for the backlog jobs (workers.job_lock): a short lease on a Redis lock that the
run renews while it works, so a killed run frees it within one lease."""

import os
import signal
import subprocess
import sys
import threading
import time
import uuid

from microdash_workers.job_lock import run_alone

KILLED_RUN = """
import sys, time, redis
from microdash_workers.job_lock import run_alone
connection = redis.Redis.from_url(sys.argv[1])
run_alone(connection, sys.argv[2], what="test", lease_seconds=1.0, run=lambda: time.sleep(60) or 1)
"""


def test_a_run_longer_than_its_lease_keeps_the_lock_and_frees_it_at_the_end(stack):
    connection, key = stack.redis_client(), f"test:job-lock:{uuid.uuid4().hex}"
    started, second = threading.Event(), []

    def long_run() -> int:
        started.set()
        time.sleep(1.5)  # three leases of 0.5 s: held only if renewed
        return 7

    first = threading.Thread(target=lambda: second.append(
        run_alone(connection, key, what="test", lease_seconds=0.5, run=long_run)))
    first.start()
    assert started.wait(5)
    time.sleep(1.0)
    assert run_alone(connection, key, what="test", lease_seconds=0.5, run=lambda: 1 / 0) == 0  # skipped, not run
    first.join()
    assert second == [7] and connection.exists(key) == 0


def test_a_killed_run_frees_the_lock_within_one_lease(stack):
    connection, key = stack.redis_client(), f"test:job-lock:{uuid.uuid4().hex}"
    process = subprocess.Popen([sys.executable, "-c", KILLED_RUN, stack.env["MICRODASH_REDIS_URL"], key],
                               env={**os.environ, **stack.env})
    try:
        deadline = time.monotonic() + 30
        while not connection.exists(key):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        time.sleep(1.5)  # past its first lease: renewed
        assert connection.exists(key) == 1
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    killed_at = time.monotonic()
    while connection.exists(key):
        assert time.monotonic() - killed_at < 1.5, "the lock outlived a lease"
        time.sleep(0.05)
    assert run_alone(connection, key, what="test", run=lambda: 3) == 3
