"""The audit log: admin actions from the dashboard, tokens and the CLI, read through GET /api/v1/audit
by the tenant's admins only, with paging and filters; secrets never recorded."""

import time

from microdash_core.tenant_service import TenantService
from test_cli import run

RULE = {"name": "r", "metric": "cpu", "aggregation": "avg", "window_seconds": 60, "comparison": ">", "threshold": 1}
SECRET = "hmac-key-never-logged"
HOOK = {"name": "hook", "kind": "webhook", "config": {"url": "https://hooks.example.test/T000/B000/xoxsecretpath"},
        "secret": SECRET}


def admin_of_new_tenant(stack, prefix="aud"):
    tenant, token = stack.new_tenant(prefix)
    return tenant, token, stack.new_user([(tenant, "admin")])


def test_dashboard_changes_are_recorded_with_who_what_before_and_after(stack):
    tenant, _, admin = admin_of_new_tenant(stack)
    with stack.session_client(admin) as client:
        rule = client.post("/api/v1/alerts/rules", json=RULE).json()
        assert client.put(f"/api/v1/alerts/rules/{rule['id']}", json={**RULE, "threshold": 5}).status_code == 200
        channel = client.post("/api/v1/alerts/channels", json=HOOK).json()
        assert client.delete(f"/api/v1/alerts/channels/{channel['id']}").status_code == 204
        created = client.post("/api/v1/tokens", json={"name": "ci"}).json()
        assert client.delete(f"/api/v1/tokens/{created['public_id']}").status_code == 204
        assert client.post("/api/v1/alerts/rules", json=RULE).status_code == 409  # refused: nothing to record
        entries = client.get("/api/v1/audit").json()
    assert [entry["action"] for entry in entries] == [
        "token.revoke", "token.create", "channel.delete", "channel.create", "rule.update", "rule.create"]
    assert all(entry["actor"] == f"user:{admin}" and entry["source"] == "api" and entry["address"] == "127.0.0.1"
               for entry in entries)
    update = entries[4]
    assert (update["object_type"], update["object_id"]) == ("rule", str(rule["id"]))
    assert (update["before"]["threshold"], update["after"]["threshold"]) == (1, 5)
    assert entries[5]["before"] is None and entries[5]["after"]["name"] == "r"
    assert entries[0]["before"]["revoked_at"] is None and entries[0]["after"]["revoked_at"] is not None
    assert abs(entries[0]["at"] - time.time() * 1000) < 60_000
    stored = " ".join(str(row) for row in stack.sql("SELECT * FROM audit_log WHERE tenant_id = %s", (tenant.id,)))
    for secret in (SECRET, "xoxsecretpath", created["token"]):
        assert secret not in stored
    assert entries[3]["after"]["config"]["url"] == "https://hooks.example.test/…"


def test_changes_made_with_a_token_name_the_token(stack):
    _, token, admin = admin_of_new_tenant(stack)
    with stack.client(token) as client:
        silence = client.post("/api/v1/alerts/silences", json={"matchers": ["host=a"], "ends_at": 4102444800000,
                                                               "created_by": "bot"}).json()
        assert client.delete(f"/api/v1/alerts/silences/{silence['id']}").status_code == 204
    with stack.session_client(admin) as client:
        entries = client.get("/api/v1/audit").json()
    assert [(entry["action"], entry["actor"]) for entry in entries] == [
        ("silence.expire", f"token:{token.split('_')[1]}"), ("silence.create", f"token:{token.split('_')[1]}")]
    assert entries[0]["after"]["ends_at"] < entries[0]["before"]["ends_at"]


