"""The PromQL engine on small series whose answers are worked out by hand from Prometheus's
documented semantics (the promtool oracle test checks many more against Prometheus itself)."""

import asyncio
import math
import re
import time

import numpy as np
import pytest

from microdash_core.promql import PromQLError, QueryLimits, instant_query, parse, range_query
from microdash_core.promql.result import format_time, format_value
from promql_support import LIMITS, InMemorySource, series

S = 1000


def counter(name="x", step=10.0, count=41, **labels):
    return series({"__name__": name, **labels}, [step * i for i in range(count)])


def instant(expr, source, at_s, limits=LIMITS):
    return asyncio.run(instant_query(expr, source=source, time_ms=int(at_s * S), limits=limits))


def values_by_labels(result) -> dict:
    return {tuple(sorted(s.labels.items())): float(s.values[0]) for s in result.series}


def one(expr, source, at_s) -> float:
    result = instant(expr, source, at_s)
    assert len(result.series) == 1, result.to_prometheus()
    return float(result.series[0].values[0])


def error_of(expr, source=None, at_s=600, limits=LIMITS) -> PromQLError:
    with pytest.raises(PromQLError) as caught:
        instant(expr, source or InMemorySource([]), at_s, limits)
    return caught.value


# Rates: Prometheus extrapolates to the window's edges, handles counter resets, and never
# extrapolates a counter below zero.

def test_rate_over_aligned_samples_is_the_plain_slope():
    source = InMemorySource([counter()])  # 10 per 15 s sample
    assert one("rate(x[1m])", source, 120) == pytest.approx(40 / 60)
    assert one("increase(x[1m])", source, 120) == pytest.approx(40)


def test_rate_extrapolates_to_the_window_edges():
    source = InMemorySource([counter()])
    # Window [70 s, 130 s]: samples at 75..120 s rise by 30 over 45 s; the gaps to both edges
    # (5 s, 10 s) are below 1.1 sample intervals, so the increase is stretched to 60 s.
    assert one("increase(x[1m])", source, 130) == pytest.approx(30 * 60 / 45)


def test_increase_adds_the_value_before_a_counter_reset():
    source = InMemorySource([series({"__name__": "x"}, [0, 10, 20, 5, 15])])
    assert one("increase(x[1m])", source, 60) == pytest.approx(15 + 20)
    assert one("resets(x[1m])", source, 60) == 1
    assert one("delta(x[1m])", source, 60) == pytest.approx(15)  # a gauge: no reset handling


def test_a_window_far_from_its_start_extrapolates_half_an_interval():
    source = InMemorySource([series({"__name__": "x"}, [None, None, 100, 110, 120])])
    # Samples at 30, 45, 60 s in [0, 60]: 30 s to the start is beyond 1.1 x 15 s, so only 7.5 s
    # is added; the zero point (150 s back) is farther than that.
    assert one("increase(x[1m])", source, 60) == pytest.approx(20 * 37.5 / 30)


def test_irate_uses_the_last_two_samples_and_a_reset():
    source = InMemorySource([series({"__name__": "x"}, [0, 10, 40, 5])])
    assert one("irate(x[1m])", source, 45) == pytest.approx(5 / 15)
    assert one("idelta(x[1m])", source, 30) == pytest.approx(30)


def test_rate_needs_two_samples():
    source = InMemorySource([series({"__name__": "x"}, [1])])
    assert instant("rate(x[5m])", source, 60).series == []


def test_deriv_is_the_least_squares_slope():
    source = InMemorySource([series({"__name__": "g"}, [0, 3, 6, 9, 12])])
    assert one("deriv(g[1m])", source, 60) == pytest.approx(0.2)
    assert one("predict_linear(g[1m], 60)", source, 60) == pytest.approx(24)


# Selectors: the lookback window, offset, @ and all four matchers.

def test_an_instant_selector_looks_back_five_minutes_including_the_edge():
    source = InMemorySource([series({"__name__": "x"}, [7])])
    assert one("x", source, 300) == 7
    assert instant("x", source, 300.001).series == []


