"""Rollup rows (samples_1m, samples_5m) of a range, as numpy columns of all series back to back.

Rows are not sent one by one: MariaDB concatenates each series' bucket starts and the columns the
aggregation needs into texts (GROUP_CONCAT) and numpy parses them; decoding a row per bucket in
Python cost ten times more than the statement. A DOUBLE prints as its shortest round-trip decimal,
so nothing is lost. Each column's texts are joined and parsed at once by store.reads.numbers_of
(the raw head's parser too). The texts are concatenated in the order MariaDB reads the rows (no
ORDER BY: sorting there doubled the statement's time) and sorted here if need be. A text that
reached its length bound is detected, and the read is repeated with one row per bucket.

A small read (at most PLAIN_ROWS_AT_MOST rows, e.g. a day of one series at 1m, or each half of 100
series at 5m) asks for plain rows instead: the api's driver receives them in the binary protocol
(a prepared statement: no number printed by MariaDB nor parsed here) and numpy takes all their
numbers in one pass. MariaDB's GROUP_CONCAT printing was ~0.6 µs a row, more than the rows cost the
api; past the bound a row's Python objects (~150 bytes) would outweigh its text (~40).
"""

import itertools

import numpy as np

from microdash_core.store import reads

from .step_buckets import FIELD_OF_COLUMN, ROLLUP_COLUMNS, Rows, SeriesRows

TABLES = {"1m": "samples_1m", "5m": "samples_5m"}
BUCKET_MS = {"1m": 60_000, "5m": 300_000}
_FETCH_ROWS = 20_000
PLAIN_ROWS_AT_MOST = 20_000
_EXACT_BELOW = 2**53  # ids and epoch ms are integers a float64 holds exactly below this
_INTEGER_COLUMNS = ("bucket_ts", "sample_count")
_NO_ROWS = SeriesRows([], np.zeros(1, dtype=np.int64), Rows(np.empty(0, dtype=np.int64)))


def _where(series_ids: list[int]) -> str:
    return (f"tenant_id = %s AND series_id IN ({','.join(['%s'] * len(series_ids))})"
            " AND bucket_ts >= %s AND bucket_ts < %s")


async def read_rollup_rows(cursor, *, resolution: str, aggregation: str, tenant_id: int, series_ids: list[int],
                           start_ms: int, end_ms: int, rows_at_most: int | None = None) -> SeriesRows:
    """The rows with start_ms <= bucket_ts < end_ms of each series that has some, in bucket order,
    with the columns `aggregation` needs. On an asyncmy cursor. rows_at_most: an upper bound of the
    rows the read can find (None: unknown)."""
    columns = ROLLUP_COLUMNS[aggregation]
    params = [tenant_id, *series_ids, start_ms, end_ms]
    if rows_at_most is not None and rows_at_most <= PLAIN_ROWS_AT_MOST:
        await cursor.execute(f"SELECT series_id, bucket_ts, {', '.join(columns)} FROM {TABLES[resolution]}"
                             f" WHERE {_where(series_ids)}", params)
        return _from_plain_rows(columns, await cursor.fetchall())
    texts = ", ".join(f"GROUP_CONCAT({column})" for column in ("bucket_ts", *columns))
    await cursor.execute(f"SET STATEMENT group_concat_max_len={reads.TEXT_BOUND} FOR"
                         f" SELECT series_id, COUNT(*), {texts} FROM {TABLES[resolution]}"
                         f" WHERE {_where(series_ids)} GROUP BY series_id", params)
    found = _parsed(await cursor.fetchall(), columns)
    if found is not None:
        return found
    await cursor.execute(f"SELECT series_id, bucket_ts, {', '.join(columns)} FROM {TABLES[resolution]}"
                         f" WHERE {_where(series_ids)} ORDER BY series_id, bucket_ts", params)
    return _from_rows(columns, await _all_rows(cursor))


