"""The remote-write configs of docs/integrations.md, checked with the real clients: promtool checks
the Prometheus one, and vmagent, run with the documented flags, ships a real node_exporter's
samples to microdash."""

import math
import re
import subprocess
import time
from pathlib import Path

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from microdash_cli.localstack import free_port
from prometheus_support import managed_process, running_node_exporter, wait_http

INTEGRATIONS = Path(__file__).resolve().parents[1] / "docs" / "integrations.md"
ARRIVAL_TIMEOUT_S = 60


def documented_block(heading: str, language: str) -> str:
    """The first ```language block of the docs/integrations.md section under `## heading`."""
    section = INTEGRATIONS.read_text().split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(rf"```{language}\n(.*?)```", section, re.DOTALL)
    assert found, f"no {language} block under {heading}"
    return found.group(1)


def test_promtool_accepts_the_documented_prometheus_config(tmp_path):
    config = documented_block("Prometheus `remote_write`", "yaml")
    assert yaml.safe_load(config)["remote_write"][0]["url"].endswith("/api/v1/write")
    path = tmp_path / "prometheus.yml"
    path.write_text(config)
    checked = subprocess.run(["promtool", "check", "config", str(path)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_promtool_refuses_a_broken_config(tmp_path):
    """The check above can fail: the same block with a wrong key is refused."""
    path = tmp_path / "prometheus.yml"
    path.write_text(documented_block("Prometheus `remote_write`", "yaml").replace("authorization:", "authorisation:"))
    assert subprocess.run(["promtool", "check", "config", str(path)], capture_output=True, timeout=60).returncode != 0


def test_vmagent_with_the_documented_flags_remote_writes_node_exporter(stack, tmp_path):
    tenant, token = stack.new_tenant("vmagent")
    with running_node_exporter(tmp_path) as exporter:
        node_exporter = exporter.url
        scrape_config = tmp_path / "prometheus.yml"
        scrape_config.write_text(yaml.safe_dump({"scrape_configs": [{
            "job_name": "node", "scrape_interval": "1s",
            "static_configs": [{"targets": [node_exporter.removeprefix("http://")]}]}]}))
        token_file = tmp_path / "microdash-token"
        token_file.write_text(token)
        port = free_port()
        command = _documented_vmagent_command(stack.api_url, scrape_config, token_file) + [
            f"-httpListenAddr=127.0.0.1:{port}", f"-remoteWrite.tmpDataPath={tmp_path / 'vmagent-data'}"]
        log_path = tmp_path / "vmagent.log"
        with managed_process(command, log_path, cwd=tmp_path):
            wait_http(f"http://127.0.0.1:{port}/metrics", log_path)
            expected = _finite_metric_names(node_exporter) | {"up", "scrape_duration_seconds"}
            found = _wait_for_metrics(stack, token, expected)
            assert expected <= found, f"missing: {sorted(expected - found)[:10]}"
            statuses = _vmagent_request_statuses(port)
    # vmagent 1.79 counts answers by class ("2XX"); every request it made was accepted
    assert sum(statuses.values()) > 0 and all(code.startswith("2") for code in statuses), statuses
    rows = stack.sql("SELECT COUNT(*) FROM series WHERE tenant_id = %s AND metric = 'up'"
                     " AND JSON_VALUE(labels, '$.job') = 'node'", (tenant.id,))
    assert rows == [(1,)]


def _documented_vmagent_command(api_url: str, scrape_config: Path, token_file: Path) -> list[str]:
    text = documented_block("vmagent", "sh").replace("\\\n", " ")
    text = (text.replace("http://localhost:8080", api_url)
            .replace("/etc/prometheus/prometheus.yml", str(scrape_config))
            .replace("/etc/vmagent/microdash-token", str(token_file)))
    command = text.split()
    assert command[0] == "vmagent"
    return command


def _finite_metric_names(node_exporter: str) -> set[str]:
    text = httpx.get(node_exporter + "/metrics", timeout=10).text
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples
            if math.isfinite(sample.value)}


def _wait_for_metrics(stack, token: str, expected: set[str]) -> set[str]:
    deadline = time.monotonic() + ARRIVAL_TIMEOUT_S
    while True:
        with stack.client(token) as client:
            series = client.get("/api/v1/series", params={"limit": 10_000}).json()["series"]
        found = {row["metric"] for row in series}
        if expected <= found or time.monotonic() > deadline:
            return found
        time.sleep(1)


def _vmagent_request_statuses(port: int) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    statuses = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "vmagent_remotewrite_requests_total":
                statuses[sample.labels["status_code"]] = statuses.get(sample.labels["status_code"], 0) + sample.value
    return statuses