def test_offset_and_at_move_the_reading_time():
    source = InMemorySource([counter()])
    assert one("x offset 1m", source, 120) == 40
    assert one("x @ 30", source, 600) == 20
    result = asyncio.run(range_query("x @ start()", source=source, start_ms=60_000, end_ms=120_000,
                                     step_ms=30_000, limits=LIMITS))
    assert result.series[0].values.tolist() == [40, 40, 40]


def test_all_four_matcher_kinds_reach_the_source():
    source = InMemorySource([counter(host="a", dc="x"), counter(host="b", dc="y"), counter(host="c", dc="x")])
    result = instant('x{dc="x", host!="a", host=~"[a-c]", dc!~"y|z"}', source, 60)
    assert [s.labels["host"] for s in result.series] == ["c"]
    matchers, start_ms, end_ms, hints = source.calls[0]
    assert [(m.name, m.op) for m in matchers] == [("__name__", "="), ("dc", "="), ("host", "!="),
                                                  ("host", "=~"), ("dc", "!~")]
    assert (start_ms, end_ms) == (60_000 - 300_000 - 1, 60_000)


def test_hints_tell_the_source_the_range_step_and_function():
    source = InMemorySource([counter()])
    asyncio.run(range_query("sum(rate(x[5m] offset 1m))", source=source, start_ms=600_000, end_ms=900_000,
                            step_ms=60_000, limits=LIMITS))
    _, start_ms, end_ms, hints = source.calls[0]
    assert (hints.start_ms, hints.end_ms, hints.step_ms, hints.range_ms, hints.func) == (
        540_000, 840_000, 60_000, 300_000, "rate")
    assert (start_ms, end_ms) == (540_000 - 300_000 - 1, 840_000)


def test_range_windows_include_their_left_edge_as_prometheus_2_does():
    source = InMemorySource([counter()])
    assert one("count_over_time(x[1m])", source, 120) == 5
    assert one("last_over_time(x[1m])", source, 130) == 80
    assert instant("last_over_time(x[1m])", source, 130).series[0].labels == {"__name__": "x"}


def test_over_time_aggregates():
    source = InMemorySource([series({"__name__": "g"}, [4, 1, 3, 2, 5])])
    expected = {"avg": 3, "min": 1, "max": 5, "sum": 15, "count": 5, "stddev": math.sqrt(2), "stdvar": 2}
    for name, value in expected.items():
        assert one(f"{name}_over_time(g[1m])", source, 60) == pytest.approx(value), name
    assert one("quantile_over_time(0.5, g[1m])", source, 60) == 3
    assert one("quantile_over_time(0.25, g[1m])", source, 60) == 2
    assert one("changes(g[1m])", source, 60) == 4


# Aggregations and binary operators.

def _fleet():
    return InMemorySource([counter(host="a", job="api", step=1), counter(host="b", job="api", step=2),
                           counter(host="c", job="web", step=4),
                           series({"__name__": "up", "host": "a", "team": "t1"}, [1] * 41),
                           series({"__name__": "up", "host": "b", "team": "t2"}, [0] * 41)])


def test_aggregations_group_by_and_without_and_drop_the_name():
    source = _fleet()  # at 600 s: a=40, b=80, c=160
    assert values_by_labels(instant("sum by (job) (x)", source, 600)) == {(("job", "api"),): 120, (("job", "web"),): 160}
    assert values_by_labels(instant("max without (host) (x)", source, 600)) == {(("job", "api"),): 80, (("job", "web"),): 160}
    assert one("avg(x)", source, 600) == pytest.approx(280 / 3)
    assert one("count(x)", source, 600) == 3
    assert one("quantile(0.5, x)", source, 600) == 80
    assert one("stddev(x{job=\"api\"})", source, 600) == 20


def test_topk_keeps_the_labels_and_lists_the_largest_first():
    result = instant("topk(2, x)", _fleet(), 600)
    assert [(s.labels["host"], float(s.values[0])) for s in result.series] == [("c", 160), ("b", 80)]
    assert result.series[0].labels["__name__"] == "x"
    assert [s.labels["host"] for s in instant("bottomk by (job) (1, x)", _fleet(), 600).series] == ["a", "c"]


