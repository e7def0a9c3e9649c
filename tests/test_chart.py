"""The Helm chart: lint, render and schema checks per ci/ scenario, and the CRD copy.

The tests against a real kube-apiserver are in test_chart_cluster.py; the per-container rules
(probes, resources, security contexts) in test_chart_containers.py.
"""

import filecmp

import pytest
import yaml

from chart_support import CHART, REPO, SCENARIOS, by_kind_and_name, component, containers, helm, render, RELEASE


def test_every_scenario_the_issue_names_is_in_the_matrix():
    assert set(SCENARIOS) == {"default", "external-databases", "agent-off", "ha"}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_lint_is_clean(scenario):
    result = helm("lint", "--strict", str(CHART), "--values", str(SCENARIOS[scenario]), "--kube-version", "1.35.4",
                  check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout


def test_the_crd_copy_in_the_chart_is_identical_to_the_top_level_crds():
    top, copy = REPO / "crds", CHART / "crds"
    names = sorted(path.name for path in top.glob("*.yaml"))
    assert names, "no CRDs in crds/"
    assert names == sorted(path.name for path in copy.glob("*.yaml"))
    _, mismatch, errors = filecmp.cmpfiles(top, copy, names, shallow=False)
    assert mismatch == [] and errors == [], f"charts/microdash/crds differs from crds/: {mismatch + errors}"


def _workloads(docs):
    return {(doc["kind"], component(doc)) for doc in docs if doc["kind"] in {"Deployment", "StatefulSet", "DaemonSet"}}


def _env(container) -> dict:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container.get("env", [])}


def _main_container(docs, kind, name):
    return by_kind_and_name(docs)[(kind, f"{RELEASE}-microdash-{name}")]["spec"]["template"]["spec"]["containers"][0]


def test_defaults_render_the_whole_platform():
    docs = render(SCENARIOS["default"])
    assert _workloads(docs) == {
        ("Deployment", "api"), ("Deployment", "worker"), ("Deployment", "scheduler"), ("Deployment", "operator"),
        ("StatefulSet", "bridge"), ("StatefulSet", "mariadb"), ("StatefulSet", "redis"), ("StatefulSet", "mosquitto"),
        ("DaemonSet", "agent")}
    kinds = [doc["kind"] for doc in docs]
    assert kinds.count("NetworkPolicy") == 6 and kinds.count("PodDisruptionBudget") == 3
    assert "HorizontalPodAutoscaler" not in kinds and "ServiceMonitor" not in kinds
    tenant = by_kind_and_name(docs)[("Tenant", "nodes")]
    assert tenant["spec"] == {"displayName": "Kubernetes nodes", "mqtt": {"enabled": True}, "deletionPolicy": "Retain"}
    assert tenant["metadata"]["namespace"] == "microdash"
    job = by_kind_and_name(docs)[("Job", f"{RELEASE}-microdash-migrate")]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"
    env = _env(_main_container(docs, "Deployment", "api"))
    assert env["MICRODASH_DATABASE_URL"] == f"mysql://microdash:$(MICRODASH_DATABASE_PASSWORD)@{RELEASE}-microdash-mariadb:3306/microdash"
    assert env["MICRODASH_REDIS_URL"] == f"redis://:$(MICRODASH_REDIS_PASSWORD)@{RELEASE}-microdash-redis:6379/0"
    config = by_kind_and_name(docs)[("ConfigMap", f"{RELEASE}-microdash-config")]["data"]
    assert config["MICRODASH_MQTT_URL"] == f"mqtt://{RELEASE}-microdash-mosquitto:1883"


def test_scheduler_and_operator_run_alone():
    docs = render(SCENARIOS["ha"])
    for name in ("scheduler", "operator"):
        spec = by_kind_and_name(docs)[("Deployment", f"{RELEASE}-microdash-{name}")]["spec"]
        assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}


