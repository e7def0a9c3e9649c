"""Offboarding reaches open dashboard sessions: a removed member, a changed role, revoked sessions
and a deleted tenant take effect within MICRODASH_TOKEN_CACHE_SECONDS (1 s in tests)."""

import time

from microdash_core import db, users
from microdash_core.tenant_service import TenantService
from microdash_core.tenants import api_tokens, directory, memberships
from support import TEST_SETTINGS_ENV

CACHE_SECONDS = float(TEST_SETTINGS_ENV["MICRODASH_TOKEN_CACHE_SECONDS"])
RULE = {"name": "r", "metric": "cpu", "aggregation": "avg", "window_seconds": 60, "comparison": ">", "threshold": 1}


def wait_out_the_cache() -> None:
    time.sleep(CACHE_SECONDS + 0.3)


def user_of(stack, email: str) -> memberships.User:
    with db.transaction(stack.settings) as cursor:
        return memberships.get_user(cursor, email=email)


def test_a_removed_member_loses_rules_tokens_and_reads(stack):
    tenant, _ = stack.new_tenant("off")
    email = stack.new_user([(tenant, "admin")])
    with stack.session_client(email) as client:
        assert client.post("/api/v1/alerts/rules", json=RULE).status_code == 201  # warm every cache
        assert client.get("/api/v1/tokens").status_code == 200
        with db.transaction(stack.settings) as cursor:
            memberships.remove_membership(cursor, user=memberships.get_user(cursor, email=email), tenant=tenant)
        wait_out_the_cache()
        assert client.post("/api/v1/alerts/rules", json={**RULE, "name": "after"}).status_code == 401
        assert client.post("/api/v1/tokens", json={"name": "after"}).status_code == 401
        assert client.get("/api/v1/tokens").status_code == 401
        assert client.get("/api/v1/series").status_code == 401
        assert client.get("/api/v1/alerts/rules").status_code == 401
        assert client.get("/api/v1/auth/me").status_code == 401
    assert stack.sql("SELECT name FROM alert_rules WHERE tenant_id = %s", (tenant.id,)) == [("r",)]
    assert stack.sql("SELECT name FROM api_tokens WHERE tenant_id = %s", (tenant.id,)) == [("default",)]


def test_an_admin_made_viewer_can_no_longer_write(stack):
    tenant, _ = stack.new_tenant("off")
    email = stack.new_user([(tenant, "admin")])
    with stack.session_client(email) as client:
        assert client.post("/api/v1/alerts/rules", json=RULE).status_code == 201
        with db.transaction(stack.settings) as cursor:
            memberships.grant(cursor, user=memberships.get_user(cursor, email=email), tenant=tenant, role="viewer")
        wait_out_the_cache()
        assert client.post("/api/v1/alerts/rules", json={**RULE, "name": "after"}).status_code == 403
        assert client.post("/api/v1/tokens", json={"name": "after"}).status_code == 403
        assert client.post("/api/v1/metrics", json={"metric": "m", "value": 1}).status_code == 403
        assert client.get("/api/v1/alerts/rules").status_code == 200  # still a member: may read
        assert client.get("/api/v1/auth/me").json()["role"] == "viewer"


def test_revoking_a_users_sessions_ends_every_one_of_them_at_once(stack):
    tenant, _ = stack.new_tenant("off")
    email = stack.new_user([(tenant, "admin")])
    other = stack.new_user([(tenant, "admin")])
    first, second, bystander = stack.session_client(email), stack.session_client(email), stack.session_client(other)
    try:
        for client in (first, second, bystander):
            assert client.get("/api/v1/auth/me").status_code == 200
        users.revoke_sessions(stack.redis_client(), user=user_of(stack, email))
        for client in (first, second):
            assert client.get("/api/v1/auth/me").status_code == 401
            assert client.get("/api/v1/series").status_code == 401
            assert client.post("/api/v1/alerts/rules", json=RULE).status_code == 401
        assert bystander.get("/api/v1/auth/me").status_code == 200
    finally:
        for client in (first, second, bystander):
            client.close()
    with stack.session_client(email) as again:  # the user may sign in again
        assert again.get("/api/v1/auth/me").status_code == 200


def test_a_tenant_recreated_under_the_same_name_is_not_reachable_with_an_old_session(stack):
    old, _ = stack.new_tenant("re")
    email = stack.new_user([(old, "admin")])
    with stack.session_client(email) as client:
        assert client.get("/api/v1/tokens").status_code == 200
        TenantService(stack.settings).delete(old.name)
        with db.transaction(stack.settings) as cursor:  # same name, same user, admin again: another tenant
            new = directory.create_tenant(cursor, name=old.name)
            api_tokens.issue_token(cursor, tenant=new)
            memberships.grant(cursor, user=memberships.get_user(cursor, email=email), tenant=new, role="admin")
        wait_out_the_cache()
        assert client.get("/api/v1/tokens").status_code == 401
        assert client.post("/api/v1/tokens", json={"name": "stale"}).status_code == 401
        assert client.post("/api/v1/alerts/rules", json=RULE).status_code == 401
    assert stack.sql("SELECT name FROM api_tokens WHERE tenant_id = %s", (new.id,)) == [("default",)]
    with stack.session_client(email) as fresh:  # a new sign-in reaches the new tenant
        assert fresh.get("/api/v1/auth/me").json()["tenant"] == new.name
        assert fresh.post("/api/v1/tokens", json={"name": "fresh"}).status_code == 201
