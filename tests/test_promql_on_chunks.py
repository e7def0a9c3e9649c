"""The Prometheus API's raw reads over the chunked store: the same answers whether samples are in
the head, partly sealed into chunks or all sealed; a sample re-written after its window was sealed
wins; another tenant reaches none of it; a chunk that cannot be decoded is a clear 500; the sample
budget counts a chunk whole."""

import asyncio
from contextlib import closing

import numpy as np
import pytest

from alerting_support import store_samples
from microdash_api.sample_reads import SampleBudgetExceeded, TimeRange, read_samples
from microdash_core import chunks, db
from microdash_core.store import sealing
from store_support import chunk_samples, compact, seal_head, unsealed_samples, with_pool
from support import recent_ms

BASE = "/prometheus/api/v1"
S, MINUTE, HOUR = 1000, 60_000, 3_600_000
SCRAPE_MS = 15_000
INSTANT = ["requests_total", "rate(requests_total[5m])", "sum by (host) (increase(requests_total[1h]))",
           "max_over_time(temp[30m])", "avg_over_time(temp[2h])", "count_over_time(temp[3h])",
           "requests_total[10m]", "temp[20m]", "last_over_time(temp[1h]) - temp offset 40m"]
RANGE = ["requests_total", "rate(requests_total[5m])", "sum_over_time(temp[10m])", "quantile_over_time(0.9, temp[15m])",
         "deriv(temp[5m])", "changes(temp[30m])", "resets(requests_total[1h])"]


