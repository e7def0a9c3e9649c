"""Tenancy: one tenant's credential never reads or writes another tenant's data, on any endpoint."""

import time

from support import recent_ms
from microdash_core import db
from microdash_core.tenants import api_tokens
from sse_reader import StreamReader


def test_ingest_writes_only_to_the_token_tenant(stack):
    tenant_a, token_a = stack.new_tenant("a")
    tenant_b, _ = stack.new_tenant("b")
    with stack.client(token_a) as client:
        # A caller cannot pick another tenant with a parameter, a header or a body field.
        response = client.post(f"/api/v1/metrics?tenant={tenant_b.name}", json={"metric": "m", "value": 1},
                               headers={"X-Tenant": tenant_b.name})
        smuggled = client.post("/api/v1/metrics", json={"metric": "m", "value": 1, "tenant": tenant_b.name})
    assert response.status_code == 202 and smuggled.status_code == 422
    assert stack.wait_for_samples(tenant_a.id, 1) == 1
    time.sleep(0.3)
    assert stack.count_samples(tenant_b.id) == 0


def test_series_and_query_never_show_another_tenant(stack):
    tenant_a, token_a = stack.new_tenant("a")
    _, token_b = stack.new_tenant("b")
    ts = recent_ms(-5000)
    with stack.client(token_a) as client:
        client.post("/api/v1/metrics/bulk", json=[{"metric": "secret", "value": 42, "ts": ts, "labels": {"h": "a"}}])
    stack.wait_for_samples(tenant_a.id, 1)
    (series_id,), = stack.sql("SELECT id FROM series WHERE tenant_id = %s", (tenant_a.id,))
    with stack.client(token_b) as client:
        assert client.get("/api/v1/series").json()["series"] == []
        assert client.get("/api/v1/series", params={"metric": "secret"}).json()["series"] == []
        assert client.get("/api/v1/query", params={"metric": "secret", "start": ts - 1, "end": ts + 1}).json()["series"] == []
        # Guessing ids or tenant names gets nothing either: no endpoint takes them.
        guessed = client.get("/api/v1/query", params={"metric": "secret", "series_id": series_id,
                                                      "tenant_id": tenant_a.id, "tenant": tenant_a.name})
        assert guessed.json()["series"] == []
    with stack.client(token_a) as client:
        assert len(client.get("/api/v1/series").json()["series"]) == 1


def test_stream_never_delivers_another_tenant(stack):
    tenant_a, token_a = stack.new_tenant("a")
    _, token_b = stack.new_tenant("b")
    reader_b = StreamReader(stack, token_b)
    reader_a = StreamReader(stack, token_a)
    try:
        with stack.client(token_a) as client:
            client.post("/api/v1/metrics", json={"metric": "private", "value": 1})
        assert len(reader_a.wait_for(1)) == 1
        with stack.client(token_b) as client:
            client.post("/api/v1/metrics", json={"metric": "own", "value": 2})
        reader_b.wait_for(1)
        time.sleep(0.3)
    finally:
        reader_a.close()
        reader_b.close()
    assert [p["metric"] for p in reader_b.points()] == ["own"]
    assert [p["metric"] for p in reader_a.points()] == ["private"]


def test_replay_with_another_tenants_event_id_gives_nothing_of_theirs(stack):
    _, token_a = stack.new_tenant("a")
    _, token_b = stack.new_tenant("b")
    reader_a = StreamReader(stack, token_a)
    try:
        with stack.client(token_a) as client:
            client.post("/api/v1/metrics", json={"metric": "private", "value": 1})
        reader_a.wait_for(1)
    finally:
        reader_a.close()
    reader_b = StreamReader(stack, token_b, headers={"Last-Event-ID": "0-0"})
    try:
        time.sleep(0.5)
    finally:
        reader_b.close()
    assert reader_b.points() == []


def test_revoked_token_is_refused_within_seconds(stack):
    tenant, token = stack.new_tenant()
    with stack.client(token) as client:
        assert client.post("/api/v1/metrics", json={"metric": "m", "value": 1}).status_code == 202
        with db.transaction(stack.settings) as cursor:
            assert api_tokens.revoke_tokens(cursor, tenant=tenant) == 1
        revoked_at = time.monotonic()
        statuses = []
        while time.monotonic() - revoked_at < 5:
            status = client.post("/api/v1/metrics", json={"metric": "m", "value": 1}).status_code
            statuses.append(status)
            if status == 401:
                break
            time.sleep(0.1)
        refused_after = time.monotonic() - revoked_at
        assert statuses[-1] == 401, statuses
        assert client.get("/api/v1/series").status_code == 401
        assert client.get("/api/v1/stream").status_code == 401
    # The cache lifetime in tests is 1 s (MICRODASH_TOKEN_CACHE_SECONDS).
    assert refused_after < 3


def test_only_a_hash_of_the_token_is_stored(stack):
    tenant, token = stack.new_tenant()
    rows = stack.sql("SELECT public_id, token_hash FROM api_tokens WHERE tenant_id = %s", (tenant.id,))
    ((public_id, token_hash),) = rows
    assert token.startswith(f"mdt_{public_id}_")
    assert len(token_hash) == 32 and token.encode() not in token_hash
    everything = repr(stack.sql("SELECT * FROM api_tokens")) + repr(stack.sql("SELECT * FROM tenants"))
    assert token not in everything and token.rsplit("_", 1)[1] not in everything