def test_arithmetic_comparison_and_bool():
    source = _fleet()
    assert values_by_labels(instant("x > 50", source, 600)) == {
        (("__name__", "x"), ("host", "b"), ("job", "api")): 80, (("__name__", "x"), ("host", "c"), ("job", "web")): 160}
    assert sorted(values_by_labels(instant("x > bool 50", source, 600)).values()) == [0, 1, 1]
    assert "__name__" not in instant("x * 2", source, 600).series[0].labels
    assert instant("2 ^ 3 % 5", source, 0).scalar == 3  # ^ binds tighter
    assert instant("1 < bool 2", source, 0).scalar == 1


def test_group_left_copies_labels_from_the_one_side():
    result = instant("x * on(host) group_left(team) up", _fleet(), 600)
    assert values_by_labels(result) == {(("host", "a"), ("job", "api"), ("team", "t1")): 40,
                                        (("host", "b"), ("job", "api"), ("team", "t2")): 0}


def test_set_operators():
    source = _fleet()
    assert len(instant("x and on(host) up", source, 600).series) == 2
    assert [s.labels["host"] for s in instant("x unless on(host) up", source, 600).series] == ["c"]
    assert len(instant("x or up", source, 600).series) == 5


def test_many_to_many_matching_is_an_execution_error():
    source = _fleet()
    assert error_of("x + on(job) x", source).kind == "execution"
    assert "many-to-many" in error_of("x + on(job) x", source).message


def test_a_function_that_makes_label_sets_collide_is_an_execution_error():
    source = InMemorySource([counter("a", host="h"), counter("b", host="h")])
    assert error_of('rate({__name__=~"a|b"}[1m])', source).kind == "execution"


# Other functions.

def test_histogram_quantile_interpolates_inside_the_bucket():
    source = InMemorySource([series({"__name__": "h_bucket", "le": le, "job": "j"}, [count])
                             for le, count in (("1", 10), ("2", 20), ("+Inf", 20))])
    assert one("histogram_quantile(0.5, h_bucket)", source, 0) == 1.0
    assert one("histogram_quantile(0.75, h_bucket)", source, 0) == 1.5
    assert one("histogram_quantile(1, h_bucket)", source, 0) == 2.0
    assert instant("histogram_quantile(0.5, h_bucket)", source, 0).series[0].labels == {"job": "j"}


def test_label_replace_and_label_join():
    source = InMemorySource([counter(host="web-1")])
    labels = instant('label_replace(x, "role", "$1", "host", "(\\\\w+)-\\\\d+")', source, 0).series[0].labels
    assert labels["role"] == "web"
    unchanged = instant('label_replace(x, "role", "$1", "host", "db-.*")', source, 0).series[0].labels
    assert "role" not in unchanged
    joined = instant('label_join(x, "id", ":", "__name__", "host")', source, 0).series[0].labels
    assert joined["id"] == "x:web-1"
    assert error_of('label_replace(x, "a", "$1", "host", "(")', source).kind == "execution"


def test_absent_and_scalar_functions():
    source = _fleet()
    assert instant('absent(nope{job="j", env=~"p.*"})', source, 600).series[0].labels == {"job": "j"}
    assert instant("absent(x)", source, 600).series == []
    assert math.isnan(instant("scalar(x)", source, 600).scalar)  # three elements, not one
    assert instant('scalar(x{host="a"})', source, 600).scalar == 40
    assert one("vector(time())", source, 600) == 600
    assert one("clamp(vector(5), 1, 3)", source, 0) == 3
    assert one("round(vector(2.5))", source, 0) == 3
    assert one("round(vector(7), 5)", source, 0) == 5
    assert one('timestamp(x{host="a"})', source, 607) == 600


def test_subqueries_evaluate_the_inner_expression_at_their_own_step():
    source = InMemorySource([counter()])
    assert one("max_over_time(rate(x[1m])[5m:1m])", source, 600) == pytest.approx(10 / 15)
    assert one("count_over_time(x[5m:1m])", source, 600) == 6


def test_sort_orders_an_instant_vector():
    hosts = [s.labels["host"] for s in instant("sort_desc(x)", _fleet(), 600).series]
    assert hosts == ["c", "b", "a"]


# Range queries and result formatting.

