"""The MQTT transport against a real Mosquitto: topic and payload, outage buffering and replay."""

import json
import math
import os
import signal
import subprocess
import time

import pytest
from agent_mqtt_subscriber import Subscriber
from agent_sample_rules import assert_valid_samples
from conftest import AGENT_COMMAND, Broker, free_port, wait_until

from microdash_agent.agent import Agent
from microdash_agent.buffer import SampleBuffer
from microdash_agent.collectors import Point
from microdash_agent.runner import CollectorRunner
from microdash_agent.shipper import MAX_BATCH_SAMPLES, Shipper
from microdash_agent.spool import Spool
from microdash_agent.transport import Outcome
from microdash_agent.transport.mqtt import MqttTransport, agent_topic, parse_mqtt_url

OWN_SAMPLES_PER_CYCLE = 2 + 4  # collector success and duration, plus the agent's own four


class Counting:
    """A collector whose samples are numbered, so order and duplicates show."""

    def __init__(self, per_cycle: int):
        self.per_cycle = per_cycle
        self.next = 0

    def collect(self) -> list[Point]:
        first, self.next = self.next, self.next + self.per_cycle
        return [Point("test.sequence", float(n), {}) for n in range(first, self.next)]


def make_agent(url: str, *, per_cycle: int = 5, capacity: int = 100_000, spool: Spool | None = None) -> Agent:
    transport = MqttTransport(url=url, tenant="acme", host="node-1", timeout=2.0, reconnect_pause=(0.0, 0.0))
    return Agent(runner=CollectorRunner({"counting": Counting(per_cycle)}),
                 shipper=Shipper(SampleBuffer(capacity, spool), transport), host="node-1", interval=1.0)


def sequence(samples: list[dict]) -> list[int]:
    return [int(sample["value"]) for sample in samples if sample["metric"] == "test.sequence"]


@pytest.fixture
def subscriber(broker):
    subscriber = Subscriber(broker.port)
    yield subscriber
    subscriber.close()


def test_mqtt_urls():
    assert parse_mqtt_url("mqtt://broker.local").port == 1883
    assert parse_mqtt_url("mqtts://broker.local").tls and parse_mqtt_url("mqtts://b").port == 8883
    assert parse_mqtt_url("mqtt://10.0.0.1:11883").port == 11883
    with pytest.raises(ValueError):
        parse_mqtt_url("http://broker")


def test_the_topic_follows_the_tenants_prefix():
    assert agent_topic("acme", "node-1") == "microdash/acme/agent/node-1"
    assert agent_topic("acme", "node-1", "metrics/acme/") == "metrics/acme/agent/node-1"


def test_cycles_are_published_as_json_arrays_to_the_agent_topic(broker, subscriber):
    agent = make_agent(broker.url)
    agent.cycle()
    agent.cycle()
    samples = subscriber.wait_for_samples(2 * (5 + OWN_SAMPLES_PER_CYCLE))
    assert {topic for topic, _ in subscriber.messages} == {"microdash/acme/agent/node-1"}
    assert len(subscriber.messages) == 2
    for _, batch in subscriber.messages:
        assert_valid_samples(batch)
    assert sequence(samples) == list(range(10))
    assert {sample["labels"]["host"] for sample in samples} == {"node-1"}
    assert len(agent.buffer) == 0 and agent.shipper.sent_total == len(samples)
    agent.shutdown()


def test_an_outage_is_buffered_and_replayed_exactly_once_in_order(broker, subscriber):
    agent = make_agent(broker.url, per_cycle=700)
    agent.cycle()
    subscriber.wait_for_samples(700)
    broker.stop()
    backlog = []
    for _ in range(4):
        time.sleep(0.002)  # a real agent's cycles are seconds apart; two in one millisecond give identical own samples
        agent.cycle()
        backlog.append(len(agent.buffer))
    cycle_size = 700 + OWN_SAMPLES_PER_CYCLE
    assert backlog == [cycle_size, 2 * cycle_size, 3 * cycle_size, 4 * cycle_size]

    broker.start()
    replay = Subscriber(broker.port)
    try:
        assert agent.shipper.ship() is True
        samples = replay.wait_for_samples(4 * cycle_size)
        assert sequence(samples) == list(range(700, 5 * 700))
        assert [len(batch) for _, batch in replay.messages] == [1000, 1000, 824]
        assert len({json.dumps(sample, sort_keys=True) for sample in samples}) == len(samples)
        buffered = [s["value"] for s in samples if s["metric"] == "agent.buffered_samples"]
        assert buffered == [0.0, cycle_size, 2 * cycle_size, 3 * cycle_size]
    finally:
        replay.close()
    assert sequence(subscriber.samples()) == list(range(700)), "the first subscriber saw only the first cycle"
    agent.shutdown()


