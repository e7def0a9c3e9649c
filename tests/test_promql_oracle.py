"""The oracle: a real Prometheus server scrapes a real node_exporter and microdash's own /metrics
every second and remote-writes the same samples to microdash (tests/prometheus_support.py). Once
a time range is fully delivered, a fixed set of PromQL expressions runs against Prometheus' own
API and microdash's /prometheus API over that range, instant and range; the answers must agree:
same series, same timestamps, values within 1e-9 relative.

Values that are NaN or infinite are never stored by microdash (remote-write drops them), so a
series carrying one in the range would differ; the delivery check below would then never pass.

Then the older half of the range (and all history before it) is sealed into chunks, and every
expression is compared again: now each query reads sealed chunks and the head together.
"""

import math
import time

import httpx
import pytest

from microdash_core.store.reads import Span
from store_support import seal_head

RANGE_S = 40
STEP_S = 5
WIDEST_WINDOW_S = 60
DELIVERY_TIMEOUT_S = 120

EXPRESSIONS = [
    "up",
    "node_memory_MemTotal_bytes",
    "100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)",
    "sum by (mode) (rate(node_cpu_seconds_total[30s]))",
    'rate(node_cpu_seconds_total{mode="idle"}[30s])',
    'irate(node_cpu_seconds_total{mode=~"user|system"}[10s])',
    'increase(node_network_receive_bytes_total{device!~"lo"}[30s])',
    "delta(node_memory_MemFree_bytes[30s])",
    "deriv(node_memory_MemFree_bytes[30s])",
    "avg_over_time(node_load1[30s])",
    "max_over_time(process_resident_memory_bytes[30s])",
    "min_over_time(process_resident_memory_bytes[30s])",
    "sum_over_time(up[20s])",
    "count_over_time(up[20s])",
    "last_over_time(node_load1[30s])",
    "quantile_over_time(0.9, process_cpu_seconds_total[30s])",
    "histogram_quantile(0.9, sum by (le) (rate(microdash_ingest_batch_samples_bucket[1m])))",
    "histogram_quantile(0.5, rate(microdash_ingest_batch_samples_bucket[30s]))",
    "topk(3, node_cpu_seconds_total)",
    "bottomk(2, rate(node_cpu_seconds_total[30s]))",
    "node_load1 offset 10s",
    "rate(node_cpu_seconds_total[20s] offset 15s)",
    "absent(no_such_metric_anywhere)",
    "absent(up)",
    'label_replace(up, "host", "$1", "instance", "(.*):.*")',
    "node_load1 > 0",
    "node_memory_MemFree_bytes > bool 1",
    "count by (job) (up)",
    "avg by (mode) (node_cpu_seconds_total)",
    "max without (cpu) (node_cpu_seconds_total)",
    "quantile(0.5, node_cpu_seconds_total)",
    "node_cpu_seconds_total / on (cpu) group_left sum by (cpu) (node_cpu_seconds_total)",
    "abs(deriv(node_memory_MemFree_bytes[30s]))",
    "clamp_min(node_load1, 0.5)",
    "clamp_max(node_load1, 0.5)",
    "round(node_memory_MemFree_bytes / 1024 / 1024)",
    "time()",
    "vector(1)",
    "scalar(sum(up))",
    "up == 1",
    "up * 2 + 1",
    "count(node_cpu_seconds_total) - 1",
    'sum by (job) ({__name__=~"up|scrape_samples_scraped"})',
    "min(process_resident_memory_bytes) by (job)",
]


@pytest.fixture(scope="module")
def delivered(stack, prometheus) -> float:
    """An end time (unix seconds, whole milliseconds) up to which microdash holds every sample
    Prometheus scraped, with enough history before it for the widest window."""
    started = time.time()
    time.sleep(max(0.0, RANGE_S + WIDEST_WINDOW_S + 5 - (time.time() - started)))
    end = round(time.time() - 3, 3)
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while time.monotonic() < deadline:
        theirs, ours = _sample_counts(stack, prometheus, end)
        if theirs == ours:
            return end
        time.sleep(1)
    pytest.fail(f"microdash holds {ours} of Prometheus' {theirs} samples up to {end} after {DELIVERY_TIMEOUT_S} s")


def _sample_counts(stack, prometheus, end: float) -> tuple[int, int]:
    seconds = RANGE_S + WIDEST_WINDOW_S
    matrix = prometheus.api("/api/v1/query", query=f'{{__name__=~".+"}}[{seconds}s]', time=f"{end:.3f}")["result"]
    theirs = sum(1 for series in matrix for _, value in series["values"] if math.isfinite(float(value)))
    end_ms = round(end * 1000)
    ours = stack.count_samples(prometheus.tenant_id, Span(end_ms - seconds * 1000, end_ms))
    return theirs, ours


