"""/api/v1/query at 1m and 5m: the rollup rows read as plain rows or as texts and aggregated with
numpy give the answers MariaDB's own aggregation gives (which the api still uses for reads too large to bring
in), bit for bit, and so does the read of one row per bucket after a text reached its bound."""

import asyncio

import numpy as np
import pytest

from microdash_api import repository, rollup_rows
from microdash_api.sql import open_pool
from microdash_core.db import DatabaseAddress
from microdash_core.store import reads
from microdash_workers.rollups import roll_up
from test_rollups import MINUTE, five_minutes_aligned, ingest

AGGREGATIONS = ("avg", "min", "max", "sum", "count", "last")


@pytest.fixture
def rolled_up(stack):
    """Two series, 1 to 9 samples a minute over 3 h with full-precision values, rolled up."""
    tenant, token = stack.new_tenant("rollup-reads")
    base = five_minutes_aligned(hours_ago=12)
    rng = np.random.default_rng(7)
    samples = []
    for host in ("a", "b"):
        for minute in range(180):
            offsets = np.sort(rng.choice(60_000, size=int(rng.integers(1, 10)), replace=False))
            values = rng.standard_normal(offsets.size) * 1e3
            samples += [{"metric": "noisy", "value": float(value), "ts": base + minute * MINUTE + int(offset),
                         "labels": {"host": host}} for offset, value in zip(offsets, values)]
    ingest(stack, token, tenant.id, samples)
    roll_up(stack.settings)
    series_ids = [row[0] for row in stack.sql("SELECT id FROM series WHERE tenant_id = %s ORDER BY id", (tenant.id,))]
    return tenant.id, series_ids, base


@pytest.mark.filterwarnings("ignore:Row .* was cut by GROUP_CONCAT")
def test_numpy_and_mariadb_aggregate_rollups_alike(rolled_up, stack, monkeypatch):
    tenant_id, series_ids, base = rolled_up
    cases = [(resolution, step, aggregation) for resolution in ("1m", "5m")
             for step in (MINUTE, 5 * MINUTE, 7 * MINUTE, 60 * MINUTE) for aggregation in AGGREGATIONS]
    span = {"start_ms": base + 90_000, "end_ms": base + 170 * MINUTE + 1}

    def read_all():
        return asyncio.run(_points(stack, cases, tenant_id=tenant_id, series_ids=series_ids, **span))

    plain_rows = read_all()  # small reads: plain rows in the binary protocol
    monkeypatch.setattr(repository, "SPLIT_ROLLUP_READS_FROM_ROWS", 0)  # one statement per series, at once
    split = read_all()
    monkeypatch.setattr(rollup_rows, "PLAIN_ROWS_AT_MOST", 0)
    split_texts = read_all()
    monkeypatch.setattr(repository, "SPLIT_ROLLUP_READS_FROM_ROWS", 10**9)
    as_texts = read_all()
    monkeypatch.setattr(reads, "TEXT_BOUND", 100)
    as_rows = read_all()
    monkeypatch.setattr(repository, "ROLLUP_ROWS_IN_API", 0)
    by_mariadb = read_all()
    for case in cases:
        points = as_texts[case]
        assert all(len(points[series_id]) >= 2 for series_id in series_ids), case
        assert points == plain_rows[case] == split[case] == split_texts[case] == as_rows[case] == by_mariadb[case], case


async def _points(stack, cases, **kwargs) -> dict:
    address = DatabaseAddress.from_url(stack.settings.database_url)
    pool = await open_pool(address)
    try:
        return {(resolution, step, aggregation): await repository.aggregate_points(
                    pool, resolution=resolution, step_ms=step, aggregation=aggregation, **kwargs)
                for resolution, step, aggregation in cases}
    finally:
        pool.close()
        await pool.wait_closed()
