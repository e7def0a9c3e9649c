"""PromQL through the Prometheus HTTP API (issue 12): p50/p99 of
`sum by (host) (rate(bench_requests_total[5m]))` over 24 h x 100 series (1,000,000 samples, stored
and rolled up the way bench/rollup_query.py does, untimed), at a 60 s step (served from the 1m
rollups, docs/promql.md) and at a 30 s step (raw samples); and p50/p99 of
/prometheus/api/v1/series on 10,000 series (all of them, and a regex picking one in a hundred).
"""

import time

import httpx

from microdash_workers.storage import SampleStore
from rollup_query import DAY_MS, SERIES, STORE_BATCH, _time_rollups, fill_day

HOSTS = 10
CATALOG_SERIES = 10_000
BASE = "/prometheus/api/v1"
QUERY = "sum by (host) (rate(bench_requests_total[5m]))"


def _counter_samples(i: int, ts: int):
    return (("bench_requests_total", {"host": f"h{n % HOSTS}", "instance": f"i{n}"}, ts, float(i * (n + 1)))
            for n in range(SERIES))


def _fill_catalog(stack, tenant, now_ms: int) -> None:
    store = SampleStore(stack.settings)
    try:
        for offset in range(0, CATALOG_SERIES, STORE_BATCH):
            store.store(tenant_id=tenant.id, samples=[
                ("bench_catalog", {"instance": f"i{n}", "job": f"j{n % 100}"}, now_ms, 1.0)
                for n in range(offset, min(offset + STORE_BATCH, CATALOG_SERIES))])
    finally:
        store.close()


def _latencies(stack, tenant, path: str, params: dict, probes: int, expect: int) -> list[float]:
    latencies = []
    with httpx.Client(base_url=stack.base_url, headers={"Authorization": f"Bearer {tenant.token}"},
                      timeout=120) as client:
        for _ in range(probes):
            started = time.perf_counter()
            response = client.post(BASE + path, data=params)
            latencies.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            assert len(response.json()["data"] if path == "/series" else response.json()["data"]["result"]) == expect
    return latencies


def _summary(latencies: list[float], percentile) -> dict:
    return {"p50": round(percentile(latencies, 0.50), 2), "p99": round(percentile(latencies, 0.99), 2),
            "count": len(latencies)}


def run_promql(stack, tenant, catalog_tenant, *, samples: int, probes: int, percentile) -> dict:
    end_ms = (int(time.time() * 1000) // 300_000) * 300_000 - 300_000
    stored = fill_day(stack, tenant, samples, end_ms, _counter_samples)
    _time_rollups(stack, now_ms=end_ms + 120_000)
    _fill_catalog(stack, catalog_tenant, end_ms)
    day = {"query": QUERY, "start": str((end_ms - DAY_MS) / 1000), "end": str(end_ms / 1000)}
    measures = {
        "promql_24h_100_series_step60_ms": lambda: _latencies(stack, tenant, "/query_range", {**day, "step": "60"},
                                                              probes, HOSTS),
        "promql_24h_100_series_step30_raw_ms": lambda: _latencies(stack, tenant, "/query_range", {**day, "step": "30"},
                                                                  max(3, probes // 5), HOSTS),
        "promql_series_10k_all_ms": lambda: _latencies(stack, catalog_tenant, "/series", {"match[]": "bench_catalog"},
                                                       probes, CATALOG_SERIES),
        "promql_series_10k_regex_ms": lambda: _latencies(stack, catalog_tenant, "/series",
                                                         {"match[]": 'bench_catalog{job=~"j7"}'}, probes,
                                                         CATALOG_SERIES // 100),
    }
    figures = {}
    for name, measure in measures.items():
        try:  # one refused query (a limit or the timeout on a loaded machine) must not hide the other figures
            figures[name] = _summary(measure(), percentile)
        except httpx.HTTPError as exc:
            figures[name] = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    return {"promql_detail": {"samples": stored, "series": SERIES, "catalog_series": CATALOG_SERIES, "query": QUERY},
            **figures}
