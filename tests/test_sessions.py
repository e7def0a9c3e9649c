"""Dashboard sessions: login body, cookies, CSRF on changes, logout, tenant switching
(login throttling: test_login_throttle.py)."""

import uuid

import httpx
import pytest

from support import extra_api

RULE = {"name": "r", "metric": "cpu", "aggregation": "avg", "window_seconds": 60, "comparison": ">", "threshold": 1}


def login(stack, email: str, password: str = "correct horse", ip: str | None = None, **extra) -> httpx.Response:
    # The api trusts X-Forwarded-For from 127.0.0.1 (uvicorn's default), so each test throttles its own "client".
    headers = {"X-Forwarded-For": ip or fresh_ip()}
    return httpx.post(stack.api_url + "/api/v1/auth/login", json={"email": email, "password": password, **extra},
                      headers=headers)


def fresh_ip() -> str:
    octets = uuid.uuid4().bytes[:3]
    return "10." + ".".join(str(octet) for octet in octets)


def test_login_body_lists_only_the_users_tenants_and_sets_both_cookies(stack):
    first, _ = stack.new_tenant("a", display_name="Team A")
    second, _ = stack.new_tenant("b")
    stack.new_tenant("other")
    email = stack.new_user([(first, "viewer"), (second, "admin")])
    response = login(stack, email)
    assert response.status_code == 200, response.text
    body = response.json()
    first_by_name = min(first.name, second.name)
    assert body["email"] == email and body["tenant"] == first_by_name
    assert body["tenants"] == sorted([{"name": first.name, "display_name": "Team A", "role": "viewer"},
                                      {"name": second.name, "display_name": second.name, "role": "admin"}],
                                     key=lambda t: t["name"])
    assert body["role"] == {first.name: "viewer", second.name: "admin"}[first_by_name]
    cookies = {line.split("=", 1)[0]: line.lower() for line in response.headers.get_list("set-cookie")}
    assert "httponly" in cookies["microdash_session"] and "samesite=lax" in cookies["microdash_session"]
    assert "httponly" not in cookies["microdash_csrf"] and "samesite=lax" in cookies["microdash_csrf"]
    assert response.cookies["microdash_csrf"] == body["csrf_token"] and len(body["csrf_token"]) >= 32
    assert "secure" not in cookies["microdash_session"]  # plain http here; https sets Secure


def test_me_answers_the_session_and_not_a_token(stack):
    tenant, token = stack.new_tenant()
    email = stack.new_user([(tenant, "admin")])
    with stack.session_client(email) as client:
        me = client.get("/api/v1/auth/me")
        assert me.status_code == 200 and me.json()["tenant"] == tenant.name and me.json()["role"] == "admin"
        assert me.json()["csrf_token"] == client.headers["X-CSRF-Token"]
    with stack.client(token) as client:
        assert client.get("/api/v1/auth/me").status_code == 401


