"""GET /api/v1/query at raw resolution reads sealed chunks plus the head (microdash_core.store.reads)
and aggregates with numpy: the same answers as the SQL aggregation over the head it replaced,
bit for bit, before and after the samples are sealed; a head sample re-written after its window
was sealed wins; another tenant reads nothing; a read past the sample budget is refused."""

import asyncio
import time

import aiomysql
import httpx
import numpy as np
import pytest

from microdash_api import repository
from microdash_api.raw_samples import TooManySamples
from microdash_core import chunks, db
from microdash_core.db import DatabaseAddress
from support import extra_api, insert_chunk, recent_ms

WINDOW = chunks.WINDOW_MS
SPACING = 10_000
AGGREGATIONS = ("avg", "min", "max", "sum", "count", "last")
_SQL_AGGREGATIONS = {"avg": "AVG(value)", "min": "MIN(value)", "max": "MAX(value)", "sum": "SUM(value)",
                     "count": "COUNT(*)"}


def _day_of_samples(stack, token, tenant_id: int, metric: str) -> tuple[int, list[int]]:
    """Two hosts, a sample every 10 s over 4.5 h from a window start, values with full precision
    (so the order of a sum shows in its last bits). Returns (the first window, the series ids)."""
    base = chunks.window_of(recent_ms(-6 * 3_600_000))
    rng = np.random.default_rng(13)
    samples = [{"metric": metric, "value": float(value), "ts": base + i * SPACING, "labels": {"host": host}}
               for host in ("a", "b")
               for i, value in enumerate(rng.standard_normal(1620) * 1000)]
    with stack.client(token) as client:
        response = client.post("/api/v1/metrics/bulk", json=samples)
    assert response.status_code == 202, response.text
    assert stack.wait_for_samples(tenant_id, len(samples)) == len(samples)
    series_ids = [row[0] for row in stack.sql("SELECT id FROM series WHERE tenant_id = %s AND metric = %s ORDER BY id",
                                              (tenant_id, metric))]
    return base, series_ids


def _seal(stack, tenant_id: int, series_ids: list[int], windows: list[int]) -> None:
    """What the sealer does, one transaction: each window's head rows become a chunk row."""
    with db.transaction(stack.settings) as cursor:
        for series_id in series_ids:
            for window in windows:
                where = "tenant_id = %s AND series_id = %s AND ts >= %s AND ts < %s"
                params = (tenant_id, series_id, window, window + WINDOW)
                cursor.execute(f"SELECT ts, value FROM samples WHERE {where} ORDER BY ts", params)
                rows = cursor.fetchall()
                insert_chunk(cursor, tenant_id=tenant_id, series_id=series_id, timestamps=[row[0] for row in rows],
                             values=[row[1] for row in rows])
                cursor.execute(f"DELETE FROM samples WHERE {where}", params)


def _head_rows(stack, tenant_id: int) -> int:
    return stack.sql("SELECT COUNT(*) FROM samples WHERE tenant_id = %s", (tenant_id,))[0][0]


def _query(stack, token, **params) -> list[dict]:
    with stack.client(token) as client:
        response = client.get("/api/v1/query", params={"resolution": "raw", **params})
    assert response.status_code == 200, response.text
    return response.json()["series"]


def _sql_points(stack, tenant_id: int, series_id: int, start: int, end: int, step: int, aggregation: str) -> list:
    """The statement /api/v1/query ran on the head before the store had chunks."""
    where = "tenant_id = %s AND series_id = %s AND ts >= %s AND ts < %s"
    if aggregation == "last":
        rows = stack.sql(f"SELECT ts DIV %s, value FROM samples WHERE {where} ORDER BY ts",
                         (step, tenant_id, series_id, start, end))
        return [[bucket * step, float(value)] for bucket, value in dict(rows).items()]
    rows = stack.sql(f"SELECT ts DIV %s AS bucket, {_SQL_AGGREGATIONS[aggregation]} FROM samples WHERE {where}"
                     " GROUP BY bucket ORDER BY bucket", (step, tenant_id, series_id, start, end))
    return [[bucket * step, float(value)] for bucket, value in rows]


CASES = [(step, aggregation) for step in (7_000, 60_000, 3_600_000) for aggregation in AGGREGATIONS]


