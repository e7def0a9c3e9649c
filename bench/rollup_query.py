"""Rollup throughput and long-range query latency (issue: rollups and retention).

1,000,000 raw samples over 24 h for 100 series are stored straight through the worker's store
(not timed), their minutes marked dirty as the ingest job does, then the rollup job is timed until
nothing is left. Then /api/v1/query is timed for one series over 24 h at 1-minute resolution and
for all 100 series at 5-minute resolution.
"""

import time

import httpx

from microdash_workers import rollup_marks, rollups
from microdash_workers.storage import SampleStore

import raw_query

SERIES = 100
DAY_MS = 86_400_000
STORE_BATCH = 5_000
MAX_ROLLUP_RUNS = 1_000


def fill_day(stack, tenant, samples: int, end_ms: int, samples_at) -> int:
    """Store `samples` over the 24 h before end_ms, SERIES at each step: samples_at(step, ts) gives
    one step's samples. Straight through the worker's store, minutes marked for the rollups."""
    per_series = samples // SERIES
    spacing = DAY_MS // per_series
    start = end_ms - DAY_MS
    store = SampleStore(stack.settings)
    redis_connection = stack.connect_redis()
    batch: list = []
    try:
        for i in range(per_series):
            batch.extend(samples_at(i, start + i * spacing))
            if len(batch) >= STORE_BATCH:
                _store(store, redis_connection, tenant.id, batch)
                batch = []
        if batch:
            _store(store, redis_connection, tenant.id, batch)
    finally:
        store.close()
    return per_series * SERIES


def _rollup_samples(i: int, ts: int):
    return (("bench.rollup", {"series": f"s{n}"}, ts, float((i + n) % 97)) for n in range(SERIES))


def _store(store, redis_connection, tenant_id: int, batch: list) -> None:
    store.store(tenant_id=tenant_id, samples=batch)
    with redis_connection.pipeline() as pipe:
        rollup_marks.mark_touched(pipe, tenant_id, batch)
        pipe.execute()


def _time_rollups(stack, now_ms: int) -> float:
    settings = stack.settings.model_copy(update={"rollup_time_budget_seconds": 600.0, "rollup_grace_seconds": 0})
    started = time.monotonic()
    for _ in range(MAX_ROLLUP_RUNS):
        if rollups.roll_up(settings, now_ms=now_ms) == 0:
            break
    return time.monotonic() - started


def _query_latencies(stack, tenant, params: dict, probes: int) -> list[float]:
    latencies = []
    with httpx.Client(base_url=stack.base_url, headers={"Authorization": f"Bearer {tenant.token}"},
                      timeout=30) as client:
        for _ in range(probes):
            started = time.perf_counter()
            response = client.get("/api/v1/query", params=params)
            latencies.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
    return latencies


def _summary(latencies: list[float], percentile) -> dict:
    return {"p50": round(percentile(latencies, 0.50), 2), "p99": round(percentile(latencies, 0.99), 2),
            "count": len(latencies)}


def run_rollup_and_queries(stack, tenant, *, samples: int, probes: int, percentile) -> dict:
    end_ms = (int(time.time() * 1000) // 300_000) * 300_000 - 300_000
    stored = fill_day(stack, tenant, samples, end_ms, _rollup_samples)
    rollup_seconds = _time_rollups(stack, now_ms=end_ms + 120_000)
    day = {"metric": "bench.rollup", "start": end_ms - DAY_MS, "end": end_ms}
    one_series = _query_latencies(stack, tenant, {**day, "match": "series=s0", "step": 60_000, "resolution": "1m"},
                                  probes)
    hundred_series = _query_latencies(stack, tenant, {**day, "step": 300_000, "resolution": "5m"}, probes)
    return {
        "rollup_samples_per_s": round(stored / rollup_seconds),
        "rollup_detail": {"samples": stored, "series": SERIES, "seconds": round(rollup_seconds, 3)},
        "query_24h_1m_ms": _summary(one_series, percentile),
        "query_24h_5m_100_series_ms": _summary(hundred_series, percentile),
        **raw_query.raw_day_figures(stack, tenant, day, lambda params: _summary(
            _query_latencies(stack, tenant, params, probes), percentile)),
    }
