"""The operator through outages and crashes: a stack of its own per test, and an operator that
watches only the test's namespace (so it never meets the shared operator's resources). Watching
chosen namespaces needs `list namespaces`, which the chart's cluster-wide operator does not have,
so these operators run as admin; test_operator.py proves the chart's RBAC."""

import pytest

from mqtt_client import TestClient
from operator_support import Resources, example, install_crds, start_operator, wait_for

pytestmark = pytest.mark.xdist_group("kube")


@pytest.fixture
def setup(kube, private_stack, tmp_path):
    install_crds(kube)
    stack = private_stack(mqtt=True)
    namespace = kube.new_namespace("recovery")
    operators = []

    def operator():
        started = start_operator(stack.env, kube.kubeconfig, tmp_path / f"operator{len(operators)}.log",
                                 namespaces=[namespace])
        operators.append(started)
        return started

    with kube.api_client() as client:
        yield stack, Resources(client, namespace), operator
    for started in operators:
        started.stop()


def managed_tokens(stack, name: str) -> list[tuple]:
    return stack.sql("SELECT k.public_id, k.revoked_at IS NULL FROM api_tokens k JOIN tenants t ON t.id = k.tenant_id"
                     " WHERE t.name = %s AND k.name = 'kubernetes' ORDER BY k.id", (name,))


def test_an_operator_killed_mid_reconcile_converges_after_restart(setup):
    stack, team, operator = setup
    stack.services.stop_service("mosquitto")
    first = operator()
    team.create(example("tenant", name="crash"))
    # The database half is done (row, token, Secret); the broker half keeps failing.
    wait_for(lambda: team.condition("Tenant", "crash", "BrokerSynced").get("reason") == "BrokerUnavailable",
             timeout=40, what="BrokerUnavailable", detail=lambda: team.status("Tenant", "crash"))
    assert team.condition("Tenant", "crash", "Ready")["status"] == "False"
    assert team.status("Tenant", "crash")["phase"] == "Pending"
    secret = team.secret("crash-microdash-token")
    assert secret is not None

    first.stop(kill=True)
    stack.services.restart_service("mosquitto")
    operator()
    team.wait_ready("Tenant", "crash", timeout=40)
    assert team.secret("crash-microdash-token") == secret  # the valid token was kept, not reissued
    assert managed_tokens(stack, "crash") == [(secret["mqtt-username"], 1)]
    device = TestClient(stack.services.ports["mosquitto"], secret["mqtt-username"], secret["mqtt-password"])
    try:
        assert device.connect(), device.connect_reason
    finally:
        device.close()
    team.delete("Tenant", "crash")
    team.wait_gone("Tenant", "crash")


def test_a_database_outage_makes_the_tenant_not_ready_until_it_recovers_by_itself(setup):
    stack, team, operator = setup
    operator()
    team.create(example("tenant", name="outage"))
    team.wait_ready("Tenant", "outage")

    stack.services.stop_service("mariadb")
    wait_for(lambda: team.condition("Tenant", "outage", "Ready").get("reason") == "DatabaseUnavailable",
             timeout=30, what="DatabaseUnavailable", detail=lambda: team.status("Tenant", "outage"))
    status = team.status("Tenant", "outage")
    assert status["phase"] == "Degraded"
    assert {c["type"]: c["status"] for c in status["conditions"]}["DatabaseSynced"] == "False"
    assert "DatabaseUnavailable" in team.event_reasons("outage")

    stack.services.restart_service("mariadb")
    team.wait_ready("Tenant", "outage", timeout=40)
    assert team.status("Tenant", "outage")["phase"] == "Ready"
    team.delete("Tenant", "outage")
    team.wait_gone("Tenant", "outage")
