"""The one sample validator, shared by the HTTP and MQTT ingest paths.

A sample is ``{"metric": str, "value": number, "ts": epoch ms (optional), "labels": {str: str}}``.
Validation is hand-written rather than a pydantic model because it runs for every sample at
100k+/s and must report every problem of every item, with its index, in one pass.

Request bodies take a faster road (accept_json): msgspec decodes the JSON straight into typed
structs, each label set is parsed and checked once per distinct text (cached), and the same
plain-validity checks as the dict fast path run on the structs. Anything not plainly valid, or
not JSON at all, returns None: the caller then decodes with orjson and validate_many reports
exactly what it reports for decoded objects, so the rules and messages have one source.
"""

import math
import re
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import msgspec
import orjson

from .series import LabelSet
from .settings import Settings

# Prometheus' metric-name charset, plus "." for dotted names such as "cpu.usage" (OpenTelemetry style).
METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:.]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
ALLOWED_FIELDS = frozenset(("metric", "value", "ts", "labels"))


@dataclass(frozen=True, slots=True)
class SampleError:
    index: int
    field: str
    error: str

    def as_dict(self) -> dict:
        return {"index": self.index, "field": self.field, "error": self.error}


# A validated sample: (metric, labels, ts_ms, value). Tuples keep the hot path cheap.
Sample = tuple[str, dict[str, str], int, float]


# A series stores at most one sample per millisecond, so no sum over its samples (raw, a 1m or 5m
# rollup, a query bucket, an alert window) adds more than ~1.8e18 of them before 57 million years
# have passed: at |value| <= 1e290 such a sum cannot overflow a double. MariaDB's SUM of doubles
# answers 0 on overflow, silently, so larger values are refused instead.
MAX_ABS_VALUE = 1e290

KNOWN_NAMES_LIMIT = 100_000
# The label set is stored as canonical JSON (series.canonical_labels), where a control character
# takes 6 bytes (\u001f); each label adds its quotes, colon and comma.
WORST_BYTES_PER_CHAR = 6
LABEL_OVERHEAD_BYTES = 6