def test_paging_and_filters(stack):
    _, token, admin = admin_of_new_tenant(stack)
    with stack.client(token) as client:
        ids = [client.post("/api/v1/alerts/rules", json={**RULE, "name": f"r{i}"}).json()["id"] for i in range(5)]
        assert client.delete(f"/api/v1/alerts/rules/{ids[0]}").status_code == 204
    with stack.session_client(admin) as client:
        first = client.get("/api/v1/audit", params={"limit": 2}).json()
        second = client.get("/api/v1/audit", params={"limit": 2, "before_id": first[-1]["id"]}).json()
        assert [e["action"] for e in first + second] == ["rule.delete", "rule.create", "rule.create", "rule.create"]
        assert first[1]["id"] > second[0]["id"]
        assert [e["object_id"] for e in client.get("/api/v1/audit", params={"action": "rule.create"}).json()] == [
            str(rule_id) for rule_id in reversed(ids)]
        by_object = client.get("/api/v1/audit", params={"object_type": "rule", "object_id": str(ids[0])}).json()
        assert [e["action"] for e in by_object] == ["rule.delete", "rule.create"]
        assert client.get("/api/v1/audit", params={"actor": f"user:{admin}"}).json() == []
        assert len(client.get("/api/v1/audit", params={"actor": f"token:{token.split('_')[1]}"}).json()) == 6
        future = int(time.time() * 1000) + 3_600_000
        assert client.get("/api/v1/audit", params={"since": future}).json() == []
        assert len(client.get("/api/v1/audit", params={"until": future}).json()) == 6
        for bad in ({"limit": 0}, {"limit": 501}, {"before_id": 0}, {"since": -1}, {"until": 10**20},
                    {"action": "x" * 256}):
            assert client.get("/api/v1/audit", params=bad).status_code == 422, bad


def test_each_tenant_sees_only_its_own_entries_and_only_admins_read_them(stack):
    mine, my_token, my_admin = admin_of_new_tenant(stack)
    _, other_token, other_admin = admin_of_new_tenant(stack)
    with stack.client(my_token) as client:
        rule_id = client.post("/api/v1/alerts/rules", json=RULE).json()["id"]
    with stack.session_client(other_admin) as client:
        assert client.get("/api/v1/audit").json() == []
        assert client.get("/api/v1/audit", params={"object_id": str(rule_id)}).json() == []
    viewer = stack.new_user([(mine, "viewer")])
    with stack.session_client(viewer) as client:
        assert client.get("/api/v1/audit").status_code == 403
    with stack.client(my_token) as client:
        assert client.get("/api/v1/audit").status_code == 403
    with stack.client() as client:
        assert client.get("/api/v1/audit").status_code == 401
    with stack.session_client(my_admin) as client:
        assert [e["object_id"] for e in client.get("/api/v1/audit").json()] == [str(rule_id)]


def test_cli_changes_are_recorded_and_a_recreated_tenant_starts_a_fresh_log(stack):
    tenant, _, admin = admin_of_new_tenant(stack, "audcli")
    member = stack.new_user([(tenant, "viewer")])
    run(stack, "user", "set-role", member, "--tenant", tenant.name, "--role", "admin")
    run(stack, "tenant", "rotate-token", tenant.name)
    run(stack, "user", "revoke-sessions", member)
    run(stack, "user", "delete", member)
    with stack.session_client(admin) as client:
        entries = client.get("/api/v1/audit").json()
    assert [e["action"] for e in entries] == ["user.delete", "user.revoke_sessions", "token.rotate", "user.set_role"]
    assert all(e["source"] == "cli" and e["actor"].startswith("cli:") and e["address"] for e in entries)
    assert (entries[3]["before"], entries[3]["after"]) == ({"email": member, "role": "viewer"},
                                                           {"email": member, "role": "admin"})
    stored = " ".join(str(row) for row in stack.sql("SELECT * FROM audit_log WHERE tenant_id = %s", (tenant.id,)))
    assert "mdt_" not in stored  # a rotation records public ids only

    run(stack, "tenant", "delete", tenant.name, "--yes")
    assert stack.sql("SELECT action FROM audit_log WHERE tenant_id = %s ORDER BY id DESC LIMIT 1",
                     (tenant.id,)) == [("tenant.delete",)]  # the log outlives its tenant
    TenantService(stack.settings).create(tenant.name)
    fresh_admin = stack.new_user([])
    run(stack, "user", "set-role", fresh_admin, "--tenant", tenant.name, "--role", "admin")
    with stack.session_client(fresh_admin) as client:
        assert [e["action"] for e in client.get("/api/v1/audit").json()] == ["user.set_role"]