def test_range_query_rows_are_sorted_and_scalars_become_one_series():
    source = _fleet()
    result = asyncio.run(range_query("x", source=source, start_ms=0, end_ms=60_000, step_ms=30_000, limits=LIMITS))
    assert [s.labels["host"] for s in result.series] == ["a", "b", "c"]
    assert result.to_prometheus()["result"][0]["values"] == [[0, "0"], [30, "2"], [60, "4"]]
    scalar = asyncio.run(range_query("time() * 2", source=source, start_ms=0, end_ms=1500, step_ms=500, limits=LIMITS))
    assert scalar.to_prometheus() == {"resultType": "matrix", "result": [
        {"metric": {}, "values": [[0, "0"], [0.5, "1"], [1, "2"], [1.5, "3"]]}]}


def test_instant_results_have_prometheus_shapes():
    source = _fleet()
    assert instant("1", source, 10).to_prometheus() == {"resultType": "scalar", "result": [10, "1"]}
    assert instant('"hi"', source, 10).to_prometheus() == {"resultType": "string", "result": [10, "hi"]}
    matrix = instant('x{host="a"}[30s]', source, 30).to_prometheus()
    assert matrix == {"resultType": "matrix", "result": [
        {"metric": {"__name__": "x", "host": "a", "job": "api"}, "values": [[0, "0"], [15, "1"], [30, "2"]]}]}


def test_numbers_are_written_as_prometheus_writes_them():
    cases = {1.0: "1", 0.1: "0.1", 1e21: "1000000000000000000000", 1e-7: "0.0000001", -0.0: "-0",
             float("nan"): "NaN", float("inf"): "+Inf", float("-inf"): "-Inf", 2 / 3: "0.6666666666666666",
             123456789012345678.0: "123456789012345680"}
    for value, text in cases.items():
        assert format_value(value) == text
    assert (format_time(1_500), format_time(3_000)) == (1.5, 3)


# Errors and limits.

def test_parse_and_type_errors_are_bad_data():
    assert parse("sum(rate(x[5m]))") is not None
    for text in ("sum(x", "", "rate(x)", "x{a=~\"(\"}", "x" * 70_000):
        with pytest.raises(PromQLError) as caught:
            asyncio.run(instant_query(text, source=InMemorySource([]), time_ms=0, limits=LIMITS))
        assert caught.value.kind == "bad_data", text
    for call in (dict(start_ms=0, end_ms=10, step_ms=0), dict(start_ms=10, end_ms=0, step_ms=1),
                 dict(start_ms=0, end_ms=11_000_000, step_ms=1)):
        with pytest.raises(PromQLError) as caught:
            asyncio.run(range_query("x", source=InMemorySource([]), limits=LIMITS, **call))
        assert caught.value.kind == "bad_data"
    with pytest.raises(PromQLError, match="range vector"):
        asyncio.run(range_query("x[5m]", source=InMemorySource([]), start_ms=0, end_ms=10, step_ms=1, limits=LIMITS))


def test_backreferences_are_refused_as_re2_cannot_run_them():
    assert error_of('x{a=~"(a)\\\\1"}').kind == "bad_data"


def test_unsupported_functions_are_named():
    for text, name in (('sort_by_label(x, "a")', "sort_by_label"), ("histogram_count(x)", "histogram_count"),
                       ("limitk(1, x)", "limitk"), ('x{a="b" or c="d"}', "'or'")):
        caught = error_of(text, _fleet())
        assert caught.kind == "unsupported" and name in caught.message, (text, caught.message)


def test_series_and_points_limits_stop_the_query():
    source = _fleet()
    caught = error_of("x", source, limits=QueryLimits(max_series=2, max_points=10**9, timeout_seconds=5))
    assert caught.kind == "limit" and "series" in caught.message
    caught = error_of("sum(x)", source, limits=QueryLimits(max_series=100, max_points=50, timeout_seconds=5))  # 63 samples
    assert caught.kind == "limit" and "points" in caught.message


class SlowSource(InMemorySource):
    async def select(self, matchers, start_ms, end_ms, hints):
        await asyncio.sleep(30)
        return await super().select(matchers, start_ms, end_ms, hints)


def test_a_slow_source_times_out_instead_of_hanging():
    limits = QueryLimits(max_series=100, max_points=10**6, timeout_seconds=0.2)
    started = time.monotonic()
    caught = error_of("rate(x[5m])", SlowSource([counter()]), limits=limits)
    assert caught.kind == "timeout"
    assert time.monotonic() - started < 10


