"""Sealing for tests of the readers: moves a tenant's head rows before a cut into chunk rows, as
the sealer does (docs/storage.md: one transaction, a window already sealed is merged with the head
value winning, parts of at most SEAL_MAX_SAMPLES), but at any cut, not only for windows that are
over. A cut inside a window leaves the store as a late sample leaves it after a seal: part of
the window in a chunk, the rest in the head, which every reader must handle."""

from itertools import groupby

import aiomysql
import numpy as np

from microdash_core import chunks, db
from microdash_core.db import DatabaseAddress


def seal_head(settings, tenant_id: int, *, before_ms: int) -> int:
    """Seals every head sample of the tenant with ts < before_ms; returns how many."""
    with db.transaction(settings) as cursor:
        cursor.execute("SELECT series_id, ts, value FROM samples WHERE tenant_id = %s AND ts < %s"
                       " ORDER BY series_id, ts FOR UPDATE", (tenant_id, before_ms))
        rows = cursor.fetchall()
        for (series_id, window_start), group in groupby(rows, key=lambda row: (row[0], chunks.window_of(row[1]))):
            samples = list(group)
            _merge_into_chunks(cursor, tenant_id, series_id, window_start,
                               np.array([row[1] for row in samples], dtype=np.int64),
                               np.array([row[2] for row in samples], dtype=np.float64))
        cursor.execute("DELETE FROM samples WHERE tenant_id = %s AND ts < %s", (tenant_id, before_ms))
    return len(rows)


def _merge_into_chunks(cursor, tenant_id: int, series_id: int, window_start: int, ts: np.ndarray,
                       vs: np.ndarray) -> None:
    cursor.execute("SELECT data FROM sample_chunks WHERE tenant_id = %s AND series_id = %s AND window_start = %s"
                   " ORDER BY part FOR UPDATE", (tenant_id, series_id, window_start))
    for (blob,) in cursor.fetchall():
        old_ts, old_vs = chunks.decode(blob)
        ts, vs = np.concatenate((old_ts, ts)), np.concatenate((old_vs, vs))
    ts, vs = chunks.decode(chunks.encode(ts, vs))  # sorted, the later (head) value kept per timestamp
    cursor.execute("DELETE FROM sample_chunks WHERE tenant_id = %s AND series_id = %s AND window_start = %s",
                   (tenant_id, series_id, window_start))
    for part, start in enumerate(range(0, len(ts), chunks.SEAL_MAX_SAMPLES)):
        part_ts, part_vs = ts[start:start + chunks.SEAL_MAX_SAMPLES], vs[start:start + chunks.SEAL_MAX_SAMPLES]
        cursor.execute("INSERT INTO sample_chunks VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                       (tenant_id, series_id, window_start, part, len(part_ts), int(part_ts[0]), int(part_ts[-1]),
                        chunks.encode(part_ts, part_vs)))


def chunk_samples(stack, tenant_id: int) -> int:
    (count,), = stack.sql("SELECT COALESCE(SUM(sample_count), 0) FROM sample_chunks WHERE tenant_id = %s",
                          (tenant_id,))
    return int(count)


async def with_pool(stack, work):
    """work(pool) on an aiomysql pool of the stack's database, closed afterwards."""
    address = DatabaseAddress.from_url(stack.settings.database_url)
    pool = await aiomysql.create_pool(host=address.host, port=address.port, user=address.user,
                                      password=address.password, db=address.database, unix_socket=address.unix_socket,
                                      autocommit=True, minsize=0, maxsize=2)
    try:
        return await work(pool)
    finally:
        pool.close()
        await pool.wait_closed()
