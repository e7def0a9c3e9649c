"""One Helm release of the chart on the real node (kubenode.py), as the end-to-end tests and
`make bench` (bench/cluster.py) drive it: install until every pod is Ready, a Tenant's token, samples
through the api Service, the pods' memory at rest."""

import base64
import json
import time
from pathlib import Path

import httpx

from kubenode import NODE_NAME, REPO, Cluster

CHART = REPO / "charts" / "microdash"
TENANT_EXAMPLE = REPO / "docs" / "examples" / "tenant.yaml"
WAIT_SECONDS = 180


class Release:
    """A release `name` of the chart in `namespace`, and what the steps learn about it."""

    def __init__(self, node: Cluster, name: str, namespace: str):
        self.node, self.name, self.namespace = node, name, namespace
        self.samples: dict[str, float] = {}  # metric -> value stored through the api

    @property
    def fullname(self) -> str:
        return f"{self.name}-microdash"

    def kubectl(self, *args: str, **kwargs):
        return self.node.kubectl("-n", self.namespace, *args, **kwargs)

    def helm(self, *args: str, **kwargs):
        return self.node.helm(*args, "--namespace", self.namespace, **kwargs)

    def get(self, *args: str) -> dict:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def install(self, *values: str, values_files: tuple[Path, ...] = ()) -> float:
        """`helm install --wait` with `--set` `values` (and values files); returns the seconds it took."""
        started = time.monotonic()
        options = [f"--values={path}" for path in values_files] + [f"--set={value}" for value in values]
        self.helm("install", self.name, str(CHART), "--create-namespace", "--wait", "--timeout", "10m", *options)
        return time.monotonic() - started

    def wait_agent_ready(self) -> None:
        # helm's --wait covers it too (maxUnavailable: 0); this waits for it after a later change, such
        # as the Tenant it reads its token from
        self.kubectl("rollout", "status", "daemonset", f"{self.fullname}-agent", f"--timeout={WAIT_SECONDS}s")

    def workloads_not_ready(self) -> list[str]:
        """The Deployments, StatefulSets and DaemonSets of the release not (yet) fully ready."""
        waiting = []
        for kind in ("deployment", "statefulset", "daemonset"):
            for item in self.get(kind, "-l", f"app.kubernetes.io/instance={self.name}")["items"]:
                status, name = item["status"], f"{kind}/{item['metadata']['name']}"
                wanted = status.get("desiredNumberScheduled") if kind == "daemonset" else item["spec"]["replicas"]
                ready = status.get("numberReady" if kind == "daemonset" else "readyReplicas", 0)
                if not wanted or ready != wanted:
                    waiting.append(f"{name} {ready}/{wanted}")
        return waiting

    def service_url(self, component: str, port_name: str) -> tuple[str, int]:
        service = self.get("service", f"{self.fullname}-{component}")
        port = next(p["port"] for p in service["spec"]["ports"] if p["name"] == port_name)
        return service["spec"]["clusterIP"], port

    def api(self, token: str) -> httpx.Client:
        host, port = self.service_url("api", "http")
        return httpx.Client(base_url=f"http://{host}:{port}", headers={"Authorization": f"Bearer {token}"},
                            timeout=10)

    def secret(self, name: str) -> dict[str, str]:
        data = self.get("secret", name)["data"]
        return {key: base64.b64decode(value).decode() for key, value in data.items()}

    def tenant_secret(self, tenant: str) -> dict[str, str]:
        return self.secret(f"{tenant}-microdash-token")

    def apply_tenant(self, tenant: str = "acme") -> dict[str, str]:
        """docs/examples/tenant.yaml under the name `tenant`, waited Ready; returns its token Secret."""
        self.create_tenant(tenant)
        wait_for(f"Tenant {tenant} Ready", lambda: self.get("tenant", tenant).get("status", {}).get("phase") == "Ready")
        return wait_for(f"{tenant}'s token Secret", lambda: self.tenant_secret(tenant))

    def create_tenant(self, tenant: str) -> None:
        """docs/examples/tenant.yaml under the name `tenant` (the namespace is made when missing)."""
        if self.node.kubectl("get", "namespace", self.namespace, check=False).returncode != 0:
            self.node.kubectl("create", "namespace", self.namespace)
        manifest = TENANT_EXAMPLE.read_text().replace("name: acme", f"name: {tenant}", 1)
        self.kubectl("apply", "-f", "-", input=manifest)

    def post_and_read_back(self, token: str, metric: str, value: float) -> None:
        """One sample POSTed through the api Service, waited until `/api/v1/query` returns it."""
        since_ms = int(time.time() * 1000) - 60_000
        with self.api(token) as api:
            answer = api.post("/api/v1/metrics", json={"metric": metric, "value": value, "labels": {"via": "http"}})
            assert answer.status_code == 202, answer.text
            wait_for(f"{metric} queryable", lambda: any(v == value for _, v in query_points(api, metric,
                                                                                             since_ms=since_ms)))
        self.samples[metric] = value

    def pod_memory_mib(self) -> tuple[dict[str, float], list[tuple[str, int, int]]]:
        """Each pod's working set (the kubelet's summary API, through the API server), and the pods
        above the sum of their containers' memory limits."""
        summary = json.loads(self.node.kubectl("get", "--raw", f"/api/v1/nodes/{NODE_NAME}/proxy/stats/summary").stdout)
        pods = {pod["metadata"]["name"]: pod for pod in self.get("pod")["items"]}
        memory, over = {}, []
        for stats in summary["pods"]:
            name = stats["podRef"]["name"]
            if stats["podRef"]["namespace"] != self.namespace or name not in pods:
                continue
            working_set = sum(c.get("memory", {}).get("workingSetBytes", 0) for c in stats["containers"])
            memory[name] = working_set / 2**20
            limits = [c["resources"].get("limits", {}).get("memory") for c in pods[name]["spec"]["containers"]]
            limit_bytes = sum(parse_quantity(limit) for limit in limits if limit)
            if limit_bytes and working_set > limit_bytes:
                over.append((name, working_set, limit_bytes))
        return memory, over

    def running_pods(self) -> set[str]:
        return {pod["metadata"]["name"] for pod in self.get("pod")["items"] if pod["status"].get("phase") == "Running"}


