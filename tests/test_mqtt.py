"""MQTT ingest: per-tenant broker credentials and ACLs, and the bridge, against a real Mosquitto."""

import json
import time

import httpx
import redis

from support import recent_ms
from microdash_core import dead_letters, keys
from microdash_core.tenant_service import TenantService
from mqtt_client import TestClient


def device(stack, credentials, client_id=""):
    client = TestClient(stack.services.ports["mosquitto"], credentials.mqtt_username, credentials.mqtt_password,
                        client_id=client_id)
    assert client.connect(), client.connect_reason
    return client


def test_device_samples_reach_the_database_through_the_bridge(stack):
    tenant_id, credentials = stack.new_mqtt_tenant()
    client = device(stack, credentials)
    ts = recent_ms(-1000)
    try:
        client.publish(credentials.topic_prefix + "sensors/a", json.dumps(
            {"metric": "temp", "value": 21.5, "ts": ts, "labels": {"room": "a"}}).encode())
        client.publish(credentials.topic_prefix + "sensors/b", json.dumps(
            [{"metric": "temp", "value": float(i), "ts": ts + i, "labels": {"room": "b"}} for i in range(1, 4)]).encode())
    finally:
        client.close()
    assert stack.wait_for_samples(tenant_id, 4) == 4
    with stack.client(credentials.token) as http:
        series = http.get("/api/v1/series", params={"metric": "temp"}).json()["series"]
    assert sorted(s["labels"]["room"] for s in series) == ["a", "b"]


def test_bad_payloads_are_dead_lettered_without_blocking_good_ones(stack):
    tenant_id, credentials = stack.new_mqtt_tenant()
    connection = redis.Redis.from_url(stack.env["MICRODASH_REDIS_URL"])
    client = device(stack, credentials)
    try:
        for payload in (b"{not json", b'{"metric": "bad name", "value": 1}', b'{"metric": "ok", "value": "NaN"}',
                        b"x" * (1024 * 1024 + 1), b'{"metric": "good", "value": 1}'):
            client.publish(credentials.topic_prefix + "d", payload)
    finally:
        client.close()
    assert stack.wait_for_samples(tenant_id, 1) == 1
    deadline = time.monotonic() + 10
    while True:
        mine = dead_letters.latest(connection, tenant_id)  # the tenant's own list
        assert all(letter["tenant"] == credentials.tenant for letter in mine)
        if len(mine) == 4 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    reasons = [letter["reason"] for letter in mine]
    assert len(mine) == 4, reasons
    assert any("malformed JSON" in r for r in reasons) and any("larger than" in r for r in reasons)
    assert any("metric" in r for r in reasons) and any("value" in r for r in reasons)
    metrics = httpx.get(stack.api_url + "/metrics").text
    assert "microdash_bridge_messages_rejected_total" in metrics


def test_a_device_cannot_publish_into_another_tenants_prefix(stack):
    tenant_a, creds_a = stack.new_mqtt_tenant("a")
    tenant_b, creds_b = stack.new_mqtt_tenant("b")
    client = device(stack, creds_a)
    try:
        client.publish(creds_b.topic_prefix + "spoof", b'{"metric": "spoofed", "value": 1}')
        client.publish("microdash", b'{"metric": "spoofed", "value": 1}')
        client.publish(creds_a.topic_prefix + "own", b'{"metric": "own", "value": 1}')
    finally:
        client.close()
    # The broker drops the spoofed publish (MQTT 3.1.1 still acknowledges it): it must never arrive.
    assert stack.wait_for_samples(tenant_a, 1) == 1
    time.sleep(1)
    assert stack.count_samples(tenant_b) == 0
    assert stack.sql("SELECT metric FROM series WHERE tenant_id IN (%s, %s)", (tenant_a, tenant_b)) == [("own",)]


def test_a_device_cannot_subscribe_to_any_tenant_topics(stack):
    _, creds_a = stack.new_mqtt_tenant("a")
    _, creds_b = stack.new_mqtt_tenant("b")
    client = device(stack, creds_a)
    try:
        for topic in (creds_b.topic_prefix + "#", creds_a.topic_prefix + "#", "#", "$share/microdash-bridge/microdash/+/#"):
            granted = client.subscribe(topic)
            assert granted[0].is_failure, topic
    finally:
        client.close()


def test_wrong_password_and_unknown_user_are_refused(stack):
    _, credentials = stack.new_mqtt_tenant()
    port = stack.services.ports["mosquitto"]
    assert not TestClient(port, credentials.mqtt_username, "wrong").connect()
    assert not TestClient(port, "nobody", credentials.mqtt_password).connect()
    assert not TestClient(port, "", "").connect()


