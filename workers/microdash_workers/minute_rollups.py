"""1-minute rollup rows from raw sample arrays (those of microdash_core.store.reads), with numpy.

The rows equal what MariaDB's GROUP BY over the `samples` rows gave, bit for bit: the sum of a
minute adds its values one by one in time order, starting from 0.0, as SUM() does (numpy's
np.add.reduceat sums pairwise, which can differ in the last bit); min and max are exact whichever
the order; `last` is the sample with the greatest timestamp (reads give each series' samples
sorted by time, one per timestamp).
"""

from dataclasses import dataclass

import numpy as np

from microdash_core.store.reads import Arrays

MINUTE_MS = 60_000
FIVE_MINUTES_MS = 5 * MINUTE_MS
ROWS_PER_INSERT = 5_000

INSERT_SQL = (
    "INSERT INTO {table} (tenant_id, series_id, bucket_ts, sample_count, value_sum, value_min, value_max,"
    " last_value, last_ts) VALUES {rows}"
    " ON DUPLICATE KEY UPDATE sample_count = VALUES(sample_count), value_sum = VALUES(value_sum),"
    " value_min = VALUES(value_min), value_max = VALUES(value_max), last_value = VALUES(last_value),"
    " last_ts = VALUES(last_ts)"
)


@dataclass(frozen=True)
class MinuteRows:
    """One entry per (series, bucket), columns as in samples_1m and samples_5m."""
    series_id: np.ndarray
    bucket_ts: np.ndarray
    sample_count: np.ndarray
    value_sum: np.ndarray
    value_min: np.ndarray
    value_max: np.ndarray
    last_value: np.ndarray
    last_ts: np.ndarray

    def __len__(self) -> int:
        return len(self.bucket_ts)


_COLUMNS = tuple(MinuteRows.__dataclass_fields__)


def minute_rows(found: dict[int, Arrays], minutes: np.ndarray) -> MinuteRows:
    """The 1m rows of the given minutes (bucket starts, ms) for the series in `found`; minutes
    without samples give no row."""
    if not found:
        return _empty_rows()
    series_ids = np.fromiter(found.keys(), dtype=np.int64, count=len(found))
    lengths = np.fromiter((len(ts) for ts, _vs in found.values()), dtype=np.int64, count=len(found))
    ts = np.concatenate([pair[0] for pair in found.values()])
    vs = np.concatenate([pair[1] for pair in found.values()])
    owner = np.repeat(series_ids, lengths)
    if not _covers(minutes, ts):
        wanted = _members(ts - ts % MINUTE_MS, minutes)
        ts, vs, owner = ts[wanted], vs[wanted], owner[wanted]
    return _rows_of(owner, ts, vs, _bucket_starts(owner, ts))


def five_minute_rows(one_minute: MinuteRows, buckets: np.ndarray) -> MinuteRows:
    """The 5m rows of the given 5m buckets (sorted starts, ms) from 1m rows that hold every minute
    of them (grouped by series, in time order, as minute_rows gives them); as the SQL rollup
    computes them from samples_1m: counts and sums of the minutes (sums left to right), min, max,
    and `last` from the minute holding the greatest timestamp."""
    five = one_minute.bucket_ts - one_minute.bucket_ts % FIVE_MINUTES_MS
    wanted = _members(five, buckets)
    if not wanted.all():
        one_minute = MinuteRows(*(getattr(one_minute, name)[wanted] for name in _COLUMNS))
        five = five[wanted]
    if not len(five):
        return _empty_rows()
    owner = one_minute.series_id
    starts = np.concatenate(([0], np.flatnonzero((owner[1:] != owner[:-1]) | (five[1:] != five[:-1])) + 1))
    ends = np.append(starts[1:], len(five))
    last = ends - 1
    return MinuteRows(
        series_id=owner[starts], bucket_ts=five[starts],
        sample_count=np.add.reduceat(one_minute.sample_count, starts),
        value_sum=sequential_sums(one_minute.value_sum, starts, ends - starts),
        value_min=np.minimum.reduceat(one_minute.value_min, starts),
        value_max=np.maximum.reduceat(one_minute.value_max, starts),
        last_value=one_minute.last_value[last], last_ts=one_minute.last_ts[last])


