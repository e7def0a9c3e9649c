"""What the steps of a browser scenario share: its tenants, users and notes, and how to feed them samples."""

import math
import time
import uuid
from dataclasses import dataclass, field

import httpx

from microdash_core import db
from microdash_core.tenants import directory
from mqtt_client import TestClient
from support import Stack

PASSWORD = "correct horse battery"
HOST_METRICS = {"cpu.usage_percent": {"cpu": "total", "mode": "idle"}, "mem.used_percent": {},
                "disk.used_percent": {"mount": "/"}, "net.rx_bytes_per_s": {"device": "eth0"},
                "net.tx_bytes_per_s": {"device": "eth0"}}


@dataclass
class Member:
    email: str
    role: str


@dataclass
class TenantFixture:
    """A tenant of the scenario: its row, its API token and its dashboard users."""

    tenant: directory.Tenant
    token: str
    users: dict[str, Member] = field(default_factory=dict)
    mqtt: object | None = None  # the tenant service's credentials (broker login, topic prefix), if made with them


@dataclass
class World:
    """What a scenario's steps share."""

    stack: Stack
    api_url: str
    tenants: dict[str, TenantFixture] = field(default_factory=dict)
    notes: dict = field(default_factory=dict)

    def tenant(self, label: str, prefix: str = "e2e") -> TenantFixture:
        if label not in self.tenants:
            tenant, token = self.stack.new_tenant(prefix, display_name=f"{label.title()} {uuid.uuid4().hex[:4]}")
            self.tenants[label] = TenantFixture(tenant, token)
        return self.tenants[label]

    def mqtt_tenant(self, label: str) -> TenantFixture:
        """A tenant made through the tenant service, so its devices may publish to the broker."""
        if label not in self.tenants:
            tenant_id, credentials = self.stack.new_mqtt_tenant("e2e")
            with db.transaction(self.stack.settings) as cursor:
                tenant = directory.tenant_by_id(cursor, tenant_id=tenant_id)
            self.tenants[label] = TenantFixture(tenant, credentials.token, mqtt=credentials)
        return self.tenants[label]

    def publish(self, tenant_label: str, device: str, payload: bytes) -> None:
        """One message from a device of the tenant, waited for until the bridge has judged it."""
        owner = self.tenant(tenant_label)
        credentials = owner.mqtt
        assert credentials is not None, f"{tenant_label} was not made with MQTT credentials"
        before = self.dead_letters_kept(tenant_label)
        client = TestClient(self.stack.services.ports["mosquitto"], credentials.mqtt_username, credentials.mqtt_password)
        assert client.connect(), client.connect_reason
        try:
            client.publish(credentials.topic_prefix + device, payload)
        finally:
            client.close()
        deadline = time.monotonic() + 15
        while (kept := self.dead_letters_kept(tenant_label)) == before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert kept > before, f"the bridge kept no dead letter for {payload!r} within 15 s"

    def dead_letters_kept(self, tenant_label: str) -> int:
        response = httpx.get(self.api_url + "/api/v1/dead-letters", params={"limit": 1},
                             headers={"Authorization": f"Bearer {self.tenant(tenant_label).token}"}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["kept"]

    def user(self, tenant_label: str, role: str) -> Member:
        owner = self.tenant(tenant_label)
        if role not in owner.users:
            email = self.stack.new_user([(owner.tenant, role)], password=PASSWORD)
            owner.users[role] = Member(email, role)
        return owner.users[role]

    def ingest(self, tenant_label: str, samples: list[dict]) -> None:
        owner = self.tenant(tenant_label)
        before = self.stack.count_samples(owner.tenant.id)
        response = httpx.post(self.api_url + "/api/v1/metrics/bulk", json=samples,
                              headers={"Authorization": f"Bearer {owner.token}"}, timeout=10)
        assert response.status_code == 202, response.text
        assert self.stack.wait_for_samples(owner.tenant.id, before + len(samples)) >= before + len(samples)

    def host_metrics(self, tenant_label: str, host: str) -> None:
        """Ten minutes of the agent's metrics for one host, one point every 10 s."""
        now = int(time.time() * 1000)
        self.ingest(tenant_label, [{"metric": metric, "value": 40.0 + 30 * math.sin(step / 8 + index),
                                    "ts": now - step * 10_000, "labels": {"host": host, **labels}}
                                   for index, (metric, labels) in enumerate(HOST_METRICS.items())
                                   for step in range(60)])
