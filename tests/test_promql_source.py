"""The MariaDB series source: raw reads, rollup reads where the step allows (each bucket's last
sample, the raw series thinned), the raw tail, and the answer a long-range query gives from the
rollups against the same query on raw samples."""

import asyncio
import time

import numpy as np
import pytest

from microdash_api.prometheus.read_plan import RAW_TAIL_MS, ReadRequest, RetentionDays, plan_reads
from microdash_api.prometheus.source import MariaDBSeriesSource, QueryBudget
from microdash_api.sample_reads import TimeRange
from microdash_core.promql import LabelMatcher, PromQLError, QueryLimits, SelectHints, range_query
from microdash_workers import rollup_marks, rollups
from microdash_workers.storage import SampleStore
from store_support import with_pool

HOUR_MS = 3_600_000
RETENTION = RetentionDays(raw=7, one_minute=30)
SCRAPE_MS = 15_000


def test_plan_reads_picks_the_coarsest_allowed_rollup_and_a_raw_tail():
    now = 100 * 24 * HOUR_MS
    day = ReadRequest(now - 24 * HOUR_MS, now, 60_000, 300_000, "rate", 300_000)
    assert plan_reads(day, now_ms=now, retention=RETENTION) == [
        ("1m", TimeRange(day.start_ms, now - RAW_TAIL_MS)), ("raw", TimeRange(now - RAW_TAIL_MS, now))]
    week = ReadRequest(now - 7 * 24 * HOUR_MS, now - HOUR_MS, 600_000, 3_600_000, "increase", 300_000)
    assert plan_reads(week, now_ms=now, retention=RETENTION) == [("5m", TimeRange(week.start_ms, week.end_ms))]
    for raw_only in (ReadRequest(now - HOUR_MS, now, 60_000, 300_000, "rate", 300_000),  # short span
                     ReadRequest(now - 24 * HOUR_MS, now, 15_000, 300_000, "rate", 300_000),  # fine step
                     ReadRequest(now - 24 * HOUR_MS, now, 60_000, 300_000, "max_over_time", 300_000),
                     ReadRequest(now - 24 * HOUR_MS, now, 60_000, 60_000, "rate", 300_000)):  # window < 2 buckets
        assert plan_reads(raw_only, now_ms=now, retention=RETENTION) == [
            ("raw", TimeRange(raw_only.start_ms, raw_only.end_ms))]


