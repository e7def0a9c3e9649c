"""The Influx line protocol and OTLP decoders and the name translation, without a stack."""

import gzip
import math
import zlib

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue

from microdash_api.protocols import influx_line_protocol, otlp_metrics
from microdash_api.body import decompress_bounded
from microdash_api.errors import ApiError
from microdash_api.protocols.names import label_name, labels_from, metric_name


def decode(text: str, precision: str = "ns", max_samples: int = 1000) -> influx_line_protocol.DecodedLines:
    return influx_line_protocol.decode(text.encode(), precision=precision, max_samples=max_samples)


def test_each_numeric_field_is_a_sample_named_measurement_dot_field():
    decoded = decode('cpu,host=n1,cpu=cpu0 usage_idle=97.5,usage_user=2i,online=t,state="ok" 1764000000123456789')
    assert sorted((item["metric"], item["value"]) for item in decoded.items) == [
        ("cpu.online", 1.0), ("cpu.usage_idle", 97.5), ("cpu.usage_user", 2.0)]
    assert all(item["labels"] == {"host": "n1", "cpu": "cpu0"} and item["ts"] == 1764000000123
               for item in decoded.items)
    assert decoded.skipped_string_fields == 1 and decoded.lines == [1, 1, 1]


def test_escaping_and_name_translation():
    (item,) = decode(r'disk\ io,path=/var\ log,dev\,x=a\=b,k8s-app=web read\ bytes=1u').items
    assert item["metric"] == "disk_io.read_bytes"
    assert item["labels"] == {"path": "/var log", "dev_x": "a=b", "k8s_app": "web"}
    assert "ts" not in item  # no timestamp: server time


@pytest.mark.parametrize("precision, stamp, expected_ms", [
    ("ns", 1764000000123456789, 1764000000123), ("us", 1764000000123456, 1764000000123),
    ("ms", 1764000000123, 1764000000123), ("s", 1764000000, 1764000000000), ("m", 29400000, 1764000000000),
    ("h", 490000, 1764000000000)])
def test_precision(precision, stamp, expected_ms):
    (item,) = decode(f"m v=1 {stamp}", precision).items
    assert item["ts"] == expected_ms


def test_one_letter_precisions_are_v1_only():
    assert influx_line_protocol.V1_PRECISIONS["n"] == "ns" and influx_line_protocol.V1_PRECISIONS["u"] == "us"
    assert "n" not in influx_line_protocol.V2_PRECISIONS and "h" not in influx_line_protocol.V2_PRECISIONS


def test_comments_blank_lines_and_crlf_are_skipped_and_lines_keep_their_numbers():
    decoded = decode("# header\r\n\r\na v=1\r\n   \nb v=2\n")
    assert [item["metric"] for item in decoded.items] == ["a.v", "b.v"] and decoded.lines == [3, 5]


def test_a_newline_inside_a_string_field_does_not_end_the_line():
    decoded = decode('log,src="a msg="first\nsecond \\" still",n=1 1\nnext v=2')
    assert [(item["metric"], item["labels"]) for item in decoded.items] == [
        ("log.n", {"src": '"a'}), ("next.v", {})]
    assert decoded.lines == [1, 3] and decoded.skipped_string_fields == 1


@pytest.mark.parametrize("text, line", [
    ("ok v=1\nbroken", 2), ("ok v=1\nok v=2\nm v=NaN", 3), ("m v=1 notatime", 1), ("m,t= v=1", 1),
    ("ok v=1\n\nm v=1e400", 3), ("m v=99999999999999999999i", 1), ("m v=\"unterminated", 1)])
def test_malformed_lines_are_named(text, line):
    with pytest.raises(influx_line_protocol.LineError) as raised:
        decode(text)
    assert raised.value.line == line and str(raised.value).startswith(f"line {line}: ")


def test_invalid_utf8_names_its_line():
    with pytest.raises(influx_line_protocol.LineError) as raised:
        influx_line_protocol.decode(b"a v=1\nb,t=\xff v=1", precision="ns", max_samples=10)
    assert raised.value.line == 2


def test_sample_count_is_bounded_while_decoding():
    with pytest.raises(influx_line_protocol.TooManySamples):
        decode("m a=1,b=2,c=3\nm a=1,b=2,c=3", max_samples=5)


def test_an_unterminated_quote_costs_linear_time():
    text = 'm s="' + "x\n" * 200_000
    with pytest.raises(influx_line_protocol.LineError):
        decode(text)


def test_names():
    assert metric_name("http.server.duration") == "http.server.duration"
    assert metric_name("my-app/requests") == "my_app_requests"
    assert metric_name("9lives") == "_9lives" and metric_name(".x") == "_.x"
    assert label_name("http.method") == "http_method" and label_name("1x") == "_1x"
    assert labels_from({"a-b": "1", "a_b": "2", "c": "3"}) == {"a_b": "1;2", "c": "3"}  # sorted by original name


def test_decompression_is_bounded_while_decompressing():
    for compress, encoding in ((gzip.compress, "gzip"), (zlib.compress, "deflate")):
        bomb = compress(b"0" * 5_000_000)
        assert len(bomb) < 10_000
        with pytest.raises(ApiError) as raised:
            decompress_bounded(bomb, 1_000_000, encoding)
        assert raised.value.status_code == 413
        assert decompress_bounded(compress(b"a v=1\n"), 6, encoding) == b"a v=1\n"
        for garbage in (b"not compressed at all", compress(b"a v=1")[:-3]):
            with pytest.raises(ApiError) as raised:
                decompress_bounded(garbage, 100, encoding)
            assert raised.value.status_code == 400
    assert decompress_bounded(gzip.compress(b"a v=1\n") + gzip.compress(b"b v=2\n"), 100) == b"a v=1\nb v=2\n"


