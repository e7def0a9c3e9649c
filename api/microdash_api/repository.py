"""Tenant-scoped reads for the API. Every function takes the tenant id explicitly; there is no
query path without it."""

from dataclasses import dataclass

import aiomysql
import orjson

from microdash_core.matchers import Matcher, all_match

AGGREGATIONS = {"avg": "AVG(value)", "min": "MIN(value)", "max": "MAX(value)", "sum": "SUM(value)",
                "count": "COUNT(*)"}


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
                           end_ms: int, step_ms: int, aggregation: str) -> dict[int, list[list[float]]]:
    """Points per series: [bucket start ms, aggregated value], buckets of step_ms over [start, end)."""
    points: dict[int, list[list[float]]] = {series_id: [] for series_id in series_ids}
    if not series_ids:
        return points
    placeholders = ",".join(["%s"] * len(series_ids))
    where = f"tenant_id = %s AND series_id IN ({placeholders}) AND ts >= %s AND ts < %s"
    params = [tenant_id, *series_ids, start_ms, end_ms]
    if aggregation == "last":
        sql = f"SELECT series_id, ts DIV %s, ts, value FROM samples WHERE {where} ORDER BY series_id, ts"
        params = [step_ms, *params]
    else:
        sql = (f"SELECT series_id, ts DIV %s AS bucket, {AGGREGATIONS[aggregation]} FROM samples WHERE {where}"
               " GROUP BY series_id, bucket ORDER BY series_id, bucket")
        params = [step_ms, *params]
    async with pool.acquire() as connection, connection.cursor() as cursor:
        await cursor.execute(sql, params)
        rows = await cursor.fetchall()
    if aggregation == "last":
        for series_id, bucket, _ts, value in rows:
            series_points = points[series_id]
            if series_points and series_points[-1][0] == bucket * step_ms:
                series_points[-1][1] = value
            else:
                series_points.append([bucket * step_ms, value])
    else:
        for series_id, bucket, value in rows:
            points[series_id].append([bucket * step_ms, float(value)])
    return points