def _microdash(stack, prometheus, path: str, params: dict) -> dict:
    response = httpx.get(stack.api_url + "/prometheus/api/v1" + path, params=params, timeout=60,
                         headers={"Authorization": f"Bearer {prometheus.token}"})
    assert response.status_code == 200, (params, response.text)
    body = response.json()
    assert body["status"] == "success", body
    return body["data"]


def _close(ours: str, theirs: str) -> bool:
    a, b = float(ours), float(theirs)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or math.isclose(a, b, rel_tol=1e-9)


def _assert_same(expression: str, ours: dict, theirs: dict) -> None:
    assert ours["resultType"] == theirs["resultType"], expression
    if theirs["resultType"] in ("scalar", "string"):
        assert ours["result"][0] == theirs["result"][0] and _close(ours["result"][1], theirs["result"][1]), (
            expression, ours, theirs)
        return
    mine = {frozenset(series["metric"].items()): series for series in ours["result"]}
    reference = {frozenset(series["metric"].items()): series for series in theirs["result"]}
    assert mine.keys() == reference.keys(), (expression, sorted(map(sorted, mine.keys() ^ reference.keys())))
    assert reference or expression.startswith("absent("), f"{expression} selects nothing: not a test"
    for key, series in reference.items():
        points = series["values"] if "values" in series else [series["value"]]
        my_points = mine[key]["values"] if "values" in mine[key] else [mine[key]["value"]]
        assert [t for t, _ in my_points] == [t for t, _ in points], (expression, dict(key))
        bad = [(t, v, w) for (t, v), (_, w) in zip(my_points, points) if not _close(v, w)]
        assert not bad, (expression, dict(key), bad[:5])


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_instant_query_agrees_with_prometheus(stack, prometheus, delivered, expression):
    params = {"query": expression, "time": f"{delivered:.3f}"}
    _assert_same(expression, _microdash(stack, prometheus, "/query", params),
                 prometheus.api("/api/v1/query", **params))


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_range_query_agrees_with_prometheus(stack, prometheus, delivered, expression):
    params = {"query": expression, "start": f"{delivered - RANGE_S:.3f}", "end": f"{delivered:.3f}",
              "step": str(STEP_S)}
    _assert_same(expression, _microdash(stack, prometheus, "/query_range", params),
                 prometheus.api("/api/v1/query_range", **params))


@pytest.fixture(scope="module")
def half_sealed(stack, prometheus, delivered) -> float:
    """`delivered`, with every sample before the middle of the compared range moved into chunks."""
    assert seal_head(stack.settings, prometheus.tenant_id, before_ms=round((delivered - RANGE_S / 2) * 1000)) > 0
    return delivered


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_over_chunks_and_head_instant_and_range_queries_agree_with_prometheus(stack, prometheus, half_sealed,
                                                                               expression):
    instant = {"query": expression, "time": f"{half_sealed:.3f}"}
    _assert_same(expression, _microdash(stack, prometheus, "/query", instant),
                 prometheus.api("/api/v1/query", **instant))
    ranged = {"query": expression, "start": f"{half_sealed - RANGE_S:.3f}", "end": f"{half_sealed:.3f}",
              "step": str(STEP_S)}
    _assert_same(expression, _microdash(stack, prometheus, "/query_range", ranged),
                 prometheus.api("/api/v1/query_range", **ranged))


def test_the_expression_set_is_large_enough():
    assert len(set(EXPRESSIONS)) >= 30


def test_the_comparison_catches_every_kind_of_difference():
    reference = {"resultType": "matrix", "result": [{"metric": {"job": "a"}, "values": [[1, "1.5"], [2, "2"]]}]}
    different = [
        {"resultType": "vector", "result": []},
        {"resultType": "matrix", "result": [{"metric": {"job": "b"}, "values": [[1, "1.5"], [2, "2"]]}]},
        {"resultType": "matrix", "result": [{"metric": {"job": "a"}, "values": [[1, "1.5"]]}]},
        {"resultType": "matrix", "result": [{"metric": {"job": "a"}, "values": [[1, "1.5"], [3, "2"]]}]},
        {"resultType": "matrix", "result": [{"metric": {"job": "a"}, "values": [[1, "1.5"], [2, "2.00000001"]]}]},
        {"resultType": "matrix", "result": [{"metric": {"job": "a"}, "values": [[1, "NaN"], [2, "2"]]}]},
    ]
    _assert_same("x", {**reference}, reference)
    _assert_same("x", {"resultType": "matrix", "result": [
        {"metric": {"job": "a"}, "values": [[1, "1.5000000000001"], [2, "2"]]}]}, reference)
    for ours in different:
        with pytest.raises(AssertionError):
            _assert_same("x", ours, reference)
