"""The operator against a real kube-apiserver + etcd (the test control plane, built by
scripts/build-kube.sh) and the bench stack:

- time to a working token: a Tenant is created and the clock stops when its Secret exists and the
  token in it gets 202 from the ingest API; one tenant at a time, 20 of them (p50, max).
- bulk reconcile: 200 Tenants created at once; the time until every one reports Ready.
The operator runs as `microdash operator` (cluster-wide, admin credentials) with production timings.
"""

import sys
import time
from pathlib import Path

import httpx

# The control plane and CRD helpers are the tests' own (one way to start them, not two).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from kubeapi import start_control_plane  # noqa: E402
from operator_support import Resources, install_crds, start_operator  # noqa: E402

POLL_S = 0.02


def run_operator_load(stack, *, tenants_one_by_one: int, tenants_at_once: int, percentile) -> dict:
    plane = start_control_plane(stack.root / "kube")
    operator = None
    try:
        install_crds(plane)
        operator = start_operator({**stack.env, "MICRODASH_OPERATOR_RESYNC_SECONDS": "600"}, plane.kubeconfig,
                                  stack.root / "operator.log")
        with plane.api_client() as client, httpx.Client(base_url=stack.base_url, timeout=5) as http:
            one_by_one = Resources(client, plane.new_namespace("bench-one"))
            seconds = [_time_to_working_token(one_by_one, http, f"one-{n}") for n in range(tenants_one_by_one)]
            at_once = Resources(client, plane.new_namespace("bench-bulk"))
            bulk_seconds = _reconcile_at_once(at_once, tenants_at_once)
        return {"operator": {
            "tenant_to_working_token_ms": {"p50": round(percentile(seconds, 0.5) * 1000, 1),
                                           "max": round(max(seconds) * 1000, 1), "tenants": len(seconds)},
            "reconcile_at_once": {"tenants": tenants_at_once, "seconds": round(bulk_seconds, 2),
                                  "tenants_per_s": round(tenants_at_once / bulk_seconds, 1)},
        }}
    finally:
        if operator is not None:
            operator.stop()
        plane.stop()


def _time_to_working_token(team: Resources, http: httpx.Client, name: str) -> float:
    started = time.monotonic()
    team.create({"kind": "Tenant", "metadata": {"name": name}, "spec": {}})
    while True:
        secret = team.secret(f"{name}-microdash-token")
        if secret is not None:
            response = http.post("/api/v1/metrics", json={"metric": "bench.operator", "value": 1.0},
                                 headers={"Authorization": f"Bearer {secret['token']}"})
            if response.status_code == 202:
                return time.monotonic() - started
        if time.monotonic() - started > 60:
            raise TimeoutError(f"tenant {name}: no working token after 60 s")
        time.sleep(POLL_S)


def _reconcile_at_once(team: Resources, count: int) -> float:
    started = time.monotonic()
    for n in range(count):
        team.create({"kind": "Tenant", "metadata": {"name": f"bulk-{n}"}, "spec": {}})
    while True:
        listed = team.api.list_namespaced_custom_object("microdash.io", "v1alpha1", team.namespace, "tenants")
        ready = sum(1 for item in listed["items"] if (item.get("status") or {}).get("phase") == "Ready")
        if ready == count:
            return time.monotonic() - started
        if time.monotonic() - started > 600:
            raise TimeoutError(f"only {ready} of {count} tenants Ready after 600 s")
        time.sleep(0.2)

