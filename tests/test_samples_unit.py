"""The shared sample validator and label matchers (pure functions, no services)."""

import pytest

from microdash_core.errors import InvalidInput
from microdash_core.matchers import parse_matcher
from microdash_core.samples import SampleValidator
from microdash_core.settings import Settings

NOW = 1_800_000_000_000
validator = SampleValidator(Settings())


def test_valid_sample_is_normalised_to_a_tuple():
    samples, errors = validator.validate_many([{"metric": "cpu.usage", "value": 3, "ts": NOW,
                                                "labels": {"host": "n1"}}], now_ms=NOW)
    assert errors == [] and samples == [("cpu.usage", {"host": "n1"}, NOW, 3.0)]
    assert isinstance(samples[0][3], float)


def test_missing_ts_takes_server_time_and_labels_are_optional():
    samples, errors = validator.validate_many([{"metric": "up", "value": 1}], now_ms=NOW)
    assert errors == [] and samples == [("up", {}, NOW, 1.0)]


def test_an_integral_float_timestamp_is_that_integer_and_a_fraction_or_infinity_is_refused():
    samples, errors = validator.validate_many([{"metric": "up", "value": 1, "ts": float(NOW)},
                                               {"metric": "up", "value": 1, "ts": 18e11}], now_ms=NOW)
    assert errors == [] and [sample[2] for sample in samples] == [NOW, NOW] and type(samples[0][2]) is int
    for ts in (NOW + 0.5, float("inf"), float("nan")):
        assert [(e.field, e.error) for e in validator.validate_one({"metric": "up", "value": 1, "ts": ts}, now_ms=NOW)[1]
                ] == [("ts", "must be an integer (epoch milliseconds)")], ts


@pytest.mark.parametrize("metric", ["a", "_x", "ns:sub.metric_1", "cpu.usage"])
def test_accepted_metric_names(metric):
    assert validator.validate_one({"metric": metric, "value": 1}, now_ms=NOW)[1] == []


@pytest.mark.parametrize("metric", ["", "1abc", "a b", "a-b", "ü", 5, None])
def test_rejected_metric_names(metric):
    _, errors = validator.validate_one({"metric": metric, "value": 1}, now_ms=NOW)
    assert [e.field for e in errors] == ["metric"]


def test_every_error_of_every_item_is_reported():
    items = [{"metric": "ok", "value": 1}, {"metric": "1", "value": "x", "ts": "now", "labels": []}]
    samples, errors = validator.validate_many(items, now_ms=NOW)
    assert {(e.index, e.field) for e in errors} == {(1, "metric"), (1, "value"), (1, "ts"), (1, "labels")}


def test_huge_integers_are_not_finite_floats():
    _, errors = validator.validate_one({"metric": "m", "value": 10 ** 400}, now_ms=NOW)
    assert errors[0].error == "must be a finite number"


def test_timestamp_window_is_configurable():
    strict = SampleValidator(Settings(max_sample_age_seconds=60, max_sample_future_seconds=0))
    assert strict.validate_one({"metric": "m", "value": 1, "ts": NOW - 61_000}, now_ms=NOW)[1][0].field == "ts"
    assert strict.validate_one({"metric": "m", "value": 1, "ts": NOW + 1}, now_ms=NOW)[1][0].field == "ts"
    assert strict.validate_one({"metric": "m", "value": 1, "ts": NOW - 59_000}, now_ms=NOW)[1] == []


def test_label_limits():
    settings = Settings(max_labels=2, max_label_value_length=3)
    limited = SampleValidator(settings)
    assert limited.validate_one({"metric": "m", "value": 1, "labels": {"a": "1", "b": "2", "c": "3"}},
                                now_ms=NOW)[1][0].field == "labels"
    assert limited.validate_one({"metric": "m", "value": 1, "labels": {"a": "1234"}},
                                now_ms=NOW)[1][0].field == "labels.a"


@pytest.mark.parametrize("text,labels,expected", [
    ("host=a", {"host": "a"}, True),
    ("host=a", {"host": "b"}, False),
    ("host!=a", {}, True),
    ('host=~"web-.*"', {"host": "web-1"}, True),
    ("host=~web", {"host": "web-1"}, False),  # anchored, as in Prometheus
    ("host!~web.*", {"host": "db"}, True),
    ("zone=", {}, True),  # empty matches a missing label
])
def test_matchers(text, labels, expected):
    assert parse_matcher(text).matches(labels) is expected


