"""The operator against a real kube-apiserver + etcd and the real stack (MariaDB, Redis, Mosquitto,
api, worker, bridge). It runs as `microdash operator`, cluster-wide, authenticated only by a
TokenRequest token of the ServiceAccount the Helm chart renders, with the chart's ClusterRole."""

import json
import time

import kubernetes
import pytest

from kubeapi import REPO
from microdash_cli.localstack import free_port
from microdash_core.broker import BrokerAdmin
from mqtt_client import TestClient
from operator_support import (Resources, example, install_crds, operator_identity, start_operator, wait_for)
from support import recent_ms

pytestmark = pytest.mark.xdist_group("kube")


@pytest.fixture(scope="module")
def operator(kube, stack, tmp_path_factory):
    install_crds(kube)
    workdir = tmp_path_factory.mktemp("operator")
    home = kube.new_namespace("microdash")
    kubeconfig = operator_identity(kube, home, workdir)
    process = start_operator(stack.env, kubeconfig, workdir / "operator.log", liveness_port=free_port())
    yield process
    process.stop()


@pytest.fixture
def team(kube, operator):
    """A fresh namespace, seen through an admin's eyes."""
    with kube.api_client() as client:
        yield Resources(client, kube.new_namespace("team"))


def unique(prefix: str) -> str:
    return f"{prefix}-{time.monotonic_ns() % 10**9}"


def ingest(stack, token: str, metric: str = "op.check", value: float = 1.0) -> int:
    with stack.client(token) as http:
        return http.post("/api/v1/metrics", json={"metric": metric, "value": value, "ts": recent_ms()}).status_code


def read_status(stack, token: str) -> int:
    """A read with the token: shows whether it is accepted without storing anything."""
    with stack.client(token) as http:
        return http.get("/api/v1/series").status_code


def mqtt_connects(stack, secret: dict) -> bool:
    client = TestClient(stack.services.ports["mosquitto"], secret["mqtt-username"], secret["mqtt-password"])
    try:
        return client.connect()
    finally:
        client.close()


def tenant_row(stack, name: str):
    rows = stack.sql("SELECT id, display_name, ingest_rate_limit, max_series, retention_raw_days, retention_1m_days,"
                     " retention_5m_days, mqtt_enabled, owner FROM tenants WHERE name = %s", (name,))
    return rows[0] if rows else None


def test_a_tenant_gets_a_row_a_secret_and_a_working_token_over_http_and_mqtt(stack, team):
    name = unique("acme")
    team.create(example("tenant", name=name))
    status = team.wait_ready("Tenant", name)

    row = tenant_row(stack, name)
    assert row[0] == status["tenantId"]
    assert row[1:8] == ("ACME factory sensors", 5000, 10000, 7, 30, 400, 1)
    assert row[8] == f"kubernetes:{team.namespace}/{name}"
    assert status["phase"] == "Ready" and status["secretName"] == f"{name}-microdash-token"
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Ready": "True", "DatabaseSynced": "True", "BrokerSynced": "True"}

    secret = team.secret(status["secretName"])
    assert set(secret) == {"token", "tenant", "mqtt-username", "mqtt-password", "mqtt-topic-prefix"}
    assert secret["tenant"] == name and status["tokenId"] == secret["mqtt-username"]
    assert secret["token"] not in json.dumps(team.get("Tenant", name))  # never in the resource itself
    assert ingest(stack, secret["token"]) == 202

    device = TestClient(stack.services.ports["mosquitto"], secret["mqtt-username"], secret["mqtt-password"])
    assert device.connect(), device.connect_reason
    try:
        device.publish(secret["mqtt-topic-prefix"] + "line1",
                       json.dumps({"metric": "op.mqtt", "value": 3.0, "ts": recent_ms()}).encode())
    finally:
        device.close()
    assert stack.wait_for_samples(status["tenantId"], 2) == 2
    wait_for(lambda: {"TokenIssued", "Ready"} <= set(team.event_reasons(name)), what="events",
             detail=lambda: team.event_reasons(name))


