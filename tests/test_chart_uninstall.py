"""`helm uninstall` with the operator at work: the chart is installed on a control plane of its
own (the retire hook acts on every namespace, so no other test's resources may be around), the
operator runs as a local process with the release's own ServiceAccount token and plays the
operator Deployment's pod, and the pre-delete hook Job runs its real command with its own
ServiceAccount's token (HookRunner plays the kubelet)."""

import threading
import time

import kubernetes
import pytest

from chart_support import CHART, SCENARIOS, HookRunner, JobCompleter
from operator_support import Resources, example, install_crds, service_account_kubeconfig, start_operator, wait_for

pytestmark = pytest.mark.xdist_group("kube")

RELEASE = "md"
FINALIZER = "microdash.io/finalizer"


@pytest.fixture(scope="module")
def plane(tmp_path_factory):
    from kubeapi import start_control_plane

    started = start_control_plane(tmp_path_factory.mktemp("kube-uninstall"))
    install_crds(started)
    yield started
    started.stop()


class OperatorPod:
    """Plays the operator Deployment's controller and kubelet: its one Pod exists while the operator
    process runs; when the Deployment is scaled to zero, the process is stopped and the Pod deleted."""

    def __init__(self, client, namespace: str, deployment: str, process):
        self.apps = kubernetes.client.AppsV1Api(client)
        self.core = kubernetes.client.CoreV1Api(client)
        self.namespace, self.deployment, self.process = namespace, deployment, process
        self.name = f"{deployment}-0"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        labels = self.apps.read_namespaced_deployment(self.deployment, self.namespace).spec.selector.match_labels
        self.core.create_namespaced_pod(self.namespace, {"metadata": {"name": self.name, "labels": labels},
                                                         "spec": {"containers": [{"name": "operator", "image": "x"}]}})
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.process.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            scale = self.apps.read_namespaced_deployment_scale(self.deployment, self.namespace)
            if not scale.spec.replicas:  # zero is left out of the answer
                self.process.stop()
                self.core.delete_namespaced_pod(self.name, self.namespace)
                return
            time.sleep(0.3)


@pytest.mark.parametrize("watched", [False, True], ids=["cluster-wide", "watched-namespaces"])
def test_uninstall_retires_the_release_tenant_through_the_operator_and_leaves_user_tenants(plane, stack, tmp_path,
                                                                                           watched):
    """Cluster-wide, or with operator.watchNamespaces: then a Tenant outside them (another
    operator's, say) is none of the hook's business."""
    home, team, elsewhere = (plane.new_namespace(prefix) for prefix in ("microdash", "team", "elsewhere"))
    nodes, user_tenant = f"nodes-{home[-8:]}", f"acme-{home[-8:]}"
    release = "mdns" if watched else RELEASE
    scope = ("--set", f"operator.watchNamespaces={{{team}}}") if watched else ()
    with plane.api_client() as client, JobCompleter(client, home):
        installed = plane.helm("install", release, str(CHART), "--namespace", home, "--values", str(SCENARIOS["default"]),
                               "--set", f"agent.tenant.name={nodes}", *scope, "--timeout", "120s", check=False)
    assert installed.returncode == 0, installed.stderr
    operator_kubeconfig = service_account_kubeconfig(plane, home, f"{release}-microdash-operator",
                                                     tmp_path / "operator.kubeconfig")
    operator = start_operator(stack.env, operator_kubeconfig, tmp_path / "operator.log",
                              namespaces=[team, home] if watched else [])
    with plane.api_client() as client, OperatorPod(client, home, f"{release}-microdash-operator", operator):
        ours, theirs, others = Resources(client, home), Resources(client, team), Resources(client, elsewhere)
        theirs.create(example("tenant", name=user_tenant))
        if watched:
            others.create({"kind": "Tenant", "metadata": {"name": "foreign", "finalizers": [FINALIZER]}, "spec": {}})
        ours.wait_ready("Tenant", nodes, timeout=60)
        theirs.wait_ready("Tenant", user_tenant, timeout=60)
        assert FINALIZER in ours.get("Tenant", nodes)["metadata"]["finalizers"]
        nodes_token = ours.secret(f"{nodes}-microdash-token")["token"]
        user_token = theirs.secret(f"{user_tenant}-microdash-token")["token"]

        with HookRunner(plane, home, tmp_path) as kubelet:
            started = time.monotonic()
            result = plane.helm("uninstall", release, "--namespace", home, "--wait", "--timeout", "120s", check=False)
            took = time.monotonic() - started
        hook = kubelet.results[f"{release}-microdash-retire"]
        assert result.returncode == 0, (result.stderr, hook.stdout, hook.stderr, operator.log()[-3000:])
        assert list(kubelet.results) == [f"{release}-microdash-retire"]
        assert f"retired: Tenant {home}/{nodes}" in hook.stdout
        assert f"without the operator's finalizer: Tenant {team}/{user_tenant}\n" in hook.stdout
        if watched:
            assert others.get("Tenant", "foreign")["metadata"]["finalizers"] == [FINALIZER]

        assert ours.get("Tenant", nodes) is None
        assert operator.process.poll() is not None  # stopped by the scale-down, before the detaching
        left = theirs.get("Tenant", user_tenant)
        assert FINALIZER not in (left["metadata"].get("finalizers") or [])
        # and with no operator around it can now be deleted (or its namespace) without hanging
        theirs.delete("Tenant", user_tenant)
        theirs.wait_gone("Tenant", user_tenant, timeout=5)

    # the release's tenant was retired by the operator: token revoked, data retained (deletionPolicy)
    assert _token_status(stack, nodes_token) == 401
    assert stack.sql("SELECT COUNT(*) FROM tenants WHERE name = %s", (nodes,)) == [(1,)]
    # the user's tenant was left alone: a reinstall's operator takes it up again
    assert _token_status(stack, user_token) == 200
    print(f"helm uninstall with the retire hook took {took:.1f} s")


def _token_status(stack, token: str) -> int:
    with stack.client(token) as http:
        return http.get("/api/v1/series").status_code


def test_the_hook_fails_clearly_when_the_operator_cannot_retire_in_time(plane, tmp_path):
    """No operator runs: the release's Tenant keeps its finalizer, the hook gives up after its
    timeout and says which resource is stuck, and `helm uninstall` fails instead of hanging."""
    home, release = plane.new_namespace("stuck"), "stuck"
    with plane.api_client() as client, JobCompleter(client, home):
        installed = plane.helm("install", release, str(CHART), "--namespace", home, "--values", str(SCENARIOS["default"]),
                               "--set", "agent.tenant.name=stuck-nodes", "--set", "operator.uninstallHook.timeoutSeconds=10",
                               "--timeout", "120s", check=False)
    assert installed.returncode == 0, installed.stderr
    with plane.api_client() as client:
        tenants = Resources(client, home)
        tenants.api.patch_namespaced_custom_object("microdash.io", "v1alpha1", home, "tenants", "stuck-nodes",
                                                   {"metadata": {"finalizers": [FINALIZER]}})
        with HookRunner(plane, home, tmp_path) as kubelet:
            result = plane.helm("uninstall", release, "--namespace", home, "--timeout", "60s", check=False)
        hook = kubelet.results[f"{release}-microdash-retire"]
        assert result.returncode != 0 and f"job {release}-microdash-retire failed" in result.stderr, result.stderr
        assert hook.returncode == 1
        assert f"timed out waiting for the operator to retire: Tenant {home}/stuck-nodes" in hook.stderr
        assert tenants.get("Tenant", "stuck-nodes")["metadata"]["finalizers"] == [FINALIZER]
