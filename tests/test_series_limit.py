"""Per-tenant series limits (tenants.max_series) over HTTP and MQTT, against the real stack."""

import itertools
import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from microdash_core import dead_letters, keys
from mqtt_client import TestClient
from support import recent_ms


_distinct_ms = itertools.count()


def sample(host: str, value: float = 1.0, metric: str = "cpu.usage") -> dict:
    """Each sample gets its own timestamp, so none overwrites another."""
    return {"metric": metric, "value": value, "ts": recent_ms(-10_000) + next(_distinct_ms), "labels": {"host": host}}


def series_of(stack, tenant_id: int) -> list[str]:
    return sorted(labels for (labels,) in stack.sql("SELECT labels FROM series WHERE tenant_id = %s", (tenant_id,)))


def test_new_series_beyond_the_limit_are_refused_whole_and_known_ones_still_accepted(stack):
    tenant, token = stack.new_tenant(max_series=3)
    with stack.client(token) as client:
        first = client.post("/api/v1/metrics/bulk", json=[sample("a"), sample("b"), sample("a", 2.0)])
        over = client.post("/api/v1/metrics/bulk", json=[sample("a", 3.0), sample("c"), sample("d"), sample("e")])
        fits = client.post("/api/v1/metrics/bulk", json=[sample("c"), sample("b", 4.0)])
        full = client.post("/api/v1/metrics", json=sample("f"))
        known = client.post("/api/v1/metrics", json=sample("a", 5.0))
    assert first.status_code == 202, first.text
    assert over.status_code == 422
    body = over.json()
    assert "series limit of 3 reached" in body["detail"] and "nothing was stored" in body["detail"]
    assert [error["index"] for error in body["errors"]] == [1, 2, 3]
    assert fits.status_code == 202, fits.text
    assert full.status_code == 422 and "3 series stored, this would add 1 new" in full.json()["detail"]
    assert known.status_code == 202, known.text
    assert stack.wait_for_samples(tenant.id, 6) == 6
    time.sleep(0.5)
    assert stack.count_samples(tenant.id) == 6  # none of the refused request's samples, not even host=a
    assert series_of(stack, tenant.id) == ['{"host":"a"}', '{"host":"b"}', '{"host":"c"}']
    metrics = httpx.get(stack.api_url + "/metrics").text
    assert 'microdash_ingest_rejected_samples_total{reason="series_limit"}' in metrics


def test_the_count_is_reseeded_from_the_database_after_redis_loses_it(stack):
    tenant, token = stack.new_tenant(max_series=2)
    with stack.client(token) as client:
        assert client.post("/api/v1/metrics/bulk", json=[sample("a"), sample("b")]).status_code == 202
        assert stack.wait_for_samples(tenant.id, 2) == 2
        connection = stack.redis_client()
        assert connection.scard(keys.tenant_series(tenant.id)) == 3  # two series and the seeded marker
        connection.delete(keys.tenant_series(tenant.id))
        refused = client.post("/api/v1/metrics", json=sample("c"))
        accepted = client.post("/api/v1/metrics", json=sample("b", 2.0))
    assert refused.status_code == 422, refused.text
    assert "2 series stored" in refused.json()["detail"]
    assert accepted.status_code == 202
    assert connection.scard(keys.tenant_series(tenant.id)) == 3


def test_one_tenants_series_do_not_count_against_another(stack):
    limited, limited_token = stack.new_tenant(max_series=1)
    other, other_token = stack.new_tenant(max_series=1)
    unlimited, unlimited_token = stack.new_tenant()
    with stack.client(other_token) as client:
        assert client.post("/api/v1/metrics", json=sample("shared")).status_code == 202
    with stack.client(limited_token) as client:
        assert client.post("/api/v1/metrics", json=sample("shared")).status_code == 202
        assert client.post("/api/v1/metrics", json=sample("mine")).status_code == 422
    with stack.client(unlimited_token) as client:
        many = [sample(f"h{i}") for i in range(50)]
        assert client.post("/api/v1/metrics/bulk", json=many).status_code == 202
    assert stack.wait_for_samples(unlimited.id, 50) == 50
    connection = stack.redis_client()
    assert not connection.exists(keys.tenant_series(unlimited.id))  # no limit, no bookkeeping