def test_operator_changes_are_recorded_once_not_at_every_resync(stack):
    """The operator's reconciles (core managed_tenants / managed_rules) run every resync; only
    actual changes are entries, named after the resource."""
    import dataclasses
    import uuid

    from microdash_core import db, managed_tenants
    from microdash_core.alerting import managed_rules
    from microdash_core.alerting.rules import Rule

    name = f"op-{uuid.uuid4().hex[:10]}"
    spec = managed_tenants.TenantSpec(name=name, owner=f"kubernetes:team-a/{name}")
    tenant_id = managed_tenants.ensure_tenant(stack.settings, spec)
    managed_tenants.ensure_tenant(stack.settings, spec)  # a resync
    managed_tenants.ensure_tenant(stack.settings, dataclasses.replace(spec, display_name="Team A"))
    first = managed_tenants.ensure_token(stack.settings, name, None, rotate=False)
    managed_tenants.ensure_token(stack.settings, name, first.token, rotate=False)  # kept: nothing to record
    managed_tenants.ensure_token(stack.settings, name, first.token, rotate=True)
    rule = Rule(id=0, tenant_id=tenant_id, name="cpu", metric="cpu", matchers=(), aggregation="avg",
                window_seconds=60, comparison=">", threshold=1.0)
    for version in (rule, rule, dataclasses.replace(rule, threshold=2.0)):
        with db.transaction(stack.settings) as cursor:
            rule_id = managed_rules.upsert_rule(cursor, version, enabled=True, actor=managed_tenants.audit.operator_actor(
                f"AlertRule team-a/{name}-cpu"))
    with db.transaction(stack.settings) as cursor:
        managed_rules.delete_rule(cursor, rule_id=rule_id,
                                  actor=managed_tenants.audit.operator_actor(f"AlertRule team-a/{name}-cpu"))
    managed_tenants.retire_tenant(stack.settings, name, spec.owner, delete_data=True)

    rows = stack.sql("SELECT source, actor, action, before_state, after_state FROM audit_log WHERE tenant_id = %s"
                     " ORDER BY id", (tenant_id,))
    assert [row[2] for row in rows] == ["tenant.create", "tenant.update", "token.create", "token.rotate",
                                        "rule.create", "rule.update", "rule.delete", "tenant.retire", "tenant.delete"]
    assert all(row[0] == "operator" for row in rows)
    assert rows[0][1] == f"operator:Tenant team-a/{name}" and rows[4][1] == f"operator:AlertRule team-a/{name}-cpu"
    assert '"display_name":"Team A"' in rows[1][4] and f'"display_name":"{name}"' in rows[1][3]
    assert '"threshold":1.0' in rows[5][3] and '"threshold":2.0' in rows[5][4]
    assert first.token not in " ".join(str(row) for row in rows)


def test_a_change_whose_audit_entry_cannot_be_written_is_not_made(stack):
    """The change and its entry are one transaction: a refused entry (here a trigger, standing in
    for any failure between the two) leaves neither, from the api and from the core's services."""
    tenant, _, admin = admin_of_new_tenant(stack, "atomic")
    refuse = (f"CREATE TRIGGER refuse_audit_{tenant.id} BEFORE INSERT ON audit_log FOR EACH ROW"
              f" IF NEW.tenant_id = {tenant.id} THEN"
              " SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit refused'; END IF")
    stack.sql(refuse)
    try:
        with stack.session_client(admin) as client:
            assert client.post("/api/v1/alerts/rules", json=RULE).status_code >= 500
            assert client.post("/api/v1/alerts/channels", json=HOOK).status_code >= 500
            assert client.post("/api/v1/tokens", json={"name": "ci"}).status_code >= 500
            assert client.get("/api/v1/alerts/rules").json() == []
            assert client.get("/api/v1/alerts/channels").json() == []
            assert [row["name"] for row in client.get("/api/v1/tokens").json()] == ["default"]
    finally:
        stack.sql(f"DROP TRIGGER refuse_audit_{tenant.id}")
    with stack.session_client(admin) as client:
        assert client.post("/api/v1/alerts/rules", json=RULE).status_code == 201
        assert [entry["action"] for entry in client.get("/api/v1/audit").json()] == ["rule.create"]
