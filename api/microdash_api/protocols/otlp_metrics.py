"""OTLP metrics (ExportMetricsServiceRequest) decoded into sample items, with the data point each
item came from, so that a point with any bad sample is refused whole (OTLP's partial success).

Mapping (docs/integrations.md): OpenTelemetry names are kept (dots are allowed in ours), other
characters become "_"; gauges and sums are one sample per point, a delta sum or histogram carries
otel_temporality="delta"; histograms become Prometheus-style <name>_bucket{le} (cumulative,
with +Inf), <name>_sum and <name>_count, summaries <name>{quantile}, <name>_sum, <name>_count."""

import base64
import math
from dataclasses import dataclass, field

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1 import metrics_pb2

from .names import labels_from, metric_name

NS_PER_MS = 1_000_000
DELTA = metrics_pb2.AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
NO_RECORDED_VALUE = metrics_pb2.DataPointFlags.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK
TEMPORALITY_LABEL = "otel_temporality"
# Resource attributes kept as labels on every series of the resource; the others are dropped.
RESOURCE_LABELS = {"service.name": "service_name", "service.namespace": "service_namespace",
                   "service.instance.id": "instance", "host.name": "host"}
REASONS_KEPT = 5


class UndecodableRequest(Exception):
    pass


class TooManySamples(Exception):
    pass


def parse(body: bytes, *, json: bool) -> ExportMetricsServiceRequest:
    """The request from protobuf or OTLP's JSON encoding; raises UndecodableRequest."""
    request = ExportMetricsServiceRequest()
    try:
        if json:
            json_format.Parse(body, request, ignore_unknown_fields=True)
        else:
            request.ParseFromString(body)
    except (DecodeError, json_format.ParseError, UnicodeDecodeError, RecursionError, ValueError) as exc:
        raise UndecodableRequest(f"not an OTLP ExportMetricsServiceRequest: {str(exc)[:200]}") from None
    return request


@dataclass
class DecodedMetrics:
    items: list[dict] = field(default_factory=list)
    points: list[int] = field(default_factory=list)  # the data point (numbered in the request) of each item
    rejected_points: set[int] = field(default_factory=set)
    reasons: list[str] = field(default_factory=list)
    total_points: int = 0
    no_recorded_value: int = 0  # points flagged as holding no value (staleness): nothing to store

    def reject(self, point: int, reason: str) -> None:
        self.rejected_points.add(point)
        if len(self.reasons) < REASONS_KEPT and reason not in self.reasons:
            self.reasons.append(reason)


def decode(request: ExportMetricsServiceRequest, *, max_samples: int, max_labels: int) -> DecodedMetrics:
    """Raises TooManySamples before any work when the request would expand past `max_samples`."""
    expected = sum(_samples_of(metric) for resource in request.resource_metrics
                   for scope in resource.scope_metrics for metric in scope.metrics)
    if expected > max_samples:
        raise TooManySamples(f"{expected} samples in one request, more than {max_samples}")
    decoded = DecodedMetrics()
    for resource in request.resource_metrics:
        base = _resource_labels(resource.resource.attributes)
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                _MetricDecoder(decoded, metric, base, max_labels).decode()
    return decoded


def _samples_of(metric: metrics_pb2.Metric) -> int:
    kind = metric.WhichOneof("data")
    if kind in ("gauge", "sum"):
        return len(getattr(metric, kind).data_points)
    if kind == "histogram":
        return sum(len(point.explicit_bounds) + 3 for point in metric.histogram.data_points)
    if kind == "summary":
        return sum(len(point.quantile_values) + 2 for point in metric.summary.data_points)
    return 0


def _resource_labels(attributes) -> dict[str, str]:
    return {RESOURCE_LABELS[a.key]: attribute_text(a.value) for a in attributes if a.key in RESOURCE_LABELS}