def _covers(minutes: np.ndarray, ts: np.ndarray) -> bool:
    """Whether every sample falls in one of the (sorted) minutes: they run without a gap from the
    earliest sample's minute to the latest's. The usual case: a backlog, or the last minute or two."""
    if not len(ts) or not len(minutes):
        return not len(ts)
    contiguous = minutes[-1] - minutes[0] == (len(minutes) - 1) * MINUTE_MS
    return bool(contiguous and minutes[0] <= ts.min() and ts.max() < minutes[-1] + MINUTE_MS)


def _members(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """values in sorted_set, as a mask (np.isin sorts both sides; this does not sort the values)."""
    if not len(sorted_set):
        return np.zeros(len(values), dtype=bool)
    at = np.searchsorted(sorted_set, values).clip(max=len(sorted_set) - 1)
    return sorted_set[at] == values


def _bucket_starts(owner: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Index of each (series, minute)'s first sample: samples are grouped by series, in time order."""
    if not len(ts):
        return np.empty(0, dtype=np.int64)
    minute = ts - ts % MINUTE_MS
    changes = (owner[1:] != owner[:-1]) | (minute[1:] != minute[:-1])
    return np.concatenate(([0], np.flatnonzero(changes) + 1))


def _empty_rows() -> MinuteRows:
    empty_int, empty_float = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    return MinuteRows(empty_int, empty_int, empty_int, empty_float, empty_float, empty_float, empty_float, empty_int)


def _rows_of(owner: np.ndarray, ts: np.ndarray, vs: np.ndarray, starts: np.ndarray) -> MinuteRows:
    if not len(starts):
        return _empty_rows()
    ends = np.append(starts[1:], len(ts))
    counts = ends - starts
    last = ends - 1
    return MinuteRows(
        series_id=owner[starts], bucket_ts=ts[starts] - ts[starts] % MINUTE_MS, sample_count=counts,
        value_sum=sequential_sums(vs, starts, counts), value_min=np.minimum.reduceat(vs, starts),
        value_max=np.maximum.reduceat(vs, starts), last_value=vs[last], last_ts=ts[last])


def sequential_sums(values: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The sum of each segment values[start:start+count], added left to right from 0.0 (as SQL's
    SUM() does). Vectorised across segments: step k adds the k-th value of every segment longer than
    k, so the work is one pass over the values plus one numpy call per step of the longest segment."""
    order = np.argsort(-counts, kind="stable")
    longest_first = counts[order]
    firsts = starts[order]
    totals = values[firsts] + 0.0  # 0.0 + x, as SUM() starts: -0.0 sums to 0.0
    # segments still running at step k: the first `running[k]` of longest_first
    running = np.searchsorted(-longest_first, -np.arange(1, longest_first[0]), side="left")
    for k, active in enumerate(running.tolist(), start=1):
        totals[:active] += values[firsts[:active] + k]
    sums = np.empty_like(totals)
    sums[order] = totals
    return sums


def insert_statements(table: str, tenant_id: int, rows: MinuteRows) -> list[str]:
    """Multi-row INSERT ... ON DUPLICATE KEY UPDATE statements writing the rows (numbers only, so
    the statement text is built here). A double prints as its shortest round-trip repr; MariaDB
    reads "2.5" as a DECIMAL and converts it with a correctly rounded strtod, so it stores the very
    same double (tests/test_rollups_from_chunks.py checks extreme values)."""
    columns = zip(rows.series_id.tolist(), rows.bucket_ts.tolist(), rows.sample_count.tolist(),
                  rows.value_sum.tolist(), rows.value_min.tolist(), rows.value_max.tolist(),
                  rows.last_value.tolist(), rows.last_ts.tolist())
    tenant = int(tenant_id)
    texts = [f"({tenant},{s},{b},{n},{total!r},{lo!r},{hi!r},{last!r},{last_ts})"
             for s, b, n, total, lo, hi, last, last_ts in columns]
    return [INSERT_SQL.format(table=table, rows=",".join(texts[i:i + ROWS_PER_INSERT]))
            for i in range(0, len(texts), ROWS_PER_INSERT)]