def _from_plain_rows(columns: tuple[str, ...], rows: list[tuple]) -> SeriesRows:
    """Rows (series_id, bucket_ts, *columns) in any order, every number taken by numpy at once."""
    if not rows:
        return _NO_ROWS
    width = 2 + len(columns)
    table = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.float64, count=len(rows) * width)
    table = table.reshape(len(rows), width)
    if not np.abs(table[:, :2]).max() < _EXACT_BELOW:
        return _from_rows(columns, sorted(rows))
    ids, ts = table[:, 0].astype(np.int64), table[:, 1].astype(np.int64)
    if not ((ids[1:] > ids[:-1]) | ((ids[1:] == ids[:-1]) & (ts[1:] > ts[:-1]))).all():
        order = np.lexsort((ts, ids))  # the key's order is usual, not promised without ORDER BY
        table, ids, ts = table[order], ids[order], ts[order]
    firsts = np.flatnonzero(np.concatenate(([True], ids[1:] != ids[:-1])))
    fields = {FIELD_OF_COLUMN[column]: table[:, 2 + n].astype(np.int64 if column in _INTEGER_COLUMNS else np.float64)
              for n, column in enumerate(columns)}
    return SeriesRows(ids[firsts].tolist(), np.concatenate((firsts, [len(rows)])), Rows(ts, **fields))


def _parsed(groups, columns: tuple[str, ...]) -> SeriesRows | None:
    """Every series' texts of a column joined and parsed at once (per-series calls cost more than
    the parsing); None when a text reached its bound (read rows instead)."""
    if not groups:
        return _NO_ROWS
    counts = np.fromiter((group[1] for group in groups), dtype=np.int64, count=len(groups))
    offsets = np.concatenate(([0], np.cumsum(counts)))
    parsed = []
    for n, column in enumerate(("bucket_ts", *columns)):
        texts = [group[2 + n] for group in groups]
        if any(text is None or len(text) >= reads.TEXT_BOUND for text in texts):
            return None
        joined = (b"," if isinstance(texts[0], bytes) else ",").join(texts)
        try:
            values = reads.numbers_of(joined, np.int64 if column in _INTEGER_COLUMNS else np.float64)
        except reads.TextBoundReached:
            return None
        if values.size != offsets[-1]:
            return None  # a text cut at the bound holds fewer numbers than its group has rows
        parsed.append(values)
    ts, *values = parsed
    _sort_unordered_series(offsets, ts, values)
    fields = {FIELD_OF_COLUMN[column]: column_values for column, column_values in zip(columns, values)}
    return SeriesRows([group[0] for group in groups], offsets, Rows(ts, **fields))


def _sort_unordered_series(offsets: np.ndarray, ts: np.ndarray, columns: list[np.ndarray]) -> None:
    """GROUP_CONCAT keeps MariaDB's reading order (usually the key's, but not promised): sort, in
    place, each series whose timestamps do not ascend."""
    descents = np.flatnonzero(ts[1:] <= ts[:-1]) + 1
    if not descents.size:
        return  # the usual case: every series in order
    descents = descents[~np.isin(descents, offsets)]  # a series boundary is no descent
    for n in np.unique(np.searchsorted(offsets, descents, side="right") - 1).tolist():
        a, b = int(offsets[n]), int(offsets[n + 1])
        order = np.argsort(ts[a:b], kind="stable")
        ts[a:b] = ts[a:b][order]
        for column in columns:
            column[a:b] = column[a:b][order]


async def _all_rows(cursor) -> list[tuple]:
    rows: list[tuple] = []
    while batch := await cursor.fetchmany(_FETCH_ROWS):
        rows.extend(batch)
    return rows


def _from_rows(columns: tuple[str, ...], rows: list[tuple]) -> SeriesRows:
    if not rows:
        return _NO_ROWS
    ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    ts = np.fromiter((row[1] for row in rows), dtype=np.int64, count=len(rows))
    parsed = [np.fromiter((float(row[2 + n]) for row in rows), dtype=np.float64, count=len(rows))
              for n in range(len(columns))]
    firsts = np.flatnonzero(np.concatenate(([True], ids[1:] != ids[:-1])))
    return SeriesRows(ids[firsts].tolist(), np.concatenate((firsts, [len(rows)])),
                      Rows(ts, **{FIELD_OF_COLUMN[column]: values for column, values in zip(columns, parsed)}))