def _store_three_hours(stack, tenant_id: int, end: int) -> None:
    rng = np.random.default_rng(13)
    stamps = range(end - 3 * HOUR + SCRAPE_MS, end + 1, SCRAPE_MS)
    samples = [("requests_total", {"host": host}, ts, float((ts - end) // 1000 * rate + 10_000_000))
               for ts in stamps for host, rate in (("a", 1), ("b", 7))]
    temps = rng.normal(20, 4, len(stamps))
    samples += [("temp", {"room": "hall"}, ts, float(value)) for ts, value in zip(stamps, temps)]
    for offset in range(0, len(samples), 5_000):
        store_samples(stack, tenant_id, samples[offset:offset + 5_000])


def _answers(stack, token: str, end: int) -> list:
    answers = []
    with stack.client(token) as client:
        for expression in INSTANT:
            answers.append(_data(client.get(BASE + "/query", params={"query": expression, "time": end / 1000})))
        for expression in RANGE:
            answers.append(_data(client.get(BASE + "/query_range", params={
                "query": expression, "start": (end - 3 * HOUR) / 1000, "end": end / 1000, "step": "60"})))
    return answers


def _data(response):
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_answers_are_the_same_from_the_head_from_chunks_and_head_and_from_chunks(stack):
    tenant, token = stack.new_tenant("onchunks")
    end = recent_ms(-2 * MINUTE) // MINUTE * MINUTE
    _store_three_hours(stack, tenant.id, end)
    from_head = _answers(stack, token, end)
    assert all(answer["result"] for answer in from_head)  # every expression selects something
    total = unsealed_samples(stack, tenant.id)

    sealed = seal_head(stack.settings, tenant.id, before_ms=end - 50 * MINUTE)  # a cut inside a window
    assert 0 < sealed < total and chunk_samples(stack, tenant.id) == sealed
    assert _answers(stack, token, end) == from_head

    seal_head(stack.settings, tenant.id, before_ms=end + 1)
    assert unsealed_samples(stack, tenant.id) == 0 and chunk_samples(stack, tenant.id) == total
    assert _answers(stack, token, end) == from_head


def test_answers_are_the_same_after_the_real_sealer_sealed_the_windows_that_are_over(stack):
    tenant, token = stack.new_tenant("sealer")
    end = recent_ms(-2 * MINUTE) // MINUTE * MINUTE
    _store_three_hours(stack, tenant.id, end)
    from_head = _answers(stack, token, end)
    compact(stack.settings, tenant.id)
    with closing(db.connect(stack.settings)) as connection:
        over = sealing.seal_due(connection, cutoff_ms=sealing.sealed_before(recent_ms()), tenant_ids=[tenant.id])
        assert over.samples > 0 and unsealed_samples(stack, tenant.id) > 0  # a window over, the current one open
        assert _answers(stack, token, end) == from_head
        sealing.seal_due(connection, cutoff_ms=end + chunks.WINDOW_MS, tenant_ids=[tenant.id])
    assert unsealed_samples(stack, tenant.id) == 0
    assert _answers(stack, token, end) == from_head


def test_a_sample_rewritten_after_its_window_was_sealed_wins(stack):
    tenant, token = stack.new_tenant("rewrite")
    end = recent_ms(-2 * MINUTE) // MINUTE * MINUTE
    store_samples(stack, tenant.id, [("gauge", {}, end - offset * S, 1.0) for offset in range(0, 600, 10)])
    seal_head(stack.settings, tenant.id, before_ms=end + 1)
    rewritten = end - 300 * S
    store_samples(stack, tenant.id, [("gauge", {}, rewritten, 5.0)])  # into the head, its window sealed

    with stack.client(token) as client:
        at = _data(client.get(BASE + "/query", params={"query": "gauge", "time": rewritten / 1000}))
        window = _data(client.get(BASE + "/query", params={"query": "gauge[1m]", "time": (rewritten + 30 * S) / 1000}))
        total = _data(client.get(BASE + "/query", params={"query": "sum_over_time(gauge[10m])", "time": end / 1000}))
    assert at["result"][0]["value"][1] == "5"
    points = window["result"][0]["values"]
    assert [t for t, _ in points] == [(rewritten + offset * S) / 1000 for offset in range(-30, 31, 10)]
    assert [value for _, value in points] == ["1", "1", "1", "5", "1", "1", "1"]  # once, with the new value
    assert total["result"][0]["value"][1] == str(59 + 5)  # 60 samples in the window, one of them 5


def test_another_tenant_reaches_no_chunk(stack):
    tenant, token = stack.new_tenant("chunkowner")
    other, other_token = stack.new_tenant("chunkreader")
    end = recent_ms(-2 * MINUTE) // MINUTE * MINUTE
    store_samples(stack, tenant.id, [("secret_total", {"job": "mine"}, end - offset * S, float(offset))
                                     for offset in range(0, 120, 10)])
    seal_head(stack.settings, tenant.id, before_ms=end - 30 * S)
    series_ids = [row[0] for row in stack.sql("SELECT id FROM series WHERE tenant_id = %s", (tenant.id,))]
    span = TimeRange(end - 5 * MINUTE, end)

    async def both(pool):
        reads = {"series_ids": series_ids, "span": span, "resolution": "raw", "max_samples": 1_000,
                 "timeout_seconds": 30}
        return (await read_samples(pool, tenant_id=tenant.id, **reads),
                await read_samples(pool, tenant_id=other.id, **reads))

    mine, theirs = asyncio.run(with_pool(stack, both))
    assert len(mine[series_ids[0]][0]) == 12 and theirs == {}
    with stack.client(other_token) as client:
        for query in ("secret_total", '{__name__=~".+"}', "count_over_time(secret_total[10m])"):
            assert _data(client.get(BASE + "/query", params={"query": query, "time": end / 1000}))["result"] == []
    with stack.client(token) as client:
        assert _data(client.get(BASE + "/query", params={"query": "count_over_time(secret_total[10m])",
                                                         "time": end / 1000}))["result"][0]["value"][1] == "12"


def test_the_budget_counts_a_sealed_chunk_whole(stack):
    """Chunks are decoded whole, so a read that touches one loads (and counts) all its samples."""
    tenant, _ = stack.new_tenant("chunkbudget")
    window = chunks.window_of(recent_ms()) - chunks.WINDOW_MS  # a whole window, over
    store_samples(stack, tenant.id, [("wide", {}, window + offset * S, 1.0) for offset in range(200)])
    seal_head(stack.settings, tenant.id, before_ms=window + chunks.WINDOW_MS)
    (series_id,), = stack.sql("SELECT id FROM series WHERE tenant_id = %s", (tenant.id,))

    async def read(pool, max_samples):
        return await read_samples(pool, tenant_id=tenant.id, series_ids=[series_id], resolution="raw",
                                  span=TimeRange(window + 100 * S, window + 110 * S), max_samples=max_samples,
                                  timeout_seconds=30)

    found = asyncio.run(with_pool(stack, lambda pool: read(pool, 200)))
    assert found[series_id][0].tolist() == [window + offset * S for offset in range(101, 111)]
    with pytest.raises(SampleBudgetExceeded):
        asyncio.run(with_pool(stack, lambda pool: read(pool, 199)))


def test_a_chunk_that_cannot_be_decoded_is_a_clear_internal_error(stack):
    tenant, token = stack.new_tenant("corrupt")
    end = recent_ms(-2 * MINUTE) // MINUTE * MINUTE
    store_samples(stack, tenant.id, [("broken", {}, end - offset * S, float(offset)) for offset in range(0, 60)])
    seal_head(stack.settings, tenant.id, before_ms=end + 1)
    stack.sql("UPDATE sample_chunks SET data = CONCAT(LEFT(data, 50), CHAR(ASCII(SUBSTRING(data, 51, 1)) ^ 1),"
              " SUBSTRING(data, 52)) WHERE tenant_id = %s", (tenant.id,))  # one bit flipped past the header
    with stack.client(token) as client:
        response = client.get(BASE + "/query", params={"query": "broken", "time": end / 1000})
    assert response.status_code == 500
    body = response.json()
    assert body["errorType"] == "internal" and "could not be decoded" in body["error"], body
