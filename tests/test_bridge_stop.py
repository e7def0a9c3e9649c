"""The bridge's graceful stop (SIGTERM, as Kubernetes and `make run` stop it), with a real Mosquitto,
Redis, worker and the real `microdash bridge` process: it enqueues and acknowledges what it holds,
disconnects and exits 0; what it did not take, or could not enqueue in time, stays with the broker
and is delivered to the next bridge. Storage is idempotent, so a redelivery never duplicates."""

import json
import signal
import threading
import time

import redis

from microdash_cli.localstack import start_component
from microdash_core import keys
from mqtt_client import TestClient
from support import Stack, recent_ms

# Batches wait this long, so a SIGTERM a moment after publishing starts finds the bridge holding messages.
HOLD_MS = "4000"


def test_sigterm_mid_stream_enqueues_what_the_bridge_holds_and_loses_nothing(private_stack):
    stack = private_stack(mqtt=True, extra_env={"MICRODASH_BRIDGE_BATCH_MAX_WAIT_MS": HOLD_MS})
    tenant_id, credentials = stack.new_mqtt_tenant()
    wait_for_log(stack, "bridge.log", "bridge subscribed")
    total = 2000
    with Device(stack, credentials, total) as device:
        time.sleep(1.0)
        bridge = stack.processes.pop("bridge")
        bridge.send_signal(signal.SIGTERM)
        assert bridge.wait(timeout=30) == 0, (stack.log_dir / "bridge.log").read_text()[-3000:]
        # What the stopping bridge acknowledged it had enqueued first: it is stored with no bridge running.
        acknowledged = received_counter(stack)
        assert 0 < acknowledged < total, acknowledged
        assert stack.wait_for_samples(tenant_id, acknowledged, timeout=30) >= acknowledged
        stack.processes["bridge"] = start_component(["bridge"], stack.env, stack.log_dir / "bridge2.log")
        device.join()
    assert_every_sample_stored_once(stack, tenant_id, total)
    # The acknowledgements reached the broker before the disconnect: nothing the first bridge
    # enqueued was delivered again, so the two bridges together took each message once.
    assert wait_for_value(lambda: received_counter(stack), total) == total
    log = (stack.log_dir / "bridge.log").read_text()
    assert "bridge stopped" in log and "timed out" not in log


def test_sigterm_while_redis_is_away_exits_within_the_stop_timeout_and_loses_nothing(private_stack):
    stack = private_stack(mqtt=True, extra_env={"MICRODASH_BRIDGE_STOP_TIMEOUT_SECONDS": "2"})
    tenant_id, credentials = stack.new_mqtt_tenant()
    wait_for_log(stack, "bridge.log", "bridge subscribed")
    stack.services.stop_service("redis")
    total = 200
    with Device(stack, credentials, total) as device:
        device.join()
        wait_for_log(stack, "bridge.log", "holding the message")  # its limit check waits for Redis
        bridge = stack.processes.pop("bridge")
        started = time.monotonic()
        bridge.send_signal(signal.SIGTERM)
        assert bridge.wait(timeout=30) == 0, (stack.log_dir / "bridge.log").read_text()[-3000:]
        stopped_after = time.monotonic() - started
    assert "bridge stop timed out" in (stack.log_dir / "bridge.log").read_text()
    print(f"bridge stopped {stopped_after:.1f} s after SIGTERM (stop timeout 2 s)")
    stack.services.restart_service("redis")
    stack.processes["bridge"] = start_component(["bridge"], stack.env, stack.log_dir / "bridge2.log")
    assert_every_sample_stored_once(stack, tenant_id, total)


class Device(threading.Thread):
    """Publishes samples 0..total-1 (value = sequence, ts = base + sequence) at QoS 1, in the background."""

    def __init__(self, stack: Stack, credentials, total: int):
        super().__init__(daemon=True)
        self.total, self.topic, self.base_ts = total, credentials.topic_prefix + "dev", recent_ms(-120_000)
        self.client = TestClient(stack.services.ports["mosquitto"], credentials.mqtt_username,
                                 credentials.mqtt_password, client_id=f"stop-test-{credentials.tenant}")

    def __enter__(self) -> "Device":
        assert self.client.connect()
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.join(timeout=60)
        self.client.close()

    def run(self) -> None:
        published = []
        for sequence in range(self.total):
            payload = json.dumps({"metric": "stop.seq", "value": float(sequence), "ts": self.base_ts + sequence})
            published.append(self.client.client.publish(self.topic, payload.encode(), qos=1))
            time.sleep(0.002)
        # paho holds what exceeds its in-flight window until PUBACKs come: closing before they all
        # came would drop the last messages unsent (seen on a busy machine), not a bridge's doing.
        for info in published:
            info.wait_for_publish(60)


def assert_every_sample_stored_once(stack: Stack, tenant_id: int, total: int) -> None:
    stored = stack.wait_for_samples(tenant_id, total, timeout=90)
    values = sorted(int(value) for _series, _ts, value in stack.stored_samples(tenant_id))
    missing = sorted(set(range(total)) - set(values))
    assert not missing, f"{len(missing)} of {total} missing, from {missing[:3]} to {missing[-3:]}"
    time.sleep(1)  # a late duplicate would land now
    assert stack.count_samples(tenant_id) == stored == total
    assert values == list(range(total))


def received_counter(stack: Stack) -> int:
    counters = redis.Redis.from_url(stack.env["MICRODASH_REDIS_URL"]).hgetall(keys.TELEMETRY_COUNTERS)
    return int(counters.get(b"bridge_messages_received", 0))


def wait_for_value(read, expected: int, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    value = read()
    while value < expected and time.monotonic() < deadline:
        time.sleep(0.1)
        value = read()
    time.sleep(1)  # and nothing more arrives
    return read()


def wait_for_log(stack: Stack, name: str, text: str, timeout: float = 30) -> None:
    path = stack.log_dir / name
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in {name} within {timeout} s")
