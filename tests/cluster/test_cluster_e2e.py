"""The chart on a real node (kubenode.py): the images built here, `helm install --wait` with the
default values, a Tenant's data end to end over HTTP, MQTT and the node agent, an AlertRule,
`helm test`, an upgrade that rolls the pods and keeps the data, and the uninstall.

The steps run in file order on one release and each builds on the ones before; when one fails, the
later ones fail for the same reason (read the first failure).
"""

import base64
import json
import time

import httpx
import paho.mqtt.client as mqtt
import pytest

from kubenode import NODE_NAME, POD_MEMORY_MIB, REPO, TIMINGS, Cluster

CHART = REPO / "charts" / "microdash"
RELEASE = "md"
NAMESPACE = "microdash"
TENANT = "acme"
WAIT_SECONDS = 180

# one worker runs them all, in this order (`make test` runs pytest -n 2 --dist loadgroup)
# the first step also waits for the images (a changed tree rebuilds them) and the node to start
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800), pytest.mark.xdist_group("cluster")]


class Release:
    """What the steps learn about the installed release and hand to the next ones."""

    def __init__(self, node: Cluster):
        self.node = node
        self.samples: dict[str, float] = {}  # metric -> value stored through the api

    def kubectl(self, *args: str, **kwargs):
        return self.node.kubectl("-n", NAMESPACE, *args, **kwargs)

    def get(self, *args: str) -> dict:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def service_url(self, name: str, port_name: str) -> tuple[str, int]:
        service = self.get("service", f"{RELEASE}-microdash-{name}")
        port = next(p["port"] for p in service["spec"]["ports"] if p["name"] == port_name)
        return service["spec"]["clusterIP"], port

    def api(self, token: str) -> httpx.Client:
        host, port = self.service_url("api", "http")
        return httpx.Client(base_url=f"http://{host}:{port}", headers={"Authorization": f"Bearer {token}"},
                            timeout=10)

    def secret(self, name: str) -> dict[str, str]:
        data = self.get("secret", name)["data"]
        return {key: base64.b64decode(value).decode() for key, value in data.items()}

    def tenant_secret(self, tenant: str) -> dict[str, str]:
        return self.secret(f"{tenant}-microdash-token")


@pytest.fixture(scope="module")
def release(node) -> Release:
    return Release(node)


def wait_for(what: str, check, timeout: float = WAIT_SECONDS, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (httpx.HTTPError, KeyError, ValueError, RuntimeError) as error:
            last = repr(error)
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout} s (last: {last})")


def query_points(client: httpx.Client, metric: str, match: str | None = None, *, since_ms: int) -> list:
    params = {"metric": metric, "start": since_ms, "end": int(time.time() * 1000) + 60_000, "step": 1000,
              "resolution": "raw", "aggregation": "max"}
    if match:
        params["match"] = match
    answer = client.get("/api/v1/query", params=params)
    answer.raise_for_status()
    return [point for series in answer.json()["series"] for point in series["points"]]


def workloads_ready(release: Release) -> list[str]:
    """The Deployments, StatefulSets and DaemonSets of the release not (yet) fully ready."""
    waiting = []
    for kind in ("deployment", "statefulset", "daemonset"):
        for item in release.get(kind, "-l", f"app.kubernetes.io/instance={RELEASE}")["items"]:
            status, name = item["status"], f"{kind}/{item['metadata']['name']}"
            wanted = status.get("desiredNumberScheduled") if kind == "daemonset" else item["spec"]["replicas"]
            ready = status.get("numberReady" if kind == "daemonset" else "readyReplicas", 0)
            if not wanted or ready != wanted:
                waiting.append(f"{name} {ready}/{wanted}")
    return waiting


