"""The chart against a real kube-apiserver (tests/kubeapi.py): every rendered object passes a
server-side dry-run apply with strict field validation, `helm install` completes and leaves the
objects with their labels, upgrades keep the generated secrets, bad values are refused.

There is no controller manager: no pod ever runs, so installs go without --wait, and a
JobCompleter marks the hook Jobs as succeeded the way the job controller would.
"""

import json

import kubernetes
import pytest
import yaml

from chart_support import (CHART, REPO, SCENARIOS, DaemonSetReporter, JobCompleter, PodCompleter, read_yaml,
                           render)

pytestmark = pytest.mark.xdist_group("kube")

STAND_IN_CRDS = [REPO / "tests" / "fixtures" / "servicemonitor-crd.yaml"]
HOOK_ANNOTATION = "helm.sh/hook"


def server_side_apply(client, dynamic, doc: dict, *, namespace: str | None = None, dry_run: bool = True) -> list[str]:
    """PATCH with application/apply-patch+yaml, as `kubectl apply --server-side --validate=strict` does.
    Returns the server's warnings."""
    resource = dynamic.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
    path = resource.path(name=doc["metadata"]["name"], namespace=namespace if resource.namespaced else None)
    query = [("fieldManager", "microdash-chart-test"), ("fieldValidation", "Strict"), ("force", "true")]
    if dry_run:
        query.append(("dryRun", "All"))
    serialized = client.param_serialize(
        "PATCH", path, query_params=query, body=doc, auth_settings=["BearerToken"],
        header_params={"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"})
    response = client.call_api(*serialized)
    response.read()
    if response.status >= 300:
        raise ApplyRefused(json.loads(response.data).get("message", response.data))
    return response.headers.getlist("Warning")


class ApplyRefused(Exception):
    pass


def dry_run_failures(client, docs: list[dict], namespace: str) -> list[str]:
    dynamic = kubernetes.dynamic.DynamicClient(client)
    failures = []
    for doc in docs:
        try:
            server_side_apply(client, dynamic, doc, namespace=namespace)
        except ApplyRefused as refusal:
            failures.append(f"{doc['kind']}/{doc['metadata']['name']}: {refusal}")
    return failures


@pytest.fixture(scope="module")
def cluster(kube):
    """The control plane with the chart's CRDs (and the ServiceMonitor stand-in) established."""
    with kube.api_client() as client:
        dynamic = kubernetes.dynamic.DynamicClient(client)
        crds = [doc for path in [*sorted((CHART / "crds").glob("*.yaml")), *STAND_IN_CRDS] for doc in read_yaml(path)]
        for crd in crds:
            server_side_apply(client, dynamic, crd, dry_run=False)
        extensions = kubernetes.client.ApiextensionsV1Api(client)
        for crd in crds:
            _wait_established(extensions, crd["metadata"]["name"])
    return kube


def _wait_established(extensions, name: str, timeout: float = 30) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conditions = extensions.read_custom_resource_definition(name).status.conditions or []
        if any(c.type == "Established" and c.status == "True" for c in conditions):
            return
        time.sleep(0.2)
    raise TimeoutError(f"CRD {name} not established")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_rendered_object_passes_a_server_side_dry_run(cluster, scenario):
    namespace = cluster.new_namespace("chart-dry-run")
    docs = render(SCENARIOS[scenario], namespace=namespace)
    with cluster.api_client() as client:
        failures = dry_run_failures(client, docs, namespace)
    assert failures == []


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_pod_but_the_agents_meets_the_restricted_pod_security_standard(cluster, scenario):
    """The API server's PodSecurity admission: enforced on Pods, warned about on pod templates."""
    namespace = cluster.new_namespace("chart-restricted")
    levels = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn")}
    warnings = {}
    with cluster.api_client() as client:
        kubernetes.client.CoreV1Api(client).patch_namespace(namespace, {"metadata": {"labels": levels}})
        dynamic = kubernetes.dynamic.DynamicClient(client)
        for doc in render(SCENARIOS[scenario], namespace=namespace):
            found = server_side_apply(client, dynamic, doc, namespace=namespace)
            if found:
                warnings[f"{doc['kind']}/{doc['metadata']['name']}"] = " ".join(found)
    agent = warnings.pop("DaemonSet/md-microdash-agent", "").replace('\\"', '"')
    assert warnings == {}
    if scenario != "agent-off":  # the agent needs the host's network and its /proc and / (read-only), nothing more
        assert agent.endswith('would violate PodSecurity "restricted:latest": host namespaces (hostNetwork=true), '
                              'restricted volume types (volumes "proc", "root" use restricted volume type "hostPath")"')


