"""Rollup throughput and long-range query latency (issue: rollups and retention).

1,000,000 raw samples over 24 h for 100 series are stored straight through the worker's store
(not timed), their minutes marked dirty as the ingest job does, then the rollup job is timed until
nothing is left. Then /api/v1/query is timed for one series over 24 h at 1-minute resolution and
for all 100 series at 5-minute resolution. `run_rollup_sealed` (scenario rollup_sealed) times the
rollups of the same day sealed into chunks first. The job runs in this process: its CPU seconds
are the bench client's plus MariaDB's (recorded with the load average, the machine is shared).
"""

import os
import time
from contextlib import closing

import httpx

from microdash_core import chunks, keys
from microdash_core.store import compaction, sealing
from microdash_workers import rollup_marks, rollups
from microdash_workers.storage import SampleStore

import raw_query

SERIES = 100
DAY_MS = 86_400_000
STORE_BATCH = 5_000
MAX_ROLLUP_RUNS = 1_000
WARM_UP_PROBES = 5


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


def settle_rollups(stack) -> None:
    """Roll up what earlier scenarios left (untimed), and wait out a scheduled run of the workers:
    the timed runs below would otherwise wait on the lock of a run rolling up another scenario's
    samples (MQTT's 300,000) and charge it to this load."""
    settings = stack.settings.model_copy(update={"rollup_time_budget_seconds": 600.0, "rollup_grace_seconds": 0})
    redis_connection = stack.connect_redis()
    try:
        for _ in range(MAX_ROLLUP_RUNS):
            now_ms = int(time.time() * 1000)
            if rollups.roll_up(settings, now_ms=now_ms) == 0 and not _rollups_left(redis_connection, now_ms):
                return
            time.sleep(0.05)
    finally:
        redis_connection.close()


def _time_rollups(stack, now_ms: int) -> tuple[float, dict]:
    """Wall seconds of rolling up everything marked, and the CPU seconds each process spent on it
    (the job runs in this bench process) with the load average around it: the machine is shared."""
    settings = stack.settings.model_copy(update={"rollup_time_budget_seconds": 600.0, "rollup_grace_seconds": 0})
    cpu_before, load_before = stack.cpu_seconds(), os.getloadavg()[0]
    redis_connection = stack.connect_redis()
    started = time.monotonic()
    for _ in range(MAX_ROLLUP_RUNS):
        if rollups.roll_up(settings, now_ms=now_ms) == 0:
            # 0 also when the workers' scheduled run holds the lock: done only once nothing is left
            if not _rollups_left(redis_connection, now_ms):
                break
            time.sleep(0.05)
    seconds = time.monotonic() - started
    redis_connection.close()
    cpu = {name: round(spent - cpu_before.get(name, 0.0), 2) for name, spent in stack.cpu_seconds().items()
           if spent - cpu_before.get(name, 0.0) >= 0.01}
    return seconds, {"cpu_seconds": cpu, "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def _rollups_left(redis_connection, now_ms: int) -> int:
    due = redis_connection.zcount(keys.ROLLUP_DIRTY, "-inf", now_ms - rollup_marks.MINUTE_MS)
    return due + redis_connection.zcard(keys.ROLLUP_CLAIMED)


def _sealed_samples(stack, tenant_id: int) -> int:
    connection = stack.connect_db()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COALESCE(SUM(sample_count), 0) FROM sample_chunks WHERE tenant_id = %s",
                           (tenant_id,))
            return int(cursor.fetchone()[0])
    finally:
        connection.close()


def _seal_all(stack, tenant_id: int, end_ms: int) -> dict:
    """Compact the tenant's log and seal its day into chunks (as the jobs do once its windows are over)."""
    with closing(stack.connect_db()) as connection:
        compaction.compact_due(connection, tenant_ids=[tenant_id])
        sealed = sealing.seal_due(connection, cutoff_ms=end_ms + chunks.WINDOW_MS, tenant_ids=[tenant_id])
    return {"samples": sealed.samples, "seconds": round(sealed.seconds, 2)}