def test_per_object_messages_reach_the_json_logs(team, operator):
    """The chart's default log format: kopf puts its settings (holding queues) in every per-object
    record's `extra`, which the JSON formatter once turned into a logging error."""
    name = unique("logged")
    team.create(example("tenant", name=name))
    team.wait_ready("Tenant", name)
    records = wait_for(lambda: operator.object_records("Tenant", name), what="per-object log lines",
                       detail=lambda: operator.log()[-2000:])
    assert any("reconcile" in record["message"] and record["object"]["namespace"] == team.namespace
               for record in records), records
    assert "Logging error" not in operator.log()


def test_a_connected_device_stays_connected_across_the_operators_resyncs(stack, team, operator):
    """Each resync (every 2 s here, every minute by default) runs the tenant's broker sync; it must
    not set the device's password, which would disconnect it."""
    name = unique("steady")
    team.create(example("tenant", name=name))
    secret = team.secret(team.wait_ready("Tenant", name)["secretName"])
    device = TestClient(stack.services.ports["mosquitto"], secret["mqtt-username"], secret["mqtt-password"])
    assert device.connect(), device.connect_reason
    try:
        def resyncs() -> int:
            return sum("resync" in record["message"] for record in operator.object_records("Tenant", name))

        before = resyncs()
        wait_for(lambda: resyncs() >= before + 3, timeout=30, what="three resyncs")
        assert not device.disconnected.is_set()
        device.publish(secret["mqtt-topic-prefix"] + "steady", b'{"metric": "op.steady", "value": 1}')
    finally:
        device.close()


def test_the_liveness_endpoint_answers(operator):
    """The chart's liveness and readiness probes call it."""
    import httpx

    url = operator.process.args[operator.process.args.index("--liveness") + 1]
    assert wait_for(lambda: _get_status(httpx, url) == 200, what="liveness endpoint")


def _get_status(httpx, url: str) -> int | None:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return None


def test_the_secret_is_owned_by_the_tenant(team):
    name = unique("own")
    created = team.create(example("tenant", name=name))
    status = team.wait_ready("Tenant", name)
    secret = team.core.read_namespaced_secret(status["secretName"], team.namespace)
    (owner,) = secret.metadata.owner_references
    assert (owner.kind, owner.name, owner.uid, owner.controller) == ("Tenant", name, created["metadata"]["uid"], True)


@pytest.mark.parametrize("kind, spec, message", [
    ("Tenant", {"deletionPolicy": "Keep"}, 'Unsupported value: "Keep"'),
    ("Tenant", {"limits": {"ingestSamplesPerSecond": 0}}, "should be greater than or equal to 1"),
    ("Tenant", {"retention": {"rawDays": 60, "oneMinuteDays": 30}}, "rawDays must not exceed oneMinuteDays"),
    ("Tenant", {"unknownField": 1}, 'unknown field "spec.unknownField"'),
    ("AlertRule", {"tenantRef": {"name": "x"}, "metric": "9bad", "comparison": ">", "threshold": 1}, "spec.metric"),
    ("AlertRule", {"tenantRef": {"name": "x"}, "metric": "m", "comparison": "~", "threshold": 1}, "spec.comparison"),
    ("AlertRule", {"tenantRef": {"name": "x"}, "metric": "m", "comparison": ">", "threshold": 1, "window": "5 min"},
     "spec.window"),
    ("AlertRule", {"tenantRef": {"name": "x"}, "metric": "m", "comparison": ">", "threshold": 80,
                   "recoveryThreshold": 90}, "recoveryThreshold must not be above threshold"),
    ("AlertRule", {"metric": "m", "comparison": ">", "threshold": 1}, "spec.tenantRef: Required value"),
    ("AlertRule", {"tenantRef": {"name": "x"}, "metric": "m", "expr": "up", "comparison": ">", "threshold": 1},
     "give exactly one of metric and expr"),
    ("AlertRule", {"tenantRef": {"name": "x"}, "comparison": ">", "threshold": 1}, "give exactly one of metric and expr"),
    ("AlertRule", {"tenantRef": {"name": "x"}, "expr": "up", "matchers": ["a=b"], "comparison": ">", "threshold": 1},
     "matchers go with metric"),
    ("AlertRule", {"tenantRef": {"name": "x"}, "expr": "x" * 2001, "comparison": ">", "threshold": 1}, "spec.expr"),
])
def test_invalid_manifests_are_rejected_by_the_api_server(kube, team, kind, spec, message):
    manifest = {"kind": kind, "metadata": {"name": unique("bad")}, "spec": spec}
    with kube.api_client() as client:
        # Strict field validation, as kubectl apply does by default.
        api = kubernetes.client.CustomObjectsApi(client)
        with pytest.raises(kubernetes.client.ApiException) as raised:
            api.create_namespaced_custom_object("microdash.io", "v1alpha1", team.namespace,
                                                "tenants" if kind == "Tenant" else "alertrules",
                                                {"apiVersion": "microdash.io/v1alpha1", **manifest},
                                                field_validation="Strict")
    assert raised.value.status in (400, 422), raised.value.body  # 400: strict decoding of unknown fields
    assert message in json.loads(raised.value.body)["message"]