class JsonSample(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """One sample as msgspec decodes it from a request body. The labels stay raw JSON text: a
    label set repeats from sample to sample, and is parsed and checked once per distinct text."""

    metric: str
    value: int | float  # an int keeps its exact digits, converted as the dict path converts them
    ts: int | None = None
    labels: msgspec.Raw = msgspec.Raw(b"null")


_decode_sample_list = msgspec.json.Decoder(list[JsonSample]).decode
_decode_one_sample = msgspec.json.Decoder(JsonSample).decode
_NULL = b"null"
# The label-set cache is emptied when it holds this many sets or this much label text, whichever
# comes first: a tenant sending ever new, large label sets must not grow the api's memory.
KNOWN_LABEL_SETS_LIMIT = 50_000
KNOWN_LABEL_TEXT_LIMIT = 4 * 2**20


class PlainlyValid(list):
    """Samples accept_json found plainly valid: validate_many hands them back as they are, so an
    edge passes either these or decoded JSON to the one validation call."""


class SampleValidator:
    def __init__(self, settings: Settings):
        self.settings = settings
        # Names already found valid: most samples repeat a few metric and label names, so a set
        # lookup replaces the regexes on the hot path (bounded; cleared when full).
        self._known_metrics: set[str] = set()
        self._known_label_names: set[str] = set()
        # Label sets (as their JSON text) already found valid, parsed: one dict lookup per sample.
        self._known_label_sets: dict[bytes, LabelSet] = {_NULL: LabelSet({})}
        self._known_label_text = 0
        # Series decoded by a protocol edge (remote-write, line protocol), by the edge's own hashable
        # form of the label set (raw bytes or text): (metric, LabelSet) once found plainly valid.
        self._known_series: dict[object, tuple[str, LabelSet]] = {}
        self._known_series_text = 0

    def sample_window(self, now_ms: int) -> tuple[int, int]:
        """The oldest and newest timestamps validate_many accepts at now_ms."""
        return (now_ms - self.settings.max_sample_age_seconds * 1000,
                now_ms + self.settings.max_sample_future_seconds * 1000)

    def plainly_valid_series(self, key: Hashable, decode: Callable[[Hashable], tuple[object, dict]]
                             ) -> tuple[str, LabelSet] | None:
        """The series (metric, LabelSet) an edge's raw form of it (`key`, e.g. its bytes) stands
        for, if the metric and labels pass every rule validate_many applies to them; else None,
        and validate_many on the edge's sample items says why. decode(key) gives the metric and
        labels, called only for a series not seen lately. The caller still checks each sample's
        value (finite, within ±MAX_ABS_VALUE) and timestamp (sample_window)."""
        known = self._known_series.get(key)
        if known is not None:
            return known
        metric, labels = decode(key)
        errors: list[SampleError] = []
        self._metric(0, metric, errors)
        if not errors:
            self._labels(0, labels, errors)
        if errors:
            return None
        label_set = LabelSet(labels)
        size = len(metric) + len(label_set.canonical)  # type: ignore[arg-type]
        if (len(self._known_series) >= KNOWN_LABEL_SETS_LIMIT
                or self._known_series_text + size > KNOWN_LABEL_TEXT_LIMIT):
            self._known_series = {}
            self._known_series_text = 0
        series = self._known_series[key] = (metric, label_set)  # type: ignore[assignment]
        self._known_series_text += size
        return series

    def accept_json(self, body: bytes, *, single: bool = False, now_ms: int | None = None) -> PlainlyValid | None:
        """The samples of a request body (a JSON array, or one object when single) if every one
        is plainly valid; else None, and validate_many on the orjson-decoded body says why."""
        try:
            items = [_decode_one_sample(body)] if single else _decode_sample_list(body)
        except (msgspec.DecodeError, ValueError, RecursionError):  # e.g. invalid UTF-8, or nested deep
            return None
        if not items or len(items) > self.settings.max_bulk_samples:
            return None
        now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
        oldest = now_ms - self.settings.max_sample_age_seconds * 1000
        newest = now_ms + self.settings.max_sample_future_seconds * 1000
        known_metrics, label_sets = self._known_metrics, self._known_label_sets
        samples = PlainlyValid()
        append = samples.append
        for item in items:
            metric, value, ts = item.metric, item.value, item.ts
            if metric not in known_metrics and not self._valid_metric(metric):
                return None
            if type(value) is not float:
                value = _int_to_float(value)
                if value is None:
                    return None
            if not -MAX_ABS_VALUE <= value <= MAX_ABS_VALUE:
                return None
            if ts is None:
                ts = now_ms
            elif not oldest <= ts <= newest:
                return None
            raw_labels = bytes(item.labels)
            labels = label_sets.get(raw_labels)
            if labels is None:
                labels = self._plainly_valid_labels(raw_labels)
                if labels is None:
                    return None
            append((metric, labels, ts, value))
        return samples

    def _valid_metric(self, metric: str) -> bool:
        errors: list[SampleError] = []
        self._metric(0, metric, errors)  # remembers it when valid
        return not errors

    def _plainly_valid_labels(self, raw_labels: bytes) -> LabelSet | None:
        """The label set of this JSON text if it passes every label rule, remembered; else None."""
        try:
            labels = orjson.loads(raw_labels)
        except orjson.JSONDecodeError:
            return None
        errors: list[SampleError] = []
        if type(labels) is not dict:
            return None
        self._labels(0, labels, errors)
        if errors:
            return None
        if (len(self._known_label_sets) >= KNOWN_LABEL_SETS_LIMIT
                or self._known_label_text + len(raw_labels) > KNOWN_LABEL_TEXT_LIMIT):
            self._known_label_sets = {_NULL: LabelSet({})}
            self._known_label_text = 0
        label_set = self._known_label_sets[raw_labels] = LabelSet(labels)
        self._known_label_text += len(raw_labels)
        return label_set

    def validate_many(self, items: object, *, now_ms: int | None = None) -> tuple[list[Sample], list[SampleError]]:
        """Validate a decoded JSON array; return the samples and every error found (all or nothing)."""
        if type(items) is PlainlyValid:
            return items, []
        if not isinstance(items, list):
            return [], [SampleError(-1, "", "expected a JSON array of samples")]
        if not items:
            return [], [SampleError(-1, "", "empty array: send at least one sample")]
        if len(items) > self.settings.max_bulk_samples:
            return [], [SampleError(-1, "", f"too many samples: {len(items)} > {self.settings.max_bulk_samples}")]
        now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
        oldest = now_ms - self.settings.max_sample_age_seconds * 1000
        newest = now_ms + self.settings.max_sample_future_seconds * 1000
        samples: list[Sample] = []
        errors: list[SampleError] = []
        accept = self._accept_plainly_valid
        for index, item in enumerate(items):
            sample = accept(item, now_ms, oldest, newest)
            if sample is None:  # not obviously valid: the thorough check reports why (or accepts it)
                sample = self._validate_one(index, item, now_ms, errors)
            if sample is not None:
                samples.append(sample)
        return samples, errors

    def _accept_plainly_valid(self, item: object, now_ms: int, oldest: int, newest: int) -> Sample | None:
        """The hot path: the sample if it is valid with only known names, else None (never an error)."""
        if type(item) is not dict or not item.keys() <= ALLOWED_FIELDS:
            return None
        metric = item.get("metric")
        if type(metric) is not str or metric not in self._known_metrics:  # a list or object is unhashable
            return None
        value = item.get("value")
        if type(value) is not float or not -MAX_ABS_VALUE <= value <= MAX_ABS_VALUE:  # also false for inf and nan
            return None
        ts = item.get("ts")
        if ts is None:
            ts = now_ms
        elif type(ts) is not int or not oldest <= ts <= newest:
            return None
        labels = item.get("labels")
        if labels is None:
            return metric, {}, ts, value
        if type(labels) is not dict or len(labels) > self.settings.max_labels:
            return None
        known, longest = self._known_label_names, self.settings.max_label_value_length
        chars = 0
        for name, label_value in labels.items():
            # ASCII only, where characters are bytes; any other text is measured by the thorough path.
            if (name not in known or type(label_value) is not str or len(label_value) > longest
                    or not label_value.isascii()):
                return None
            chars += len(name) + len(label_value)
        if WORST_BYTES_PER_CHAR * chars + LABEL_OVERHEAD_BYTES * len(labels) + 2 > self.settings.max_label_set_bytes:
            return None  # might not fit: the thorough path measures it
        return metric, labels, ts, value

    def validate_one(self, item: object, *, now_ms: int | None = None) -> tuple[Sample | None, list[SampleError]]:
        errors: list[SampleError] = []
        now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
        return self._validate_one(0, item, now_ms, errors), errors

    def _validate_one(self, index: int, item: object, now_ms: int, errors: list[SampleError]) -> Sample | None:
        if not isinstance(item, dict):
            errors.append(SampleError(index, "", "expected a JSON object"))
            return None
        count_before = len(errors)
        unknown = item.keys() - ALLOWED_FIELDS
        if unknown:
            errors.append(SampleError(index, sorted(unknown)[0], "unknown field"))
        metric = self._metric(index, item.get("metric"), errors)
        value = self._value(index, item.get("value", _MISSING), errors)
        ts = self._timestamp(index, item.get("ts"), now_ms, errors)
        labels = self._labels(index, item.get("labels"), errors)
        if len(errors) != count_before:
            return None
        return metric, labels, ts, value

    def _metric(self, index: int, metric: object, errors: list[SampleError]) -> str:
        if not isinstance(metric, str):
            errors.append(SampleError(index, "metric", "required, must be a string"))
        elif len(metric) > self.settings.max_metric_name_length:
            errors.append(SampleError(index, "metric", f"longer than {self.settings.max_metric_name_length} characters"))
        elif not METRIC_NAME.fullmatch(metric):
            errors.append(SampleError(index, "metric", "must match [a-zA-Z_:][a-zA-Z0-9_:.]*"))
        else:
            _remember(self._known_metrics, metric)
        return metric  # type: ignore[return-value]

    @staticmethod
    def _value(index: int, value: object, errors: list[SampleError]) -> float:
        if value is _MISSING:
            errors.append(SampleError(index, "value", "required"))
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            errors.append(SampleError(index, "value", "must be a number"))
        else:
            value = float(value) if isinstance(value, float) else _int_to_float(value)
            if value is None or not math.isfinite(value):
                errors.append(SampleError(index, "value", "must be a finite number"))
            elif abs(value) > MAX_ABS_VALUE:
                errors.append(SampleError(index, "value", f"must be within ±{MAX_ABS_VALUE:g} (sums must not overflow)"))
        return value  # type: ignore[return-value]

    def _timestamp(self, index: int, ts: object, now_ms: int, errors: list[SampleError]) -> int:
        if ts is None:
            return now_ms
        if type(ts) is float and ts.is_integer():
            # JSON has one number type: 1764000000000.0 (or 1.764e12) is that integer, as JSON Schema's
            # `integer` in the wire contract says, and some encoders write every number so.
            ts = int(ts)
        if isinstance(ts, bool) or not isinstance(ts, int):
            errors.append(SampleError(index, "ts", "must be an integer (epoch milliseconds)"))
            return 0
        if ts < now_ms - self.settings.max_sample_age_seconds * 1000:
            errors.append(SampleError(index, "ts", f"older than {self.settings.max_sample_age_seconds} s"))
        elif ts > now_ms + self.settings.max_sample_future_seconds * 1000:
            errors.append(SampleError(index, "ts", f"more than {self.settings.max_sample_future_seconds} s in the future"))
        return ts

    def _labels(self, index: int, labels: object, errors: list[SampleError]) -> dict[str, str]:
        if labels is None:
            return {}
        if not isinstance(labels, dict):
            errors.append(SampleError(index, "labels", "must be an object of string values"))
            return {}
        settings = self.settings
        if len(labels) > settings.max_labels:
            errors.append(SampleError(index, "labels", f"more than {settings.max_labels} labels"))
            return {}
        count_before = len(errors)
        for name, label_value in labels.items():
            field = f"labels.{name}"
            if len(name) > settings.max_label_name_length:
                errors.append(SampleError(index, field, f"name longer than {settings.max_label_name_length}"))
            elif not LABEL_NAME.fullmatch(name) or name.startswith("__"):
                errors.append(SampleError(index, field, "name must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __"))
            else:
                _remember(self._known_label_names, name)
            if not isinstance(label_value, str):
                errors.append(SampleError(index, field, "value must be a string"))
            elif (size := _utf8_size(label_value)) is None:
                errors.append(SampleError(index, field, "value must be valid Unicode text"))
            elif size > settings.max_label_value_length:
                errors.append(SampleError(index, field,
                                          f"value longer than {settings.max_label_value_length} bytes (UTF-8)"))
        if len(errors) == count_before:
            stored_size = len(orjson.dumps(labels))
            if stored_size > settings.max_label_set_bytes:
                errors.append(SampleError(index, "labels", f"label set is {stored_size} bytes as stored,"
                                                           f" more than {settings.max_label_set_bytes}"))
        return labels  # type: ignore[return-value]


_MISSING = object()


def _remember(known: set[str], name: str) -> None:
    if len(known) >= KNOWN_NAMES_LIMIT:
        known.clear()
    known.add(name)


def _utf8_size(text: str) -> int | None:
    """Bytes of the text in UTF-8, or None if it has no UTF-8 form (a lone surrogate)."""
    if text.isascii():
        return len(text)
    try:
        return len(text.encode())
    except UnicodeEncodeError:
        return None


def _int_to_float(value: int) -> float | None:
    try:
        return float(value)
    except OverflowError:
        return None
