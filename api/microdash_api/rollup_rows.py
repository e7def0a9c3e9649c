"""Rollup rows (samples_1m, samples_5m) of a range, as numpy columns per series.

Rows are not sent one by one: MariaDB concatenates each series' bucket starts and the columns the
aggregation needs into texts (GROUP_CONCAT) and numpy parses them; decoding a row per bucket in
Python cost ten times more than the statement. A DOUBLE prints as its shortest round-trip decimal,
so nothing is lost; store.reads.parse_numbers parses them, for the raw head's texts too. The texts are concatenated in the order MariaDB reads the rows (no ORDER BY:
sorting there doubled the statement's time) and sorted here. A text that reached its length bound
is detected by its count, and the read is repeated with one row per bucket.
"""

import numpy as np

from microdash_core.store import reads

from .step_buckets import FIELD_OF_COLUMN, ROLLUP_COLUMNS, Rows

TABLES = {"1m": "samples_1m", "5m": "samples_5m"}
BUCKET_MS = {"1m": 60_000, "5m": 300_000}
_FETCH_ROWS = 20_000
_INTEGER_COLUMNS = ("sample_count",)


def _where(series_ids: list[int]) -> str:
    return (f"tenant_id = %s AND series_id IN ({','.join(['%s'] * len(series_ids))})"
            " AND bucket_ts >= %s AND bucket_ts < %s")


async def read_rollup_rows(cursor, *, resolution: str, aggregation: str, tenant_id: int, series_ids: list[int],
                           start_ms: int, end_ms: int) -> dict[int, Rows]:
    """The rows with start_ms <= bucket_ts < end_ms of each series that has some, in bucket order,
    with the columns `aggregation` needs. On an aiomysql cursor."""
    columns = ROLLUP_COLUMNS[aggregation]
    params = [tenant_id, *series_ids, start_ms, end_ms]
    texts = ", ".join(f"GROUP_CONCAT({column})" for column in ("bucket_ts", *columns))
    await cursor.execute(f"SET STATEMENT group_concat_max_len={reads.TEXT_BOUND} FOR SELECT series_id, COUNT(*), {texts}"
                         f" FROM {TABLES[resolution]} WHERE {_where(series_ids)} GROUP BY series_id", params)
    found = _parsed(await cursor.fetchall(), columns)
    if found is not None:
        return found
    await cursor.execute(f"SELECT series_id, bucket_ts, {', '.join(columns)} FROM {TABLES[resolution]}"
                         f" WHERE {_where(series_ids)} ORDER BY series_id, bucket_ts", params)
    return _from_rows(columns, await _all_rows(cursor))


def _parsed(rows, columns: tuple[str, ...]) -> dict[int, Rows] | None:
    """The texts' columns per series; None when a text reached its bound (read rows instead)."""
    found = {}
    for series_id, count, ts_text, *column_texts in rows:
        try:
            ts = reads.parse_numbers(ts_text, np.int64)
            parsed = [reads.parse_numbers(text, np.int64 if column in _INTEGER_COLUMNS else np.float64)
                      for column, text in zip(columns, column_texts)]
        except reads.TextBoundReached:
            return None
        if ts.size != count or any(values.size != count for values in parsed):
            return None  # a text cut at the bound holds fewer numbers than the group has rows
        order = None if np.all(ts[1:] > ts[:-1]) else np.argsort(ts, kind="stable")
        if order is not None:
            ts, parsed = ts[order], [values[order] for values in parsed]
        found[series_id] = Rows(ts, **{FIELD_OF_COLUMN[column]: values for column, values in zip(columns, parsed)})
    return found


async def _all_rows(cursor) -> list[tuple]:
    rows: list[tuple] = []
    while batch := await cursor.fetchmany(_FETCH_ROWS):
        rows.extend(batch)
    return rows


def _from_rows(columns: tuple[str, ...], rows: list[tuple]) -> dict[int, Rows]:
    if not rows:
        return {}
    ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    ts = np.fromiter((row[1] for row in rows), dtype=np.int64, count=len(rows))
    parsed = [np.fromiter((float(row[2 + n]) for row in rows), dtype=np.float64, count=len(rows))
              for n in range(len(columns))]
    firsts = np.flatnonzero(np.concatenate(([True], ids[1:] != ids[:-1])))
    ends = np.concatenate((firsts[1:], [len(rows)]))
    return {int(ids[a]): Rows(ts[a:b], **{FIELD_OF_COLUMN[column]: values[a:b]
                                          for column, values in zip(columns, parsed)})
            for a, b in zip(firsts, ends)}
