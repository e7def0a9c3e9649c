"""Prometheus remote-write 1.0: a snappy-compressed (block format) protobuf WriteRequest, decoded into
the common sample items. Every size is checked before the work it bounds: the declared decompressed
length before decompressing, the series and sample counts before any item is built.

`__name__` becomes the metric and the other labels stay as they are (Prometheus' charsets are
subsets of microdash's). Values microdash cannot store as numbers are dropped and counted, not
refused: stale markers (Prometheus' "this series ended" NaN) and other NaN or infinite values, which
real targets expose (a summary's quantiles with no observations); refusing them would make Prometheus
drop every good sample of the same request, since a 4xx is never retried.

Given the validator, decode first tries the fast path: each series' label set is checked once
(the validator remembers it by its raw bytes) and its samples become validated sample tuples
directly, with only the values' bounds and the timestamps' window checked, per series. At the
first series or sample that is not plainly valid it gives up, and the request is decoded into
sample items for validate_many, which says what is wrong, as it always did."""

import math
import struct
from collections import Counter
from dataclasses import dataclass, field
from itertools import repeat

import cramjam
from google.protobuf.message import DecodeError

from microdash_core.samples import MAX_ABS_VALUE, PlainlyValid, SampleValidator

from .remote_write_messages import Label, WriteRequestRawLabels

STALE_MARKER_BITS = 0x7FF0000000000002
METRIC_LABEL = "__name__"
MAX_NAME_IN_ERRORS = 300
_DOUBLE_BITS = struct.Struct("<Q")
_DOUBLE = struct.Struct("<d")

# (metric, labels) of one series, decoded from the raw bytes of its labels.
LabelSet = tuple[str | None, dict[str, str]]


class UndecodableWrite(ValueError):
    """The body is not a remote-write request microdash can take; the message says why."""


class WriteTooLarge(UndecodableWrite):
    pass


class LabelSetCache:
    """Decoded label sets by their raw bytes. A sender writes the same series on every scrape, so
    after the first request a series' labels cost one dict lookup instead of a protobuf message and
    two strings per label. Bounded: cleared when full (a few tens of MB at typical label sets). The
    decoded dicts are shared by the samples that carry them and must not be changed."""

    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self._known: dict[tuple[bytes, ...], LabelSet] = {}

    def get(self, raw: tuple[bytes, ...]) -> LabelSet:
        known = self._known.get(raw)
        if known is None:
            known = _decode_labels(raw)
            if len(self._known) >= self.max_entries:
                self._known.clear()
            self._known[raw] = known
        return known


@dataclass
class DecodedWrite:
    items: list[dict] = field(default_factory=list)
    # The position in the WriteRequest of the series each item came from, to name it in errors.
    series_of_item: list[int] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)
    label_sets: list[LabelSet] = field(default_factory=list)

    def series_of(self, item_index: int) -> str:
        """The item's series as Prometheus writes it, `metric{name="value",...}` (for error messages)."""
        metric, labels = self.label_sets[self.series_of_item[item_index]]
        inner = ",".join(f'{name}="{value}"' for name, value in labels.items())
        return f"{metric or ''}{{{inner}}}"[:MAX_NAME_IN_ERRORS]


def decode(body: bytes, *, label_sets: LabelSetCache, max_decompressed_bytes: int, max_samples: int,
           max_labels: int, validator: SampleValidator | None = None, now_ms: int | None = None) -> DecodedWrite:
    """The request's samples: validated ones (a PlainlyValid list) when the validator finds every
    series and sample plainly valid at now_ms, else sample items for validate_many."""
    timeseries = _parse(_decompress(body, max_decompressed_bytes)).timeseries
    if len(timeseries) > max_samples:
        raise WriteTooLarge(f"{len(timeseries)} series in one request, more than {max_samples}")
    total = sum(len(series.samples) for series in timeseries)
    if total > max_samples:
        raise WriteTooLarge(f"{total} samples in one request, more than {max_samples}:"
                            f" lower queue_config.max_samples_per_send")
    if validator is not None and now_ms is not None:
        decoded = _plainly_valid(timeseries, label_sets, max_labels, validator, now_ms)
        if decoded is not None:
            return decoded
    return _sample_items(timeseries, label_sets, max_labels)