def test_an_update_reaches_the_row_and_mqtt_can_be_switched_off_and_on(stack, team):
    name = unique("upd")
    team.create(example("tenant", name=name))
    secret = team.secret(team.wait_ready("Tenant", name)["secretName"])
    assert mqtt_connects(stack, secret)

    team.patch_spec("Tenant", name, {"displayName": "Renamed", "limits": {"ingestSamplesPerSecond": 7},
                                     "retention": {"rawDays": 3}, "mqtt": {"enabled": False}})
    wait_for(lambda: tenant_row(stack, name)[1:8] == ("Renamed", 7, 10000, 3, 30, 400, 0), what="row updated",
             detail=lambda: tenant_row(stack, name))
    wait_for(lambda: team.condition("Tenant", name, "BrokerSynced").get("reason") == "MQTTDisabled",
             what="MQTT disabled")
    assert not mqtt_connects(stack, secret)
    assert ingest(stack, secret["token"]) == 202  # HTTP is not affected

    team.patch_spec("Tenant", name, {"mqtt": {"enabled": True}})
    wait_for(lambda: team.condition("Tenant", name, "BrokerSynced").get("reason") == "Synced", what="MQTT enabled")
    assert mqtt_connects(stack, secret)


def test_max_series_is_enforced_for_the_tenants_token_and_follows_updates(stack, team):
    name = unique("lim")
    team.create(example("tenant", name=name, limits={"maxSeries": 2}))
    token = team.secret(team.wait_ready("Tenant", name)["secretName"])["token"]
    assert [ingest(stack, token, metric=f"op.series_{n}") for n in range(3)] == [202, 202, 422]
    wait_for(lambda: team.status("Tenant", name).get("series") == 2, what="series counted in the status",
             detail=lambda: team.status("Tenant", name))

    team.patch_spec("Tenant", name, {"limits": {"maxSeries": 3}})
    # The api reads the limit with the token, which it caches for MICRODASH_TOKEN_CACHE_SECONDS.
    wait_for(lambda: ingest(stack, token, metric="op.series_2") == 202, what="raised limit in effect")
    assert ingest(stack, token, metric="op.series_3") == 422


def test_rotation_writes_a_new_token_and_revokes_the_old_one(stack, team):
    name = unique("rot")
    team.create(example("tenant", name=name))
    status = team.wait_ready("Tenant", name)
    old = team.secret(status["secretName"])

    team.patch_spec("Tenant", name, {"tokenRotation": 1})
    wait_for(lambda: team.status("Tenant", name).get("tokenRotation") == 1
             and team.status("Tenant", name).get("tokenId") != old["mqtt-username"], what="rotation")
    new = team.secret(status["secretName"])
    assert new["token"] != old["token"]
    assert ingest(stack, new["token"]) == 202
    wait_for(lambda: read_status(stack, old["token"]) == 401, timeout=10, what="old token refused")
    assert not mqtt_connects(stack, old) and mqtt_connects(stack, new)
    assert "TokenRotated" in team.event_reasons(name)


