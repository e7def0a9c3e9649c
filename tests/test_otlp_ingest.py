"""OTLP/HTTP metrics at /v1/metrics against the real stack, pushed by the OpenTelemetry Python SDK's
OTLP HTTP exporter: gauges, counters (cumulative and delta) and histograms stored and read back
through /api/v1/query; OTLP's JSON encoding; partial success; bad requests; tenants kept apart."""

import gzip
import time

import httpx
import pytest
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.proto.common._internal.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import Observation
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (ExportMetricsServiceRequest,
                                                                           ExportMetricsServiceResponse)
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader, MetricExportResult
from opentelemetry.sdk.resources import Resource

from support import recent_ms

RESOURCE = {"service.name": "checkout", "service.namespace": "shop", "service.instance.id": "pod-7",
            "host.name": "node-1", "telemetry.sdk.language": "python"}
BASE_LABELS = {"service_name": "checkout", "service_namespace": "shop", "instance": "pod-7", "host": "node-1"}


def record_metrics(*, delta: bool = False, counter_name: str = "orders.placed"):
    """Real SDK instruments, collected once: what a service's PeriodicExportingMetricReader would send."""
    temporality = {Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA} if delta else {}
    reader = InMemoryMetricReader(preferred_temporality=temporality)
    provider = MeterProvider(resource=Resource.create(RESOURCE), metric_readers=[reader])
    meter = provider.get_meter("shop.checkout", "1.0")
    orders = meter.create_counter(counter_name, unit="1")
    orders.add(3, {"payment.method": "card"})
    orders.add(2, {"payment.method": "card"})
    orders.add(1, {"payment.method": "cash"})
    meter.create_up_down_counter("cart.items").add(-4)
    latency = meter.create_histogram("http.server.request.duration", unit="s",
                                     explicit_bucket_boundaries_advisory=[0.1, 0.5, 1.0])
    for seconds in (0.05, 0.2, 0.3, 0.7, 3.0):
        latency.record(seconds, {"http.route": "/pay"})
    meter.create_observable_gauge("queue.depth", callbacks=[lambda options: [Observation(17, {"queue": "q1"})]])
    data = reader.get_metrics_data()
    provider.shutdown()
    return data


def exporter(stack, token: str, **kwargs) -> OTLPMetricExporter:
    return OTLPMetricExporter(endpoint=f"{stack.api_url}/v1/metrics", headers={"Authorization": f"Bearer {token}"},
                              timeout=10, **kwargs)


def series(stack, token: str, metric: str) -> dict[tuple, list[float]]:
    """The values of each series of the metric, by label set."""
    with stack.client(token) as client:
        end = recent_ms(1000)
        response = client.get("/api/v1/query", params={"metric": metric, "start": end - 60_000, "end": end,
                                                        "step": 10, "resolution": "raw", "aggregation": "last"})
    assert response.status_code == 200, response.text
    return {tuple(sorted(s["labels"].items())): [value for _, value in s["points"]] for s in response.json()["series"]}


def labelled(**labels) -> tuple:
    return tuple(sorted({**BASE_LABELS, **labels}.items()))


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip, Compression.Deflate])
def test_sdk_gauges_counters_and_histograms_are_stored(stack, compression):
    tenant, token = stack.new_tenant()
    assert exporter(stack, token, compression=compression).export(record_metrics()) == MetricExportResult.SUCCESS
    # 2 + 1 counter series, 1 up-down counter, 1 gauge, histogram: 4 buckets + sum + count
    assert stack.wait_for_samples(tenant.id, 10) == 10
    assert series(stack, token, "orders.placed") == {labelled(payment_method="card"): [5.0],
                                                     labelled(payment_method="cash"): [1.0]}
    assert series(stack, token, "cart.items") == {labelled(): [-4.0]}
    assert series(stack, token, "queue.depth") == {labelled(queue="q1"): [17.0]}
    buckets = series(stack, token, "http.server.request.duration_bucket")
    assert {dict(key)["le"]: values for key, values in buckets.items()} == {
        "0.1": [1.0], "0.5": [3.0], "1": [4.0], "+Inf": [5.0]}
    assert all(dict(key)["http_route"] == "/pay" for key in buckets)
    assert series(stack, token, "http.server.request.duration_sum") == {labelled(http_route="/pay"): [4.25]}
    assert series(stack, token, "http.server.request.duration_count") == {labelled(http_route="/pay"): [5.0]}


def test_delta_temporality_is_kept_in_a_label(stack):
    tenant, token = stack.new_tenant()
    assert exporter(stack, token).export(record_metrics(delta=True)) == MetricExportResult.SUCCESS
    assert stack.wait_for_samples(tenant.id, 10) == 10
    assert series(stack, token, "orders.placed") == {
        labelled(payment_method="card", otel_temporality="delta"): [5.0],
        labelled(payment_method="cash", otel_temporality="delta"): [1.0]}
    assert all(dict(key)["otel_temporality"] == "delta"
               for key in series(stack, token, "http.server.request.duration_count"))
    assert series(stack, token, "cart.items") == {labelled(): [-4.0]}  # an up-down counter stays cumulative


