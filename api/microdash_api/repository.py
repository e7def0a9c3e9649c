"""Tenant-scoped reads for the API. Every function takes the tenant id explicitly; there is no
query path without it."""

import asyncio
from dataclasses import dataclass

import orjson

from microdash_core import series_lookup
from microdash_core.matchers import Matcher, all_match
from microdash_core.store import reads

from . import step_buckets
from .raw_samples import read_raw_samples
from .rollup_aggregation import aggregated_by_mariadb
from .rollup_rows import BUCKET_MS, read_rollup_rows
from .sql import Pool
from .step_buckets import Rows

DEFAULT_MAX_RAW_SAMPLES = 5_000_000
# Up to this many rollup rows are read into the api and aggregated with numpy (fast: no GROUP BY,
# no row decoding); past it (a long range of many series at a large step) MariaDB aggregates and
# sends one row per point, so the api never holds more rows than points.
ROLLUP_ROWS_IN_API = 1_000_000
# A rollup read of at least this many rows (and two series) is split by series into READ_PARTS
# statements run at once on their own connections: MariaDB runs each statement on one thread, so
# one statement of 28,800 rows (24 h of 100 series at 5m) kept one core busy ~20 ms while the
# other waited; the api parses a part while MariaDB still works on the next.
SPLIT_ROLLUP_READS_FROM_ROWS = 10_000
READ_PARTS = 2


@dataclass(frozen=True)
class SeriesRow:
    id: int
    metric: str
    labels: dict[str, str]


async def find_series(pool: Pool, *, tenant_id: int, metric: str | None,
                      matchers: list[Matcher], limit: int) -> list[SeriesRow]:
    # The equality matchers narrow the statement, so that a query for one series of many does not
    # decode them all here; all_match below decides.
    sql, params = series_lookup.statement(
        tenant_id=tenant_id, metrics=None if metric is None else [metric], ordered=True,
        label_values=[(matcher.name, [matcher.value]) for matcher in matchers if matcher.op == "=" and matcher.value])
    found: list[SeriesRow] = []
    async with pool.acquire() as connection, connection.cursor() as cursor:
        await cursor.execute(sql, params)
        while len(found) < limit:
            rows = await cursor.fetchmany(1000)
            if not rows:
                break
            for series_id, name, labels_json in rows:
                labels = orjson.loads(labels_json)
                if all_match(matchers, labels):
                    found.append(SeriesRow(series_id, name, labels))
    return found[:limit]


async def aggregate_points(pool: Pool, *, tenant_id: int, series_ids: list[int], start_ms: int,
                           end_ms: int, step_ms: int, aggregation: str, resolution: str = "raw",
                           max_raw_samples: int = DEFAULT_MAX_RAW_SAMPLES) -> dict[int, list[tuple[int, float]]]:
    """aggregate_arrays as (bucket start ms, value) pairs, a list (maybe empty) for every series id."""
    arrays = await aggregate_arrays(pool, tenant_id=tenant_id, series_ids=series_ids, start_ms=start_ms,
                                    end_ms=end_ms, step_ms=step_ms, aggregation=aggregation, resolution=resolution,
                                    max_raw_samples=max_raw_samples)
    return {series_id: _pairs(arrays[series_id]) if series_id in arrays else [] for series_id in series_ids}


def _pairs(points: step_buckets.Points) -> list[tuple[int, float]]:
    starts, values = points
    return list(zip(starts.tolist(), values.tolist()))


async def aggregate_arrays(pool: Pool, *, tenant_id: int, series_ids: list[int], start_ms: int,
                           end_ms: int, step_ms: int, aggregation: str, resolution: str = "raw",
                           max_raw_samples: int = DEFAULT_MAX_RAW_SAMPLES) -> dict[int, step_buckets.Points]:
    """(bucket starts ms, values) per series that has points, buckets of step_ms over [start, end).

    At a rollup resolution each rollup bucket counts where it starts: the range and the steps
    are effectively aligned to the rollup width. Raises TooManySamples when a raw read would load
    more than max_raw_samples.
    """
    if not series_ids:
        return {}
    rollup_rows = 0 if resolution == "raw" else _rollup_rows_at_most(resolution, len(series_ids), start_ms, end_ms)
    if SPLIT_ROLLUP_READS_FROM_ROWS <= rollup_rows <= ROLLUP_ROWS_IN_API and len(series_ids) >= 2:
        parts = await asyncio.gather(*(
            _rollup_rows_of(pool, resolution=resolution, aggregation=aggregation, tenant_id=tenant_id,
                            series_ids=part, start_ms=start_ms, end_ms=end_ms,
                            rows_at_most=_rollup_rows_at_most(resolution, len(part), start_ms, end_ms))
            for part in _split(series_ids, READ_PARTS)))
        return {series_id: points for part in parts
                for series_id, points in step_buckets.aggregate_series(part, step_ms, aggregation).items()}
    async with pool.acquire() as connection, connection.cursor() as cursor:
        if resolution == "raw":
            span = reads.Span.half_open(start_ms, end_ms)
            samples = await read_raw_samples(cursor, tenant_id=tenant_id, series_ids=series_ids, span=span,
                                             max_samples=max_raw_samples)
        elif rollup_rows <= ROLLUP_ROWS_IN_API:
            batch = await read_rollup_rows(cursor, resolution=resolution, aggregation=aggregation,
                                           tenant_id=tenant_id, series_ids=series_ids, start_ms=start_ms, end_ms=end_ms,
                                           rows_at_most=rollup_rows)
        else:
            return await aggregated_by_mariadb(cursor, resolution=resolution, aggregation=aggregation,
                                               tenant_id=tenant_id, series_ids=series_ids, start_ms=start_ms,
                                               end_ms=end_ms, step_ms=step_ms)
    if resolution != "raw":
        return step_buckets.aggregate_series(batch, step_ms, aggregation)
    return {series_id: step_buckets.aggregate(Rows.of_samples(ts, vs), step_ms, aggregation)
            for series_id, (ts, vs) in samples.items()}


async def _rollup_rows_of(pool: Pool, **selection) -> step_buckets.SeriesRows:
    async with pool.acquire() as connection, connection.cursor() as cursor:
        return await read_rollup_rows(cursor, **selection)


def _split(series_ids: list[int], parts: int) -> list[list[int]]:
    size = -(-len(series_ids) // parts)
    return [series_ids[at:at + size] for at in range(0, len(series_ids), size)]


def _rollup_rows_at_most(resolution: str, series: int, start_ms: int, end_ms: int) -> int:
    width = BUCKET_MS[resolution]
    return series * ((end_ms - 1) // width - start_ms // width + 1)