@pytest.mark.parametrize("policy", ["Retain", "Delete"])
def test_deletion_revokes_access_and_keeps_or_deletes_the_data(stack, team, policy):
    name = unique(policy.lower())
    team.create(example("tenant", name=name, deletionPolicy=policy))
    status = team.wait_ready("Tenant", name)
    secret = team.secret(status["secretName"])
    assert ingest(stack, secret["token"]) == 202
    assert stack.wait_for_samples(status["tenantId"], 1) == 1

    team.delete("Tenant", name)
    team.wait_gone("Tenant", name)
    assert team.secret(status["secretName"]) is None
    wait_for(lambda: read_status(stack, secret["token"]) == 401, timeout=10, what="token refused")
    assert not mqtt_connects(stack, secret)
    if policy == "Retain":
        assert tenant_row(stack, name) is not None and stack.count_samples(status["tenantId"]) == 1
    else:
        assert tenant_row(stack, name) is None and stack.count_samples(status["tenantId"]) == 0


def test_drift_is_repaired_broker_client_revoked_token_and_deleted_secret(stack, team):
    name = unique("drift")
    team.create(example("tenant", name=name))
    status = team.wait_ready("Tenant", name)
    secret = team.secret(status["secretName"])

    with BrokerAdmin(stack.settings) as broker:  # someone deletes the device identity behind our back
        broker.remove_token_client(secret["mqtt-username"])
    assert not mqtt_connects(stack, secret)
    wait_for(lambda: mqtt_connects(stack, secret), timeout=15, interval=1, what="broker client recreated")

    stack.sql("UPDATE api_tokens SET revoked_at = NOW() WHERE public_id = %s", (secret["mqtt-username"],))
    wait_for(lambda: team.secret(status["secretName"])["token"] != secret["token"], timeout=15,
             what="a new token written to the Secret")
    renewed = team.secret(status["secretName"])
    wait_for(lambda: ingest(stack, renewed["token"]) == 202, timeout=10, what="renewed token accepted")
    assert "TokenReissued" in team.event_reasons(name)

    team.core.delete_namespaced_secret(status["secretName"], team.namespace)  # the Secret itself
    wait_for(lambda: team.secret(status["secretName"]) is not None, timeout=15, what="Secret recreated")
    assert team.secret(status["secretName"])["token"] != renewed["token"]
    wait_for(lambda: read_status(stack, renewed["token"]) == 401, timeout=10, what="the lost token revoked")


def test_a_name_taken_by_another_owner_is_a_permanent_failure(stack, kube, team):
    taken, _ = stack.new_tenant("cli")  # made with the CLI, not by any Tenant resource
    team.create(example("tenant", name=taken.name))
    wait_for(lambda: team.status("Tenant", taken.name).get("phase") == "Failed", what="Failed phase",
             detail=lambda: team.status("Tenant", taken.name))
    assert team.condition("Tenant", taken.name, "Ready")["reason"] == "NameConflict"
    assert team.secret(f"{taken.name}-microdash-token") is None

    name = unique("twice")
    team.create(example("tenant", name=name))
    team.wait_ready("Tenant", name)
    with kube.api_client() as client:
        other_team = Resources(client, kube.new_namespace("other"))
        other_team.create(example("tenant", name=name))
        wait_for(lambda: other_team.condition("Tenant", name, "Ready").get("reason") == "NameConflict",
                 what="conflict in the other namespace")
        assert other_team.secret(f"{name}-microdash-token") is None
        other_team.delete("Tenant", name)
        other_team.wait_gone("Tenant", name)
    assert tenant_row(stack, name) is not None  # the other namespace's deletion did not touch it
    team.wait_ready("Tenant", name)


