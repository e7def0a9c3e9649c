"""The alerts API: rules, states, history, silences, channels and deliveries, all tenant-scoped."""

from alerting_support import create_rule, store_samples
from microdash_workers.alert_eval import evaluate_tenant
from support import recent_ms

RULE = {"name": "cpu-high", "metric": "cpu", "matchers": ["host=~n.*"], "aggregation": "avg", "window_seconds": 60,
        "comparison": ">", "threshold": 90, "recovery_threshold": 80, "for_seconds": 0,
        "annotations": {"summary": "{{ $labels.host }} at {{ $value }}"}}
WEBHOOK = {"name": "ops", "kind": "webhook", "config": {"url": "http://127.0.0.1:9/hook"}, "secret": "hmac-key"}


def test_rules_crud(stack):
    _, token = stack.new_tenant()
    with stack.client(token) as client:
        created = client.post("/api/v1/alerts/rules", json=RULE)
        assert created.status_code == 201, created.text
        rule = created.json()
        assert rule["managed_by"] == "api" and rule["recovery_threshold"] == 80 and rule["nodata_policy"] == "nodata"
        assert client.post("/api/v1/alerts/rules", json=RULE).status_code == 409
        changed = client.put(f"/api/v1/alerts/rules/{rule['id']}", json={**RULE, "threshold": 95, "enabled": False})
        assert changed.status_code == 200 and changed.json()["threshold"] == 95 and not changed.json()["enabled"]
        assert [r["id"] for r in client.get("/api/v1/alerts/rules").json()] == [rule["id"]]
        for bad in ({"recovery_threshold": 99}, {"matchers": ["host=~("]}, {"metric": "a b"}, {"comparison": "=>"}):
            response = client.post("/api/v1/alerts/rules", json={**RULE, "name": "bad", **bad})
            assert response.status_code == 422, bad
            if "comparison" not in bad:  # the rule checks name the field at fault, for the dashboard's form
                assert [error["field"] for error in response.json()["errors"]] == list(bad), response.text
        assert client.delete(f"/api/v1/alerts/rules/{rule['id']}").status_code == 204
        assert client.get(f"/api/v1/alerts/rules/{rule['id']}").status_code == 404


def test_rules_managed_by_kubernetes_are_read_only(stack):
    tenant, token = stack.new_tenant()
    rule = create_rule(stack, tenant.id)
    stack.sql("UPDATE alert_rules SET managed_by = 'kubernetes' WHERE id = %s", (rule.id,))
    with stack.client(token) as client:
        assert client.get(f"/api/v1/alerts/rules/{rule.id}").json()["managed_by"] == "kubernetes"
        assert client.put(f"/api/v1/alerts/rules/{rule.id}", json=RULE).status_code == 409
        assert client.delete(f"/api/v1/alerts/rules/{rule.id}").status_code == 409
    assert stack.sql("SELECT threshold FROM alert_rules WHERE id = %s", (rule.id,)) == [(90.0,)]


def test_viewer_sessions_read_and_admin_sessions_write(stack):
    tenant, _ = stack.new_tenant()
    viewer, admin = stack.new_user([(tenant, "viewer")]), stack.new_user([(tenant, "admin")])
    with stack.session_client(viewer) as client:
        assert client.post("/api/v1/alerts/rules", json=RULE).status_code == 403
        assert client.post("/api/v1/alerts/channels", json=WEBHOOK).status_code == 403
        assert client.get("/api/v1/alerts/rules").status_code == 200
    with stack.session_client(admin) as client:
        assert client.post("/api/v1/alerts/rules", json=RULE).status_code == 201
    with stack.client() as client:
        assert client.get("/api/v1/alerts/rules").status_code == 401


def test_channels_never_return_their_secret(stack):
    _, token = stack.new_tenant()
    with stack.client(token) as client:
        created = client.post("/api/v1/alerts/channels", json=WEBHOOK)
        assert created.status_code == 201, created.text
        channel = created.json()
        assert channel["has_secret"] and "secret" not in channel and "hmac-key" not in created.text
        assert "hmac-key" not in client.get("/api/v1/alerts/channels").text
        kept = client.put(f"/api/v1/alerts/channels/{channel['id']}", json={**WEBHOOK, "secret": None})
        assert kept.json()["has_secret"]
        bad = client.post("/api/v1/alerts/channels", json={"name": "m", "kind": "email", "config": {"host": "x"}})
        assert bad.status_code == 422
        assert client.delete(f"/api/v1/alerts/channels/{channel['id']}").status_code == 204
    assert stack.sql("SELECT COUNT(*) FROM notification_channels WHERE id = %s", (channel["id"],)) == [(0,)]