def test_helm_install_wait_brings_every_workload_ready(release):
    started = time.monotonic()
    release.node.helm("install", RELEASE, str(CHART), "--namespace", NAMESPACE, "--create-namespace", "--wait",
                      "--timeout", "10m")
    TIMINGS["helm install --wait"] = time.monotonic() - started
    # The migration Job is a post-install hook: --wait returned, so it completed (and was deleted).
    assert not release.get("job", "-l", f"app.kubernetes.io/instance={RELEASE}")["items"]
    # --wait does not cover the agent DaemonSet (maxUnavailable rounds to 0 unavailable on one node).
    release.kubectl("rollout", "status", "daemonset", f"{RELEASE}-microdash-agent", f"--timeout={WAIT_SECONDS}s")
    TIMINGS["helm install until the agent is ready"] = time.monotonic() - started
    assert workloads_ready(release) == []
    kinds = {item["kind"] for kind in ("deployment", "statefulset", "daemonset")
             for item in release.get(kind, "-l", f"app.kubernetes.io/instance={RELEASE}")["items"]}
    assert kinds == {"Deployment", "StatefulSet", "DaemonSet"}


def test_a_tenant_gets_a_token_and_its_http_samples_come_back(release):
    started = time.monotonic()
    release.kubectl("apply", "-f", str(REPO / "docs" / "examples" / "tenant.yaml"))
    wait_for("Tenant Ready", lambda: release.get("tenant", TENANT).get("status", {}).get("phase") == "Ready")
    credentials = wait_for("token Secret", lambda: release.tenant_secret(TENANT))
    assert credentials["tenant"] == TENANT and credentials["token"]
    since_ms = int(time.time() * 1000) - 60_000
    with release.api(credentials["token"]) as api:
        answer = api.post("/api/v1/metrics", json={"metric": "e2e.http", "value": 12.5, "labels": {"via": "http"}})
        assert answer.status_code == 202, answer.text
        wait_for("HTTP sample queryable",
                 lambda: any(v == 12.5 for _, v in query_points(api, "e2e.http", since_ms=since_ms)))
    TIMINGS["Tenant apply until its first sample is queryable"] = time.monotonic() - started
    release.samples["e2e.http"] = 12.5


def test_the_agent_delivers_this_nodes_cpu_and_memory(release):
    credentials = release.tenant_secret("nodes")
    since_ms = int(time.time() * 1000) - 300_000
    with release.api(credentials["token"]) as api:
        memory = wait_for("mem.used_percent from the agent",
                          lambda: query_points(api, "mem.used_percent", since_ms=since_ms), timeout=120)
        cpu = wait_for("cpu.usage_percent from the agent",
                       lambda: query_points(api, "cpu.usage_percent", "cpu=total", since_ms=since_ms), timeout=120)
    assert all(0 < value <= 100 for _, value in memory)
    assert all(0 <= value <= 100 for _, value in cpu)


def test_an_alert_rule_reports_its_state(release):
    release.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "microdash.io/v1alpha1", "kind": "AlertRule", "metadata": {"name": "e2e-http"},
        "spec": {"tenantRef": {"name": TENANT}, "metric": "e2e.http", "aggregation": "max", "window": "5m",
                 "comparison": ">", "threshold": 10, "for": "0s", "severity": "warning"},
    }))
    status = wait_for("AlertRule state", lambda: release.get("alertrule", "e2e-http").get("status", {}).get("state"),
                      timeout=240)
    assert status in {"OK", "PENDING", "FIRING", "NODATA"}
    ready = release.get("alertrule", "e2e-http")["status"]["conditions"]
    assert {"type": "Ready", "status": "True"}.items() <= next(c for c in ready if c["type"] == "Ready").items()


def test_mqtt_publishes_with_the_tenants_credentials_are_stored(release):
    credentials = release.tenant_secret(TENANT)
    host, port = release.service_url("mosquitto", "mqtt")
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="e2e-device", protocol=mqtt.MQTTv311)
    client.username_pw_set(credentials["mqtt-username"], credentials["mqtt-password"])
    connected = []
    client.on_connect = lambda c, u, flags, reason, props: connected.append(reason)
    since_ms = int(time.time() * 1000) - 60_000
    client.connect(host, port)
    client.loop_start()
    try:
        wait_for("CONNACK", lambda: connected, timeout=20)
        assert not connected[0].is_failure, connected[0]
        payload = json.dumps({"metric": "e2e.mqtt", "value": 7.0, "labels": {"via": "mqtt"}})
        client.publish(credentials["mqtt-topic-prefix"] + "e2e", payload, qos=1).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()
    with release.api(credentials["token"]) as api:
        wait_for("MQTT sample queryable", lambda: any(v == 7.0 for _, v in query_points(api, "e2e.mqtt",
                                                                                          since_ms=since_ms)))
    release.samples["e2e.mqtt"] = 7.0


