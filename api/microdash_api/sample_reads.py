"""Sample reads for PromQL: series ids and a time range in, one pair of numpy arrays per series out.

This is the only module that knows where samples live (the raw `samples` table and the 1m/5m
rollups); issue 13 moves them to a chunked store behind the same function. A rollup resolution
yields each bucket's last sample at its own timestamp (`last_ts`, `last_value`): a thinned copy
of the raw series, never a made-up point.

Rows are not sent one by one: MariaDB concatenates each series-hour's timestamps and values into
two texts (GROUP_CONCAT) and numpy parses them, about ten times faster than decoding a row per
sample in Python. MariaDB prints a DOUBLE as its shortest round-trip decimal, so nothing is lost.
A text that reached its length bound is detected and that read falls back to one row per sample.
Every statement runs under MariaDB's max_statement_time, so a slow read ends with
SampleReadTimeout instead of holding the query; the samples are counted before they are read.
"""

from dataclasses import dataclass
from typing import Literal

import aiomysql
import numpy as np
import pymysql

Resolution = Literal["raw", "1m", "5m"]
BUCKET_MS = {"1m": 60_000, "5m": 300_000}
_STATEMENT_TIMEOUT_ERRORS = (1969, 3024)  # MariaDB, MySQL: max_statement_time exceeded
_CHUNK_MS = 3_600_000
_TEXT_BOUND = 16 * 1024 * 1024  # within MariaDB's default max_allowed_packet
_FETCH_ROWS = 20_000


class SampleBudgetExceeded(Exception):
    """More samples than the caller's budget would be loaded."""


class SampleReadTimeout(Exception):
    """A read ran past its time budget."""


@dataclass(frozen=True)
class TimeRange:
    """Samples with start_ms < ts <= end_ms, as PromQL's selectors see them."""
    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class _Table:
    name: str
    ts: str
    value: str
    order: str


_TABLES = {"raw": _Table("samples", "ts", "value", "ts"),
           "1m": _Table("samples_1m", "last_ts", "last_value", "bucket_ts"),
           "5m": _Table("samples_5m", "last_ts", "last_value", "bucket_ts")}
Arrays = tuple[np.ndarray, np.ndarray]


async def read_samples(pool: aiomysql.Pool, *, tenant_id: int, series_ids: list[int], span: TimeRange,
                       resolution: Resolution, max_samples: int, timeout_seconds: float) -> dict[int, Arrays]:
    """(timestamps int64 ms ascending, values float64) per series id that has samples in the span.
    Raises SampleBudgetExceeded past max_samples and SampleReadTimeout past timeout_seconds."""
    if not series_ids or span.end_ms <= span.start_ms:
        return {}
    table = _TABLES[resolution]
    where, params = _where(table, tenant_id, series_ids, span, resolution)
    timeout = f"max_statement_time={max(timeout_seconds, 0.001):.3f}"
    async with pool.acquire() as connection, connection.cursor() as cursor:
        try:
            await cursor.execute(f"SET STATEMENT {timeout} FOR SELECT COUNT(*) FROM {table.name} WHERE {where}", params)
            (count,), = await cursor.fetchall()
            if count > max_samples:
                raise SampleBudgetExceeded(f"more than {max_samples} samples")
            if count == 0:
                return {}
            found = await _read_as_texts(cursor, table, where, params, timeout)
            return found if found is not None else await _read_as_rows(cursor, table, where, params, timeout)
        except pymysql.err.OperationalError as exc:
            if exc.args and exc.args[0] in _STATEMENT_TIMEOUT_ERRORS:
                raise SampleReadTimeout(str(exc)) from exc
            raise


def _where(table: _Table, tenant_id: int, series_ids: list[int], span: TimeRange, resolution: Resolution):
    placeholders = ",".join(["%s"] * len(series_ids))
    where = f"tenant_id = %s AND series_id IN ({placeholders}) AND {table.ts} > %s AND {table.ts} <= %s"
    params = [tenant_id, *series_ids, span.start_ms, span.end_ms]
    if resolution != "raw":  # the bucket bounds let the primary key narrow the scan
        where += " AND bucket_ts >= %s AND bucket_ts <= %s"
        params += [span.start_ms - span.start_ms % BUCKET_MS[resolution], span.end_ms]
    return where, params


async def _read_as_texts(cursor, table: _Table, where: str, params: list, timeout: str) -> dict[int, Arrays] | None:
    order = f"ORDER BY {table.order} SEPARATOR ','"
    await cursor.execute(
        f"SET STATEMENT {timeout}, group_concat_max_len={_TEXT_BOUND} FOR"
        f" SELECT series_id, COUNT(*), GROUP_CONCAT({table.ts} {order}), GROUP_CONCAT({table.value} {order})"
        f" FROM {table.name} WHERE {where} GROUP BY series_id, {table.order} DIV {_CHUNK_MS}"
        f" ORDER BY series_id, {table.order} DIV {_CHUNK_MS}", params)
    parts: dict[int, list[Arrays]] = {}
    for series_id, count, ts_text, value_text in await cursor.fetchall():
        if ts_text is None or value_text is None or max(len(ts_text), len(value_text)) >= _TEXT_BOUND:
            return None
        timestamps = np.fromstring(ts_text, dtype=np.int64, sep=",")
        values = np.array(value_text.split(","), dtype=np.float64)
        if len(timestamps) != count or len(values) != count:
            return None
        parts.setdefault(series_id, []).append((timestamps, values))
    return {series_id: _joined(pairs) for series_id, pairs in parts.items()}


async def _read_as_rows(cursor, table: _Table, where: str, params: list, timeout: str) -> dict[int, Arrays]:
    await cursor.execute(f"SET STATEMENT {timeout} FOR SELECT series_id, {table.ts}, {table.value}"
                         f" FROM {table.name} WHERE {where} ORDER BY series_id, {table.order}", params)
    rows: list[tuple] = []
    while batch := await cursor.fetchmany(_FETCH_ROWS):
        rows.extend(batch)
    if not rows:
        return {}
    ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    timestamps = np.fromiter((row[1] for row in rows), dtype=np.int64, count=len(rows))
    values = np.fromiter((row[2] for row in rows), dtype=np.float64, count=len(rows))
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    ends = np.r_[starts[1:], len(rows)]
    return {int(ids[a]): (timestamps[a:b].copy(), values[a:b].copy()) for a, b in zip(starts, ends)}


def _joined(pairs: list[Arrays]) -> Arrays:
    if len(pairs) == 1:
        return pairs[0]
    return np.concatenate([ts for ts, _ in pairs]), np.concatenate([vs for _, vs in pairs])