def test_external_databases_replace_the_bundled_ones():
    docs = render(SCENARIOS["external-databases"])
    assert _workloads(docs) == {("Deployment", "api"), ("Deployment", "worker"), ("Deployment", "scheduler"),
                                ("Deployment", "operator"), ("StatefulSet", "bridge"), ("DaemonSet", "agent")}
    env = _env(_main_container(docs, "Deployment", "worker"))
    assert env["MICRODASH_DATABASE_URL"] == ("mysql://metrics:$(MICRODASH_DATABASE_PASSWORD)"
                                             "@mariadb.databases.svc.cluster.local:3306/metrics")
    assert env["MICRODASH_DATABASE_PASSWORD"] == {"secretKeyRef": {"name": "metrics-database", "key": "password"}}
    assert env["MICRODASH_REDIS_URL"] == "rediss://:$(MICRODASH_REDIS_PASSWORD)@redis.databases.svc.cluster.local:6380/2"
    assert env["MICRODASH_SECRET_KEY"] == {"secretKeyRef": {"name": "microdash-secrets", "key": "secret-key"}}
    config = by_kind_and_name(docs)[("ConfigMap", f"{RELEASE}-microdash-config")]["data"]
    assert config["MICRODASH_MQTT_URL"] == "mqtts://broker.example.com:8883"
    secrets = {doc["metadata"]["name"] for doc in docs if doc["kind"] == "Secret"}
    assert secrets == {f"{RELEASE}-microdash-external-redis"}  # the others exist already
    job = by_kind_and_name(docs)[("Job", f"{RELEASE}-microdash-migrate")]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    policies = {doc["metadata"]["name"] for doc in docs if doc["kind"] == "NetworkPolicy"}
    assert policies == {f"{RELEASE}-microdash-api", f"{RELEASE}-microdash-no-ingress", f"{RELEASE}-microdash-worker-egress"}


def _worker_egress(docs) -> dict | None:
    return by_kind_and_name(docs).get(("NetworkPolicy", f"{RELEASE}-microdash-worker-egress"))


def test_worker_egress_allows_dns_the_datastores_and_the_public_internet_only(tmp_path):
    policy = _worker_egress(render(SCENARIOS["default"]))
    assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "worker"
    assert policy["spec"]["policyTypes"] == ["Egress"]
    dns, database, redis, internet = policy["spec"]["egress"]
    assert dns == {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}
    for rule, peer, port in ((database, "mariadb", "mysql"), (redis, "redis", "redis")):
        [selector] = rule["to"]
        assert selector["podSelector"]["matchExpressions"][0]["values"] == [peer]
        assert rule["ports"] == [{"port": port, "protocol": "TCP"}]
    ipv4, ipv6 = (peer["ipBlock"] for peer in internet["to"])
    assert "ports" not in internet and ipv4["cidr"] == "0.0.0.0/0" and ipv6["cidr"] == "::/0"
    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16",
            "100.64.0.0/10", "224.0.0.0/4"} <= set(ipv4["except"])
    assert {"::1/128", "fc00::/7", "fe80::/10", "ff00::/8"} <= set(ipv6["except"])

    external = _worker_egress(render(SCENARIOS["external-databases"]))["spec"]["egress"]
    assert external[1:3] == [{"ports": [{"port": 3306, "protocol": "TCP"}]}, {"ports": [{"port": 6380, "protocol": "TCP"}]}]

    on_prem = {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}], "ports": [{"port": 443, "protocol": "TCP"}]}
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({"worker": {"networkPolicy": {"extraEgress": [on_prem]}}}))
    assert _worker_egress(render(values))["spec"]["egress"][-1] == on_prem
    values.write_text(yaml.safe_dump({"worker": {"networkPolicy": {"enabled": False}}}))
    assert _worker_egress(render(values)) is None
    assert _worker_egress(render(SCENARIOS["agent-off"])) is None  # networkPolicy.enabled: false


