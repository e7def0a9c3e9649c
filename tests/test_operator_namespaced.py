"""An operator limited to some namespaces (chart value operator.watchNamespaces) gets Roles there and
nothing elsewhere: it reconciles a watched namespace's Tenant, and its identity can neither write
Secrets nor read Tenants in any other namespace. Real kube-apiserver, real stack."""

import kubernetes
import pytest

from microdash_cli.localstack import free_port
from operator_support import Resources, chart_rbac, example, install_crds, operator_identity, start_operator

pytestmark = pytest.mark.xdist_group("kube")


@pytest.fixture(scope="module")
def namespaces(kube):
    return {"home": kube.new_namespace("nshome"), "watched": kube.new_namespace("nswatched"),
            "other": kube.new_namespace("nsother")}


@pytest.fixture(scope="module")
def identity(kube, namespaces, tmp_path_factory):
    install_crds(kube)
    workdir = tmp_path_factory.mktemp("namespaced-operator")
    kubeconfig = operator_identity(kube, namespaces["home"], workdir,
                                   "--set", f"operator.watchNamespaces={{{namespaces['watched']}}}")
    return workdir, kubeconfig


def test_the_chart_grants_roles_only_in_the_watched_namespaces(kube, namespaces):
    documents = chart_rbac(kube, namespaces["home"], "--set", f"operator.watchNamespaces={{{namespaces['watched']}}}")
    roles = sorted(d["metadata"]["namespace"] for d in documents if d["kind"] == "Role")
    assert roles == sorted([namespaces["home"], namespaces["watched"]])
    cluster_role = next(d for d in documents if d["kind"] == "ClusterRole")
    assert [rule["resources"] for rule in cluster_role["rules"]] == [["namespaces"], ["customresourcedefinitions"]]
    assert all(rule["verbs"] == ["list", "watch"] for rule in cluster_role["rules"])


def test_a_namespaced_operator_reconciles_only_where_it_may(kube, stack, namespaces, identity):
    workdir, kubeconfig = identity
    operator = start_operator(stack.env, kubeconfig, workdir / "operator.log", liveness_port=free_port(),
                              namespaces=[namespaces["watched"], namespaces["home"]])
    try:
        with kube.api_client() as admin:
            watched = Resources(admin, namespaces["watched"])
            watched.create(example("tenant", name="scoped"))
            status = watched.wait_ready("Tenant", "scoped")
            assert watched.secret(status["secretName"])["token"].startswith("mdt_")
        client = kubernetes.config.new_client_from_config(str(kubeconfig))
        core = kubernetes.client.CoreV1Api(client)
        custom = kubernetes.client.CustomObjectsApi(client)
        secret = {"metadata": {"name": "planted"}, "stringData": {"x": "y"}}
        with pytest.raises(kubernetes.client.ApiException) as elsewhere:
            core.create_namespaced_secret(namespaces["other"], secret)
        with pytest.raises(kubernetes.client.ApiException) as cluster_wide:
            custom.list_cluster_custom_object("microdash.io", "v1alpha1", "tenants")
        with pytest.raises(kubernetes.client.ApiException) as other_tenants:
            custom.list_namespaced_custom_object("microdash.io", "v1alpha1", namespaces["other"], "tenants")
        assert (elsewhere.value.status, cluster_wide.value.status, other_tenants.value.status) == (403, 403, 403)
        custom.list_namespaced_custom_object("microdash.io", "v1alpha1", namespaces["watched"], "tenants")
        with kube.api_client() as admin:
            watched = Resources(admin, namespaces["watched"])
            watched.delete("Tenant", "scoped")
            watched.wait_gone("Tenant", "scoped")
    finally:
        operator.stop()
        print(operator.log()[-3000:])