def test_otlp_json_encoding(stack):
    """The SDK's own request in OTLP's JSON encoding (camelCase, 64-bit integers as strings)."""
    tenant, token = stack.new_tenant()
    body = json_format.MessageToJson(encode_metrics(record_metrics()))
    assert '"resourceMetrics"' in body and '"timeUnixNano": "' in body
    with stack.client(token) as client:
        response = client.post("/v1/metrics", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json", response.text
    assert response.json() == {}
    assert stack.wait_for_samples(tenant.id, 10) == 10
    assert series(stack, token, "queue.depth") == {labelled(queue="q1"): [17.0]}


def test_partial_success_stores_the_good_points_and_counts_the_rest(stack):
    tenant, token = stack.new_tenant()
    now_ns = recent_ms(-1000) * 1_000_000
    body = {"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "good", "gauge": {"dataPoints": [{"asDouble": 1.5, "timeUnixNano": str(now_ns)}]}},
        {"name": "not.a.number", "gauge": {"dataPoints": [{"asDouble": "NaN", "timeUnixNano": str(now_ns)}]}},
        {"name": "too.old", "gauge": {"dataPoints": [{"asDouble": 1, "timeUnixNano": "1000000000"}]}},
        {"name": "exp", "exponentialHistogram": {"dataPoints": [{"count": "1", "timeUnixNano": str(now_ns)}]}},
    ]}]}]}
    request = json_format.ParseDict(body, ExportMetricsServiceRequest())
    with stack.client(token, headers={"Content-Type": "application/x-protobuf"}) as client:
        response = client.post("/v1/metrics", content=request.SerializeToString())
    assert response.status_code == 200, response.text
    answer = ExportMetricsServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_data_points == 3
    assert "finite" in answer.partial_success.error_message and "exponential" in answer.partial_success.error_message
    assert stack.wait_for_samples(tenant.id, 1) == 1
    time.sleep(0.5)
    assert stack.sql("SELECT metric FROM series WHERE tenant_id = %s", (tenant.id,)) == [("good",)]


def test_bad_requests_are_4xx_with_a_status_and_store_nothing(stack):
    tenant, token = stack.new_tenant()
    protobuf, json = {"Content-Type": "application/x-protobuf"}, {"Content-Type": "application/json"}
    all_bad = json_format.ParseDict({"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "bad name?", "gauge": {"dataPoints": [{"asDouble": "Infinity"}]}}]}]}]}, ExportMetricsServiceRequest())
    huge = json_format.ParseDict({"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "g", "gauge": {"dataPoints": [{"asDouble": 1}] * 10_001}}]}]}]}, ExportMetricsServiceRequest())
    with stack.client(token) as client:
        answers = {
            "truncated protobuf": client.post("/v1/metrics", content=encode_metrics(record_metrics())
                                              .SerializeToString()[:-7], headers=protobuf),
            "garbage protobuf": client.post("/v1/metrics", content=b"\xff" * 64, headers=protobuf),
            "garbage json": client.post("/v1/metrics", content=b"{nope", headers=json),
            "wrong json": client.post("/v1/metrics", content=b'{"resourceMetrics": "x"}', headers=json),
            "content type": client.post("/v1/metrics", content=b"x", headers={"Content-Type": "text/plain"}),
            "garbage gzip": client.post("/v1/metrics", content=b"x", headers={**protobuf, "Content-Encoding": "gzip"}),
            "gzip bomb": client.post("/v1/metrics", content=gzip.compress(b"\x00" * 9 * 2**20),
                                     headers={**protobuf, "Content-Encoding": "gzip"}),
            "all points bad": client.post("/v1/metrics", content=all_bad.SerializeToString(), headers=protobuf),
            "too many points": client.post("/v1/metrics", content=huge.SerializeToString(), headers=protobuf),
        }
    expected = {"truncated protobuf": 400, "garbage protobuf": 400, "garbage json": 400, "wrong json": 400,
                "content type": 415, "garbage gzip": 400, "gzip bomb": 413, "all points bad": 400,
                "too many points": 413}
    assert {name: response.status_code for name, response in answers.items()} == expected, {
        name: response.content[:300] for name, response in answers.items()}
    for name, response in answers.items():
        if response.headers["content-type"] == "application/x-protobuf":
            status = status_pb2.Status.FromString(response.content)
        else:
            status = json_format.Parse(response.content, status_pb2.Status())
        assert status.message and status.code, name
    assert "all 1 data points were rejected" in status_pb2.Status.FromString(answers["all points bad"].content).message
    time.sleep(1)
    assert stack.count_samples(tenant.id) == 0


def test_credentials_and_tenant_isolation(stack):
    first, first_token = stack.new_tenant()
    second, second_token = stack.new_tenant()
    assert exporter(stack, "md_wrong").export(record_metrics()) == MetricExportResult.FAILURE
    with httpx.Client(base_url=stack.api_url) as client:
        missing = client.post("/v1/metrics", content=b"", headers={"Content-Type": "application/json"})
    assert missing.status_code == 401 and "token" in missing.json()["message"]
    assert exporter(stack, first_token).export(record_metrics()) == MetricExportResult.SUCCESS
    assert exporter(stack, second_token).export(record_metrics(counter_name="only.second")) == MetricExportResult.SUCCESS
    assert stack.wait_for_samples(first.id, 10) == 10 and stack.wait_for_samples(second.id, 10) == 10
    assert series(stack, first_token, "only.second") == {}
    assert series(stack, second_token, "orders.placed") == {}
    assert series(stack, second_token, "only.second")[labelled(payment_method="card")] == [5.0]


def test_the_series_limit_refuses_the_whole_request(stack):
    tenant, token = stack.new_tenant(max_series=3)
    with stack.client(token, headers={"Content-Type": "application/x-protobuf"}) as client:
        response = client.post("/v1/metrics", content=encode_metrics(record_metrics()).SerializeToString())
    assert response.status_code == 400, response.content
    assert "series" in status_pb2.Status.FromString(response.content).message
    time.sleep(1)
    assert stack.count_samples(tenant.id) == 0
