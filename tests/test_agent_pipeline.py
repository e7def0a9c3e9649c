"""End to end: the real node agent → Mosquitto → bridge → worker → MariaDB → SSE."""

import os
import subprocess
import time

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