def test_a_full_buffer_drops_the_oldest_and_counts_them(broker):
    agent = make_agent(broker.url, per_cycle=400, capacity=1000)
    broker.stop()
    for _ in range(3):
        agent.cycle()
    assert len(agent.buffer) == 1000 and agent.buffer.dropped_total == 3 * 406 - 1000
    broker.start()
    replay = Subscriber(broker.port)
    try:
        agent.cycle()  # its 406 samples push out 406 more of the oldest before anything is sent
        samples = replay.wait_for_samples(1000)
        numbers = sequence(samples)
        assert len(samples) == 1000 and numbers == list(range(numbers[0], 1600))
        reported = [s["value"] for s in samples if s["metric"] == "agent.dropped_samples_total"]
        assert reported == [0.0, 0.0, 3 * 406 - 1000], "each cycle reports the drops before it"
        assert agent.buffer.dropped_total == 4 * 406 - 1000
    finally:
        replay.close()
    agent.shutdown()


def test_an_unreachable_broker_means_retry_not_loss():
    transport = MqttTransport(url=f"mqtt://127.0.0.1:{free_port()}", tenant="t", host="h", timeout=1.0)
    assert transport.deliver(b"[]") is Outcome.RETRY
    transport.close()


def test_batches_never_exceed_the_limit(broker, subscriber):
    agent = make_agent(broker.url, per_cycle=2 * MAX_BATCH_SAMPLES + 10)
    agent.cycle()
    subscriber.wait_for_samples(2 * MAX_BATCH_SAMPLES + 10)
    assert max(len(batch) for _, batch in subscriber.messages) == MAX_BATCH_SAMPLES
    assert math.ceil((2 * MAX_BATCH_SAMPLES + 10 + OWN_SAMPLES_PER_CYCLE) / MAX_BATCH_SAMPLES) == 3
    assert len(subscriber.messages) == 3
    agent.shutdown()


def spooled_samples(directory) -> list[dict]:
    return [json.loads(line) for segment in sorted(directory.glob("segment-*.jsonl"))
            for line in segment.read_text().splitlines()]


def start_agent(broker: Broker, spool_dir) -> subprocess.Popen:
    argv = [AGENT_COMMAND, "--mqtt-url", broker.url, "--tenant", "acme", "--host", "node-9", "--interval", "0.2",
            "--no-jitter", "--spool-dir", str(spool_dir), "--collectors", "loadavg,uptime", "--timeout", "2"]
    return subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def stop_agent(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr
    return stderr


def test_the_spool_survives_an_agent_restart(tmp_path):
    broker = Broker(tmp_path)  # not started: the first agent finds no broker
    spool_dir = tmp_path / "spool"
    first = start_agent(broker, spool_dir)
    try:
        wait_until(lambda: len(spooled_samples(spool_dir)) >= 3 * 12, timeout=15)
    finally:
        stderr = stop_agent(first)
    assert "shutting down with" in stderr
    unsent = spooled_samples(spool_dir)

    broker.start()
    second = None
    try:
        subscriber = Subscriber(broker.port)
        second = start_agent(broker, spool_dir)
        received = subscriber.wait_for_samples(len(unsent) + 12, timeout=15)
        assert received[:len(unsent)] == unsent
        keys = [(s["metric"], s["ts"], tuple(sorted(s["labels"].items()))) for s in received]
        assert len(keys) == len(set(keys)), "no sample delivered twice"
        stop_agent(second)
        second = None
        assert Spool(spool_dir).load() == [], "everything was acknowledged before exit"
        subscriber.close()
    finally:
        if second is not None:
            second.kill()
        broker.stop()


def test_an_idle_connection_is_kept_alive(tmp_path):
    broker = Broker(tmp_path, extra_config=("log_type all",))
    broker.start()
    transport = MqttTransport(url=broker.url, tenant="t", host="h", timeout=2.0, keepalive=1,
                              reconnect_pause=(0.0, 0.0))
    try:
        assert transport.deliver(b"[]") is Outcome.DELIVERED
        connection = transport._connection
        # Idle for more than a keepalive: the network loop, not a publish, must ping the broker.
        wait_until(lambda: "Received PINGREQ" in broker.log.read_text(), timeout=3)
        assert not connection.lost
        assert transport.deliver(b"[]") is Outcome.DELIVERED and transport._connection is connection
    finally:
        transport.close()
        broker.stop()


def test_after_losing_the_broker_the_agent_pauses_before_reconnecting(broker):
    transport = MqttTransport(url=broker.url, tenant="t", host="h", timeout=2.0, reconnect_pause=(1.0, 1.0))
    try:
        assert transport.deliver(b"[]") is Outcome.DELIVERED
        broker.stop()
        assert transport.deliver(b"[]") is Outcome.RETRY  # the connection is lost
        broker.start()
        assert transport.deliver(b"[]") is Outcome.RETRY  # still pausing, the broker is not hammered
        time.sleep(1.1)
        assert transport.deliver(b"[]") is Outcome.DELIVERED
    finally:
        transport.close()