def test_a_secret_of_someone_else_is_never_overwritten_nor_deleted(stack, team):
    name = unique("clash")
    team.core.create_namespaced_secret(team.namespace, {"metadata": {"name": f"{name}-microdash-token"},
                                                        "stringData": {"token": "the team's own"}})
    team.create(example("tenant", name=name, deletionPolicy="Delete"))
    wait_for(lambda: team.condition("Tenant", name, "Ready").get("reason") == "SecretConflict", what="SecretConflict",
             detail=lambda: team.status("Tenant", name))
    assert team.status("Tenant", name)["phase"] == "Failed"
    assert team.secret(f"{name}-microdash-token") == {"token": "the team's own"}
    assert stack.sql("SELECT COUNT(*) FROM api_tokens k JOIN tenants t ON t.id = k.tenant_id WHERE t.name = %s",
                     (name,))[0][0] == 0  # no token was issued for a Secret it could not write

    team.delete("Tenant", name)
    team.wait_gone("Tenant", name)
    assert team.secret(f"{name}-microdash-token") == {"token": "the team's own"}
    assert tenant_row(stack, name) is None


def test_the_operators_identity_has_only_what_the_chart_grants(kube, operator, team):
    """The operator above runs with this identity; here we show the grants are narrow."""
    workdir = kube.workdir / "rbac-check"
    workdir.mkdir(exist_ok=True)
    kubeconfig = operator_identity(kube, kube.new_namespace("rbac"), workdir)
    client = kubernetes.config.new_client_from_config(str(kubeconfig))
    core = kubernetes.client.CoreV1Api(client)
    with pytest.raises(kubernetes.client.ApiException) as listing:
        core.list_namespaced_secret(team.namespace)  # may write Secrets, never list them
    with pytest.raises(kubernetes.client.ApiException) as deleting:
        core.delete_namespace(team.namespace)
    with pytest.raises(kubernetes.client.ApiException) as pods:
        core.list_pod_for_all_namespaces()
    assert (listing.value.status, deleting.value.status, pods.value.status) == (403, 403, 403)
    kubernetes.client.CustomObjectsApi(client).list_cluster_custom_object("microdash.io", "v1alpha1", "tenants")
    rendered = (REPO / "charts" / "microdash" / "templates" / "operator" / "rbac.yaml").read_text()
    assert "'*'" not in rendered and '"*"' not in rendered


def rule_row(stack, tenant_id: int, name: str):
    rows = stack.sql("SELECT id, metric, matchers, window_seconds, comparison, threshold, recovery_threshold,"
                     " for_seconds, severity, managed_by FROM alert_rules WHERE tenant_id = %s AND name = %s",
                     (tenant_id, name))
    return rows[0] if rows else None


def test_an_alert_rule_becomes_a_row_follows_updates_and_reports_the_engines_state(stack, team):
    from microdash_workers.alert_eval import evaluate_tenant

    tenant = unique("alerts")
    team.create(example("tenant", name=tenant))
    tenant_id = team.wait_ready("Tenant", tenant)["tenantId"]
    team.create(example("alertrule", name="high-cpu", tenantRef={"name": tenant}))
    status = team.wait_ready("AlertRule", "high-cpu")
    assert rule_row(stack, tenant_id, "high-cpu") == (
        status["ruleId"], "cpu.usage", '["host=~node-.*"]', 300, ">", 90.0, 80.0, 120, "critical", "kubernetes")

    team.patch_spec("AlertRule", "high-cpu", {"threshold": 50, "recoveryThreshold": 40, "for": "0s", "window": "1m"})
    wait_for(lambda: rule_row(stack, tenant_id, "high-cpu")[3:8] == (60, ">", 50.0, 40.0, 0), what="rule updated")

    secret = team.secret(f"{tenant}-microdash-token")
    with stack.client(secret["token"]) as http:
        assert http.post("/api/v1/metrics", json={"metric": "cpu.usage", "value": 97.0, "ts": recent_ms(-2000),
                                                  "labels": {"host": "node-1"}}).status_code == 202
    stack.wait_for_samples(tenant_id, 1)
    evaluate_tenant(tenant_id, settings=stack.settings)  # one round of the alerting engine
    wait_for(lambda: team.status("AlertRule", "high-cpu").get("state") == "FIRING", timeout=15,
             what="FIRING in status", detail=lambda: team.status("AlertRule", "high-cpu"))
    status = team.status("AlertRule", "high-cpu")
    assert (status["activeAlerts"], status["series"]) == (1, 1) and status["lastEvaluation"].endswith("Z")
    assert "StateFiring" in team.event_reasons("high-cpu")

    team.delete("AlertRule", "high-cpu")
    team.wait_gone("AlertRule", "high-cpu")
    assert rule_row(stack, tenant_id, "high-cpu") is None


