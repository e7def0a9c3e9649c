"""Above the ingest queue's high-water mark, HTTP ingest answers 503 with Retry-After and the MQTT
bridge holds messages unacknowledged; nothing is dropped, and /metrics shows the backlog."""

import json
import time

import asyncio

import httpx
import redis
import redis.asyncio

from support import recent_ms
from microdash_api.backpressure import Backpressure
from microdash_cli.localstack import start_component
from microdash_core.queues import Backlog
from mqtt_client import TestClient


def metric(stack, name: str) -> float:
    text = httpx.get(stack.api_url + "/metrics").text
    return float(next(line for line in text.splitlines() if line.startswith(name + " ")).split()[-1])


def test_http_ingest_above_the_high_water_mark_gets_503_with_retry_after(private_stack):
    stack = private_stack(workers=0, extra_env={"MICRODASH_INGEST_QUEUE_HIGH_WATER": "3"})
    tenant, token = stack.new_tenant()
    with stack.client(token) as client:
        for n in range(3):
            response = client.post("/api/v1/metrics", json={"metric": "bp", "value": 1.0, "labels": {"n": str(n)}})
            assert response.status_code == 202, response.text
        time.sleep(1)  # the api re-reads the backlog every half second
        refused = client.post("/api/v1/metrics", json={"metric": "bp", "value": 1.0, "labels": {"n": "3"}})
        assert refused.status_code == 503, refused.text
        assert int(refused.headers["Retry-After"]) > 0
        assert "behind" in refused.json()["detail"]
        assert metric(stack, "microdash_queue_depth") == 3
        assert metric(stack, "microdash_queue_oldest_batch_age_seconds") >= 1
        assert metric(stack, 'microdash_ingest_rejected_samples_total{reason="backpressure"}') == 1

        stack.processes["worker0"] = start_component(["worker"], stack.env, stack.log_dir / "worker0.log")
        assert stack.wait_for_samples(tenant.id, 3) == 3
        time.sleep(1)
        assert client.post("/api/v1/metrics", json={"metric": "bp", "value": 1.0}).status_code == 202
    assert stack.wait_for_samples(tenant.id, 4) == 4
    assert metric(stack, "microdash_queue_depth") == 0
    assert metric(stack, "microdash_queue_oldest_batch_age_seconds") == 0


def test_http_ingest_gets_503_before_redis_is_full(private_stack):
    """With noeviction a full Redis would refuse the workers' writes too, so ingest stops first."""
    stack = private_stack()
    _, token = stack.new_tenant()
    connection = stack.redis_client()
    with stack.client(token) as client:
        assert client.post("/api/v1/metrics", json={"metric": "bp", "value": 1.0}).status_code == 202
        connection.config_set("maxmemory", int(connection.info("memory")["used_memory"] * 1.1))
        time.sleep(1)
        refused = client.post("/api/v1/metrics", json={"metric": "bp", "value": 1.0})
        assert refused.status_code == 503 and "full" in refused.json()["detail"], refused.text
        assert refused.headers["Retry-After"]
        connection.config_set("maxmemory", "1gb")
        time.sleep(1)
        assert client.post("/api/v1/metrics", json={"metric": "bp", "value": 1.0}).status_code == 202


def test_the_bridge_holds_messages_unacknowledged_above_the_high_water_mark(private_stack):
    stack = private_stack(workers=0, mqtt=True, extra_env={"MICRODASH_INGEST_QUEUE_HIGH_WATER": "2"})
    tenant_id, credentials = stack.new_mqtt_tenant()
    device = TestClient(stack.services.ports["mosquitto"], credentials.mqtt_username, credentials.mqtt_password)
    assert device.connect(), device.connect_reason
    connection = stack.redis_client()
    try:
        for n in range(6):  # one batch each: the bridge coalesces for 20 ms only
            device.publish(credentials.topic_prefix + "s", json.dumps(
                {"metric": "held", "value": float(n), "ts": recent_ms(-1000) + n}).encode())
            time.sleep(0.3)
        time.sleep(1)
        assert Backlog.read(connection, stack.settings).waiting == 2  # the rest stays with the broker
        stack.processes["worker0"] = start_component(["worker"], stack.env, stack.log_dir / "worker0.log")
        assert stack.wait_for_samples(tenant_id, 6, timeout=60) == 6
    finally:
        device.close()


def test_concurrent_requests_share_one_backlog_read_and_a_failed_read_fails_them_all(stack):
    async def eight_at_once(url: str):
        name = "bp-shared-read"
        client = redis.asyncio.Redis.from_url(url, client_name=name, socket_connect_timeout=0.5)
        backpressure = Backpressure(client, stack.settings)
        try:
            answers = await asyncio.gather(*(backpressure.behind() for _ in range(8)), return_exceptions=True)
            if isinstance(answers[0], Exception):
                return answers, None
            # a read of each request's own would have taken a connection of its own from the pool
            async with redis.asyncio.Redis.from_url(url) as other:
                return answers, sum(1 for c in await other.client_list() if c["name"] == name)
        finally:
            await client.aclose()

    answers, connections = asyncio.run(eight_at_once(stack.env["MICRODASH_REDIS_URL"]))
    assert answers == [None] * 8 and connections == 1

    answers, _ = asyncio.run(eight_at_once("redis://127.0.0.1:1/0"))
    assert len(answers) == 8 and all(isinstance(answer, redis.exceptions.ConnectionError) for answer in answers)
