"""The 24 h raw query of one series (8,640 points at a 10 s step from 10,000 samples), run by the
rollup scenario on its day: first as the day is (all in the head, unless a sealing job already
sealed some: `in_chunks` says how many samples were in chunks), then after every window of the
day that is over has been sealed into sample_chunks, the store's steady state.

`seal_day` stands in for the sealer (helper seal's microdash_core.store.sealing.seal_due) until
that is on main: one transaction per window, chunk rows in, head rows out.
"""

import numpy as np

from microdash_core import chunks, db


def raw_day_figures(stack, tenant, day: dict, measure) -> dict:
    """`day` holds metric, start and end; measure(params) times /api/v1/query and summarises."""
    params = {**day, "match": "series=s0", "step": 10_000, "resolution": "raw"}
    as_stored = {**measure(params), "in_chunks": _samples_in_chunks(stack, tenant.id)}
    chunk_rows = seal_day(stack, tenant.id, day["start"], day["end"])
    sealed = {**measure(params), "in_chunks": _samples_in_chunks(stack, tenant.id), "chunk_rows_written": chunk_rows}
    return {"query_24h_raw_head_ms": as_stored, "query_24h_raw_sealed_ms": sealed}


def seal_day(stack, tenant_id: int, start_ms: int, end_ms: int) -> int:
    """Every window of [start, end) that is over by end_ms becomes chunk rows. Returns the rows written."""
    written = 0
    for window in range(chunks.window_of(start_ms), end_ms - chunks.WINDOW_MS + 1, chunks.WINDOW_MS):
        with db.transaction(stack.settings) as cursor:
            where = "tenant_id = %s AND ts >= %s AND ts < %s"
            params = (tenant_id, window, window + chunks.WINDOW_MS)
            cursor.execute(f"SELECT series_id, ts, value FROM samples WHERE {where} ORDER BY series_id, ts FOR UPDATE",
                           params)
            rows = cursor.fetchall()
            if not rows:
                continue
            cursor.execute("SELECT series_id FROM sample_chunks WHERE tenant_id = %s AND window_start = %s FOR UPDATE",
                           (tenant_id, window))
            if cursor.fetchall():
                continue  # a sealing job got there first: leave its window alone
            chunk_rows = [(tenant_id, series_id, window, 0, len(ts), int(ts[0]), int(ts[-1]), chunks.encode(ts, vs))
                          for series_id, ts, vs in _per_series(rows)]
            cursor.executemany("INSERT INTO sample_chunks VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", chunk_rows)
            cursor.execute(f"DELETE FROM samples WHERE {where}", params)
            written += len(chunk_rows)
    return written


def _per_series(rows):
    ids = np.array([row[0] for row in rows], dtype=np.int64)
    ts = np.array([row[1] for row in rows], dtype=np.int64)
    values = np.array([row[2] for row in rows], dtype=np.float64)
    firsts = np.flatnonzero(np.concatenate(([True], ids[1:] != ids[:-1])))
    for first, end in zip(firsts, np.concatenate((firsts[1:], [len(rows)]))):
        yield int(ids[first]), ts[first:end], values[first:end]


def _samples_in_chunks(stack, tenant_id: int) -> int:
    with db.transaction(stack.settings) as cursor:
        cursor.execute("SELECT COALESCE(SUM(sample_count), 0) FROM sample_chunks WHERE tenant_id = %s", (tenant_id,))
        return int(cursor.fetchone()[0])
