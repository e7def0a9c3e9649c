"""Sample reads for PromQL: series ids and a time range in, one pair of numpy arrays per series out.

This is the api's only module that knows where samples live. Raw samples are read through
microdash_core.store.reads (sealed chunks plus the head, one statement, so one snapshot); the 1m
and 5m rollups from their tables here. A rollup resolution yields each bucket's last sample at
its own timestamp (`last_ts`, `last_value`): a thinned copy of the raw series, never a made-up
point.

Rollup rows are not sent one by one: MariaDB concatenates each series-hour's timestamps and
values into two texts (GROUP_CONCAT), parsed by store.reads' parse_texts (the technique and its
bound are described there); a text that reached its bound makes that read fall back to one row
per sample. Every statement runs under MariaDB's max_statement_time, so a slow read ends with
SampleReadTimeout instead of holding the query; the samples are counted before they are read.
"""

from dataclasses import dataclass
from typing import Literal

import numpy as np
from asyncmy.errors import OperationalError

from microdash_core.store import reads

from .raw_samples import TooManySamples, read_raw_samples
from .sql import Pool, execute_as_text

Resolution = Literal["raw", "1m", "5m"]
BUCKET_MS = {"1m": 60_000, "5m": 300_000}
_STATEMENT_TIMEOUT_ERRORS = (1969, 3024)  # MariaDB, MySQL: max_statement_time exceeded
_GROUP_MS = 3_600_000
_FETCH_ROWS = 20_000
Arrays = reads.Arrays


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
class _Rollup:
    name: str
    width_ms: int


_ROLLUPS = {"1m": _Rollup("samples_1m", BUCKET_MS["1m"]), "5m": _Rollup("samples_5m", BUCKET_MS["5m"])}


async def read_samples(pool: Pool, *, tenant_id: int, series_ids: list[int], span: TimeRange,
                       resolution: Resolution, max_samples: int, timeout_seconds: float) -> dict[int, Arrays]:
    """(timestamps int64 ms ascending, values float64) per series id that has samples in the span.
    Raises SampleBudgetExceeded past max_samples, SampleReadTimeout past timeout_seconds and
    raw_samples.SampleDecodeError for a chunk that cannot be decoded."""
    if not series_ids or span.end_ms <= span.start_ms:
        return {}
    async with pool.acquire() as connection, connection.cursor() as cursor:
        try:
            if resolution == "raw":
                return await _read_raw(cursor, tenant_id, series_ids, span, max_samples, timeout_seconds)
            return await _read_rollup(cursor, _ROLLUPS[resolution], tenant_id, series_ids, span, max_samples,
                                      timeout_seconds)
        except OperationalError as exc:
            if exc.args and exc.args[0] in _STATEMENT_TIMEOUT_ERRORS:
                raise SampleReadTimeout(str(exc)) from exc
            raise


async def _read_raw(cursor, tenant_id: int, series_ids: list[int], span: TimeRange, max_samples: int,
                    timeout_seconds: float) -> dict[int, Arrays]:
    try:
        return await read_raw_samples(cursor, tenant_id=tenant_id, series_ids=series_ids, max_samples=max_samples,
                                      span=reads.Span.left_open(span.start_ms, span.end_ms),
                                      timeout_seconds=timeout_seconds)
    except TooManySamples as exc:
        raise SampleBudgetExceeded(f"more than {max_samples} samples") from exc


def _within_budget(count: int, max_samples: int) -> bool:
    """False when there is nothing to read; raises past the budget."""
    if count > max_samples:
        raise SampleBudgetExceeded(f"more than {max_samples} samples")
    return count > 0


async def _read_rollup(cursor, table: _Rollup, tenant_id: int, series_ids: list[int], span: TimeRange,
                       max_samples: int, timeout_seconds: float) -> dict[int, Arrays]:
    placeholders = ",".join(["%s"] * len(series_ids))
    # the bucket bounds let the primary key narrow the scan
    where = (f"tenant_id = %s AND series_id IN ({placeholders}) AND last_ts > %s AND last_ts <= %s"
             " AND bucket_ts >= %s AND bucket_ts <= %s")
    params = [tenant_id, *series_ids, span.start_ms, span.end_ms, span.start_ms - span.start_ms % table.width_ms,
              span.end_ms]
    timeout = f"max_statement_time={max(timeout_seconds, 0.001):.3f}"
    await execute_as_text(cursor, f"SET STATEMENT {timeout} FOR SELECT COUNT(*) FROM {table.name} WHERE {where}",
                          params)
    (count,), = await cursor.fetchall()
    if not _within_budget(count, max_samples):
        return {}
    found = await _rollup_as_texts(cursor, table, where, params, timeout)
    return found if found is not None else await _rollup_as_rows(cursor, table, where, params, timeout)


async def _rollup_as_texts(cursor, table: _Rollup, where: str, params: list, timeout: str) -> dict[int, Arrays] | None:
    order = "ORDER BY bucket_ts SEPARATOR ','"
    await execute_as_text(
        cursor, f"SET STATEMENT {timeout}, group_concat_max_len={reads.TEXT_BOUND} FOR"
        f" SELECT series_id, COUNT(*), GROUP_CONCAT(last_ts {order}), GROUP_CONCAT(last_value {order})"
        f" FROM {table.name} WHERE {where} GROUP BY series_id, bucket_ts DIV {_GROUP_MS}"
        f" ORDER BY series_id, bucket_ts DIV {_GROUP_MS}", params)
    parts: dict[int, list[Arrays]] = {}
    for series_id, count, ts_text, value_text in await cursor.fetchall():
        try:
            timestamps, values = reads.parse_texts(ts_text, value_text)
        except reads.TextBoundReached:
            return None
        if len(timestamps) != count:
            return None
        parts.setdefault(series_id, []).append((timestamps, values))
    return {series_id: _joined(pairs) for series_id, pairs in parts.items()}


async def _rollup_as_rows(cursor, table: _Rollup, where: str, params: list, timeout: str) -> dict[int, Arrays]:
    await execute_as_text(cursor, f"SET STATEMENT {timeout} FOR SELECT series_id, last_ts, last_value"
                                  f" FROM {table.name} WHERE {where} ORDER BY series_id, bucket_ts", params)
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
