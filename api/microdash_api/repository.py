"""Tenant-scoped reads for the API. Every function takes the tenant id explicitly; there is no
query path without it."""

from dataclasses import dataclass

import aiomysql
import orjson

from microdash_core.matchers import Matcher, all_match

from .sql import fetch


@dataclass(frozen=True)
class PointSource:
    """Where points of one resolution come from and how each aggregation is computed from its rows."""
    table: str
    time_column: str
    aggregations: dict[str, str]
    last_ts_column: str
    last_value_column: str


RAW = PointSource("samples", "ts", {"avg": "AVG(value)", "min": "MIN(value)", "max": "MAX(value)",
                                    "sum": "SUM(value)", "count": "COUNT(*)"}, "ts", "value")
# Merged rollup buckets: avg is the total over the total count, never an average of averages.
_ROLLUP_AGGREGATIONS = {"avg": "SUM(value_sum) / SUM(sample_count)", "min": "MIN(value_min)",
                        "max": "MAX(value_max)", "sum": "SUM(value_sum)", "count": "SUM(sample_count)"}
SOURCES = {
    "raw": RAW,
    "1m": PointSource("samples_1m", "bucket_ts", _ROLLUP_AGGREGATIONS, "last_ts", "last_value"),
    "5m": PointSource("samples_5m", "bucket_ts", _ROLLUP_AGGREGATIONS, "last_ts", "last_value"),
}


@dataclass(frozen=True)
class SeriesRow:
    id: int
    metric: str
    labels: dict[str, str]


async def find_series(pool: aiomysql.Pool, *, tenant_id: int, metric: str | None,
                      matchers: list[Matcher], limit: int) -> list[SeriesRow]:
    sql = "SELECT id, metric, labels FROM series WHERE tenant_id = %s"
    params: list = [tenant_id]
    if metric is not None:
        sql += " AND metric = %s"
        params.append(metric)
    sql += " ORDER BY metric, id"
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


async def aggregate_points(pool: aiomysql.Pool, *, tenant_id: int, series_ids: list[int], start_ms: int,
                           end_ms: int, step_ms: int, aggregation: str,
                           resolution: str = "raw") -> dict[int, list[list[float]]]:
    """Points per series: [bucket start ms, aggregated value], buckets of step_ms over [start, end).

    At a rollup resolution each rollup bucket counts where it starts: the range and the steps
    are effectively aligned to the rollup width.
    """
    points: dict[int, list[list[float]]] = {series_id: [] for series_id in series_ids}
    if not series_ids:
        return points
    source = SOURCES[resolution]
    placeholders = ",".join(["%s"] * len(series_ids))
    where = (f"tenant_id = %s AND series_id IN ({placeholders})"
             f" AND {source.time_column} >= %s AND {source.time_column} < %s")
    params = [step_ms, tenant_id, *series_ids, start_ms, end_ms]
    if aggregation == "last":
        sql = (f"SELECT series_id, {source.time_column} DIV %s, {source.last_value_column} FROM {source.table}"
               f" WHERE {where} ORDER BY series_id, {source.last_ts_column}")
    else:
        sql = (f"SELECT series_id, {source.time_column} DIV %s AS bucket, {source.aggregations[aggregation]}"
               f" FROM {source.table} WHERE {where} GROUP BY series_id, bucket ORDER BY series_id, bucket")
    rows = await fetch(pool, sql, params)
    if aggregation == "last":
        _keep_last_per_bucket(points, rows, step_ms)
    else:
        for series_id, bucket, value in rows:
            points[series_id].append([bucket * step_ms, float(value)])
    return points


def _keep_last_per_bucket(points: dict[int, list[list[float]]], rows, step_ms: int) -> None:
    """Rows come ordered by their own timestamp, so the last row of each step bucket wins."""
    for series_id, bucket, value in rows:
        series_points = points[series_id]
        if series_points and series_points[-1][0] == bucket * step_ms:
            series_points[-1][1] = value
        else:
            series_points.append([bucket * step_ms, value])