def test_a_session_ingest_is_held_to_the_same_limit_and_follows_a_change(stack):
    tenant, _ = stack.new_tenant(max_series=1)
    email = stack.new_user([(tenant, "admin")])
    with stack.session_client(email) as client:
        assert client.post("/api/v1/metrics", json=sample("a")).status_code == 202
        assert client.post("/api/v1/metrics", json=sample("b")).status_code == 422
        stack.sql("UPDATE tenants SET max_series = 2 WHERE id = %s", (tenant.id,))
        # Limits belong to the tenant, not to the session signed in earlier: within the cache time.
        deadline = time.monotonic() + 15
        while (status := client.post("/api/v1/metrics", json=sample("b")).status_code) == 422:
            assert time.monotonic() < deadline, "the raised limit never reached the signed-in session"
            time.sleep(0.5)
        assert status == 202


def test_mqtt_messages_adding_series_beyond_the_limit_are_dead_lettered(stack):
    tenant_id, credentials = stack.new_mqtt_tenant(max_series=1)
    connection = stack.redis_client()
    device = TestClient(stack.services.ports["mosquitto"], credentials.mqtt_username, credentials.mqtt_password)
    assert device.connect(), device.connect_reason
    try:
        for host in ("a", "b", "a"):
            device.publish(credentials.topic_prefix + "d", json.dumps(sample(host)).encode())
    finally:
        device.close()
    assert stack.wait_for_samples(tenant_id, 2) == 2
    deadline = time.monotonic() + 10
    mine = []
    while not mine and time.monotonic() < deadline:
        mine = dead_letters.latest(connection, tenant_id)  # the tenant's own list
        assert all(letter["tenant"] == credentials.tenant for letter in mine)
        time.sleep(0.1)
    assert [letter["reason"] for letter in mine] == [
        "series limit of 1 reached: 1 series stored, this would add 1 new; nothing was stored"]
    assert json.loads(mine[0]["payload"])["labels"] == {"host": "b"}
    assert series_of(stack, tenant_id) == ['{"host":"a"}']


def test_concurrent_requests_cannot_take_the_same_last_slots(stack):
    tenant, token = stack.new_tenant(max_series=10)

    def post(index: int) -> int:
        with stack.client(token) as client:
            return client.post("/api/v1/metrics", json=sample(f"racer-{index}")).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(post, range(40)))
    assert sorted(set(statuses)) == [202, 422]
    assert statuses.count(202) == 10, statuses
    assert stack.wait_for_samples(tenant.id, 10) == 10
    assert len(series_of(stack, tenant.id)) == 10


def test_housekeeping_forgets_the_redis_state_of_deleted_tenants(stack):
    from microdash_core import db
    from microdash_core.tenants import deletion
    from microdash_workers.maintenance import forget_deleted_tenants

    gone, gone_token = stack.new_tenant(max_series=5)
    kept, kept_token = stack.new_tenant(max_series=5)
    for token in (gone_token, kept_token):
        with stack.client(token) as client:
            assert client.post("/api/v1/metrics", json=sample("a")).status_code == 202
    assert stack.wait_for_samples(gone.id, 1) == 1 and stack.wait_for_samples(kept.id, 1) == 1
    connection = stack.redis_client()
    state = {tenant.id: [keys.tenant_series(tenant.id), keys.live_stream(tenant.id)] for tenant in (gone, kept)}
    assert all(connection.exists(key) for key in state[gone.id] + state[kept.id])

    with db.transaction(stack.settings) as cursor:
        deletion.delete_tenant(cursor, tenant=gone)
    assert forget_deleted_tenants(stack.settings)["keys_deleted"] >= 2
    assert not any(connection.exists(key) for key in state[gone.id])
    assert all(connection.exists(key) for key in state[kept.id])