def test_raw_points_are_the_sql_aggregation_before_and_after_sealing(stack):
    tenant, token = stack.new_tenant("chunks")
    base, series_ids = _day_of_samples(stack, token, tenant.id, "noise")
    start, end = base + 12_345, base + 4 * 3_600_000 + 1_800_000 - 999  # clips a chunk and the head
    sql = {case: {series_id: _sql_points(stack, tenant.id, series_id, start, end, *case) for series_id in series_ids}
           for case in CASES}
    head_only = {case: _query(stack, token, metric="noise", start=start, end=end, step=case[0], aggregation=case[1])
                 for case in CASES}
    for case, series in head_only.items():
        assert [s["labels"]["host"] for s in series] == ["a", "b"]
        assert [s["points"] for s in series] == [sql[case][series_id] for series_id in series_ids], case

    _seal(stack, tenant.id, series_ids, [base, base + WINDOW])
    assert stack.sql("SELECT COUNT(*) FROM sample_chunks WHERE tenant_id = %s", (tenant.id,)) == [(4,)]
    assert _head_rows(stack, tenant.id) == 2 * (1620 - 2 * WINDOW // SPACING)
    for case, series in head_only.items():
        assert _query(stack, token, metric="noise", start=start, end=end, step=case[0],
                      aggregation=case[1]) == series, case


def test_a_sample_rewritten_after_its_window_was_sealed_wins(stack):
    tenant, token = stack.new_tenant("chunks")
    base, series_ids = _day_of_samples(stack, token, tenant.id, "noise")
    _seal(stack, tenant.id, series_ids, [base])
    rewritten = base + 30 * SPACING
    with stack.client(token) as client:
        response = client.post("/api/v1/metrics", json={"metric": "noise", "value": 1e6, "ts": rewritten,
                                                         "labels": {"host": "a"}})
    assert response.status_code == 202, response.text
    deadline = time.monotonic() + 30
    while _head_rows(stack, tenant.id) < 2 * (1620 - WINDOW // SPACING) + 1:  # the rewrite is in the head
        assert time.monotonic() < deadline, "the re-written sample was not stored"
        time.sleep(0.05)
    params = {"metric": "noise", "match": "host=a", "start": rewritten, "end": rewritten + SPACING, "step": SPACING}
    for aggregation, wanted in (("max", 1e6), ("last", 1e6), ("count", 1.0)):
        (series,) = _query(stack, token, **params, aggregation=aggregation)
        assert series["points"] == [[rewritten, wanted]], aggregation


def test_another_tenant_reads_none_of_the_chunks_or_the_head(stack):
    tenant, token = stack.new_tenant("chunks")
    other, other_token = stack.new_tenant("chunks-other")
    base, series_ids = _day_of_samples(stack, token, tenant.id, "secret")
    _seal(stack, tenant.id, series_ids, [base])
    day = {"metric": "secret", "start": base, "end": base + 2 * WINDOW, "step": 60_000}
    assert len(_query(stack, token, **day)) == 2
    assert _query(stack, other_token, **day) == []
    guessed = asyncio.run(_aggregate(stack, tenant_id=other.id, series_ids=series_ids, start_ms=base,
                                     end_ms=base + 2 * WINDOW, step_ms=60_000, aggregation="count"))
    assert guessed == {series_id: [] for series_id in series_ids}
    mine = asyncio.run(_aggregate(stack, tenant_id=tenant.id, series_ids=series_ids, start_ms=base,
                                  end_ms=base + 2 * WINDOW, step_ms=WINDOW, aggregation="count"))
    assert mine == {series_id: [(base, 720.0), (base + WINDOW, 720.0)] for series_id in series_ids}


def test_a_read_of_more_raw_samples_than_the_budget_is_refused(stack, tmp_path):
    tenant, token = stack.new_tenant("chunks")
    base, series_ids = _day_of_samples(stack, token, tenant.id, "many")
    _seal(stack, tenant.id, series_ids, [base])
    with pytest.raises(TooManySamples):
        asyncio.run(_aggregate(stack, tenant_id=tenant.id, series_ids=series_ids, start_ms=base, end_ms=base + WINDOW,
                               step_ms=60_000, aggregation="avg", max_raw_samples=1439))
    within = asyncio.run(_aggregate(stack, tenant_id=tenant.id, series_ids=series_ids, start_ms=base,
                                    end_ms=base + WINDOW, step_ms=WINDOW, aggregation="count", max_raw_samples=1440))
    assert within == {series_id: [(base, 720.0)] for series_id in series_ids}
    head = base + WINDOW  # 400 head samples of each series: 800 in all, under the api's budget
    with extra_api(stack, tmp_path, MICRODASH_QUERY_MAX_RAW_SAMPLES="1000") as url:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
            params = {"metric": "many", "resolution": "raw", "step": 40 * SPACING}
            refused = client.get("/api/v1/query", params={**params, "start": base, "end": base + WINDOW})
            allowed = client.get("/api/v1/query", params={**params, "start": head, "end": head + 400 * SPACING})
    assert refused.status_code == 422 and "more than 1000 raw samples" in refused.json()["detail"]
    assert allowed.status_code == 200, allowed.text
    assert [len(series["points"]) for series in allowed.json()["series"]] == [10, 10]


async def _aggregate(stack, **kwargs):
    address = DatabaseAddress.from_url(stack.settings.database_url)
    pool = await aiomysql.create_pool(host=address.host, port=address.port, user=address.user,
                                      password=address.password, db=address.database, autocommit=True)
    try:
        return await repository.aggregate_points(pool, resolution="raw", **kwargs)
    finally:
        pool.close()
        await pool.wait_closed()