def test_a_query_whose_time_budget_is_spent_stops_with_a_timeout():
    source = InMemorySource([counter(host=str(i), count=2000) for i in range(50)])
    caught = error_of("quantile_over_time(0.5, x[1h])", source, at_s=20_000,
                      limits=QueryLimits(max_series=100, max_points=10**9, timeout_seconds=1e-9))
    assert caught.kind == "timeout"


# Bad input never escapes as anything but a PromQLError.

TOKENS = list('abxy(){}[]"=~!<>+-*/^%,019 .:@') + ["rate", "sum", "by", "on", "offset", "5m", "bool", "and",
                                                   "topk", "[5m:1m]", "group_left", "label_replace", "__name__"]


def test_random_token_soup_is_answered_or_refused_cleanly():
    from hypothesis import given, settings, strategies as st

    source = _fleet()

    @settings(max_examples=400, deadline=None, database=None)
    @given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=20))
    def check(tokens):
        try:
            instant("".join(tokens), source, 600).to_prometheus()
        except PromQLError as exc:
            assert exc.kind in ("bad_data", "execution", "unsupported")
    check()


def test_every_oracle_expression_survives_no_data_and_far_times():
    from test_promql_promtool import EXPRESSIONS

    empty, fleet = InMemorySource([]), _fleet()
    for expr in EXPRESSIONS:
        for source in (empty, fleet):
            for at_s in (-1e6, 0, 1e10):
                instant(expr, source, at_s).to_prometheus()
        asyncio.run(range_query(expr, source=empty, start_ms=-600_000, end_ms=600_000, step_ms=7_000,
                                limits=LIMITS)).to_prometheus()


def test_the_docs_list_every_supported_function():
    from pathlib import Path

    from microdash_core.promql.aggregations import SUPPORTED as AGGREGATIONS
    from microdash_core.promql.calls import SUPPORTED as FUNCTIONS

    page = (Path(__file__).resolve().parent.parent / "docs" / "promql-engine.md").read_text()
    listed = set(re.findall(r"[a-z_0-9]+", page))
    expanded = {name for name in FUNCTIONS if not name.endswith("_over_time")} | AGGREGATIONS
    missing = sorted(name for name in expanded if name not in listed
                     and name not in ("sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh",
                                      "asinh", "acosh", "atanh"))  # "the trigonometric functions"
    assert not missing, missing


def test_a_long_evaluation_stops_at_its_deadline_between_chunks():
    # 50 series x 10,000 steps x 240-sample windows to sort: far more than 0.5 s of work anywhere,
    # and the source answers at once, so only the checks inside the evaluation can stop it.
    source = InMemorySource([counter(host=str(i), count=12_000) for i in range(50)])
    limits = QueryLimits(max_series=100, max_points=10**9, timeout_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(PromQLError) as caught:
        asyncio.run(range_query("quantile_over_time(0.5, x[1h])", source=source, start_ms=0,
                                end_ms=9_999 * 15_000, step_ms=15_000, limits=limits))
    assert caught.value.kind == "timeout"
    assert time.monotonic() - started < 30  # stopped, not run to the end


class UnorderedSource(InMemorySource):
    async def select(self, matchers, start_ms, end_ms, hints):
        found = await super().select(matchers, start_ms, end_ms, hints)
        for s in found:  # reversed, and the last sample repeated with another value
            s.timestamps = np.append(s.timestamps[::-1], s.timestamps[-1])
            s.values = np.append(s.values[::-1], -1.0)
        return found


def test_samples_out_of_order_or_repeated_are_put_in_order():
    source = UnorderedSource([counter()])
    assert one("count_over_time(x[1m])", source, 120) == 5
    assert one("x", source, 120) == -1  # the last value given for a time wins


def test_count_values_is_charged_for_every_distinct_value():
    source = InMemorySource([counter(count=2000)])  # a new value at every step
    with pytest.raises(PromQLError) as caught:
        asyncio.run(range_query('count_values("v", x)', source=source, start_ms=0, end_ms=1999 * 15_000,
                                step_ms=15_000, limits=QueryLimits(max_series=10, max_points=1_000_000,
                                                                   timeout_seconds=30)))
    assert caught.value.kind == "limit"
