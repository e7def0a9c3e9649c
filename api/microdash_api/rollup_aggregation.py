"""Rollup rows aggregated per step bucket by MariaDB: for reads too large to bring into the api.

The same answers as step_buckets (tests/test_query_resolutions.py compares them): sums over the
rows in bucket order, avg as the total sum over the total count, never an average of averages.
"""

from .rollup_rows import TABLES

_AGGREGATIONS = {"avg": "SUM(value_sum) / SUM(sample_count)", "min": "MIN(value_min)", "max": "MAX(value_max)",
                 "sum": "SUM(value_sum)", "count": "SUM(sample_count)"}
_FETCH_ROWS = 20_000


async def aggregated_by_mariadb(cursor, points: dict[int, list[tuple[int, float]]], *, resolution: str,
                                aggregation: str, tenant_id: int, start_ms: int, end_ms: int,
                                step_ms: int) -> dict[int, list[tuple[int, float]]]:
    """Fills `points` (one empty list per series id) from the rows of [start, end) and returns it."""
    series_ids = list(points)
    where = (f"tenant_id = %s AND series_id IN ({','.join(['%s'] * len(series_ids))})"
             " AND bucket_ts >= %s AND bucket_ts < %s")
    params = [step_ms, tenant_id, *series_ids, start_ms, end_ms]
    table = TABLES[resolution]
    if aggregation == "last":
        await cursor.execute(f"SELECT series_id, bucket_ts DIV %s, last_value FROM {table}"
                             f" WHERE {where} ORDER BY series_id, last_ts", params)
    else:
        await cursor.execute(f"SELECT series_id, bucket_ts DIV %s AS bucket, {_AGGREGATIONS[aggregation]}"
                             f" FROM {table} WHERE {where} GROUP BY series_id, bucket ORDER BY series_id, bucket",
                             params)
    while rows := await cursor.fetchmany(_FETCH_ROWS):
        for series_id, bucket, value in rows:
            series_points = points[series_id]
            if series_points and series_points[-1][0] == bucket * step_ms:
                series_points[-1] = (bucket * step_ms, float(value))  # rows of `last` come in time order
            else:
                series_points.append((bucket * step_ms, float(value)))
    return points