@pytest.mark.parametrize("text", ["host", "=a", "h-x=a", "host=~(", "host~=a"])
def test_bad_matchers_are_rejected(text):
    with pytest.raises(InvalidInput):
        parse_matcher(text)


def test_fast_path_and_thorough_path_agree():
    """Known names take the fast path; every rule must still hold there."""
    fresh = SampleValidator(Settings(max_labels=2, max_label_value_length=5))
    good = {"metric": "cpu", "value": 1.5, "ts": NOW, "labels": {"host": "a"}}
    assert fresh.validate_many([good, good], now_ms=NOW)[1] == []  # the second is a fast-path hit
    variants = [
        {**good, "value": float("inf")}, {**good, "value": float("nan")}, {**good, "value": "1"},
        {**good, "ts": NOW + 10**9}, {**good, "ts": 1.0}, {**good, "labels": {"host": "toolong"}},
        {**good, "labels": {"host": "a", "h": "b", "x": "c"}}, {**good, "labels": {"host": 1}},
        {**good, "extra": 1}, {**good, "labels": {"__host": "a"}},
    ]
    for variant in variants:
        assert fresh.validate_many([good, variant], now_ms=NOW)[1] != [], variant
    samples, errors = fresh.validate_many([{**good, "value": 3}], now_ms=NOW)  # ints take the thorough path
    assert errors == [] and samples[0][3] == 3.0 and type(samples[0][3]) is float


def _field_of_first_error(checker, labels):
    good = {"metric": "m", "value": 1.0, "ts": NOW, "labels": {"host": "a"}}
    errors = checker.validate_many([good, {**good, "labels": labels}], now_ms=NOW)[1]  # the second may take the fast path
    return errors[0].field if errors else None


def test_label_values_are_limited_in_utf8_bytes_not_characters():
    checker = SampleValidator(Settings(max_label_value_length=1024))
    assert _field_of_first_error(checker, {"host": "\U0001F600" * 256}) is None  # 1024 bytes
    assert _field_of_first_error(checker, {"host": "\U0001F600" * 257}) == "labels.host"
    assert _field_of_first_error(checker, {"host": "é" * 600}) == "labels.host"  # 600 characters, 1200 bytes
    assert _field_of_first_error(checker, {"host": "\ud800"}) == "labels.host"  # no UTF-8 form


def test_the_audit_reproduction_32_labels_of_1024_emoji_is_refused():
    labels = {f"l{n}": "\U0001F600" * 1024 for n in range(32)}
    assert _field_of_first_error(SampleValidator(Settings()), labels) is not None


def test_label_set_must_fit_the_series_table_as_stored():
    """Control characters are escaped to 6 bytes each in the stored JSON: values within their own
    limit can still make a label set larger than series.labels holds."""
    checker = SampleValidator(Settings())
    labels = {f"l{n}": "\x01" * 1024 for n in range(32)}
    assert _field_of_first_error(checker, labels) == "labels"
    _, errors = checker.validate_one({"metric": "m", "value": 1, "labels": labels}, now_ms=NOW)
    assert "as stored, more than 65535" in errors[0].error
    ascii_labels = {f"l{n}": "x" * 1024 for n in range(32)}  # about 33 KB stored: fits
    assert _field_of_first_error(checker, ascii_labels) is None


def test_name_bounds_cannot_exceed_the_series_table():
    with pytest.raises(ValueError):
        Settings(max_metric_name_length=201)
    with pytest.raises(ValueError):
        Settings(max_label_set_bytes=65536)


@pytest.mark.parametrize("value", [1e291, -1e291, 1.7e308, 10 ** 300])
def test_values_that_could_overflow_a_sum_are_refused(value):
    _, errors = validator.validate_one({"metric": "m", "value": value}, now_ms=NOW)
    assert [(e.field, e.error) for e in errors] == [("value", "must be within ±1e+290 (sums must not overflow)")]
    assert validator.validate_one({"metric": "m", "value": 1e290}, now_ms=NOW)[1] == []