def test_helm_test_passes(release):
    # without --logs: with the hook's delete policy it exits 1 even on success (a chart defect, being fixed)
    result = release.node.helm("test", RELEASE, "--namespace", NAMESPACE, "--timeout", "5m", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Succeeded" in result.stdout


def test_every_pod_at_rest_stays_within_its_memory_limit(release):
    """The kubelet's own figures (its summary API, through the API server), once ingest has settled."""
    summary = json.loads(release.node.kubectl("get", "--raw", f"/api/v1/nodes/{NODE_NAME}/proxy/stats/summary").stdout)
    pods = {pod["metadata"]["name"]: pod for pod in release.get("pod")["items"]}
    over = []
    for stats in summary["pods"]:
        name = stats["podRef"]["name"]
        if stats["podRef"]["namespace"] != NAMESPACE or name not in pods:
            continue
        working_set = sum(c.get("memory", {}).get("workingSetBytes", 0) for c in stats["containers"])
        POD_MEMORY_MIB[name] = working_set / 2**20
        limits = [c["resources"].get("limits", {}).get("memory") for c in pods[name]["spec"]["containers"]]
        limit_bytes = sum(parse_quantity(limit) for limit in limits if limit)
        if limit_bytes and working_set > limit_bytes:
            over.append((name, working_set, limit_bytes))
    running = {name for name, pod in pods.items() if pod["status"].get("phase") == "Running"}
    assert len(running) >= 9 and running <= set(POD_MEMORY_MIB), (running, POD_MEMORY_MIB)
    assert over == []


def parse_quantity(quantity: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(float(quantity[:-2]) * factor)
    return int(quantity)


def test_helm_upgrade_with_a_changed_value_rolls_the_pods_and_keeps_the_data(release):
    def pod_uids() -> dict[str, str]:
        pods = release.get("pod", "-l", f"app.kubernetes.io/instance={RELEASE}")["items"]
        return {pod["metadata"]["uid"]: pod["metadata"]["labels"].get("app.kubernetes.io/component", "")
                for pod in pods if pod["status"].get("phase") == "Running"}

    before = pod_uids()
    release.node.helm("upgrade", RELEASE, str(CHART), "--namespace", NAMESPACE, "--reuse-values", "--set",
                      "config.logLevel=DEBUG", "--wait", "--timeout", "10m")
    wait_for("every workload ready after the upgrade", lambda: workloads_ready(release) == [])
    after = pod_uids()
    rolled = {component for uid, component in before.items() if uid not in after}
    assert {"api", "worker", "scheduler", "bridge", "operator"} <= rolled, rolled
    credentials = release.tenant_secret(TENANT)
    with release.api(credentials["token"]) as api:
        for metric, value in release.samples.items():
            points = wait_for(f"{metric} after the upgrade",
                              lambda metric=metric: query_points(api, metric, since_ms=int(time.time() * 1000) - 3_600_000))
            assert any(v == value for _, v in points), (metric, points)


def test_pods_deleted_under_load_lose_and_duplicate_no_acknowledged_sample(release):
    """HTTP bulk ingest through the api Service and an MQTT device through the Mosquitto Service run
    while one api, worker, bridge and operator pod after the other is deleted (each waited back to
    Ready); then every acknowledged sample is in MariaDB exactly once."""
    from types import SimpleNamespace

    from fault_load import HttpLoad, MqttLoad

    credentials = release.tenant_secret(TENANT)
    api_host, api_port = release.service_url("api", "http")
    mqtt_host, mqtt_port = release.service_url("mosquitto", "mqtt")
    device_credentials = SimpleNamespace(topic_prefix=credentials["mqtt-topic-prefix"],
                                         mqtt_username=credentials["mqtt-username"],
                                         mqtt_password=credentials["mqtt-password"])
    base_ts = int(time.time() * 1000) - 600_000
    http = HttpLoad(f"http://{api_host}:{api_port}", credentials["token"], base_ts, interval=0.1)
    device = MqttLoad(mqtt_port, device_credentials, base_ts, host=mqtt_host, interval=0.02)
    http.start()
    device.start()
    try:
        for component in ("api", "worker", "bridge", "operator"):
            time.sleep(3)
            pods = release.get("pod", "-l", f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component={component}")
            release.kubectl("delete", "pod", pods["items"][0]["metadata"]["name"], "--wait=false")
            time.sleep(2)
            wait_for(f"{component} back to ready", lambda: workloads_ready(release) == [])
        time.sleep(3)
    finally:
        http.stop()
        device.stop()
    assert not http.errors, http.errors[:5]
    for metric, acked in (("fault.http", http.acked), ("fault.mqtt", device.acked)):
        assert acked, metric
        wait_for(f"every acknowledged {metric} sample stored",
                 lambda metric=metric, acked=acked: acked <= set(stored_values(release, metric)), timeout=120)
        time.sleep(2)  # anything still on its way would land now, and show up as a duplicate
        stored = stored_values(release, metric)
        print(f"pods deleted under load: {metric} {len(acked)} acknowledged, {len(stored)} stored")
        assert acked <= set(stored) and len(stored) == len(set(stored)), (metric, len(acked), len(stored))


def stored_values(release: Release, metric: str) -> list[int]:
    """The values of a metric's samples, read in MariaDB itself (kubectl exec)."""
    password = release.secret(f"{RELEASE}-microdash-mariadb")["mariadb-password"]
    query = ("SELECT p.value FROM samples p JOIN series s ON s.id = p.series_id JOIN tenants t ON t.id = s.tenant_id"
             f" WHERE t.name = '{TENANT}' AND s.metric = '{metric}'")
    result = release.kubectl("exec", f"{RELEASE}-microdash-mariadb-0", "--", "mariadb", "-umicrodash",
                             f"-p{password}", "-h127.0.0.1", "microdash", "-N", "-e", query)
    return [int(float(line)) for line in result.stdout.split()]


def test_helm_uninstall_leaves_only_the_documented_objects(release):
    # docs/helm.md, "Uninstall": the pre-delete hook retires the release's own Tenant; the user's
    # Tenant is deleted first so that its token is revoked (its AlertRule stays, as documented).
    release.kubectl("delete", "tenant", TENANT, "--wait", "--timeout=120s")
    result = release.node.helm("uninstall", RELEASE, "--namespace", NAMESPACE, "--wait", "--timeout", "5m",
                               check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    fullname = f"{RELEASE}-microdash"
    documented = {
        *(("PersistentVolumeClaim", f"data-{fullname}-{name}-0") for name in ("mariadb", "redis", "mosquitto")),
        *(("Secret", name) for name in (fullname, f"{fullname}-mariadb", f"{fullname}-redis")),
        ("Pod", f"{fullname}-smoke-test"), ("ConfigMap", f"{fullname}-smoke-test"),
        ("AlertRule", "e2e-http"),
    }

    def leftovers() -> set[tuple[str, str]]:
        items = release.get("all,configmap,secret,pvc,tenant,alertrule,job,serviceaccount,role,rolebinding")["items"]
        return {(item["kind"], item["metadata"]["name"]) for item in items
                if item["metadata"]["name"] not in {"kube-root-ca.crt", "default"}}

    deadline = time.monotonic() + 120  # the garbage collector removes what the Tenants owned
    while leftovers() != documented and time.monotonic() < deadline:
        time.sleep(1)
    assert leftovers() == documented
    assert release.node.kubectl("get", "crd", "tenants.microdash.io", "alertrules.microdash.io").returncode == 0