def run_rollup_sealed(stack, tenant, *, samples: int) -> dict:
    """The rollup figure again, with the day sealed into chunks first (the store's steady state:
    only the last window or two is in the head)."""
    settle_rollups(stack)
    end_ms = (int(time.time() * 1000) // 300_000) * 300_000 - 300_000
    stored = fill_day(stack, tenant, samples, end_ms, _rollup_samples)
    sealed = _seal_all(stack, tenant.id, end_ms)
    in_chunks = _sealed_samples(stack, tenant.id)
    rollup_seconds, rollup_cost = _time_rollups(stack, now_ms=end_ms + 120_000)
    return {"rollup_sealed_samples_per_s": round(stored / rollup_seconds),
            "rollup_sealed_detail": {"samples": stored, "in_chunks": in_chunks, "seal": sealed,
                                     "seconds": round(rollup_seconds, 3), **rollup_cost}}


def _query_latencies(stack, tenant, params: dict, probes: int,
                     expected_points: dict[str, int]) -> tuple[list[float], dict[str, float]]:
    """Wall ms of each GET until its whole body is read (httpx reads it; nothing is parsed while
    the clock runs), and the CPU ms per query of the api, MariaDB and this client (steadier than
    wall times on a shared machine; /proc's 10 ms ticks over all the probes). The last answer is
    then checked: each expected series with its points. The clock starts once the stack is quiet
    (`quiet_after_s`: MariaDB still flushing the pages of the day the bench just stored or sealed
    would charge its background work to these queries) and after a few untimed queries."""
    latencies = []
    with httpx.Client(base_url=stack.base_url, headers={"Authorization": f"Bearer {tenant.token}"},
                      timeout=30) as client:
        quiet_after_s = stack.wait_quiet()
        for _ in range(WARM_UP_PROBES):
            client.get("/api/v1/query", params=params).raise_for_status()
        cpu_before = stack.cpu_seconds()
        for _ in range(probes):
            started = time.perf_counter()
            response = client.get("/api/v1/query", params=params)
            latencies.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
        cpu_after = stack.cpu_seconds()
    _check_answer(response.json(), expected_points)
    cpu_ms = {name: round((cpu_after[name] - cpu_before.get(name, 0.0)) * 1000 / probes, 2)
              for name in ("api", "mariadb", "bench-client") if name in cpu_after}
    return latencies, {**cpu_ms, "quiet_after_s": quiet_after_s}


def _check_answer(answer: dict, expected_points: dict[str, int]) -> None:
    found = {series["labels"]["series"]: len(series["points"]) for series in answer["series"]}
    if found != expected_points:
        wrong = {name: (found.get(name), count) for name, count in expected_points.items() if found.get(name) != count}
        raise AssertionError(f"the query answered other points than stored: {len(found)} series, (found, expected)"
                             f" {dict(list(wrong.items())[:3])}")


def expected_points(samples: int, day: dict, step: int, series: list[str]) -> dict[str, int]:
    """Points per series of a query at `step` over the day fill_day stored: one per step bucket
    holding at least one sample."""
    per_series = samples // SERIES
    spacing = DAY_MS // per_series
    buckets = {(i * spacing) // step for i in range(per_series) if day["start"] + i * spacing < day["end"]}
    return {name: len(buckets) for name in series}


def _summary(measured: tuple[list[float], dict[str, float]], percentile) -> dict:
    latencies, cpu_ms = measured
    quiet_after_s = cpu_ms.pop("quiet_after_s")
    return {"p50": round(percentile(latencies, 0.50), 2), "p99": round(percentile(latencies, 0.99), 2),
            "count": len(latencies), "cpu_ms_per_query": cpu_ms, "quiet_after_s": quiet_after_s}


def run_rollup_and_queries(stack, tenant, *, samples: int, probes: int, percentile) -> dict:
    settle_rollups(stack)
    end_ms = (int(time.time() * 1000) // 300_000) * 300_000 - 300_000
    stored = fill_day(stack, tenant, samples, end_ms, _rollup_samples)
    in_chunks = _sealed_samples(stack, tenant.id)  # the workers' sealing job may have sealed some
    rollup_seconds, rollup_cost = _time_rollups(stack, now_ms=end_ms + 120_000)
    day = {"metric": "bench.rollup", "start": end_ms - DAY_MS, "end": end_ms}
    every = [f"s{n}" for n in range(SERIES)]

    def measure(params: dict, series: list[str]) -> tuple[list[float], dict[str, float]]:
        return _query_latencies(stack, tenant, params, probes, expected_points(stored, day, params["step"], series))

    one_series = measure({**day, "match": "series=s0", "step": 60_000, "resolution": "1m"}, ["s0"])
    hundred_series = measure({**day, "step": 300_000, "resolution": "5m"}, every)
    return {
        "rollup_samples_per_s": round(stored / rollup_seconds),
        "rollup_detail": {"samples": stored, "series": SERIES, "in_chunks": in_chunks,
                          "seconds": round(rollup_seconds, 3), **rollup_cost},
        "query_24h_1m_ms": _summary(one_series, percentile),
        "query_24h_5m_100_series_ms": _summary(hundred_series, percentile),
        **raw_query.raw_day_figures(stack, tenant, day, lambda params: _summary(measure(params, ["s0"]), percentile)),
    }
