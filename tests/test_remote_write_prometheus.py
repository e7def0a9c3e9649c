"""A real Prometheus server remote-writes what it scrapes (node_exporter and the api's own /metrics)
to microdash: every series and every sample it sent is readable through microdash's native API,
compared with Prometheus' own TSDB of the same scrapes."""

import math
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from prometheus_support import PrometheusServer

WINDOW_MS = 10_000
CATCH_UP_TIMEOUT_S = 60


def test_every_series_and_sample_prometheus_sent_is_readable_in_microdash(stack, prometheus):
    _wait_for(lambda: _scrapes_in_window(prometheus) >= WINDOW_MS // 1000, "a window of scrapes in Prometheus")
    at_ms = int(time.time() * 1000) - 1000
    expected = _prometheus_samples(prometheus, at_ms)
    assert len(expected) > 200, "node_exporter and the api expose hundreds of series"
    _wait_for(lambda: _highest_sent_ms(prometheus) >= at_ms, "Prometheus to ship the window")
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
    while (found := _microdash_samples(stack, prometheus, at_ms, set(metric for metric, _ in expected))) != expected:
        assert time.monotonic() < deadline, _difference(expected, found)
        time.sleep(2)
    assert _microdash_series(stack, prometheus) <= _prometheus_series(prometheus), "microdash has series never sent"
    for counter in ("samples_failed_total", "samples_dropped_total", "metadata_failed_total"):
        assert prometheus.remote_write_total(counter) == 0, counter
    assert prometheus.remote_write_total("samples_total") > 0


Series = tuple[str, frozenset]


def _scrapes_in_window(prometheus: PrometheusServer) -> int:
    result = prometheus.api("/api/v1/query", query=f'count_over_time(up{{job="node"}}[{WINDOW_MS // 1000}s])')
    return int(float(result["result"][0]["value"][1])) if result["result"] else 0


def _highest_sent_ms(prometheus: PrometheusServer) -> float:
    sent = [value for name, value in prometheus.own_metrics().items()
            if name.startswith("prometheus_remote_storage_queue_highest_sent_timestamp_seconds{")]
    return max(sent, default=0) * 1000


def _prometheus_samples(prometheus: PrometheusServer, at_ms: int) -> dict[Series, list[tuple[int, float]]]:
    """Every finite sample in [at - WINDOW, at] of every series (NaN is not stored by microdash)."""
    result = prometheus.api("/api/v1/query", query=f'{{__name__=~".+"}}[{WINDOW_MS}ms]', time=f"{at_ms / 1000:.3f}")
    samples = {}
    for series in result["result"]:
        labels = dict(series["metric"])
        metric = labels.pop("__name__")
        points = [(round(float(ts) * 1000), float(value)) for ts, value in series["values"]
                  if math.isfinite(float(value))]
        if points:
            samples[(metric, frozenset(labels.items()))] = points
    return samples


def _microdash_samples(stack, prometheus: PrometheusServer, at_ms: int,
                       metrics: set[str]) -> dict[Series, list[tuple[int, float]]]:
    samples = {}
    with stack.client(prometheus.token) as client:
        for metric in sorted(metrics):
            response = client.get("/api/v1/query", params={
                "metric": metric, "start": at_ms - WINDOW_MS, "end": at_ms + 1, "step": 1,
                "aggregation": "last", "resolution": "raw"})
            assert response.status_code == 200, response.text
            for series in response.json()["series"]:
                if series["points"]:
                    samples[(metric, frozenset(series["labels"].items()))] = [
                        (int(ts), float(value)) for ts, value in series["points"]]
    return samples


def _microdash_series(stack, prometheus: PrometheusServer) -> set[Series]:
    with stack.client(prometheus.token) as client:
        response = client.get("/api/v1/series", params={"limit": 10_000})
    assert response.status_code == 200, response.text
    return {(row["metric"], frozenset(row["labels"].items())) for row in response.json()["series"]}


def _prometheus_series(prometheus: PrometheusServer) -> set[Series]:
    series = set()
    for labels in prometheus.api("/api/v1/series", **{"match[]": '{__name__=~".+"}'}):
        labels = dict(labels)
        series.add((labels.pop("__name__"), frozenset(labels.items())))
    return series


def _difference(expected: dict, found: dict) -> str:
    missing = [series for series in expected if series not in found]
    extra = [series for series in found if series not in expected]
    unequal = [(series, expected[series][:3], found[series][:3]) for series in expected
               if series in found and found[series] != expected[series]]
    return (f"{len(missing)} series missing (e.g. {missing[:3]}), {len(extra)} extra (e.g. {extra[:3]}),"
            f" {len(unequal)} with other samples (e.g. {unequal[:2]})")


def _wait_for(condition, what: str, timeout: float = CATCH_UP_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except (httpx.HTTPError, KeyError, IndexError):
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_stale_markers_of_a_target_that_went_away_are_dropped_and_counted(stack, tmp_path):
    """A Prometheus of its own (the shared one must keep its targets): when node_exporter stops
    answering, Prometheus writes a stale marker for each series its last scrape had."""
    from prometheus_support import running_prometheus

    tenant, token = stack.new_tenant("stale")
    with running_prometheus(stack, tmp_path, tenant_id=tenant.id, token=token) as prometheus:
        _wait_for(lambda: _scrapes_in_window(prometheus) >= 3, "scrapes of the node job")
        before = _dropped_stale_markers(stack)
        prometheus.node_exporter.process.terminate()
        prometheus.node_exporter.process.wait(timeout=15)
        # the series of node_exporter's last scrape (Prometheus' own up and scrape_* of the job go on)
        at = f"{time.time() - 2:.3f}"
        node_series = len(prometheus.api("/api/v1/series", **{"match[]": '{job="node",__name__!~"up|scrape_.*"}'},
                                         start=at, end=at))
        _wait_for(lambda: _dropped_stale_markers(stack) - before >= node_series, "the stale markers")
        assert prometheus.remote_write_total("samples_failed_total") == 0
    assert node_series > 100


def _dropped_stale_markers(stack) -> float:
    text = httpx.get(stack.api_url + "/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (sample.name == "microdash_ingest_dropped_samples_total"
                    and sample.labels == {"endpoint": "remote_write", "reason": "stale_marker"}):
                return sample.value
    return 0.0
