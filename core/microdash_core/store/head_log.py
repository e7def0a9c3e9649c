"""Appending to the head's log (`sample_log`, docs/storage.md "The head"): one compressed row
per stored batch, as the worker writes it and as compaction re-writes the samples it leaves in
the log. Each row also says the most samples one series has in it (`series_max`), so that a
read's budget can bound what the log gives a few series without decoding it."""

import numpy as np

from microdash_core.chunks import batch

INSERT = ("INSERT INTO sample_log (tenant_id, first_ts, last_ts, sample_count, series_max, data)"
          " VALUES (%s, %s, %s, %s, %s, %s)")
INSERT_AT = ("INSERT INTO sample_log (tenant_id, id, written_at, first_ts, last_ts, sample_count, series_max, data)"
             " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)")


def row_fields(series_ids: np.ndarray, timestamps: np.ndarray, values: np.ndarray) -> tuple[int, int, int, int, bytes]:
    """(first_ts, last_ts, sample_count, series_max, data) of one row of 1..MAX_BATCH_SAMPLES samples."""
    blob = batch.encode(series_ids, timestamps, values)  # checks the shapes and the count first
    _unique, counts = np.unique(series_ids, return_counts=True)
    return int(timestamps.min()), int(timestamps.max()), int(timestamps.size), int(counts.max()), blob


def pieces(series_ids: np.ndarray, timestamps: np.ndarray, values: np.ndarray):
    """The samples as row fields, MAX_BATCH_SAMPLES at most each, in input order."""
    for start in range(0, timestamps.size, batch.MAX_BATCH_SAMPLES):
        piece = slice(start, start + batch.MAX_BATCH_SAMPLES)
        yield row_fields(series_ids[piece], timestamps[piece], values[piece])


def append(cursor, tenant_id: int, series_ids: np.ndarray, timestamps: np.ndarray, values: np.ndarray) -> int:
    """The samples as log rows (in the caller's transaction; readable at its COMMIT); returns the
    last row's id."""
    for fields in pieces(series_ids, timestamps, values):
        cursor.execute(INSERT, (tenant_id, *fields))
    return cursor.lastrowid