def test_agent_off_renders_no_agent_tenant_or_operator():
    docs = render(SCENARIOS["agent-off"])
    kinds = {doc["kind"] for doc in docs}
    assert not kinds & {"DaemonSet", "Tenant", "ClusterRole", "ClusterRoleBinding", "ServiceAccount", "NetworkPolicy"}
    assert ("Deployment", "operator") not in _workloads(docs)
    test_pod = by_kind_and_name(docs)[("Pod", f"{RELEASE}-microdash-smoke-test")]
    assert _env(test_pod["spec"]["containers"][0])["MICRODASH_TOKEN"] == {
        "secretKeyRef": {"name": "smoke-microdash-token", "key": "token"}}


def test_ha_autoscales_api_and_workers_and_pins_the_image_digest():
    docs = render(SCENARIOS["ha"])
    named = by_kind_and_name(docs)
    for name in ("api", "worker"):
        assert "replicas" not in named[("Deployment", f"{RELEASE}-microdash-{name}")]["spec"]
        hpa = named[("HorizontalPodAutoscaler", f"{RELEASE}-microdash-{name}")]["spec"]
        assert hpa["scaleTargetRef"]["name"] == f"{RELEASE}-microdash-{name}" and hpa["minReplicas"] == 3
    assert named[("StatefulSet", f"{RELEASE}-microdash-bridge")]["spec"]["replicas"] == 3
    monitor = named[("ServiceMonitor", f"{RELEASE}-microdash-api")]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["endpoints"][0] | {"path": "/metrics", "port": "metrics"} == monitor["spec"]["endpoints"][0]
    api = named[("Deployment", f"{RELEASE}-microdash-api")]["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "MICRODASH_METRICS_PORT", "value": "9090"} in api["env"]
    assert {"name": "metrics", "containerPort": 9090, "protocol": "TCP"} in api["ports"]
    digest = "registry.example.com/microdash/microdash@sha256:" + "0123456789abcdef" * 4
    for doc in docs:
        for container in containers(doc):
            if component(doc) not in {"mariadb", "redis", "mosquitto", "agent"}:
                assert container["image"] == digest, (doc["metadata"]["name"], container["name"])
        if containers(doc):
            spec = doc["spec"] if doc["kind"] == "Pod" else doc["spec"]["template"]["spec"]
            assert spec["imagePullSecrets"] == [{"name": "registry-credentials"}], doc["metadata"]["name"]
    assert "Tenant" not in {doc["kind"] for doc in docs}
    agent_env = _env(named[("DaemonSet", f"{RELEASE}-microdash-agent")]["spec"]["template"]["spec"]["containers"][0])
    assert agent_env["MICRODASH_AGENT_MQTT_PASSWORD"] == {"secretKeyRef": {"name": "fleet-microdash-token",
                                                                           "key": "mqtt-password"}}


def test_an_ingress_routes_to_the_api_which_trusts_the_forwarded_headers_it_is_told_to():
    named = by_kind_and_name(render(SCENARIOS["ha"]))
    ingress = named[("Ingress", f"{RELEASE}-microdash")]["spec"]
    assert ingress["ingressClassName"] == "nginx"
    assert ingress["tls"] == [{"secretName": "microdash-tls", "hosts": ["microdash.example.com"]}]
    [rule] = ingress["rules"]
    assert rule["host"] == "microdash.example.com"
    assert rule["http"]["paths"] == [{"path": "/", "pathType": "Prefix", "backend": {
        "service": {"name": f"{RELEASE}-microdash-api", "port": {"name": "http"}}}}]
    ha_env = _env(_main_container(render(SCENARIOS["ha"]), "Deployment", "api"))
    assert (ha_env["MICRODASH_FORWARDED_ALLOW_IPS"], ha_env["MICRODASH_TRUSTED_PROXY_HOPS"]) == ("10.0.0.0/8", "1")
    defaults = render(SCENARIOS["default"])
    assert "Ingress" not in {doc["kind"] for doc in defaults}
    default_env = _env(_main_container(defaults, "Deployment", "api"))
    assert "MICRODASH_FORWARDED_ALLOW_IPS" not in default_env and "MICRODASH_TRUSTED_PROXY_HOPS" not in default_env


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_object_carries_the_standard_labels_and_selectors_use_only_selector_labels(scenario):
    docs = render(SCENARIOS[scenario])
    for doc in docs:
        labels = doc["metadata"].get("labels", {})
        for key in ("helm.sh/chart", "app.kubernetes.io/name", "app.kubernetes.io/instance",
                    "app.kubernetes.io/version", "app.kubernetes.io/managed-by", "app.kubernetes.io/part-of"):
            assert key in labels, (doc["kind"], doc["metadata"]["name"], key)
        selector = (doc.get("spec") or {}).get("selector")
        if doc["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "PodDisruptionBudget"}:
            selector = selector["matchLabels"]
        if doc["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "PodDisruptionBudget", "Service"}:
            # selectors are immutable: nothing that changes with a chart or app version
            assert set(selector) == {"app.kubernetes.io/name", "app.kubernetes.io/instance",
                                     "app.kubernetes.io/component"}, doc["metadata"]["name"]


BAD_VALUES = [
    ({"api": {"replicsa": 3}}, "at '/api': additional properties 'replicsa' not allowed"),
    ({"wroker": {"replicas": 3}}, "additional properties 'wroker' not allowed"),
    ({"worker": {"replicas": "two"}}, "at '/worker/replicas': got string, want integer"),
    ({"containerSecurityContext": {"readOnlyRootFilesystem": False}}, "at '/containerSecurityContext"),
    ({"mariadb": {"auth": {"password": "p@ss/word"}}}, "at '/mariadb/auth/password'"),
    ({"config": {"extraEnv": {"RETENTION_RAW_DAYS": "14"}}}, "'RETENTION_RAW_DAYS' does not match pattern '^MICRODASH_"),
    ({"api": {"resources": {"requests": {"memory": None}}}},  # null deletes a default
     "at '/api/resources/requests'"),
    ({"agent": {"tolerations": [{"operator": "Exists", "efect": "NoSchedule"}]}}, "at '/agent/tolerations/0'"),
    ({"image": {"digest": "latest"}}, "at '/image/digest'"),
    ({"ingress": {"hosts": ["https://microdash.example.com"]}}, "at '/ingress/hosts/0'"),
    ({"api": {"forwardedAllowIps": "everyone"}}, "at '/api/forwardedAllowIps'"),
    ({"worker": {"networkPolicy": {"enabeld": True}}}, "at '/worker/networkPolicy': additional properties 'enabeld'"),
    ({"api": {"trustedProxyHops": -1}}, "at '/api/trustedProxyHops'"),
    ({"agent": {"maxSurge": 0}}, "at '/agent/maxSurge'"),
    ({"agent": {"maxSurge": "0%"}}, "at '/agent/maxSurge'"),
    ({"operator": {"uninstallHook": {"timeoutSeconds": "3m"}}}, "at '/operator/uninstallHook/timeoutSeconds'"),
]


@pytest.mark.parametrize(("values", "message"), BAD_VALUES, ids=[message for _, message in BAD_VALUES])
def test_the_schema_rejects_bad_values_with_the_offending_key(tmp_path, values, message):
    bad = tmp_path / "bad-values.yaml"
    bad.write_text(yaml.safe_dump(values))
    result = helm("template", RELEASE, str(CHART), "--kube-version", "1.35.4", "--values", str(bad), check=False)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    assert message in result.stderr, result.stderr


@pytest.mark.parametrize(("scenario", "replicas", "shared"), [("default", 1, "false"), ("ha", 3, "true")])
def test_one_bridge_holds_a_plain_subscription_and_several_share_one(scenario, replicas, shared):
    """Mosquitto 2.0 restores plain subscriptions after a restart, not shared ones (docs/decisions.md)."""
    bridge = by_kind_and_name(render(SCENARIOS[scenario]))[("StatefulSet", f"{RELEASE}-microdash-bridge")]
    assert bridge["spec"]["replicas"] == replicas
    env = {item["name"]: item.get("value") for item in bridge["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MICRODASH_BRIDGE_SHARED_SUBSCRIPTION"] == shared


def test_bundled_redis_fsyncs_every_write_and_refuses_writes_when_full_instead_of_evicting(tmp_path):
    args = _main_container(render(SCENARIOS["default"]), "StatefulSet", "redis")["args"]
    assert args[args.index("--appendfsync") + 1] == "always"
    assert args[args.index("--maxmemory") + 1] == "384mb"
    assert args[args.index("--maxmemory-policy") + 1] == "noeviction"
    faster = tmp_path / "faster.yaml"
    faster.write_text("redis:\n  appendfsync: everysec\n  maxmemory: 1gb\n")
    args = _main_container(render(faster), "StatefulSet", "redis")["args"]
    assert args[args.index("--appendfsync") + 1] == "everysec" and args[args.index("--maxmemory") + 1] == "1gb"


SERVER_WORKLOADS = [("Deployment", "api"), ("Deployment", "worker"), ("Deployment", "scheduler"),
                    ("Deployment", "operator"), ("StatefulSet", "bridge")]


def _checksums(docs) -> dict[str, dict[str, str]]:
    named = by_kind_and_name(docs)
    return {name: {key: value for key, value in named[(kind, f"{RELEASE}-microdash-{name}")]["spec"]["template"]
                   ["metadata"]["annotations"].items() if key.startswith("checksum/")}
            for kind, name in SERVER_WORKLOADS}


def _without_generated_passwords(docs) -> list[dict]:
    """The generated passwords differ between renders: `helm template` has no cluster to look them up in."""
    return [{**doc, "data": sorted(doc["data"])} if doc["kind"] == "Secret" else doc for doc in docs]


def test_two_renders_are_identical_so_a_gitops_sync_rolls_nothing():
    first, second = render(SCENARIOS["default"]), render(SCENARIOS["default"])
    assert _without_generated_passwords(first) == _without_generated_passwords(second)
    assert all(set(checksums) == {"checksum/config", "checksum/secret"} for checksums in _checksums(first).values())


@pytest.mark.parametrize(("setting", "changed"), [("config.logLevel=DEBUG", "checksum/config"),
                                                  ("secrets.secretKey=a-new-secret-key", "checksum/secret"),
                                                  ("redis.auth.password=a-new-password", "checksum/secret")])
def test_a_changed_value_changes_its_checksum_and_only_that_one(setting, changed):
    before = _checksums(render(SCENARIOS["default"]))
    after = _checksums(render(SCENARIOS["default"], extra=("--set", setting)))
    assert _checksums(render(SCENARIOS["default"], extra=("--set", setting))) == after  # no chance in it
    for name, checksums in after.items():
        assert checksums[changed] != before[name][changed], name
        assert {key: value for key, value in checksums.items() if key != changed} == {
            key: value for key, value in before[name].items() if key != changed}, name


def test_the_generated_secrets_are_kept_by_helm_uninstall_and_given_ones_are_not():
    kept = {doc["metadata"]["name"] for doc in render(SCENARIOS["default"]) if doc["kind"] == "Secret"
            and doc["metadata"].get("annotations", {}).get("helm.sh/resource-policy") == "keep"}
    assert kept == {f"{RELEASE}-microdash", f"{RELEASE}-microdash-mariadb", f"{RELEASE}-microdash-redis"}
    given = [doc for doc in render(SCENARIOS["external-databases"]) if doc["kind"] == "Secret"]
    assert given and all("annotations" not in doc["metadata"] for doc in given)


def _helm_expects_ready(strategy: dict, desired: int) -> int:
    """helm's kube.ReadyChecker.daemonSetReady: desired minus maxUnavailable, a percentage rounded up."""
    value = strategy["rollingUpdate"].get("maxUnavailable", 1)
    unavailable = -(-int(value[:-1]) * desired // 100) if isinstance(value, str) else value
    return desired - unavailable


@pytest.mark.parametrize("scenario", ["default", "ha"])
def test_helm_wait_waits_for_every_agent_whatever_the_cluster_size(scenario):
    daemonset = by_kind_and_name(render(SCENARIOS[scenario]))[("DaemonSet", f"{RELEASE}-microdash-agent")]
    strategy = daemonset["spec"]["updateStrategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "10%"}}
    assert all(_helm_expects_ready(strategy, nodes) == nodes for nodes in (1, 2, 3, 9, 10, 11, 100))


def test_the_test_pod_stays_after_it_succeeds_for_helm_test_logs():
    docs = [doc for doc in render(SCENARIOS["default"]) if component(doc) == "test"]
    assert {doc["kind"] for doc in docs} == {"Pod", "ConfigMap"}
    for doc in docs:
        assert doc["metadata"]["annotations"]["helm.sh/hook-delete-policy"] == "before-hook-creation"


def _retire_hook(docs) -> dict[str, dict]:
    return {doc["kind"]: doc for doc in docs if component(doc) == "retire"}


def test_uninstall_first_runs_the_retire_hook_with_its_own_rbac():
    hook = _retire_hook(render(SCENARIOS["default"]))
    assert set(hook) == {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Job"}
    name = f"{RELEASE}-microdash-retire"
    for kind, doc in hook.items():
        assert doc["metadata"]["name"] == name
        assert doc["metadata"]["annotations"] == {
            "helm.sh/hook": "pre-delete", "helm.sh/hook-weight": "0" if kind == "Job" else "-10",
            "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded"}, kind
    operator = f"{RELEASE}-microdash-operator"
    assert hook["ClusterRole"]["rules"] == [
        {"apiGroups": ["microdash.io"], "resources": ["tenants", "alertrules"], "verbs": ["list", "delete", "patch"]}]
    assert hook["Role"]["rules"] == [
        {"apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": [operator], "verbs": ["get"]},
        {"apiGroups": ["apps"], "resources": ["deployments/scale"], "resourceNames": [operator], "verbs": ["patch"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]
    for binding in (hook["ClusterRoleBinding"], hook["RoleBinding"]):
        assert binding["roleRef"]["name"] == name
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": name, "namespace": "microdash"}]
    job = hook["Job"]["spec"]
    pod = job["template"]["spec"]
    assert pod["serviceAccountName"] == name and pod["automountServiceAccountToken"] is True
    assert pod["containers"][0]["args"] == ["retire-release", "--namespace", "microdash", "--release", RELEASE,
                                            "--operator-deployment", operator, "--timeout", "180"]
    assert job["backoffLimit"] == 0 and job["activeDeadlineSeconds"] == 240


def test_the_retire_hook_works_where_an_operator_limited_to_some_namespaces_works():
    docs = [doc for doc in render(SCENARIOS["default"], extra=("--set", "operator.watchNamespaces={team-a}"))
            if component(doc) == "retire"]
    assert not {"ClusterRole", "ClusterRoleBinding"} & {doc["kind"] for doc in docs}
    roles = {doc["metadata"]["namespace"]: doc["rules"] for doc in docs
             if doc["kind"] == "Role" and doc["metadata"]["name"].endswith("-resources")}
    assert roles == {namespace: [{"apiGroups": ["microdash.io"], "resources": ["tenants", "alertrules"],
                                  "verbs": ["list", "delete", "patch"]}] for namespace in ("team-a", "microdash")}
    bindings = {doc["metadata"]["namespace"] for doc in docs
                if doc["kind"] == "RoleBinding" and doc["metadata"]["name"].endswith("-resources")}
    assert bindings == {"team-a", "microdash"}
    [job] = [doc for doc in docs if doc["kind"] == "Job"]
    assert job["spec"]["template"]["spec"]["containers"][0]["args"][-4:] == [
        "--watch-namespace", "team-a", "--watch-namespace", "microdash"]


def test_the_retire_hook_goes_with_the_operator_or_when_turned_off():
    assert _retire_hook(render(SCENARIOS["agent-off"])) == {}  # no operator
    turned_off = render(SCENARIOS["default"], extra=("--set", "operator.uninstallHook.enabled=false"))
    assert _retire_hook(turned_off) == {}
