"""End to end: the real node agent → Mosquitto → bridge → worker → MariaDB → SSE."""

import os
import subprocess
import time
from collections import Counter

from sse_reader import StreamReader


def test_agent_samples_arrive_on_the_live_stream_and_in_the_database(stack, tmp_path):
    tenant_id, credentials = stack.new_mqtt_tenant("agent")
    reader = StreamReader(stack, credentials.token, params={"metric": "system.uptime_seconds"})
    env = {**os.environ, "MICRODASH_AGENT_MQTT_PASSWORD": credentials.mqtt_password}
    with open(tmp_path / "agent.log", "wb") as log:
        agent = subprocess.Popen(
            ["microdash-agent", "--tenant", credentials.tenant, "--mqtt-url", stack.env["MICRODASH_MQTT_URL"],
             "--mqtt-username", credentials.mqtt_username, "--host", "e2e-node", "--interval", "1", "--no-jitter"],
            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        points = reader.wait_for(2, timeout=30)
        assert len(points) >= 2, (tmp_path / "agent.log").read_text()[-2000:]
        assert all(p["labels"]["host"] == "e2e-node" and p["value"] > 0 for p in points)
        assert points[1]["value"] >= points[0]["value"]
    finally:
        agent.terminate()
        agent.wait(timeout=15)
        reader.close()
    metrics = {metric for (metric,) in stack.sql("SELECT DISTINCT metric FROM series WHERE tenant_id = %s",
                                                 (tenant_id,))}
    assert {"system.uptime_seconds", "system.load1"} <= metrics, metrics
    assert any(metric.startswith("cpu.") for metric in metrics) and any(metric.startswith("mem") for metric in metrics)


def test_agent_cycles_all_arrive_across_broker_and_bridge_restarts(private_stack, tmp_path):
    """Every sample the real agent had acknowledged arrives exactly once while Mosquitto restarts
    and the bridge is killed. The agent reports how many samples the broker acknowledged so far
    (agent.sent_samples_total); at a cycle with nothing buffered, that must equal what is stored
    from the cycles before it."""
    import signal

    from microdash_cli.localstack import start_component

    stack = private_stack(mqtt=True)
    tenant_id, credentials = stack.new_mqtt_tenant("agent")
    env = {**os.environ, "MICRODASH_AGENT_MQTT_PASSWORD": credentials.mqtt_password}
    interval_ms = 500
    with open(tmp_path / "agent.log", "wb") as log:
        agent = subprocess.Popen(
            ["microdash-agent", "--tenant", credentials.tenant, "--mqtt-url", stack.env["MICRODASH_MQTT_URL"],
             "--mqtt-username", credentials.mqtt_username, "--host", "restart-node",
             "--interval", str(interval_ms / 1000), "--no-jitter"],
            env=env, stdout=log, stderr=subprocess.STDOUT)

    def uptime_stamps() -> list[int]:
        return sorted(ts for metric, _labels, ts, _value in stack.stored_samples_of_series(tenant_id)
                      if metric == "system.uptime_seconds")

    def stored_cycles() -> int:
        return len(uptime_stamps())

    def wait_for_cycles(count: int) -> None:
        # Paced by what arrives, not by the clock: on a loaded machine the agent starts slowly.
        deadline = time.monotonic() + 120
        while stored_cycles() < count and time.monotonic() < deadline:
            time.sleep(0.25)

    try:
        wait_for_cycles(4)
        stack.services.restart_service("mosquitto")
        time.sleep(3)
        bridge = stack.processes.pop("bridge")
        os.kill(bridge.pid, signal.SIGKILL)
        bridge.wait()
        time.sleep(1)
        stack.processes["bridge"] = start_component(["bridge"], stack.env, stack.log_dir / "bridge2.log")
        wait_for_cycles(max(stored_cycles() + 6, 16))  # enough cycles after the restarts, however slow the machine
    finally:
        agent.send_signal(signal.SIGTERM)  # flushes what it still holds
        agent.wait(timeout=30)
    log_tail = (tmp_path / "agent.log").read_text()[-2000:]
    deadline = time.monotonic() + 30
    cycles = []
    while time.monotonic() < deadline:
        time.sleep(1)
        latest = uptime_stamps()
        if latest and latest == cycles:
            break  # nothing new arrived for a second: the pipeline has drained
        cycles = latest
    assert len(cycles) >= 15, log_tail
    stored = stack.stored_samples_of_series(tenant_id)
    own = {}
    for metric, _labels, ts, value in stored:
        if metric in ("agent.sent_samples_total", "agent.buffered_samples", "agent.dropped_samples_total"):
            own.setdefault(ts, {})[metric] = value
    settled = max(ts for ts, values in own.items() if values.get("agent.buffered_samples") == 0.0)
    stored_before = sum(1 for _metric, _labels, ts, _value in stored if ts < settled)
    assert stored_before == own[settled]["agent.sent_samples_total"], log_tail
    assert own[settled]["agent.dropped_samples_total"] == 0.0
    assert settled > cycles[len(cycles) // 2]  # the check covers the restarts
    # Disks and interfaces come and go with the host (a test cluster's pods add mounts and veths
    # while this runs), so cycles are compared on the series that do not name one.
    cycle_stamps = set(cycles)
    per_cycle = Counter(ts for _metric, labels, ts, _value in stored
                        if '"device"' not in labels and ts in cycle_stamps).items()
    # Every cycle whole; the first has no rates yet (they need two readings), so it is smaller.
    sizes = {count for _ts, count in sorted(per_cycle)[1:]}
    assert len(per_cycle) == len(cycles) and max(sizes) - min(sizes) <= 2, sizes
