"""What the steps of a browser scenario share: its tenants, users and notes, and how to feed them samples."""

import math
import time
import uuid
from dataclasses import dataclass, field

import httpx

from microdash_core.tenants import directory
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