def test_states_history_and_silences(stack):
    tenant, token = stack.new_tenant()
    now = recent_ms(-60_000)
    store_samples(stack, tenant.id, [("cpu", {"host": "n1"}, now - 5_000, 97.0)])
    rule = create_rule(stack, tenant.id)
    evaluate_tenant(tenant.id, now_ms=now, settings=stack.settings)
    with stack.client(token) as client:
        (state,) = client.get("/api/v1/alerts/states", params={"state": "FIRING"}).json()
        assert state["rule"] == "cpu-high" and state["labels"] == {"host": "n1"} and state["last_value"] == 97.0
        (transition,) = client.get("/api/v1/alerts/history", params={"rule_id": rule.id}).json()
        assert (transition["from_state"], transition["to_state"], transition["muted"]) == ("OK", "FIRING", False)
        silence = client.post("/api/v1/alerts/silences", json={"rule_id": rule.id, "ends_at": recent_ms(3_600_000),
                                                               "created_by": "ops", "comment": "maintenance"})
        assert silence.status_code == 201, silence.text
        assert [s["id"] for s in client.get("/api/v1/alerts/silences", params={"active": True}).json()] == [
            silence.json()["id"]]
        assert client.post("/api/v1/alerts/silences", json={"ends_at": recent_ms(1000), "created_by": "x"}
                           ).status_code == 422
        assert client.delete(f"/api/v1/alerts/silences/{silence.json()['id']}").status_code == 204
        assert client.get("/api/v1/alerts/silences", params={"active": True}).json() == []
        matching = client.post("/api/v1/alerts/silences", json={"matchers": ["host=n1"], "ends_at": recent_ms(60_000),
                                                                 "created_by": "ops"})
        assert matching.status_code == 201
        assert client.delete(f"/api/v1/alerts/rules/{rule.id}").status_code == 204
        # the rule's own silences go with it; silences by labels stay
        assert [s["id"] for s in client.get("/api/v1/alerts/silences").json()] == [matching.json()["id"]]


def test_another_tenant_sees_and_changes_nothing(stack):
    tenant_a, token_a = stack.new_tenant("a")
    _, token_b = stack.new_tenant("b")
    now = recent_ms(-60_000)
    store_samples(stack, tenant_a.id, [("cpu", {"host": "n1"}, now - 5_000, 97.0)])
    with stack.client(token_a) as client:
        rule = client.post("/api/v1/alerts/rules", json=RULE).json()
        channel = client.post("/api/v1/alerts/channels", json=WEBHOOK).json()
        silence = client.post("/api/v1/alerts/silences", json={"matchers": ["host=zz"], "ends_at": recent_ms(60_000),
                                                               "created_by": "a"}).json()
    evaluate_tenant(tenant_a.id, now_ms=now, settings=stack.settings)
    stack.sql("INSERT INTO deliveries (tenant_id, notification_id, channel_id, attempt, status, latency_ms, at)"
              " SELECT tenant_id, id, channel_id, 1, 'error', 1, 0 FROM notifications WHERE tenant_id = %s",
              (tenant_a.id,))
    with stack.client(token_b) as client:
        for path in ("rules", "states", "history", "silences", "channels", "deliveries"):
            assert client.get(f"/api/v1/alerts/{path}").json() == [], path
        assert client.get(f"/api/v1/alerts/rules/{rule['id']}").status_code == 404
        assert client.put(f"/api/v1/alerts/rules/{rule['id']}", json=RULE).status_code == 404
        assert client.delete(f"/api/v1/alerts/rules/{rule['id']}").status_code == 404
        assert client.get(f"/api/v1/alerts/channels/{channel['id']}").status_code == 404
        assert client.put(f"/api/v1/alerts/channels/{channel['id']}", json=WEBHOOK).status_code == 404
        assert client.delete(f"/api/v1/alerts/channels/{channel['id']}").status_code == 404
        assert client.delete(f"/api/v1/alerts/silences/{silence['id']}").status_code == 404
        assert client.post("/api/v1/alerts/silences", json={"rule_id": rule["id"], "ends_at": recent_ms(60_000),
                                                            "created_by": "b"}).status_code == 422
    with stack.client(token_a) as client:
        assert len(client.get("/api/v1/alerts/states").json()) == 1
        assert len(client.get("/api/v1/alerts/history").json()) == 1
        assert len(client.get("/api/v1/alerts/deliveries").json()) >= 1
        assert client.get(f"/api/v1/alerts/rules/{rule['id']}").json()["threshold"] == 90
        assert len(client.get("/api/v1/alerts/silences", params={"active": True}).json()) == 1