def wait_for(what: str, check, timeout: float = WAIT_SECONDS, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (httpx.HTTPError, KeyError, ValueError, RuntimeError) as error:
            last = repr(error)
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout} s (last: {last})")


def query_points(client: httpx.Client, metric: str, match: str | None = None, *, since_ms: int) -> list:
    params = {"metric": metric, "start": since_ms, "end": int(time.time() * 1000) + 60_000, "step": 1000,
              "resolution": "raw", "aggregation": "max"}
    if match:
        params["match"] = match
    answer = client.get("/api/v1/query", params=params)
    answer.raise_for_status()
    return [point for series in answer.json()["series"] for point in series["points"]]


# The native query API's raw read (step 1 ms) serves at most this many steps a query.
RAW_WINDOW_MS = 10_000


def stored_samples(client: httpx.Client, metric: str, *, first_ms: int, last_ms: int) -> list[tuple[int, float]]:
    """Every stored sample (ts, value) of the metric in [first_ms, last_ms], read through the api as
    a client reads it (raw resolution, one 1 ms step per timestamp); a timestamp the api counts
    twice comes twice. Wherever the store keeps them (head, chunks), the test sees what the api serves."""
    found = []
    for start in range(first_ms, last_ms + 1, RAW_WINDOW_MS):
        end = min(start + RAW_WINDOW_MS, last_ms + 1)
        counts = dict(_raw_points(client, metric, start, end, "count"))
        found += [(ts, value) for ts, value in _raw_points(client, metric, start, end, "max")
                  for _ in range(int(counts.get(ts, 1)))]
    return found


def _raw_points(client: httpx.Client, metric: str, start: int, end: int, aggregation: str) -> list:
    params = {"metric": metric, "start": start, "end": end, "step": 1, "resolution": "raw",
              "aggregation": aggregation}
    answer = client.get("/api/v1/query", params=params, timeout=60)
    answer.raise_for_status()
    return [tuple(point) for series in answer.json()["series"] for point in series["points"]]


def exported_samples(node: Cluster, namespace: str, *, image: str, database_url: str, tenant: str,
                     metric: str) -> list[dict]:
    """`microdash samples export` run in a pod of the server image against `database_url`: the
    tenant's samples as the product reads them, with no api running."""
    name = f"samples-export-{int(time.time() * 1000) % 100_000}"
    node.kubectl("-n", namespace, "run", name, f"--image={image}", "--image-pull-policy=IfNotPresent",
                 "--restart=Never", f"--env=MICRODASH_DATABASE_URL={database_url}", "--",
                 "samples", "export", tenant, metric)

    def finished() -> str | None:
        phase = node.kubectl("-n", namespace, "get", "pod", name, "-o", "jsonpath={.status.phase}").stdout
        return phase if phase in ("Succeeded", "Failed") else None

    try:
        phase = wait_for(f"pod {name} done", finished)
        logs = node.kubectl("-n", namespace, "logs", name).stdout
        assert phase == "Succeeded", logs
        return [json.loads(line) for line in logs.splitlines()]
    finally:
        node.kubectl("-n", namespace, "delete", "pod", name, "--wait=false", check=False)


def parse_quantity(quantity: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(float(quantity[:-2]) * factor)
    return int(quantity)


def parse_cpu(quantity: str) -> int:
    """A CPU quantity in millicores."""
    return int(quantity[:-1]) if quantity.endswith("m") else int(float(quantity) * 1000)


def mariadb_rows(node: Cluster, namespace: str, pod: str, *, username: str, password: str, database: str,
                 query: str) -> list[str]:
    """Rows of `query` read in a MariaDB pod itself (kubectl exec), one tab-separated line each."""
    result = node.kubectl("-n", namespace, "exec", pod, "--", "mariadb", f"-u{username}", f"-p{password}",
                          "-h127.0.0.1", database, "-N", "-e", query)
    return result.stdout.splitlines()
