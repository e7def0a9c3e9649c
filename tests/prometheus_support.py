"""A real Prometheus server (Debian's `prometheus`) scraping a real node_exporter and the microdash
api's own /metrics every second, and remote-writing everything it scrapes to microdash's
/api/v1/write with a tenant's token. Prometheus keeps its own TSDB of the same scrapes, so a test
can compare what microdash stored (or answers) with what Prometheus has.

Use it through the session fixture `prometheus` (tests/conftest.py), or start one of your own with
`running_prometheus(stack, directory, token=...)`."""

import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from microdash_cli.localstack import free_port
from support import Stack

SCRAPE_INTERVAL = "1s"
# Shipped within about a second of the scrape, retried quickly, 429 retried like a 5xx (Retry-After
# honoured), so a test sees its data soon and a refusal shows in Prometheus' own counters.
QUEUE_CONFIG = {"batch_send_deadline": "1s", "max_samples_per_send": 2000, "capacity": 10000,
                "min_backoff": "100ms", "max_backoff": "1s", "retry_on_http_429": True}
START_TIMEOUT_S = 60


@dataclass
class NodeExporter:
    url: str
    process: subprocess.Popen


@dataclass
class PrometheusServer:
    url: str  # Prometheus' own HTTP API, e.g. url + "/api/v1/query"
    tenant_id: int  # the microdash tenant it writes to
    token: str  # that tenant's token, to read the same data back from microdash
    node_exporter: NodeExporter  # the target besides the api (a test may stop it)
    config_path: Path
    log_path: Path

    def api(self, path: str, **params) -> dict | list:
        """A Prometheus HTTP API answer's `data` (GET url + path)."""
        response = httpx.get(self.url + path, params=params, timeout=30)
        response.raise_for_status()
        body = response.json()
        assert body["status"] == "success", body
        return body["data"]

    def own_metrics(self) -> dict[str, float]:
        """Prometheus' own /metrics, `name{labels}` -> value (remote-write counters live here)."""
        text = httpx.get(self.url + "/metrics", timeout=10).text
        figures = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = ",".join(f'{name}="{value}"' for name, value in sorted(sample.labels.items()))
                figures[f"{sample.name}{{{labels}}}"] = sample.value
        return figures

    def remote_write_total(self, counter: str) -> float:
        """One remote-write counter summed over its queues, e.g. "samples_failed_total"."""
        prefix = f"prometheus_remote_storage_{counter}{{"
        return sum(value for name, value in self.own_metrics().items() if name.startswith(prefix))


def prometheus_config(*, api_url: str, token: str, node_exporter: str) -> dict:
    api_address = api_url.removeprefix("http://")
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "scrape_timeout": SCRAPE_INTERVAL,
                   "evaluation_interval": SCRAPE_INTERVAL},
        "scrape_configs": [
            {"job_name": "node", "static_configs": [{"targets": [node_exporter]}]},
            {"job_name": "microdash", "static_configs": [{"targets": [api_address]}]},
        ],
        "remote_write": [{
            "url": f"{api_url}/api/v1/write",
            "authorization": {"credentials": token},
            "queue_config": QUEUE_CONFIG,
            "metadata_config": {"send": True, "send_interval": "2s"},
        }],
    }


@contextmanager
def running_prometheus(stack: Stack, directory: Path, *, tenant_id: int, token: str) -> Iterator[PrometheusServer]:
    directory.mkdir(parents=True, exist_ok=True)
    with ExitStack() as started:
        node_exporter = started.enter_context(running_node_exporter(directory))
        config_path = directory / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(prometheus_config(
            api_url=stack.api_url, token=token, node_exporter=node_exporter.url.removeprefix("http://"))))
        port = free_port()
        log_path = directory / "prometheus.log"
        started.enter_context(managed_process(
            ["prometheus", f"--config.file={config_path}", f"--storage.tsdb.path={directory / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle"], log_path))
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/-/ready", log_path)
        yield PrometheusServer(url, tenant_id, token, node_exporter, config_path, log_path)


@contextmanager
def running_node_exporter(directory: Path) -> Iterator[NodeExporter]:
    """Debian's prometheus-node-exporter on a free port."""
    port = free_port()
    log_path = directory / f"node_exporter-{port}.log"
    with managed_process(["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{port}"], log_path) as process:
        wait_http(f"http://127.0.0.1:{port}/metrics", log_path)
        yield NodeExporter(f"http://127.0.0.1:{port}", process)


@contextmanager
def managed_process(command: list[str], log_path: Path, **popen) -> Iterator[subprocess.Popen]:
    """A process of the test's own, output to log_path, terminated (killed if need be) at the end."""
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, **popen)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_http(url: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready:\n{log_path.read_text()[-3000:]}")