def test_an_alert_rule_in_promql_becomes_an_expression_rule_and_a_bad_one_is_refused(stack, team):
    from microdash_workers.alert_eval import evaluate_tenant

    tenant = unique("promql")
    team.create(example("tenant", name=tenant))
    tenant_id = team.wait_ready("Tenant", tenant)["tenantId"]
    team.create(example("alertrule-promql", name="errors", tenantRef={"name": tenant}))
    status = team.wait_ready("AlertRule", "errors")
    ((rule_id, metric, expr, for_seconds),) = stack.sql(
        "SELECT id, metric, expr, for_seconds FROM alert_rules WHERE tenant_id = %s AND name = 'errors'", (tenant_id,))
    assert (rule_id, metric, for_seconds) == (status["ruleId"], "", 600)
    assert expr.startswith("sum by (service) (rate(http_requests_total{code=~\"5..\"}[5m]))")

    team.patch_spec("AlertRule", "errors", {"expr": "max(node_load1)", "threshold": 1, "for": "0s"})
    wait_for(lambda: stack.sql("SELECT expr FROM alert_rules WHERE id = %s", (rule_id,)) == [("max(node_load1)",)],
             what="expr updated")
    secret = team.secret(f"{tenant}-microdash-token")
    with stack.client(secret["token"]) as http:
        assert http.post("/api/v1/metrics", json={"metric": "node_load1", "value": 3.0, "ts": recent_ms(-2000),
                                                  "labels": {"host": "n1"}}).status_code == 202
    stack.wait_for_samples(tenant_id, 1)
    evaluate_tenant(tenant_id, settings=stack.settings)
    wait_for(lambda: team.status("AlertRule", "errors").get("state") == "FIRING", timeout=15,
             what="FIRING in status", detail=lambda: team.status("AlertRule", "errors"))
    assert "evaluationError" not in team.status("AlertRule", "errors")

    # Two series with one label set once __name__ is dropped: not evaluated, and the status says why.
    with stack.client(secret["token"]) as http:
        assert http.post("/api/v1/metrics", json={"metric": "other_load", "value": 3.0, "ts": recent_ms(-2000),
                                                  "labels": {"host": "n1"}}).status_code == 202
    stack.wait_for_samples(tenant_id, 2)
    team.patch_spec("AlertRule", "errors", {"expr": '{__name__=~"node_load1|other_load"}'})
    wait_for(lambda: stack.sql("SELECT expr FROM alert_rules WHERE id = %s", (rule_id,))[0][0].startswith("{"),
             what="expr updated")
    evaluate_tenant(tenant_id, settings=stack.settings)
    wait_for(lambda: "once __name__ is dropped" in team.status("AlertRule", "errors").get("evaluationError", ""),
             timeout=20, what="evaluationError in status", detail=lambda: team.status("AlertRule", "errors"))

    team.create(example("alertrule-promql", name="broken", tenantRef={"name": tenant}, expr="sum(rate(x[5m])"))
    wait_for(lambda: team.condition("AlertRule", "broken", "Ready").get("reason") == "InvalidRule", what="refused")
    assert "parse error" in team.condition("AlertRule", "broken", "Ready")["message"]
    team.create(example("alertrule-promql", name="ranged", tenantRef={"name": tenant}, expr="node_load1[5m]"))
    wait_for(lambda: team.condition("AlertRule", "ranged", "Ready").get("reason") == "InvalidRule", what="refused")
    assert "instant vector or a scalar" in team.condition("AlertRule", "ranged", "Ready")["message"]
    assert stack.sql("SELECT name FROM alert_rules WHERE tenant_id = %s ORDER BY name", (tenant_id,)) == [("errors",)]