# ---- OTLP ----------------------------------------------------------------------------------------

def otlp_request(metrics: list[dict], resource: dict | None = None) -> ExportMetricsServiceRequest:
    from google.protobuf import json_format

    body = {"resourceMetrics": [{"resource": {"attributes": [
        {"key": key, "value": {"stringValue": value}} for key, value in (resource or {}).items()]},
        "scopeMetrics": [{"scope": {"name": "test"}, "metrics": metrics}]}]}
    return json_format.ParseDict(body, ExportMetricsServiceRequest())


def attrs(**values) -> list[dict]:
    return [{"key": key.replace("__", "."), "value": {"stringValue": value}} for key, value in values.items()]


def otlp_decode(request, max_samples=1000) -> otlp_metrics.DecodedMetrics:
    return otlp_metrics.decode(request, max_samples=max_samples, max_labels=32)


def test_gauge_and_sums_with_resource_subset_and_temporality():
    request = otlp_request([
        {"name": "queue.depth", "gauge": {"dataPoints": [
            {"asInt": "7", "timeUnixNano": "1764000000123456789", "attributes": attrs(queue__name="q1")}]}},
        {"name": "requests", "sum": {"aggregationTemporality": 2, "isMonotonic": True, "dataPoints": [
            {"asDouble": 12.5, "timeUnixNano": "1764000000000000000"}]}},
        {"name": "requests.delta", "sum": {"aggregationTemporality": 1, "dataPoints": [
            {"asInt": "3", "timeUnixNano": "1764000000000000000"}]}},
    ], resource={"service.name": "shop", "service.instance.id": "pod-1", "host.name": "n1", "telemetry.sdk.name": "x"})
    decoded = otlp_decode(request)
    base = {"service_name": "shop", "instance": "pod-1", "host": "n1"}
    assert decoded.items == [
        {"metric": "queue.depth", "value": 7.0, "labels": {**base, "queue_name": "q1"}, "ts": 1764000000123},
        {"metric": "requests", "value": 12.5, "labels": base, "ts": 1764000000000},
        {"metric": "requests.delta", "value": 3.0, "labels": {**base, "otel_temporality": "delta"},
         "ts": 1764000000000}]
    assert decoded.points == [1, 2, 3] and not decoded.rejected_points


def test_histogram_becomes_cumulative_buckets_sum_and_count():
    request = otlp_request([{"name": "latency", "histogram": {"aggregationTemporality": 2, "dataPoints": [
        {"timeUnixNano": "1764000000000000000", "count": "10", "sum": 4.5, "explicitBounds": [0.1, 1, 2.5],
         "bucketCounts": ["2", "5", "0", "3"], "attributes": attrs(route="/a")}]}}])
    decoded = otlp_decode(request)
    buckets = [(item["labels"]["le"], item["value"]) for item in decoded.items if item["metric"] == "latency_bucket"]
    assert buckets == [("0.1", 2.0), ("1", 7.0), ("2.5", 7.0), ("+Inf", 10.0)]
    rest = {item["metric"]: item["value"] for item in decoded.items if item["metric"] != "latency_bucket"}
    assert rest == {"latency_sum": 4.5, "latency_count": 10.0}
    assert all(item["labels"]["route"] == "/a" for item in decoded.items)


def test_bad_points_are_rejected_alone():
    request = otlp_request([
        {"name": "ok", "gauge": {"dataPoints": [{"asDouble": 1}]}},
        {"name": "bad.hist", "histogram": {"dataPoints": [{"count": "1", "explicitBounds": [1], "bucketCounts": ["1"]}]}},
        {"name": "exp", "exponentialHistogram": {"dataPoints": [{"count": "1"}]}},
        {"name": "no.value", "gauge": {"dataPoints": [{"timeUnixNano": "1"}]}},
        {"name": "stale", "gauge": {"dataPoints": [{"asDouble": 1, "flags": 1}]}},
    ])
    decoded = otlp_decode(request)
    assert [item["metric"] for item in decoded.items] == ["ok"]
    assert decoded.rejected_points == {2, 3, 4} and decoded.total_points == 5 and decoded.no_recorded_value == 1
    assert any("exponential" in reason for reason in decoded.reasons)


def test_request_size_is_checked_before_expanding():
    request = otlp_request([{"name": "h", "histogram": {"dataPoints": [
        {"count": "1", "explicitBounds": list(range(100)), "bucketCounts": ["0"] * 101}] * 10}}])
    with pytest.raises(otlp_metrics.TooManySamples):
        otlp_decode(request, max_samples=1000)


def test_attribute_values_as_text():
    array = AnyValue(array_value=ArrayValue(values=[AnyValue(int_value=1), AnyValue(string_value="a")]))
    assert otlp_metrics.attribute_text(array) == '[1,"a"]'
    assert otlp_metrics.attribute_text(AnyValue(bool_value=True)) == "true"
    assert otlp_metrics.attribute_text(AnyValue(double_value=0.5)) == "0.5"
    assert otlp_metrics.le_text(1.0) == "1" and otlp_metrics.le_text(0.005) == "0.005"
    assert otlp_metrics.le_text(math.inf) == "inf"  # never used for a bound: non-finite bounds are refused
    assert KeyValue  # the proto classes are the library's


@pytest.mark.parametrize("body, json", [(b"\x0a\xff\xff", False), (b"{not json", True), (b'{"resourceMetrics": 5}', True),
                                        (b"[" * 100_000, True)])
def test_undecodable_requests(body, json):
    with pytest.raises(otlp_metrics.UndecodableRequest):
        otlp_metrics.parse(body, json=json)
