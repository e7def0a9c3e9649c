"""compose.yaml for real: `podman-compose up -d` on the images `make images` builds, then the
smoke test of the cluster e2e (tests/cluster): every service up and healthy, prestart's demo
tenant and token, HTTP samples back from /api/v1/query through the published api port, an MQTT
publish with the tenant's credentials through the published broker port stored, the node agent
reporting this host, the dashboard served; then `down` removes the containers, the pod and the
network, and `down --volumes` the data.

The steps run in file order on one stack and each builds on the ones before; when one fails, the
later ones fail for the same reason (read the first failure).
"""

import json
import time
from pathlib import Path

import httpx
import pytest
from compose_stack import (HEALTHCHECKED, LONG_RUNNING, ONE_OFF, PROJECT, TIMINGS, ComposeStack, project_dns_running,
                           wait_for)

from mqtt_client import TestClient

# one worker runs them all, never beside the cluster e2e (both start containers and change the
# host's iptables and sysctls); `make test` runs pytest -n 2 --dist loadgroup
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900), pytest.mark.xdist_group("cluster")]
UP_SECONDS = 240


class Smoke:
    """What the steps learn and hand to the next ones."""

    def __init__(self, stack: ComposeStack):
        self.stack = stack
        self.login: dict[str, str] = {}
        self.since_ms = int(time.time() * 1000) - 60_000

    def api(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.login['token']}"}
        return httpx.Client(base_url=f"http://127.0.0.1:{self.stack.api_port}", headers=headers, timeout=10)

    def points(self, metric: str) -> list:
        params = {"metric": metric, "start": self.since_ms, "end": int(time.time() * 1000) + 60_000, "step": 1000,
                  "resolution": "raw", "aggregation": "max"}
        with self.api() as api:
            answer = api.get("/api/v1/query", params=params)
        answer.raise_for_status()
        return [point for series in answer.json()["series"] for point in series["points"]]


@pytest.fixture(scope="module")
def smoke(compose_stack) -> Smoke:
    return Smoke(compose_stack)


def test_up_starts_every_service_and_each_healthcheck_passes(smoke):
    stack = smoke.stack
    started = time.monotonic()
    stack.compose("up", "--detach")
    TIMINGS["podman-compose up -d returned"] = time.monotonic() - started
    # podman starts an exited --requires dependency again with each dependant: prestart runs more than
    # once (it is idempotent), and each run must succeed
    finished = wait_for("prestart finished", lambda: (state := stack.state("prestart"))["status"] == "exited" and state,
                        timeout=UP_SECONDS)
    assert finished["exit_code"] == "0", stack.podman("logs", stack.container("prestart")).stderr[-3000:]
    for service in HEALTHCHECKED:
        wait_for(f"{service} healthy", lambda service=service: stack.healthy(service), timeout=UP_SECONDS)
    TIMINGS["up until every healthcheck passes"] = time.monotonic() - started
    stack.bridge_seen = stack.bridge()
    assert stack.bridge_seen and project_dns_running()  # service names resolve through the dnsname plugin
    for service in LONG_RUNNING:
        assert stack.state(service)["status"] == "running", (service, stack.podman("logs", stack.container(service)).stderr[-2000:])
    assert set(stack.project_objects()["containers"]) == {stack.container(s) for s in LONG_RUNNING + ONE_OFF}


def test_prestart_seeds_the_demo_tenant_and_its_token(smoke):
    smoke.login = smoke.stack.demo_login()
    assert smoke.login["tenant"] == "demo"
    with smoke.api() as api:
        answer = api.get("/api/v1/tenant")
    assert answer.status_code == 200 and answer.json()["name"] == "demo", answer.text
    with smoke.api(token="md_not-a-token") as api:
        assert api.get("/api/v1/tenant").status_code == 401


def test_http_samples_through_the_published_api_port_come_back(smoke):
    with smoke.api() as api:
        answer = api.post("/api/v1/metrics/bulk", json=[{"metric": "compose.http", "value": 12.5, "labels": {"via": "http"}},
                                                   {"metric": "compose.http", "value": 7.0, "labels": {"via": "batch"}}])
    assert answer.status_code == 202, answer.text
    values = wait_for("HTTP samples queryable", lambda: sorted(v for _, v in smoke.points("compose.http")) or None,
                      timeout=60)
    assert values == [7.0, 12.5]


def test_an_mqtt_publish_with_the_tenants_credentials_is_stored(smoke):
    login = smoke.login
    refused = TestClient(smoke.stack.mqtt_port, login["username"], "not-the-password")
    assert not refused.connect()
    refused.close()
    device = TestClient(smoke.stack.mqtt_port, login["username"], login["password"])
    assert device.connect(), device.connect_reason
    try:
        device.publish(f"{login['prefix']}sensors/room1", json.dumps({"metric": "compose.mqtt", "value": 21.5,
                                                                       "labels": {"room": "1"}}).encode())
    finally:
        device.close()
    values = wait_for("MQTT sample stored", lambda: [v for _, v in smoke.points("compose.mqtt")], timeout=60)
    assert values == [21.5]


def test_the_agent_reports_this_host_to_the_demo_tenant(smoke):
    memory = wait_for("mem.used_percent from the agent", lambda: smoke.points("mem.used_percent"), timeout=120)
    assert all(0 < value <= 100 for _, value in memory)


def test_the_api_serves_the_dashboard(smoke):
    index = httpx.get(f"http://127.0.0.1:{smoke.stack.api_port}/", timeout=10)
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    assert '<div id="app"></div>' in index.text and "<title>microdash</title>" in index.text


def test_down_removes_the_containers_and_the_network_and_down_volumes_the_data(smoke):
    stack = smoke.stack
    started = time.monotonic()
    stack.compose("down")
    TIMINGS["podman-compose down"] = time.monotonic() - started
    left = stack.project_objects()
    assert (left["containers"], left["pods"], left["networks"]) == ([], [], [])
    assert not project_dns_running() and not Path(f"/sys/class/net/{stack.bridge_seen}").exists()
    assert sorted(left["volumes"]) == [f"{PROJECT}_{name}" for name in
                                       ("mariadb-data", "microdash-run", "mosquitto-data", "redis-data")]
    stack.compose("down", "--volumes")
    assert stack.project_objects()["volumes"] == []