def _plainly_valid(timeseries, label_sets: LabelSetCache, max_labels: int, validator: SampleValidator,
                   now_ms: int) -> DecodedWrite | None:
    """Validated samples straight from the message, or None at the first thing not plainly valid.
    Raises what _sample_items raises, at the same series: the series before it were all valid."""
    oldest, newest = validator.sample_window(now_ms)
    decoded = DecodedWrite(items=PlainlyValid())
    samples, series_of_item, dropped, label_sets_of = (decoded.items, decoded.series_of_item, decoded.dropped,
                                                       decoded.label_sets)
    known_series = validator.plainly_valid_series
    for position, series in enumerate(timeseries):
        raw_labels = tuple(series.labels)
        if len(raw_labels) > max_labels + 1:  # + __name__
            raise UndecodableWrite(f"series {position} has {len(raw_labels)} labels, more than {max_labels + 1}")
        label_set = known_series(raw_labels, label_sets.get)
        if label_set is None:
            return None
        label_sets_of.append(label_set)
        points = series.samples
        if len(points) == 1:  # how Prometheus sends a scrape: one sample per series
            point = points[0]
            value, ts = point.value, point.timestamp
            if not -MAX_ABS_VALUE <= value <= MAX_ABS_VALUE:  # also false for NaN
                if math.isfinite(value):
                    return None
                dropped[_why_not_stored(value)] += 1
                continue
            if not oldest <= ts <= newest:
                return None
            samples.append((label_set[0], label_set[1], ts, value))
            series_of_item.append(position)
            continue
        values = [point.value for point in points]
        stamps = [point.timestamp for point in points]
        if not all(map(math.isfinite, values)):
            kept = [(ts, value) for ts, value in zip(stamps, values) if math.isfinite(value)]
            for value in values:
                if not math.isfinite(value):
                    dropped[_why_not_stored(value)] += 1
            stamps, values = [ts for ts, _ in kept], [value for _, value in kept]
        if not values:
            continue
        if not (-MAX_ABS_VALUE <= min(values) and max(values) <= MAX_ABS_VALUE
                and oldest <= min(stamps) and max(stamps) <= newest):
            return None
        count = len(values)
        samples.extend(zip(repeat(label_set[0], count), repeat(label_set[1], count), stamps, values))
        series_of_item.extend(repeat(position, count))
    return decoded


def _sample_items(timeseries, label_sets: LabelSetCache, max_labels: int) -> DecodedWrite:
    decoded = DecodedWrite()
    items, series_of_item, dropped = decoded.items, decoded.series_of_item, decoded.dropped
    for position, series in enumerate(timeseries):
        raw_labels = tuple(series.labels)
        if len(raw_labels) > max_labels + 1:  # + __name__
            raise UndecodableWrite(f"series {position} has {len(raw_labels)} labels, more than {max_labels + 1}")
        metric, labels = label_set = label_sets.get(raw_labels)
        decoded.label_sets.append(label_set)
        for sample in series.samples:
            value = sample.value
            if not math.isfinite(value):
                dropped[_why_not_stored(value)] += 1
                continue
            items.append({"metric": metric, "labels": labels, "ts": sample.timestamp, "value": value})
            series_of_item.append(position)
    return decoded


def _decompress(body: bytes, max_bytes: int) -> bytes:
    try:
        length = cramjam.snappy.decompress_raw_len(body)
    except cramjam.DecompressionError as exc:
        raise UndecodableWrite(f"not snappy (block format): {exc}") from exc
    if length > max_bytes:
        raise WriteTooLarge(f"decompressed body of {length} bytes, more than {max_bytes}")
    try:
        return cramjam.snappy.decompress_raw(body)
    except cramjam.DecompressionError as exc:
        raise UndecodableWrite(f"corrupt snappy data: {exc}") from exc


def _parse(data) -> WriteRequestRawLabels:
    try:
        return WriteRequestRawLabels.FromString(memoryview(data))
    except DecodeError as exc:
        raise UndecodableWrite(f"not a remote-write WriteRequest: {exc}") from exc


def _decode_labels(raw: tuple[bytes, ...]) -> LabelSet:
    labels = {}
    for encoded in raw:
        try:
            label = Label.FromString(encoded)
        except DecodeError as exc:
            raise UndecodableWrite(f"a label is not a remote-write Label: {exc}") from exc
        labels[label.name] = label.value
    metric = labels.pop(METRIC_LABEL, None)
    return metric, labels


def _why_not_stored(value: float) -> str:
    if math.isnan(value):
        return "stale_marker" if _DOUBLE_BITS.unpack(_DOUBLE.pack(value))[0] == STALE_MARKER_BITS else "nan"
    return "infinite"
