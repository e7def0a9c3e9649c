"""One series' rows aggregated into step buckets with numpy: bucket starts and values out.

A row is a raw sample or a rollup bucket (which counts where it starts). The answers are the
ones the SQL aggregation gave before the store moved to chunks: the bucket is `ts DIV step`,
sums add the rows one by one in time order (np.bincount, like MariaDB's SUM of doubles, not
numpy's pairwise sum, so the last bit agrees too), avg is the sum over the count (the total of
rollup sums over the total of their counts, never an average of averages), last is the value of
the latest row.
"""

from dataclasses import dataclass

import numpy as np

Points = tuple[np.ndarray, np.ndarray]  # bucket starts (int64 ms), values (float64)
AGGREGATIONS = ("avg", "min", "max", "sum", "count", "last")


@dataclass(frozen=True)
class Rows:
    """One series' rows in time order; a column an aggregation does not use may be None. For raw
    samples every column but counts is the value and counts is None (one sample each)."""
    ts: np.ndarray
    sums: np.ndarray | None = None
    counts: np.ndarray | None = None
    mins: np.ndarray | None = None
    maxs: np.ndarray | None = None
    lasts: np.ndarray | None = None

    @classmethod
    def of_samples(cls, ts: np.ndarray, values: np.ndarray) -> "Rows":
        return cls(ts, sums=values, mins=values, maxs=values, lasts=values)


# The columns each aggregation reads, by their rollup table names.
ROLLUP_COLUMNS = {"avg": ("value_sum", "sample_count"), "sum": ("value_sum",), "count": ("sample_count",),
                  "min": ("value_min",), "max": ("value_max",), "last": ("last_value",)}
FIELD_OF_COLUMN = {"value_sum": "sums", "sample_count": "counts", "value_min": "mins", "value_max": "maxs",
                   "last_value": "lasts"}


@dataclass(frozen=True)
class SeriesRows:
    """Several series' rows back to back, each series' in time order: series_ids[n]'s rows are
    rows[offsets[n]:offsets[n + 1]] (offsets has one more entry than series_ids)."""
    series_ids: list[int]
    offsets: np.ndarray
    rows: Rows


def aggregate(rows: Rows, step_ms: int, aggregation: str) -> Points:
    """(bucket starts, values), one per step bucket that has rows; rows.ts must be ascending and >= 0."""
    if rows.ts.size == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    buckets = rows.ts // step_ms
    firsts = np.flatnonzero(np.concatenate(([True], buckets[1:] != buckets[:-1])))
    return buckets[firsts] * step_ms, _reduced(rows, firsts, aggregation)


def aggregate_series(batch: SeriesRows, step_ms: int, aggregation: str) -> dict[int, Points]:
    """aggregate() of every series of the batch, in one pass of numpy calls (not one per series:
    for 100 series of 288 rows the calls' overhead was most of the time). A bucket never spans two
    series, so each answer is the one aggregate() gives for that series alone."""
    rows = batch.rows
    if rows.ts.size == 0:
        return {}
    buckets = rows.ts // step_ms
    new_bucket = np.concatenate(([True], buckets[1:] != buckets[:-1]))
    series_starts = batch.offsets[:-1]
    new_bucket[series_starts[series_starts < rows.ts.size]] = True  # a series starts a bucket of its own
    firsts = np.flatnonzero(new_bucket)
    starts, values = buckets[firsts] * step_ms, _reduced(rows, firsts, aggregation)
    bounds = np.searchsorted(firsts, batch.offsets).tolist()
    return {series_id: (starts[bounds[n]:bounds[n + 1]], values[bounds[n]:bounds[n + 1]])
            for n, series_id in enumerate(batch.series_ids) if bounds[n] < bounds[n + 1]}


def _reduced(rows: Rows, firsts: np.ndarray, aggregation: str) -> np.ndarray:
    """One value per group of rows; the groups start at firsts."""
    if aggregation == "min":
        return np.minimum.reduceat(rows.mins, firsts)
    if aggregation == "max":
        return np.maximum.reduceat(rows.maxs, firsts)
    if aggregation == "last":
        return rows.lasts[np.concatenate((firsts[1:], [rows.ts.size])) - 1]
    if aggregation == "count":
        return _counts(rows, firsts)
    sums = _sequential_sums(rows.sums, firsts)
    if aggregation == "sum":
        return sums
    if aggregation == "avg":
        return sums / _counts(rows, firsts)
    raise ValueError(f"unknown aggregation {aggregation!r}")


def _counts(rows: Rows, firsts: np.ndarray) -> np.ndarray:
    if rows.counts is None:
        return np.diff(np.concatenate((firsts, [rows.ts.size]))).astype(np.float64)
    return _sequential_sums(rows.counts.astype(np.float64, copy=False), firsts)


def _sequential_sums(values: np.ndarray, firsts: np.ndarray) -> np.ndarray:
    if firsts.size == values.size:  # one row per bucket
        return values.astype(np.float64, copy=True)
    groups = np.zeros(values.size, dtype=np.intp)
    groups[firsts[1:]] = 1
    return np.bincount(np.cumsum(groups), weights=values, minlength=firsts.size)