@pytest.fixture(scope="module")
def counters(stack):
    """Two counters over 8 hours, one sample every 15 s, stored and rolled up; ending 1 h ago."""
    tenant, _ = stack.new_tenant("rollsrc")
    end = (int(time.time() * 1000) - HOUR_MS) // 60_000 * 60_000
    start = end - 8 * HOUR_MS
    batch = [("requests_total", {"host": host}, ts, float((ts - start) // 1000 * rate))
             for ts in range(start + 1_000, end, SCRAPE_MS) for host, rate in (("a", 1), ("b", 3))]
    store = SampleStore(stack.settings)
    redis_connection = stack.redis_client()
    try:
        for offset in range(0, len(batch), 5_000):
            chunk = batch[offset:offset + 5_000]
            store.store(tenant_id=tenant.id, samples=chunk)
            with redis_connection.pipeline() as pipe:
                rollup_marks.mark_touched(pipe, tenant.id, chunk)
                pipe.execute()
    finally:
        store.close()
    settings = stack.settings.model_copy(update={"rollup_time_budget_seconds": 600.0, "rollup_grace_seconds": 0})
    while rollups.roll_up(settings, now_ms=end + 10 * 60_000):
        pass
    return tenant, start, end, batch


def _source(pool, tenant_id, **budget) -> MariaDBSeriesSource:
    budget = {"max_series": 100, "max_samples": 1_000_000, "timeout_seconds": 30, **budget}
    return MariaDBSeriesSource(pool, tenant_id=tenant_id, budget=QueryBudget(**budget), retention=RETENTION,
                               lookback_ms=300_000)


def test_rollup_reads_are_the_raw_series_thinned_to_each_buckets_last_sample(stack, counters):
    tenant, start, end, batch = counters
    matcher = [LabelMatcher("__name__", "=", "requests_total"), LabelMatcher("host", "=", "a")]

    async def both(pool):
        raw = await _source(pool, tenant.id).select(matcher, start, end, SelectHints(start, end, 15_000, 300_000,
                                                                                     "rate"))
        rolled_source = _source(pool, tenant.id)
        rolled = await rolled_source.select(matcher, start, end, SelectHints(start, end, 60_000, 300_000, "rate"))
        return raw, rolled, rolled_source.resolutions_read

    (raw,), (rolled,), resolutions = asyncio.run(with_pool(stack, both))
    assert resolutions == {"1m"}
    assert raw.labels == {"__name__": "requests_total", "host": "a"} == rolled.labels
    assert len(raw.timestamps) == sum(1 for metric, labels, *_ in batch if labels["host"] == "a")
    minute = raw.timestamps // 60_000
    last_of_each_minute = np.r_[minute[1:] != minute[:-1], True]
    assert np.array_equal(rolled.timestamps, raw.timestamps[last_of_each_minute])
    assert np.array_equal(rolled.values, raw.values[last_of_each_minute])


def test_a_day_long_rate_from_rollups_matches_raw_within_extrapolation(stack, counters):
    """rate() over thinned samples of a steady counter: the same slope (the documented semantics)."""
    tenant, start, end, _ = counters
    limits = QueryLimits(max_series=100, max_points=5_000_000, timeout_seconds=30)

    async def run(pool):
        source = _source(pool, tenant.id)
        result = await range_query("sum by (host) (rate(requests_total[5m]))", source=source,
                                   start_ms=start + HOUR_MS, end_ms=end, step_ms=60_000, limits=limits)
        return result, source.resolutions_read

    result, resolutions = asyncio.run(with_pool(stack, run))
    assert resolutions == {"1m"}
    slopes = {series.labels["host"]: series.values for series in result.series}
    assert np.allclose(slopes["a"], 1.0, rtol=1e-9) and np.allclose(slopes["b"], 3.0, rtol=1e-9)


def test_budgets_end_a_query_with_a_clear_error(stack, counters):
    tenant, start, end, _ = counters
    matcher = [LabelMatcher("__name__", "=", "requests_total")]
    hints = SelectHints(start, end, 15_000, None, None)

    async def attempt(pool, **budget):
        with pytest.raises(PromQLError) as caught:
            await _source(pool, tenant.id, **budget).select(matcher, start, end, hints)
        return caught.value

    too_many_series = asyncio.run(with_pool(stack, lambda pool: attempt(pool, max_series=1)))
    too_many_samples = asyncio.run(with_pool(stack, lambda pool: attempt(pool, max_samples=1000)))
    assert too_many_series.kind == too_many_samples.kind == "limit"
    assert "more than 1 series" in str(too_many_series) and "more than 1000 samples" in str(too_many_samples)


def test_a_read_too_large_for_one_text_falls_back_to_rows_with_the_same_answer(stack, counters, monkeypatch):
    from microdash_core.store import reads

    tenant, start, end, _ = counters
    matcher = [LabelMatcher("__name__", "=", "requests_total")]
    hints = SelectHints(start, end, 15_000, None, None)

    async def read(pool):
        return {series.labels["host"]: series for series in await _source(pool, tenant.id).select(
            matcher, start, end, hints)}

    as_texts = asyncio.run(with_pool(stack, read))
    monkeypatch.setattr(reads, "TEXT_BOUND", 1000)  # the one bound, raw and rollup reads
    as_rows = asyncio.run(with_pool(stack, read))
    assert as_texts.keys() == as_rows.keys() == {"a", "b"}
    for host in ("a", "b"):
        assert len(as_texts[host].timestamps) == 8 * 240
        assert np.array_equal(as_texts[host].timestamps, as_rows[host].timestamps)
        assert np.array_equal(as_texts[host].values, as_rows[host].values)
