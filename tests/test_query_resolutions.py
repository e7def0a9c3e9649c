"""GET /api/v1/query at raw, 1m and 5m resolution: same shape, consistent values, tenant-scoped."""

import asyncio

import pytest

from microdash_api import repository
from microdash_api.sql import open_pool
from microdash_core.db import DatabaseAddress
from microdash_workers.rollups import roll_up
from test_rollups import MINUTE, five_minutes_aligned, ingest, known_samples

DAY = 86_400_000


def query(stack, token, **params) -> dict:
    with stack.client(token) as client:
        response = client.get("/api/v1/query", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_forced_resolutions_return_the_same_shape_and_values(stack):
    tenant, token = stack.new_tenant()
    base = five_minutes_aligned(hours_ago=8)
    ingest(stack, token, tenant.id, known_samples(base))
    roll_up(stack.settings)
    expected = {"avg": [20.5 / 6, 8.0], "min": [-3.0, 8.0], "max": [10.0, 8.0], "sum": [20.5, 8.0],
                "count": [6.0, 1.0], "last": [-3.0, 8.0]}
    for aggregation, (first, second) in expected.items():
        results = {resolution: query(stack, token, metric="temp", start=base, end=base + 10 * MINUTE,
                                     step=5 * MINUTE, aggregation=aggregation, resolution=resolution)
                   for resolution in ("raw", "1m", "5m")}
        for resolution, result in results.items():
            assert result["resolution"] == resolution
            assert set(result) == set(results["raw"])
            (series,) = result["series"]
            assert series["labels"] == {"host": "a"}
            assert [point[0] for point in series["points"]] == [base, base + 5 * MINUTE]
            assert [point[1] for point in series["points"]] == pytest.approx([first, second]), (aggregation, resolution)


def test_one_minute_rollups_match_raw_per_minute(stack):
    tenant, token = stack.new_tenant()
    base = five_minutes_aligned(hours_ago=9)
    ingest(stack, token, tenant.id, known_samples(base))
    roll_up(stack.settings)
    for aggregation in ("avg", "min", "max", "sum", "count", "last"):
        raw, one_minute = (query(stack, token, metric="temp", start=base, end=base + 10 * MINUTE, step=MINUTE,
                                 aggregation=aggregation, resolution=resolution)["series"][0]["points"]
                           for resolution in ("raw", "1m"))
        assert len(raw) == 4 and one_minute == raw, aggregation


def test_auto_resolution_follows_step_and_range(stack):
    tenant, token = stack.new_tenant()
    base = five_minutes_aligned(hours_ago=10)
    ingest(stack, token, tenant.id, known_samples(base))
    end = base + 10 * MINUTE

    def picked(start, step):
        return query(stack, token, metric="temp", start=start, end=end, step=step)["resolution"]

    assert picked(base, 30_000) == "raw"
    assert picked(base, MINUTE) == "1m"
    assert picked(base, 5 * MINUTE) == "5m"
    assert picked(end - 2 * DAY, 30_000) == "1m"  # long range, small step
    assert picked(end - 8 * DAY, 70_000) == "5m"


def test_rollup_queries_never_show_another_tenant(stack):
    tenant_a, token_a = stack.new_tenant("a")
    tenant_b, token_b = stack.new_tenant("b")
    base = five_minutes_aligned(hours_ago=11)
    ingest(stack, token_a, tenant_a.id, [{"metric": "secret", "value": 42.0, "ts": base, "labels": {"h": "x"}}])
    ingest(stack, token_b, tenant_b.id, [{"metric": "secret", "value": 7.0, "ts": base, "labels": {"h": "x"}}])
    roll_up(stack.settings)
    assert stack.sql("SELECT COUNT(*) FROM samples_5m WHERE tenant_id = %s", (tenant_a.id,)) == [(1,)]
    for resolution in ("1m", "5m"):
        for aggregation in ("sum", "count", "max", "last"):
            result = query(stack, token_b, metric="secret", start=base, end=base + 5 * MINUTE, step=5 * MINUTE,
                           aggregation=aggregation, resolution=resolution)
            (series,) = result["series"]
            assert series["points"] == [[base, 1.0 if aggregation == "count" else 7.0]], (resolution, aggregation)
    series_of_a = [row[0] for row in stack.sql("SELECT id FROM series WHERE tenant_id = %s", (tenant_a.id,))]
    for resolution in ("1m", "5m"):
        points = asyncio.run(read_points(stack, tenant_id=tenant_b.id, series_ids=series_of_a, start_ms=base,
                                         end_ms=base + 5 * MINUTE, resolution=resolution))
        assert points == {series_of_a[0]: []}, "another tenant's series ids must not reach its rollups"


async def read_points(stack, **kwargs):
    address = DatabaseAddress.from_url(stack.settings.database_url)
    pool = await open_pool(address)
    try:
        return await repository.aggregate_points(pool, step_ms=5 * MINUTE, aggregation="sum", **kwargs)
    finally:
        pool.close()
        await pool.wait_closed()