def test_session_changes_need_the_csrf_token(stack):
    tenant, token = stack.new_tenant()
    email = stack.new_user([(tenant, "admin")])
    with stack.session_client(email) as client:
        right = client.headers.pop("X-CSRF-Token")
        for headers in ({}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": right[:-1]}):
            refused = client.post("/api/v1/alerts/rules", json=RULE, headers=headers)
            assert refused.status_code == 403 and refused.json() == {"detail": "missing or wrong CSRF token"}
        assert client.get("/api/v1/alerts/rules").json() == []  # reads need no token; nothing was stored
        assert client.post("/api/v1/alerts/rules", json=RULE, headers={"X-CSRF-Token": right}).status_code == 201
        other_session = stack.session_client(email)
        foreign = client.post("/api/v1/alerts/rules", json={**RULE, "name": "x"},
                              headers={"X-CSRF-Token": other_session.headers["X-CSRF-Token"]})
        other_session.close()
        assert foreign.status_code == 403  # another session's token does not do
    with stack.client(token) as client:  # Bearer tokens are not sent by browsers on their own: exempt
        assert client.post("/api/v1/alerts/rules", json={**RULE, "name": "by-token"}).status_code == 201


def test_logout_needs_the_csrf_token_and_ends_the_session(stack):
    tenant, _ = stack.new_tenant()
    with stack.session_client(stack.new_user([(tenant, "viewer")])) as client:
        right = client.headers.pop("X-CSRF-Token")
        assert client.post("/api/v1/auth/logout").status_code == 403
        assert client.get("/api/v1/auth/me").status_code == 200  # a forged logout did nothing
        response = client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": right})
        assert response.status_code == 204
        cleared = " ".join(response.headers.get_list("set-cookie"))
        assert "microdash_session=" in cleared and "microdash_csrf=" in cleared
    with stack.client() as client:
        assert client.post("/api/v1/auth/logout").status_code == 204  # nothing to end: harmless


def test_switching_tenant_rereads_the_role_and_refuses_foreign_tenants(stack):
    admin_of, _ = stack.new_tenant("s")
    viewer_of, _ = stack.new_tenant("s")
    foreign, _ = stack.new_tenant("s")
    with stack.session_client(stack.new_user([(admin_of, "admin"), (viewer_of, "viewer")]),
                              tenant=admin_of.name) as client:
        assert client.get("/api/v1/auth/me").json()["role"] == "admin"
        switched = client.post("/api/v1/auth/tenant", json={"tenant": viewer_of.name})
        assert switched.status_code == 200 and (switched.json()["tenant"], switched.json()["role"]) == (
            viewer_of.name, "viewer")
        assert client.post("/api/v1/alerts/rules", json=RULE).status_code == 403  # now a viewer
        refused = client.post("/api/v1/auth/tenant", json={"tenant": foreign.name})
        assert refused.status_code == 404 and "not a member" in refused.json()["detail"]
        assert client.get("/api/v1/auth/me").json()["tenant"] == viewer_of.name
        assert client.post("/api/v1/auth/tenant", json={"tenant": ""}).status_code == 422
        assert client.post("/api/v1/auth/tenant", json={"tenant": admin_of.name},
                           headers={"X-CSRF-Token": "nope"}).status_code == 403


def test_login_to_a_tenant_the_user_is_not_a_member_of_fails(stack):
    mine, _ = stack.new_tenant()
    foreign, _ = stack.new_tenant()
    email = stack.new_user([(mine, "admin")])
    assert login(stack, email, tenant=foreign.name).status_code == 401
    assert login(stack, email, tenant=mine.name).status_code == 200


@pytest.mark.parametrize("body", [{}, {"email": "a@b.c"}, {"email": "", "password": "x"}, {"email": "a@b.c", "password": ""}])
def test_malformed_logins_are_422(stack, body):
    response = httpx.post(stack.api_url + "/api/v1/auth/login", json=body)
    assert response.status_code == 422


def test_sessions_of_older_versions_without_csrf_token_must_sign_in_again(stack):
    tenant, _ = stack.new_tenant()
    stack.redis_client().set("microdash:session:legacy", b'{"user_id": 1, "tenant_id": %d, "tenant_name": "%s",'
                             b' "ingest_rate_limit": null, "role": "admin"}' % (tenant.id, tenant.name.encode()))
    with stack.client(cookies={"microdash_session": "legacy"}) as client:
        assert client.get("/api/v1/auth/me").status_code == 401
        assert client.get("/api/v1/alerts/rules").status_code == 401


def test_an_admin_session_may_send_samples_a_viewer_may_not(stack):
    """The dashboard's latency check sends probe samples with the admin's session."""
    tenant, _ = stack.new_tenant()
    sample = {"metric": "probe", "value": 1, "labels": {"probe": "abc"}}
    with stack.session_client(stack.new_user([(tenant, "viewer")])) as viewer:
        assert viewer.post("/api/v1/metrics", json=sample).status_code == 403
    with stack.session_client(stack.new_user([(tenant, "admin")])) as admin:
        assert admin.post("/api/v1/metrics", json=sample, headers={"X-CSRF-Token": ""}).status_code == 403
        assert admin.post("/api/v1/metrics", json=sample).status_code == 202
    assert stack.wait_for_samples(tenant.id, 1) == 1


def test_a_new_login_ends_the_session_the_browser_had(stack):
    tenant, _ = stack.new_tenant()
    email = stack.new_user([(tenant, "viewer")])
    with stack.session_client(email) as client:
        old = client.cookies["microdash_session"]
        again = client.post("/api/v1/auth/login", json={"email": email, "password": "correct horse"})
        assert again.status_code == 200 and again.cookies["microdash_session"] != old
    with stack.client(cookies={"microdash_session": old}) as client:
        assert client.get("/api/v1/auth/me").status_code == 401


def test_cookies_are_secure_behind_tls(stack):
    """Behind a TLS-terminating proxy the api sees X-Forwarded-Proto (trusted from FORWARDED_ALLOW_IPS)."""
    tenant, _ = stack.new_tenant()
    email = stack.new_user([(tenant, "viewer")])
    response = httpx.post(stack.api_url + "/api/v1/auth/login", json={"email": email, "password": "correct horse"},
                          headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 200
    cookies = {line.split("=", 1)[0]: line.lower() for line in response.headers.get_list("set-cookie")}
    assert "; secure" in cookies["microdash_session"] and "; secure" in cookies["microdash_csrf"]


def test_forwarded_headers_from_an_untrusted_address_are_ignored(stack, tmp_path):
    """MICRODASH_FORWARDED_ALLOW_IPS names the proxies; this api trusts one that is not us."""
    tenant, _ = stack.new_tenant()
    email = stack.new_user([(tenant, "viewer")])
    with extra_api(stack, tmp_path, MICRODASH_FORWARDED_ALLOW_IPS="192.0.2.1") as url:
        response = httpx.post(url + "/api/v1/auth/login", json={"email": email, "password": "correct horse"},
                              headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 200
    assert all("; secure" not in line.lower() for line in response.headers.get_list("set-cookie"))


def test_a_cross_site_form_cannot_log_in(stack):
    """HTML forms can only send form or text bodies; login takes JSON only (no login CSRF)."""
    tenant, _ = stack.new_tenant()
    email = stack.new_user([(tenant, "viewer")])
    body = '{"email": "%s", "password": "correct horse"}' % email
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        response = httpx.post(stack.api_url + "/api/v1/auth/login", content=body,
                              headers={"Content-Type": content_type})
        assert response.status_code == 422 and "set-cookie" not in response.headers, content_type