def test_rules_name_only_existing_channels_and_named_channels_stay(stack):
    _, token = stack.new_tenant()
    with stack.client(token) as client:
        missing = client.post("/api/v1/alerts/rules", json={**RULE, "channels": ["ops"]})
        assert missing.status_code == 422 and missing.json()["detail"] == "no such channel: ops"
        assert missing.json()["errors"] == [{"field": "channels", "error": "no channel named 'ops'"}]
        channel = client.post("/api/v1/alerts/channels", json=WEBHOOK).json()
        rule = client.post("/api/v1/alerts/rules", json={**RULE, "channels": ["ops"]})
        assert rule.status_code == 201, rule.text
        renamed = client.put(f"/api/v1/alerts/channels/{channel['id']}", json={**WEBHOOK, "name": "ops-2"})
        deleted = client.delete(f"/api/v1/alerts/channels/{channel['id']}")
        for refused in (renamed, deleted):
            assert refused.status_code == 409 and "the rules cpu-high name it" in refused.json()["detail"]
        edited = client.put(f"/api/v1/alerts/channels/{channel['id']}", json={**WEBHOOK, "config": {
            "url": "http://127.0.0.1:9/other"}})
        assert edited.status_code == 200  # a change that keeps the name is fine
        assert client.put(f"/api/v1/alerts/rules/{rule.json()['id']}", json=RULE).status_code == 200
        assert client.delete(f"/api/v1/alerts/channels/{channel['id']}").status_code == 204


def test_email_channels_need_a_list_of_recipients_and_a_valid_port(stack):
    _, token = stack.new_tenant()
    email = {"name": "mail", "kind": "email", "config": {"host": "smtp.example.org", "sender": "a@example.org",
                                                         "recipients": ["ops@example.org"], "port": 587}}
    with stack.client(token) as client:
        for bad, reason in (({"recipients": "ops@example.org"}, "recipients must be a list"),
                            ({"recipients": ["not-an-address"]}, "recipients must be a list"),
                            ({"port": "abc"}, "port must be a number"), ({"port": 70000}, "port must be a number"),
                            # a host or sender that is not text got to the worker, where the send raised
                            ({"host": 5}, "host must be a host name"), ({"host": ["a"]}, "host must be a host name"),
                            ({"host": "a" * 254}, "host must be a host name"),
                            ({"sender": {"a": 1}}, "sender must be an email address")):
            response = client.post("/api/v1/alerts/channels", json={**email, "config": {**email["config"], **bad}})
            assert response.status_code == 422 and reason in response.text, (bad, response.text)
        assert client.post("/api/v1/alerts/channels", json=email).status_code == 201


def test_viewers_see_where_a_channel_sends_but_not_its_url(stack):
    tenant, token = stack.new_tenant()
    viewer, admin = stack.new_user([(tenant, "viewer")]), stack.new_user([(tenant, "admin")])
    secret_url = "https://hooks.slack.example/services/T000/B000/XXXXsecretXXXX"
    with stack.client(token) as client:
        channel = client.post("/api/v1/alerts/channels", json={"name": "slack", "kind": "slack",
                                                               "config": {"url": secret_url}}).json()
        assert channel["config"]["url"] == secret_url
    with stack.session_client(viewer) as client:
        listed = client.get("/api/v1/alerts/channels")
        one = client.get(f"/api/v1/alerts/channels/{channel['id']}")
    for response in (listed, one):
        assert response.status_code == 200 and "XXXXsecretXXXX" not in response.text
    assert one.json()["config"]["url"] == "https://hooks.slack.example/…"
    with stack.session_client(admin) as client:
        assert client.get("/api/v1/alerts/channels").json()[0]["config"]["url"] == secret_url
