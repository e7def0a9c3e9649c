"""Sample reads for PromQL: series ids and a time range in, one pair of numpy arrays per series out.

This is the only module that knows where samples live (the raw `samples` table and the 1m/5m
rollups); issue 13 moves them to a chunked store behind the same function. A rollup resolution
yields each bucket's last sample at its own timestamp (`last_ts`, `last_value`): a thinned copy
of the raw series, never a made-up point. Every statement runs under MariaDB's
max_statement_time, so a slow read ends with SampleReadTimeout instead of holding the query.
"""

from dataclasses import dataclass
from typing import Literal

import aiomysql
import numpy as np
import pymysql

Resolution = Literal["raw", "1m", "5m"]
BUCKET_MS = {"1m": 60_000, "5m": 300_000}
_ROLLUP_TABLE = {"1m": "samples_1m", "5m": "samples_5m"}
_FETCH_ROWS = 20_000
_STATEMENT_TIMEOUT_ERRORS = (1969, 3024)  # MariaDB, MySQL: max_statement_time exceeded


class SampleBudgetExceeded(Exception):
    """More samples than the caller's budget would be loaded."""


class SampleReadTimeout(Exception):
    """A read ran past its time budget."""


@dataclass(frozen=True)
class TimeRange:
    """Samples with start_ms < ts <= end_ms, as PromQL's selectors see them."""
    start_ms: int
    end_ms: int


Arrays = tuple[np.ndarray, np.ndarray]


async def read_samples(pool: aiomysql.Pool, *, tenant_id: int, series_ids: list[int], span: TimeRange,
                       resolution: Resolution, max_samples: int, timeout_seconds: float) -> dict[int, Arrays]:
    """(timestamps int64 ms ascending, values float64) per series id that has samples in the span.
    Raises SampleBudgetExceeded past max_samples and SampleReadTimeout past timeout_seconds."""
    if not series_ids or span.end_ms <= span.start_ms:
        return {}
    sql, params = _statement(tenant_id, series_ids, span, resolution)
    sql = f"SET STATEMENT max_statement_time={max(timeout_seconds, 0.001):.3f} FOR {sql} LIMIT {max_samples + 1}"
    rows = await _fetch_all(pool, sql, params, max_samples)
    return _to_arrays(rows)


def _statement(tenant_id: int, series_ids: list[int], span: TimeRange, resolution: Resolution):
    placeholders = ",".join(["%s"] * len(series_ids))
    if resolution == "raw":
        return (f"SELECT series_id, ts, value FROM samples WHERE tenant_id = %s AND series_id IN ({placeholders})"
                " AND ts > %s AND ts <= %s ORDER BY series_id, ts",
                [tenant_id, *series_ids, span.start_ms, span.end_ms])
    first_bucket = span.start_ms - span.start_ms % BUCKET_MS[resolution]
    return (f"SELECT series_id, last_ts, last_value FROM {_ROLLUP_TABLE[resolution]}"
            f" WHERE tenant_id = %s AND series_id IN ({placeholders}) AND bucket_ts >= %s AND bucket_ts <= %s"
            " AND last_ts > %s AND last_ts <= %s ORDER BY series_id, bucket_ts",
            [tenant_id, *series_ids, first_bucket, span.end_ms, span.start_ms, span.end_ms])


async def _fetch_all(pool: aiomysql.Pool, sql: str, params: list, max_samples: int) -> list[tuple]:
    rows: list[tuple] = []
    try:
        async with pool.acquire() as connection, connection.cursor(aiomysql.SSCursor) as cursor:
            await cursor.execute(sql, params)
            while batch := await cursor.fetchmany(_FETCH_ROWS):
                rows.extend(batch)
                if len(rows) > max_samples:
                    raise SampleBudgetExceeded(f"more than {max_samples} samples")
    except pymysql.err.OperationalError as exc:
        if exc.args and exc.args[0] in _STATEMENT_TIMEOUT_ERRORS:
            raise SampleReadTimeout(str(exc)) from exc
        raise
    return rows


def _to_arrays(rows: list[tuple]) -> dict[int, Arrays]:
    if not rows:
        return {}
    ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    timestamps = np.fromiter((row[1] for row in rows), dtype=np.int64, count=len(rows))
    values = np.fromiter((row[2] for row in rows), dtype=np.float64, count=len(rows))
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    ends = np.r_[starts[1:], len(rows)]
    return {int(ids[a]): (timestamps[a:b].copy(), values[a:b].copy()) for a, b in zip(starts, ends)}
