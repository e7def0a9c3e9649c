"""Session fixtures: the stack is started once per test process (each xdist worker gets its own)."""

import pytest

from support import Stack, start_stack, stop_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Stack:
    root = tmp_path_factory.mktemp("stack")
    started = start_stack(root, workers=1, mqtt=True)
    yield started
    stop_stack(started)


@pytest.fixture
def private_stack(tmp_path):
    """A whole stack of its own, for tests that stop or kill services."""
    stacks: list[Stack] = []

    def make(**kwargs) -> Stack:
        created = start_stack(tmp_path, **kwargs)
        stacks.append(created)
        return created

    yield make
    for created in stacks:
        stop_stack(created)


@pytest.fixture(scope="session")
def kube(tmp_path_factory):
    """A real kube-apiserver + etcd. Tests using it are marked xdist_group("kube") so one serves them all."""
    from kubeapi import start_control_plane

    plane = start_control_plane(tmp_path_factory.mktemp("kube"))
    yield plane
    plane.stop()


@pytest.fixture(scope="session")
def prometheus(stack, tmp_path_factory):
    """A real Prometheus scraping a real node_exporter and the api's /metrics every second and
    remote-writing to the stack as a tenant of its own (tests/prometheus_support.py)."""
    from prometheus_support import running_prometheus

    tenant, token = stack.new_tenant("prom")
    with running_prometheus(stack, tmp_path_factory.mktemp("prometheus"), tenant_id=tenant.id, token=token) as server:
        yield server
