"""Per-tenant ingest rate limits hold over any interval, for HTTP and MQTT alike (one GCRA in Redis)."""

import json
import time

from microdash_core import keys
from microdash_core.settings import Settings
from mqtt_client import TestClient
from support import recent_ms

RATE = 10
BURST = int(RATE * Settings().ingest_rate_burst_seconds)
SECONDS = 2.0
# HTTP requests of mixed sizes; under a per-second window, the first of each second passed whatever its size.
SIZES = (50, 1, 3, 2, 1, 5)


def samples(count: int, offset: int) -> list[dict]:
    ts = recent_ms()
    return [{"metric": "flood", "value": 1.0, "ts": ts, "labels": {"n": str(offset + i)}} for i in range(count)]


def test_http_ingest_over_two_seconds_stays_within_rate_and_burst(stack):
    tenant, token = stack.new_tenant(ingest_rate_limit=RATE)
    accepted = sent = 0
    statuses = set()
    with stack.client(token) as client:
        started = time.monotonic()
        while time.monotonic() - started < SECONDS:
            size = SIZES[sent % len(SIZES)]
            response = client.post("/api/v1/metrics/bulk", json=samples(size, sent))
            statuses.add(response.status_code)
            accepted += response.json()["accepted"] if response.status_code == 202 else 0
            sent += 1
        elapsed = time.monotonic() - started
    assert statuses == {202, 413, 429}, statuses  # 413: a request larger than the burst never passes
    assert RATE * SECONDS * 0.5 <= accepted <= RATE * elapsed + BURST + 1, (accepted, sent, elapsed)
    assert stack.wait_for_samples(tenant.id, accepted) == accepted


def test_a_refused_request_says_when_to_retry(stack):
    _, token = stack.new_tenant(ingest_rate_limit=RATE)
    with stack.client(token) as client:
        assert client.post("/api/v1/metrics/bulk", json=samples(BURST, 0)).status_code == 202
        refused = client.post("/api/v1/metrics/bulk", json=samples(BURST, BURST))
        too_big = client.post("/api/v1/metrics/bulk", json=samples(BURST + 1, 0))
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert too_big.status_code == 413 and f"burst of {BURST} samples" in too_big.json()["detail"]


def test_mqtt_ingest_over_two_seconds_stays_within_rate_and_burst_and_dead_letters_the_rest(stack):
    tenant_id, credentials = stack.new_mqtt_tenant(ingest_rate_limit=RATE)
    connection = stack.redis_client()
    counted_before = int(connection.hget(keys.TELEMETRY_COUNTERS, "bridge_messages_rate_limited") or 0)
    device = TestClient(stack.services.ports["mosquitto"], credentials.mqtt_username, credentials.mqtt_password)
    assert device.connect(), device.connect_reason
    sent = 0
    started_ms = recent_ms()
    try:
        started = time.monotonic()
        while time.monotonic() - started < SECONDS:
            device.publish(credentials.topic_prefix + "flood", json.dumps(samples(1, sent)).encode())
            sent += 1
    finally:
        device.close()
    mine = _dead_letters_until_settled(connection, tenant_id)
    stored = stack.count_samples(tenant_id)
    # The bridge may still be working through the backlog after the device stopped: its clock counts.
    elapsed = (max(letter["at"] for letter in mine) - started_ms) / 1000
    assert sent > RATE * elapsed + BURST, "the device did not send fast enough to test anything"
    assert RATE * SECONDS * 0.5 <= stored <= RATE * elapsed + BURST + 1, (stored, sent, elapsed)
    assert mine and all(letter["reason"] == f"rate limit of {RATE} samples/s exceeded" for letter in mine)
    counted = int(connection.hget(keys.TELEMETRY_COUNTERS, "bridge_messages_rate_limited")) - counted_before
    assert stored + counted == sent  # one sample a message: every one stored or dead-lettered and counted


def _dead_letters_until_settled(connection, tenant_id: int, quiet_seconds: float = 2.0) -> list[dict]:
    """The tenant's latest dead letters, once the bridge stopped adding any (its list keeps the last 1000)."""
    last, changed = None, time.monotonic()
    while time.monotonic() - changed < quiet_seconds:
        rejected = connection.hget(keys.TELEMETRY_COUNTERS, "bridge_messages_rejected")
        if rejected != last:
            last, changed = rejected, time.monotonic()
        time.sleep(0.2)
    return [json.loads(entry) for entry in connection.lrange(keys.dead_letters(tenant_id), 0, -1)]