def test_alert_rule_drift_is_repaired_and_other_namespaces_cannot_use_the_tenant(stack, kube, team):
    tenant = unique("ruled")
    team.create(example("tenant", name=tenant))
    tenant_id = team.wait_ready("Tenant", tenant)["tenantId"]
    team.create(example("alertrule", name="r1", tenantRef={"name": tenant}))
    first_id = team.wait_ready("AlertRule", "r1")["ruleId"]

    stack.sql("DELETE FROM alert_rules WHERE id = %s", (first_id,))
    wait_for(lambda: rule_row(stack, tenant_id, "r1") is not None, timeout=15, what="rule recreated")
    wait_for(lambda: team.status("AlertRule", "r1").get("ruleId") == rule_row(stack, tenant_id, "r1")[0],
             what="status follows the new row")

    with kube.api_client() as client:
        intruder = Resources(client, kube.new_namespace("intruder"))
        intruder.create(example("alertrule", name="steal", tenantRef={"name": tenant}))
        wait_for(lambda: intruder.condition("AlertRule", "steal", "Ready").get("reason") == "TenantNotFound",
                 what="TenantNotFound")
        time.sleep(3)  # several retries: still one Warning event, not one per retry
        assert intruder.event_reasons("steal") == ["TenantNotFound"]

        # A forged status on the intruder's own Tenant does not lead to the victim's tenant either.
        own = unique("own")
        intruder.create(example("tenant", name=own))
        own_id = intruder.wait_ready("Tenant", own)["tenantId"]
        intruder.api.patch_namespaced_custom_object_status("microdash.io", "v1alpha1", intruder.namespace, "tenants",
                                                           own, {"status": {"tenantId": tenant_id}})
        intruder.create(example("alertrule", name="forged", tenantRef={"name": own}))
        intruder.wait_ready("AlertRule", "forged")
        assert rule_row(stack, own_id, "forged") is not None
    assert rule_row(stack, tenant_id, "steal") is None and rule_row(stack, tenant_id, "forged") is None


def test_a_rule_made_through_the_api_is_not_taken_over(stack, team):
    tenant = unique("mixed")
    team.create(example("tenant", name=tenant))
    tenant_id = team.wait_ready("Tenant", tenant)["tenantId"]
    stack.sql("INSERT INTO alert_rules (tenant_id, name, metric, matchers, aggregation, window_seconds, comparison,"
              " threshold, labels, annotations, channels) VALUES (%s, 'mine', 'm', '[]', 'avg', 60, '>', 1, '{}',"
              " '{}', '[]')", (tenant_id,))
    team.create(example("alertrule", name="mine", tenantRef={"name": tenant}))
    wait_for(lambda: team.condition("AlertRule", "mine", "Ready").get("reason") == "NameConflict", what="conflict")
    assert rule_row(stack, tenant_id, "mine")[-1] == "api"


def test_kubectl_explain_has_a_description_for_every_field(kube, operator):
    """kubectl explain reads the API server's published OpenAPI v3: every spec and status field
    of both kinds has a description there (condition entries follow the Kubernetes convention)."""
    import ssl

    import httpx

    def published():
        response = httpx.get(f"{kube.server}/openapi/v3/apis/microdash.io/v1alpha1",
                             verify=ssl.create_default_context(cafile=str(kube.ca_bundle)),
                             headers={"Authorization": f"Bearer {kube.admin_token}"})
        schemas = response.json().get("components", {}).get("schemas", {}) if response.status_code == 200 else {}
        return {kind: schemas.get(f"io.microdash.v1alpha1.{kind}") for kind in ("Tenant", "AlertRule")}

    schemas = wait_for(lambda: all(published().values()) and published(), what="published OpenAPI schemas")
    undescribed, seen = [], set()

    def walk(schema: dict, path: str) -> None:
        for name, field in (schema.get("properties") or {}).items():
            seen.add(path + name)
            if not field.get("description") and not path.startswith(("metadata", "status.conditions")) \
                    and name not in ("apiVersion", "kind", "metadata"):
                undescribed.append(path + name)
            walk(field, f"{path}{name}.")
        if "items" in schema:
            walk(schema["items"], path)

    for kind, schema in schemas.items():
        assert schema.get("description"), kind
        walk(schema, "")
    assert {"spec.tokenRotation", "spec.noData.policy", "status.activeAlerts"} <= seen
    assert undescribed == []