def test_rotation_refuses_the_old_secret_and_cuts_live_connections(stack):
    _, credentials = stack.new_mqtt_tenant()
    live = device(stack, credentials)
    rotated = TenantService(stack.settings).rotate_token(credentials.tenant)
    assert rotated.broker_error is None
    assert live.disconnected.wait(5), "the old token's connection was not cut"
    live.close()
    port = stack.services.ports["mosquitto"]
    assert not TestClient(port, credentials.mqtt_username, credentials.mqtt_password).connect()
    fresh = device(stack, rotated)
    fresh.close()


def test_deleting_a_tenant_removes_its_broker_clients(stack):
    _, credentials = stack.new_mqtt_tenant()
    live = device(stack, credentials)
    TenantService(stack.settings).delete(credentials.tenant)
    assert live.disconnected.wait(5)
    live.close()
    assert not TestClient(stack.services.ports["mosquitto"], credentials.mqtt_username,
                          credentials.mqtt_password).connect()


def test_broker_sync_repairs_drift(stack):
    from microdash_core.broker import BrokerAdmin

    _, credentials = stack.new_mqtt_tenant()
    with BrokerAdmin(stack.settings) as broker:
        broker.remove_token_client(credentials.mqtt_username)  # deleted behind our back
    port = stack.services.ports["mosquitto"]
    assert not TestClient(port, credentials.mqtt_username, credentials.mqtt_password).connect()
    report = TenantService(stack.settings).sync_broker()
    assert report.clients >= 1
    device(stack, credentials).close()


def test_tenants_with_mqtt_disabled_get_no_broker_clients(stack):
    """`mqtt.enabled: false` on a Tenant resource: neither `broker sync` (run by every bridge start)
    nor a token made in the dashboard gives the tenant an MQTT identity back."""
    tenant_id, credentials = stack.new_mqtt_tenant()
    stack.sql("UPDATE tenants SET mqtt_enabled = 0 WHERE id = %s", (tenant_id,))
    service = TenantService(stack.settings)
    service.sync_broker()
    port = stack.services.ports["mosquitto"]
    assert not TestClient(port, credentials.mqtt_username, credentials.mqtt_password).connect()

    token, broker_error = service.issue_token(tenant_id, token_name="dashboard")
    second = service.credentials(credentials.tenant, token)
    assert broker_error is None
    assert not TestClient(port, second.mqtt_username, second.mqtt_password).connect()


def test_every_sample_arrives_once_across_broker_and_bridge_restarts(private_stack):
    import os
    import signal
    import threading

    from microdash_cli.localstack import start_component

    stack = private_stack(mqtt=True)
    tenant_id, credentials = stack.new_mqtt_tenant()
    publisher = TestClient(stack.services.ports["mosquitto"], credentials.mqtt_username, credentials.mqtt_password,
                           client_id="restart-test-device")
    assert publisher.connect()
    total, ts = 3000, recent_ms(-120_000)

    def publish_all():
        for i in range(total):
            payload = json.dumps({"metric": "restart.seq", "value": float(i), "ts": ts + i}).encode()
            publisher.client.publish(credentials.topic_prefix + "dev", payload, qos=1)
            time.sleep(0.002)

    sender = threading.Thread(target=publish_all)
    sender.start()
    try:
        time.sleep(1.5)
        stack.services.restart_service("mosquitto")  # SIGTERM: the broker persists sessions and queues
        time.sleep(1.5)
        bridge = stack.processes.pop("bridge")
        os.kill(bridge.pid, signal.SIGKILL)  # its unacknowledged messages stay with the broker
        bridge.wait()
        time.sleep(0.5)  # messages keep arriving for the offline bridge session
        stack.processes["bridge"] = start_component(["bridge"], stack.env, stack.log_dir / "bridge2.log")
        sender.join(timeout=60)
        stored = stack.wait_for_samples(tenant_id, total, timeout=90)
        if stored != total:
            present = {int(value) for _series, _ts, value in stack.stored_samples(tenant_id)}
            missing = sorted(set(range(total)) - present)
            raise AssertionError(f"{len(missing)} missing, from {missing[:3]} to {missing[-3:]}")
        time.sleep(1)
        assert stack.count_samples(tenant_id) == total
        values = [value for _series, _ts, value in stack.stored_samples(tenant_id)]
        distinct_ts = {ts for _series, ts, _value in stack.stored_samples(tenant_id)}
        assert (min(values), max(values), len(distinct_ts)) == (0.0, float(total - 1), total)
        counters = redis.Redis.from_url(stack.env["MICRODASH_REDIS_URL"]).hgetall(keys.TELEMETRY_COUNTERS)
        assert int(counters[b"bridge_reconnects"]) >= 1
    finally:
        publisher.close()
