"""Prometheus API parameters parsed the way Prometheus parses them (no services needed)."""

import pytest

from microdash_api.prometheus.envelope import PrometheusApiError
from microdash_api.prometheus.params import Params, parse_duration, parse_time, selectors


@pytest.mark.parametrize(("text", "ms"), [
    ("1765015200", 1_765_015_200_000), ("1765015200.1234", 1_765_015_200_123), ("-1.5", -1500),
    ("2026-12-06T10:00:00Z", 1_796_551_200_000), ("2026-12-06T11:00:00.25+01:00", 1_796_551_200_250),
    ("292277025-08-18T07:12:54.999999999Z", 253_402_300_799_999),
])
def test_times_in_unix_seconds_or_rfc3339(text, ms):
    assert parse_time("time", text) == ms


@pytest.mark.parametrize("text", ["", "now", "2026-12-06 10:00", "2026-12-06T10:00:00", "inf", "1e20"])
def test_bad_times_are_bad_data_naming_the_parameter(text):
    with pytest.raises(PrometheusApiError) as caught:
        parse_time("start", text)
    assert caught.value.error_type == "bad_data" and "'start'" in caught.value.message


@pytest.mark.parametrize(("text", "ms"), [("15", 15_000), ("0.5", 500), ("1m", 60_000), ("1h30m", 5_400_000),
                                          ("250ms", 250), ("1d", 86_400_000)])
def test_durations_in_seconds_or_prometheus_units(text, ms):
    assert parse_duration("step", text) == ms


def test_selectors_with_or_become_alternatives_and_the_name_a_matcher():
    (first, second), = [selectors(Params([("match[]", 'up{job="a" or job="b"}')]), required_=True)]
    assert [(m.name, m.op, m.value) for m in first] == [("__name__", "=", "up"), ("job", "=", "a")]
    assert [(m.name, m.op, m.value) for m in second] == [("__name__", "=", "up"), ("job", "=", "b")]