def test_the_dry_run_refuses_a_misspelt_field(cluster):
    namespace = cluster.new_namespace("chart-dry-run")
    docs = [doc for doc in render(SCENARIOS["default"], namespace=namespace)
            if doc["kind"] == "Deployment" and doc["metadata"]["name"].endswith("-api")]
    docs[0]["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {"path": "/readyz"}
    with cluster.api_client() as client:
        failures = dry_run_failures(client, docs, namespace)
    assert len(failures) == 1 and "readinessProbe.httpGett: field not declared in schema" in failures[0]


def release_for(namespace: str) -> str:
    """Release names differ between namespaces: the operator's ClusterRole is named after the release."""
    return "md" + namespace.rsplit("-", 1)[-1]


def _install(cluster, namespace: str, values, *extra: str):
    with cluster.api_client() as client, JobCompleter(client, namespace) as completer:
        result = cluster.helm("install", release_for(namespace), str(CHART), "--namespace", namespace, "--values", str(values),
                              "--timeout", "120s", *extra, check=False)
    assert result.returncode == 0, result.stderr
    return completer


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_helm_install_completes_and_every_object_exists_with_its_labels(cluster, scenario):
    namespace = cluster.new_namespace("chart-install")
    release = release_for(namespace)
    completer = _install(cluster, namespace, SCENARIOS[scenario])
    assert completer.completed == [f"{release}-microdash-migrate"]  # the hook ran, and only it
    expected = [doc for doc in render(SCENARIOS[scenario], namespace=namespace, release=release)
                if HOOK_ANNOTATION not in doc["metadata"].get("annotations", {})]
    with cluster.api_client() as client:
        dynamic = kubernetes.dynamic.DynamicClient(client)
        for doc in expected:
            resource = dynamic.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
            live = resource.get(name=doc["metadata"]["name"],
                                namespace=namespace if resource.namespaced else None).to_dict()
            labels = live["metadata"]["labels"]
            assert labels.items() >= doc["metadata"]["labels"].items(), (doc["kind"], doc["metadata"]["name"])
            assert live["metadata"]["annotations"]["meta.helm.sh/release-name"] == release
        jobs = kubernetes.client.BatchV1Api(client).list_namespaced_job(namespace).items
    assert jobs == []  # the succeeded hook Job was deleted (hook-succeeded)
    status = json.loads(cluster.helm("status", release, "--namespace", namespace, "--output", "json").stdout)
    assert status["info"]["status"] == "deployed"
    assert "helm test" in status["info"]["notes"]


def test_the_agents_tenant_is_created_in_the_release_namespace(cluster):
    namespace = cluster.new_namespace("chart-tenant")
    _install(cluster, namespace, SCENARIOS["default"])
    with cluster.api_client() as client:
        tenant = kubernetes.client.CustomObjectsApi(client).get_namespaced_custom_object(
            "microdash.io", "v1alpha1", namespace, "tenants", "nodes")
    # the CRD's defaults fill in the rest
    assert tenant["spec"].items() >= {"displayName": "Kubernetes nodes", "mqtt": {"enabled": True},
                                      "deletionPolicy": "Retain"}.items()


def test_helm_test_runs_the_smoke_test_pod_with_its_script(cluster):
    namespace = cluster.new_namespace("chart-helm-test")
    release = release_for(namespace)
    _install(cluster, namespace, SCENARIOS["default"])
    with cluster.api_client() as client, PodCompleter(client, namespace) as kubelet:
        result = cluster.helm("test", release, "--namespace", namespace, "--timeout", "60s", check=False)
        assert result.returncode == 0, result.stderr
        core = kubernetes.client.CoreV1Api(client)
        left = [pod.metadata.name for pod in core.list_namespaced_pod(namespace).items]
        configmaps = [config.metadata.name for config in core.list_namespaced_config_map(namespace).items]
    assert kubelet.completed == [f"{release}-microdash-smoke-test"]
    assert "Phase:          Succeeded" in result.stdout
    # kept for `helm test --logs`, which reads the log after the run; the next `helm test` replaces them
    assert left == [f"{release}-microdash-smoke-test"] and f"{release}-microdash-smoke-test" in configmaps


def test_an_upgrade_migrates_first_and_keeps_the_generated_secrets(cluster):
    namespace = cluster.new_namespace("chart-upgrade")
    release = release_for(namespace)
    _install(cluster, namespace, SCENARIOS["default"])
    secret_names = [f"{release}-microdash", f"{release}-microdash-mariadb", f"{release}-microdash-redis"]
    with cluster.api_client() as client:
        core = kubernetes.client.CoreV1Api(client)
        before = {name: core.read_namespaced_secret(name, namespace).data for name in secret_names}
        with JobCompleter(client, namespace) as completer:
            result = cluster.helm("upgrade", release, str(CHART), "--namespace", namespace, "--values",
                                  str(SCENARIOS["default"]), "--set", "config.logLevel=DEBUG", "--timeout", "120s",
                                  check=False)
        assert result.returncode == 0, result.stderr
        after = {name: core.read_namespaced_secret(name, namespace).data for name in secret_names}
        config = core.read_namespaced_config_map(f"{release}-microdash-config", namespace).data
    assert completer.completed == [f"{release}-microdash-migrate"]
    assert after == before
    assert all(len(value) > 20 for data in after.values() for value in data.values())
    assert config["MICRODASH_LOG_LEVEL"] == "DEBUG"


def test_helm_install_refuses_a_misspelt_values_key(cluster, tmp_path):
    namespace = cluster.new_namespace("chart-bad-values")
    bad = tmp_path / "bad-values.yaml"
    bad.write_text(yaml.safe_dump({"worker": {"replicas": 2, "autoscalling": {"enabled": True}}}))
    result = cluster.helm("install", release_for(namespace), str(CHART), "--namespace", namespace, "--values",
                          str(bad), check=False)
    assert result.returncode != 0
    assert "at '/worker': additional properties 'autoscalling' not allowed" in result.stderr
    listed = cluster.helm("list", "--namespace", namespace, "--all", "--output", "json").stdout
    assert json.loads(listed) == []


def _generations(client, namespace: str) -> dict[str, int]:
    apps = kubernetes.client.AppsV1Api(client)
    workloads = [*apps.list_namespaced_deployment(namespace).items, *apps.list_namespaced_stateful_set(namespace).items,
                 *apps.list_namespaced_daemon_set(namespace).items]
    return {workload.metadata.name.split("-microdash-")[-1]: workload.metadata.generation for workload in workloads}


def test_a_no_op_upgrade_rolls_no_pod_and_a_changed_value_rolls_the_server_pods(cluster):
    namespace = cluster.new_namespace("chart-rollout")
    release = release_for(namespace)
    _install(cluster, namespace, SCENARIOS["default"])

    def upgrade(*settings: str) -> None:
        with cluster.api_client() as client, JobCompleter(client, namespace):
            result = cluster.helm("upgrade", release, str(CHART), "--namespace", namespace, "--values",
                                  str(SCENARIOS["default"]), *settings, "--timeout", "120s", check=False)
        assert result.returncode == 0, result.stderr

    with cluster.api_client() as client:
        installed = _generations(client, namespace)
        upgrade()
        assert _generations(client, namespace) == installed  # the pod templates did not change
        upgrade("--set", "config.logLevel=DEBUG")
        changed = _generations(client, namespace)
    rolled = {name for name, generation in changed.items() if generation != installed[name]}
    assert rolled == {"api", "worker", "scheduler", "operator", "bridge"}


def test_a_reinstall_under_the_same_name_finds_the_same_generated_passwords(cluster):
    """The datastores' volumes outlive `helm uninstall` and keep the passwords they were set up with.
    Uninstall leaves what docs/helm.md says it leaves (no PVCs here: no StatefulSet controller)."""
    namespace = cluster.new_namespace("chart-reinstall")
    release = release_for(namespace)
    _install(cluster, namespace, SCENARIOS["default"])
    kept = [f"{release}-microdash", f"{release}-microdash-mariadb", f"{release}-microdash-redis"]
    with cluster.api_client() as client:
        core = kubernetes.client.CoreV1Api(client)
        first = {name: core.read_namespaced_secret(name, namespace).data for name in kept}
        with PodCompleter(client, namespace):
            assert cluster.helm("test", release, "--namespace", namespace, "--timeout", "60s", check=False).returncode == 0
        with JobCompleter(client, namespace) as completer:
            result = cluster.helm("uninstall", release, "--namespace", namespace, "--wait", "--timeout", "60s",
                                  check=False)
        assert result.returncode == 0, result.stderr
        left = {secret.metadata.name: secret.data for secret in core.list_namespaced_secret(namespace).items}
        assert left == first
        assert "These resources were kept due to the resource policy" in result.stdout
        assert completer.completed == [f"{release}-microdash-retire"]  # the pre-delete hook ran
        test_hook = [f"{release}-microdash-smoke-test"]
        assert [config.metadata.name for config in core.list_namespaced_config_map(namespace).items] == test_hook
        assert [pod.metadata.name for pod in core.list_namespaced_pod(namespace).items] == test_hook
        assert kubernetes.client.AppsV1Api(client).list_namespaced_deployment(namespace).items == []
        assert core.list_namespaced_service(namespace).items == []
        assert kubernetes.client.BatchV1Api(client).list_namespaced_job(namespace).items == []  # hook-succeeded
        rbac = kubernetes.client.RbacAuthorizationV1Api(client)
        assert [role.metadata.name for role in rbac.list_cluster_role().items if role.metadata.name.startswith(release)] == []
        assert core.list_namespaced_service_account(namespace).items == []
        _install(cluster, namespace, SCENARIOS["default"])
        second = {name: core.read_namespaced_secret(name, namespace).data for name in kept}
    assert second == first


def _agent_only_chart(tmp_path, namespace: str):
    """A chart holding just the rendered agent DaemonSet, so that `helm --wait` waits for it alone
    (no controller here makes the other workloads ready)."""
    chart = tmp_path / "agent-only"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: agent-only\nversion: 0.1.0\n")
    [daemonset] = [doc for doc in render(SCENARIOS["default"], namespace=namespace) if doc["kind"] == "DaemonSet"]
    (chart / "templates" / "daemonset.yaml").write_text(yaml.safe_dump(daemonset))
    return chart


@pytest.mark.parametrize(("nodes", "ready", "waits"), [(1, 0, True), (3, 2, True), (1, 1, False), (3, 3, False)])
def test_helm_install_wait_waits_until_every_agent_is_ready(cluster, tmp_path, nodes, ready, waits):
    namespace = cluster.new_namespace("chart-agent-wait")
    chart = _agent_only_chart(tmp_path, namespace)
    with cluster.api_client() as client, DaemonSetReporter(client, namespace, nodes=nodes, ready=ready):
        result = cluster.helm("install", "agents", str(chart), "--namespace", namespace, "--wait", "--timeout", "8s",
                              check=False)
    if waits:
        assert result.returncode != 0 and "context deadline exceeded" in result.stderr, result.stderr
    else:
        assert result.returncode == 0, result.stderr