class _MetricDecoder:
    def __init__(self, decoded: DecodedMetrics, metric: metrics_pb2.Metric, base: dict[str, str], max_labels: int):
        self.decoded, self.metric, self.base, self.max_labels = decoded, metric, base, max_labels
        self.name = metric_name(metric.name)

    def decode(self) -> None:
        kind = self.metric.WhichOneof("data")
        if kind in ("gauge", "sum"):
            data = getattr(self.metric, kind)
            delta = kind == "sum" and data.aggregation_temporality == DELTA
            for point in data.data_points:
                self._point(point, delta, self._number)
        elif kind == "histogram":
            delta = self.metric.histogram.aggregation_temporality == DELTA
            for point in self.metric.histogram.data_points:
                self._point(point, delta, self._histogram)
        elif kind == "summary":
            for point in self.metric.summary.data_points:
                self._point(point, False, self._summary)
        elif kind == "exponential_histogram":
            for _ in self.metric.exponential_histogram.data_points:
                self.decoded.total_points += 1
                self.decoded.reject(self.decoded.total_points,
                                    f"{self.metric.name!r}: exponential histograms are not supported")

    def _point(self, point, delta: bool, expand) -> None:
        decoded = self.decoded
        decoded.total_points += 1
        number = decoded.total_points
        if point.flags & NO_RECORDED_VALUE:
            decoded.no_recorded_value += 1
            return
        if len(point.attributes) > self.max_labels:
            decoded.reject(number, f"{self.metric.name!r}: more than {self.max_labels} attributes")
            return
        labels = {**self.base, **labels_from({a.key: attribute_text(a.value) for a in point.attributes})}
        if delta:
            labels[TEMPORALITY_LABEL] = "delta"
        ts = point.time_unix_nano // NS_PER_MS if point.time_unix_nano else None
        problem = expand(point, labels, ts, number)
        if problem:
            decoded.reject(number, f"{self.metric.name!r}: {problem}")

    def _add(self, name: str, value: float, labels: dict[str, str], ts: int | None, number: int) -> None:
        item = {"metric": name, "value": value, "labels": labels}
        if ts is not None:
            item["ts"] = ts
        self.decoded.items.append(item)
        self.decoded.points.append(number)

    def _number(self, point, labels, ts, number) -> str | None:
        kind = point.WhichOneof("value")
        if kind is None:
            return "a data point without a value"
        self._add(self.name, float(getattr(point, kind)), labels, ts, number)
        return None

    def _histogram(self, point, labels, ts, number) -> str | None:
        bounds, counts = point.explicit_bounds, point.bucket_counts
        if counts and len(counts) != len(bounds) + 1:
            return f"{len(counts)} bucket counts for {len(bounds)} bounds (expected bounds + 1)"
        if any(not math.isfinite(bound) for bound in bounds) or list(bounds) != sorted(set(bounds)):
            return "bucket bounds must be finite and increasing"
        cumulative = 0
        for bound, count in zip(bounds, counts):
            cumulative += count
            self._add(f"{self.name}_bucket", float(cumulative), {**labels, "le": le_text(bound)}, ts, number)
        self._add(f"{self.name}_bucket", float(point.count), {**labels, "le": "+Inf"}, ts, number)
        if point.HasField("sum"):
            self._add(f"{self.name}_sum", point.sum, labels, ts, number)
        self._add(f"{self.name}_count", float(point.count), labels, ts, number)
        return None

    def _summary(self, point, labels, ts, number) -> str | None:
        for quantile in point.quantile_values:
            self._add(self.name, quantile.value, {**labels, "quantile": le_text(quantile.quantile)}, ts, number)
        self._add(f"{self.name}_sum", point.sum, labels, ts, number)
        self._add(f"{self.name}_count", float(point.count), labels, ts, number)
        return None


def le_text(bound: float) -> str:
    """A bound as Prometheus writes it: 1 not 1.0, 0.005, 1e+21."""
    text = repr(bound)
    return text[:-2] if text.endswith(".0") else text


def attribute_text(value) -> str:
    """An attribute value as label text: scalars as written, arrays and maps as JSON (as Prometheus does)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind in ("array_value", "kvlist_value"):
        return orjson.dumps(_plain(value)).decode()
    return "" if kind is None else _scalar_text(kind, getattr(value, kind))


def _scalar_text(kind: str, scalar) -> str:
    if kind == "bool_value":
        return "true" if scalar else "false"
    if kind == "bytes_value":
        return base64.b64encode(scalar).decode()
    return str(scalar)


def _plain(value):
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_plain(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {pair.key: _plain(pair.value) for pair in value.kvlist_value.values}
    if kind in ("string_value", "int_value", "bool_value"):
        return getattr(value, kind)
    return None if kind is None else _scalar_text(kind, getattr(value, kind))
