"""The Telegraf and OpenTelemetry configs of docs/integrations.md, read from the page and used as
their clients would use them. Telegraf and the Collector are not installable here, so their
settings drive the clients that are: influxdb-client (what outputs.influxdb_v2 sends: the
`Token` header, gzip, line protocol to /api/v2/write), httpx with outputs.http's URL and headers,
and the OpenTelemetry SDK's OTLP HTTP exporter with the Collector's exporter settings and with the
documented environment variables."""

import gzip
import re
import tomllib
from pathlib import Path

import httpx
import yaml
from influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult

from support import recent_ms

PAGE = Path(__file__).resolve().parents[1] / "docs" / "integrations.md"
PLACEHOLDER = "md_REPLACE_WITH_YOUR_TOKEN"
DOC_BASE = "http://localhost:8080"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(), flags=re.S)


def telegraf_output(name: str) -> dict:
    (config,) = [tomllib.loads(block)["outputs"][name][0] for block in blocks("toml")
                 if f"[[outputs.{name}]]" in block]
    return config


def on_stack(stack, url: str) -> str:
    assert url.startswith(DOC_BASE), url
    return stack.api_url + url.removeprefix(DOC_BASE)


def test_telegraf_influxdb_v2_output(stack):
    tenant, token = stack.new_tenant()
    config = telegraf_output("influxdb_v2")
    assert config["token"] == PLACEHOLDER and config["content_encoding"] == "gzip"
    assert config["metric_batch_size"] * 40 <= 10_000  # even `net`'s ~40 fields stay within a request
    (url,) = config["urls"]
    with InfluxDBClient(url=on_stack(stack, url), token=token, org=config["organization"],
                        enable_gzip=config["content_encoding"] == "gzip") as client:
        client.write_api(write_options=SYNCHRONOUS).write(bucket=config["bucket"],
                                                          record=f"mem,host=n1 used_percent=41.5 {recent_ms()}",
                                                          write_precision="ms")
    assert stack.wait_for_samples(tenant.id, 1) == 1


def test_telegraf_http_output(stack):
    tenant, token = stack.new_tenant()
    config = telegraf_output("http")
    assert config["data_format"] == "influx" and config["method"] == "POST"
    headers = {**config["headers"], "Authorization": config["headers"]["Authorization"].replace(PLACEHOLDER, token),
               "Content-Encoding": config["content_encoding"]}
    body = gzip.compress(f"mem,host=n1 used_percent=41.5 {recent_ms() * 1_000_000}\n".encode())
    response = httpx.post(on_stack(stack, config["url"]), content=body, headers=headers)
    assert response.status_code == 204, response.text
    assert stack.wait_for_samples(tenant.id, 1) == 1


def sdk_metrics():
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    provider.get_meter("configs").create_counter("configs.checked").add(1)
    data = reader.get_metrics_data()
    provider.shutdown()
    return data


def test_collector_otlphttp_exporter_settings(stack):
    tenant, token = stack.new_tenant()
    (config,) = [yaml.safe_load(block) for block in blocks("yaml") if "otlphttp/microdash" in block]
    exporter_config = config["exporters"]["otlphttp/microdash"]
    assert config["service"]["pipelines"]["metrics"]["exporters"] == ["otlphttp/microdash"]
    headers = {name: value.replace("${env:MICRODASH_TOKEN}", token) for name, value in exporter_config["headers"].items()}
    exporter = OTLPMetricExporter(endpoint=on_stack(stack, exporter_config["metrics_endpoint"]), headers=headers,
                                  compression=Compression(exporter_config["compression"]), timeout=10)
    assert exporter.export(sdk_metrics()) == MetricExportResult.SUCCESS
    assert stack.wait_for_samples(tenant.id, 1) == 1


def test_sdk_environment_variables(stack, monkeypatch):
    tenant, token = stack.new_tenant()
    (block,) = [block for block in blocks("sh") if "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT" in block]
    for name, value in re.findall(r"export (\w+)=\"?([^\"\n]+)\"?", block):
        monkeypatch.setenv(name, on_stack(stack, value) if value.startswith(DOC_BASE) else value.replace(PLACEHOLDER, token))
    assert OTLPMetricExporter().export(sdk_metrics()) == MetricExportResult.SUCCESS
    assert stack.wait_for_samples(tenant.id, 1) == 1
