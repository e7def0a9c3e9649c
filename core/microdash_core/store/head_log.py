"""Appending to the head's log (`sample_log`, docs/storage.md "The head"): compressed rows, one
per (stored batch, series bucket), as the worker writes them and as compaction re-writes the
samples it leaves in the log. A series' bucket is series_id % BUCKETS, so a read of a few series
loads only the rows of their buckets (the log holds every series of a tenant). Each row also says
the most samples one series has in it (`series_max`), so that a read's budget can bound what the
log gives a few series without decoding it."""

from typing import Iterable, Iterator

import numpy as np

from microdash_core import db
from microdash_core.chunks import batch
from microdash_core.chunks.errors import ChunkError

# Buckets per tenant (docs/storage.md): a read of n series loads at most n/BUCKETS of the log;
# each stored batch costs up to BUCKETS rows (a 5,000-series batch: ~78 samples a row).
BUCKETS = 64
_COLUMNS = ("tenant_id", "bucket", "first_ts", "last_ts", "sample_count", "series_max", "data")
INSERT_AT = ("INSERT INTO sample_log (tenant_id, id, written_at, bucket, first_ts, last_ts, sample_count, series_max,"
             " data) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)")


def buckets_of(series_ids: Iterable[int] | None) -> list[int]:
    """The buckets whose log rows can hold these series (every bucket for None)."""
    if series_ids is None:
        return list(range(BUCKETS))
    return sorted({int(series_id) % BUCKETS for series_id in series_ids})


def by_bucket(series_ids: np.ndarray, *columns: np.ndarray) -> Iterator[tuple[int, np.ndarray, tuple]]:
    """(bucket, series_ids, columns) of each bucket the series fall in, every column in input
    order (a later sample of a (series, ts) stays later)."""
    if not series_ids.size:
        return
    order, ordered, starts, ends = _bucket_runs(series_ids)
    for start, end in zip(starts.tolist(), ends.tolist()):
        taken = order[start:end]
        yield int(ordered[start]), series_ids[taken], tuple(column[taken] for column in columns)


def _bucket_runs(series_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(order, the buckets in that order, where each bucket's run starts and ends in it): the
    samples (at least one) sorted by bucket, stably."""
    buckets = series_ids % BUCKETS
    order = np.argsort(buckets, kind="stable")
    ordered = buckets[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    return order, ordered, starts, np.append(starts[1:], ordered.size)


def row_fields(series_ids: np.ndarray, timestamps: np.ndarray, values: np.ndarray) -> tuple[int, int, int, int, bytes]:
    """(first_ts, last_ts, sample_count, series_max, data) of one row of 1..MAX_BATCH_SAMPLES samples."""
    blob = batch.encode(series_ids, timestamps, values)  # checks the shapes and the count first
    _unique, counts = np.unique(series_ids, return_counts=True)
    return int(timestamps.min()), int(timestamps.max()), int(timestamps.size), int(counts.max()), blob


def pieces(series_ids: np.ndarray, timestamps: np.ndarray, values: np.ndarray):
    """The samples (all of one bucket) as row fields, MAX_BATCH_SAMPLES at most each, in input order."""
    for start in range(0, timestamps.size, batch.MAX_BATCH_SAMPLES):
        piece = slice(start, start + batch.MAX_BATCH_SAMPLES)
        yield row_fields(series_ids[piece], timestamps[piece], values[piece])


def bucketed_rows(series_ids: np.ndarray, timestamps: np.ndarray, values: np.ndarray):
    """(bucket, *row_fields) of every row the samples make: per bucket, in input order."""
    if series_ids.shape != timestamps.shape or series_ids.shape != values.shape:
        raise ChunkError("series ids, timestamps and values differ in length")
    if not series_ids.size:
        return
    order, ordered, starts, ends = _bucket_runs(series_ids)
    if int((ends - starts).max()) > batch.MAX_BATCH_SAMPLES:  # a bucket split over rows: per piece
        for bucket, sids, (ts, vs) in by_bucket(series_ids, timestamps, values):
            for fields in pieces(sids, ts, vs):
                yield (bucket, *fields)
        return
    yield from _one_row_per_bucket(series_ids, timestamps, values, order, ordered, starts, ends)


def _one_row_per_bucket(series_ids, timestamps, values, order, ordered, starts, ends):
    """bucketed_rows when no bucket holds more than a row's samples: every row's fields found by a
    few numpy calls over the whole batch (per bucket, numpy's small-array overhead cost more than
    compressing it)."""
    rows = batch.rows_of(series_ids[order], timestamps[order], values[order])
    firsts = np.minimum.reduceat(rows["ts"], starts)
    lasts = np.maximum.reduceat(rows["ts"], starts)
    distinct, counts = np.unique(series_ids, return_counts=True)
    series_max = np.zeros(BUCKETS, dtype=np.int64)
    np.maximum.at(series_max, distinct % BUCKETS, counts)
    for bucket, start, end, first_ts, last_ts in zip(ordered[starts].tolist(), starts.tolist(), ends.tolist(),
                                                     firsts.tolist(), lasts.tolist()):
        yield (bucket, first_ts, last_ts, end - start, int(series_max[bucket]),
               batch.encode_rows(rows[start:end], first_ts, last_ts))


def append(cursor, tenant_id: int, series_ids: np.ndarray, timestamps: np.ndarray, values: np.ndarray) -> int:
    """The samples as log rows (in the caller's transaction; readable at its COMMIT), in
    multi-row INSERTs of literals (db.insert_as_literals); returns the rows written."""
    return db.insert_as_literals(cursor, "sample_log", _COLUMNS,
                                 ((tenant_id, *row) for row in bucketed_rows(series_ids, timestamps, values)))
