"""/api/v1/tokens: admins of a tenant list, create and revoke its API tokens; the broker follows."""

import time

import httpx

from microdash_cli.localstack import free_port
from microdash_core.broker import mqtt_password
from mqtt_client import TestClient
from support import extra_api


def admin_of_new_tenant(stack, prefix="tok"):
    tenant, token = stack.new_tenant(prefix)
    return tenant, token, stack.new_user([(tenant, "admin")])


def test_admin_creates_lists_and_revokes_tokens(stack):
    tenant, first_token, admin = admin_of_new_tenant(stack)
    with stack.session_client(admin) as client:
        created = client.post("/api/v1/tokens", json={"name": "ci pipeline"})
        assert created.status_code == 201, created.text
        body = created.json()
        assert set(body) == {"public_id", "name", "created_at", "token"} and body["name"] == "ci pipeline"
        assert body["token"].startswith(f"mdt_{body['public_id']}_") and body["created_at"].endswith("Z")
        listed = client.get("/api/v1/tokens").json()
        assert [t["name"] for t in listed] == ["default", "ci pipeline"]
        assert all(set(t) == {"public_id", "name", "created_at", "revoked_at"} for t in listed)
        assert body["token"] not in client.get("/api/v1/tokens").text  # shown once
        with stack.client(body["token"]) as ingest:
            assert ingest.post("/api/v1/metrics", json={"metric": "m", "value": 1}).status_code == 202
        assert client.delete(f"/api/v1/tokens/{body['public_id']}").status_code == 204
        revoked = {t["public_id"]: t["revoked_at"] for t in client.get("/api/v1/tokens").json()}
        assert revoked[body["public_id"]] is not None and revoked[first_token.split("_")[1]] is None
    stored = stack.sql("SELECT token_hash FROM api_tokens WHERE public_id = %s", (body["public_id"],))
    assert body["token"].encode() not in bytes(stored[0][0])


def test_a_revoked_token_stops_ingesting(stack):
    _, _, admin = admin_of_new_tenant(stack)
    with stack.session_client(admin) as client:
        body = client.post("/api/v1/tokens", json={"name": "short-lived"}).json()
        assert client.delete(f"/api/v1/tokens/{body['public_id']}").status_code == 204
        assert client.delete(f"/api/v1/tokens/{body['public_id']}").status_code == 204  # already revoked: same
    time.sleep(1.2)  # the api caches valid tokens for MICRODASH_TOKEN_CACHE_SECONDS (1 s in tests)
    with stack.client(body["token"]) as ingest:
        assert ingest.post("/api/v1/metrics", json={"metric": "m", "value": 1}).status_code == 401


def test_tokens_get_an_mqtt_client_and_lose_it_when_revoked(stack):
    _, _, admin = admin_of_new_tenant(stack)
    port = stack.services.ports["mosquitto"]
    with stack.session_client(admin) as client:
        body = client.post("/api/v1/tokens", json={"name": "device"}).json()
        device = TestClient(port, body["public_id"], mqtt_password(stack.settings, body["public_id"]))
        assert device.connect(), device.connect_reason
        assert client.delete(f"/api/v1/tokens/{body['public_id']}").status_code == 204
    assert device.disconnected.wait(5), "the revoked token's MQTT connection was not cut"
    device.close()
    assert not TestClient(port, body["public_id"], mqtt_password(stack.settings, body["public_id"])).connect()


def test_viewers_and_api_tokens_cannot_manage_tokens(stack):
    tenant, token, _ = admin_of_new_tenant(stack)
    viewer = stack.new_user([(tenant, "viewer")])
    with stack.session_client(viewer) as client:
        assert client.get("/api/v1/tokens").status_code == 403
        assert client.post("/api/v1/tokens", json={"name": "x"}).status_code == 403
        assert client.delete(f"/api/v1/tokens/{token.split('_')[1]}").status_code == 403
    with stack.client(token) as client:
        for response in (client.get("/api/v1/tokens"), client.post("/api/v1/tokens", json={"name": "x"}),
                         client.delete(f"/api/v1/tokens/{token.split('_')[1]}")):
            assert response.status_code == 403 and "API tokens cannot manage tokens" in response.json()["detail"]
    with stack.client() as client:
        assert client.get("/api/v1/tokens").status_code == 401
    assert [name for (name,) in stack.sql("SELECT name FROM api_tokens WHERE tenant_id = %s", (tenant.id,))] == [
        "default"]
    assert stack.sql("SELECT revoked_at FROM api_tokens WHERE tenant_id = %s", (tenant.id,)) == [(None,)]


def test_another_tenants_admin_cannot_list_or_revoke_this_tenants_tokens(stack):
    tenant, token, _ = admin_of_new_tenant(stack)
    _, _, other_admin = admin_of_new_tenant(stack, "other")
    public_id = token.split("_")[1]
    with stack.session_client(other_admin) as client:
        assert public_id not in client.get("/api/v1/tokens").text
        assert client.delete(f"/api/v1/tokens/{public_id}").status_code == 404
    assert stack.sql("SELECT revoked_at FROM api_tokens WHERE public_id = %s", (public_id,)) == [(None,)]


def test_token_changes_need_the_csrf_token(stack):
    tenant, token, admin = admin_of_new_tenant(stack)
    with stack.session_client(admin) as client:
        csrf = client.headers.pop("X-CSRF-Token")
        assert client.post("/api/v1/tokens", json={"name": "x"}).status_code == 403
        assert client.delete(f"/api/v1/tokens/{token.split('_')[1]}").status_code == 403
        assert client.get("/api/v1/tokens").status_code == 200
        assert client.post("/api/v1/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf}).status_code == 201


def test_bad_token_requests_are_4xx(stack):
    _, _, admin = admin_of_new_tenant(stack)
    with stack.session_client(admin) as client:
        for body in ({}, {"name": ""}, {"name": "x" * 101}, {"name": "line\nbreak"}):
            assert client.post("/api/v1/tokens", json=body).status_code == 422, body
        assert client.delete("/api/v1/tokens/not-an-id").status_code == 422
        assert client.delete("/api/v1/tokens/AAAAAAAAAAAA").status_code == 404


def test_token_created_while_the_broker_is_down_is_stored_and_usable_over_http(stack, tmp_path):
    tenant, _, admin = admin_of_new_tenant(stack)
    with extra_api(stack, tmp_path, MICRODASH_MQTT_URL=f"mqtt://127.0.0.1:{free_port()}") as url:
        login = httpx.post(url + "/api/v1/auth/login", json={"email": admin, "password": "correct horse"})
        with httpx.Client(base_url=url, cookies=login.cookies,
                          headers={"X-CSRF-Token": login.json()["csrf_token"]}) as client:
            created = client.post("/api/v1/tokens", json={"name": "while broker down"})
            assert created.status_code == 201, created.text
            assert client.delete(f"/api/v1/tokens/{created.json()['public_id']}").status_code == 204
        log = next(tmp_path.glob("api-*/api.log")).read_text()
    assert "the broker did not follow" in log
    rows = stack.sql("SELECT revoked_at IS NOT NULL FROM api_tokens WHERE tenant_id = %s AND name = %s",
                     (tenant.id, "while broker down"))
    assert rows == [(1,)]
