"""Rollup rows aggregated per step bucket by MariaDB: for reads too large to bring into the api.

The same answers as step_buckets (tests/test_query_rollup_reads.py compares them): sums over the
rows in bucket order, avg as the total sum over the total count, never an average of averages.
"""

import numpy as np

from .rollup_rows import TABLES
from .step_buckets import Points

_AGGREGATIONS = {"avg": "SUM(value_sum) / SUM(sample_count)", "min": "MIN(value_min)", "max": "MAX(value_max)",
                 "sum": "SUM(value_sum)", "count": "SUM(sample_count)"}
_FETCH_ROWS = 20_000


async def aggregated_by_mariadb(cursor, *, resolution: str, aggregation: str, tenant_id: int, series_ids: list[int],
                                start_ms: int, end_ms: int, step_ms: int) -> dict[int, Points]:
    """(bucket starts, values) per series that has rows in [start, end)."""
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
    found: dict[int, tuple[list[int], list[float]]] = {}
    while rows := await cursor.fetchmany(_FETCH_ROWS):
        for series_id, bucket, value in rows:
            starts, values = found.setdefault(series_id, ([], []))
            if starts and starts[-1] == bucket * step_ms:
                values[-1] = float(value)  # rows of `last` come in time order: the latest wins
            else:
                starts.append(bucket * step_ms)
                values.append(float(value))
    return {series_id: (np.array(starts, dtype=np.int64), np.array(values, dtype=np.float64))
            for series_id, (starts, values) in found.items()}
