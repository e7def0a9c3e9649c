"""Sealing for tests of the readers: compacts a tenant's log into level-0 parts (the real
compaction), then moves its samples before a cut from level-0 parts and the legacy head into the
canonical chunk parts, as the sealer does (docs/storage.md: one transaction, newest write wins,
parts of at most SEAL_MAX_SAMPLES), but at any cut, not only for windows that are over. A cut
inside a window leaves the store as a late sample leaves it after a seal: part of the window in
canonical parts, the rest in a level-0 part or the head, which every reader must handle."""

from contextlib import closing
from itertools import groupby

import numpy as np

from microdash_api.sql import open_pool
from microdash_core import chunks, db
from microdash_core.db import DatabaseAddress
from microdash_core.store import compaction

Arrays = tuple[np.ndarray, np.ndarray]


def compact(settings, tenant_id: int) -> int:
    """The tenant's whole log into level-0 parts (the real compaction); returns its samples."""
    with closing(db.connect(settings)) as connection:
        return compaction.compact_due(connection, tenant_ids=[tenant_id]).samples


def seal_head(settings, tenant_id: int, *, before_ms: int) -> int:
    """Compacts the tenant's log, then seals every sample of it with ts < before_ms that is not in
    a canonical part yet; returns how many."""
    compact(settings, tenant_id)
    newer: dict[tuple[int, int], list[Arrays]] = {}
    moved = 0
    with db.transaction(settings) as cursor:
        cursor.execute("SELECT series_id, ts, value FROM samples WHERE tenant_id = %s AND ts < %s"
                       " ORDER BY series_id, ts FOR UPDATE", (tenant_id, before_ms))
        for (series_id, window_start), group in groupby(cursor.fetchall(),
                                                        key=lambda row: (row[0], chunks.window_of(row[1]))):
            rows = list(group)
            newer.setdefault((series_id, window_start), []).append(
                (np.array([row[1] for row in rows], dtype=np.int64), np.array([row[2] for row in rows], dtype=np.float64)))
        cursor.execute("DELETE FROM samples WHERE tenant_id = %s AND ts < %s", (tenant_id, before_ms))
        cursor.execute("SELECT series_id, window_start, part, data FROM sample_chunks WHERE tenant_id = %s"
                       " AND part >= %s AND first_ts < %s ORDER BY series_id, window_start, part FOR UPDATE",
                       (tenant_id, chunks.LEVEL0_PART_BASE, before_ms))
        for series_id, window_start, part, data in cursor.fetchall():
            ts, vs = chunks.decode(data)
            below = ts < before_ms
            newer.setdefault((series_id, window_start), []).append((ts[below], vs[below]))
            if below.all():
                cursor.execute("DELETE FROM sample_chunks WHERE tenant_id = %s AND series_id = %s AND window_start = %s"
                               " AND part = %s", (tenant_id, series_id, window_start, part))
            else:  # the part keeps its number (its precedence) with the samples at or after the cut
                cursor.execute("UPDATE sample_chunks SET sample_count = %s, first_ts = %s, data = %s WHERE tenant_id = %s"
                               " AND series_id = %s AND window_start = %s AND part = %s",
                               (int((~below).sum()), int(ts[~below][0]), chunks.encode(ts[~below], vs[~below]),
                                tenant_id, series_id, window_start, part))
        for (series_id, window_start), sets in newer.items():
            ts = np.concatenate([pair[0] for pair in sets])
            if ts.size:
                moved += np.unique(ts).size
                _merge_into_chunks(cursor, tenant_id, series_id, window_start, ts,
                                   np.concatenate([pair[1] for pair in sets]))
    return moved


def _merge_into_chunks(cursor, tenant_id: int, series_id: int, window_start: int, ts: np.ndarray,
                       vs: np.ndarray) -> None:
    cursor.execute("SELECT data FROM sample_chunks WHERE tenant_id = %s AND series_id = %s AND window_start = %s"
                   " AND part < %s ORDER BY part FOR UPDATE", (tenant_id, series_id, window_start, chunks.LEVEL0_PART_BASE))
    for (blob,) in cursor.fetchall():
        old_ts, old_vs = chunks.decode(blob)
        ts, vs = np.concatenate((old_ts, ts)), np.concatenate((old_vs, vs))
    ts, vs = chunks.decode(chunks.encode(ts, vs))  # sorted, the later (newer) value kept per timestamp
    cursor.execute("DELETE FROM sample_chunks WHERE tenant_id = %s AND series_id = %s AND window_start = %s AND part < %s",
                   (tenant_id, series_id, window_start, chunks.LEVEL0_PART_BASE))
    for part, start in enumerate(range(0, len(ts), chunks.SEAL_MAX_SAMPLES)):
        part_ts, part_vs = ts[start:start + chunks.SEAL_MAX_SAMPLES], vs[start:start + chunks.SEAL_MAX_SAMPLES]
        cursor.execute("INSERT INTO sample_chunks VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                       (tenant_id, series_id, window_start, part, len(part_ts), int(part_ts[0]), int(part_ts[-1]),
                        chunks.encode(part_ts, part_vs)))


def chunk_samples(stack, tenant_id: int) -> int:
    """Samples in canonical (sealed) parts."""
    (count,), = stack.sql("SELECT COALESCE(SUM(sample_count), 0) FROM sample_chunks WHERE tenant_id = %s AND part < %s",
                          (tenant_id, chunks.LEVEL0_PART_BASE))
    return int(count)


def unsealed_samples(stack, tenant_id: int) -> int:
    """Samples not in canonical parts: log rows, level-0 parts and legacy head rows (a re-delivered
    sample counted once per copy)."""
    (log,), = stack.sql("SELECT COALESCE(SUM(sample_count), 0) FROM sample_log WHERE tenant_id = %s", (tenant_id,))
    (level0,), = stack.sql("SELECT COALESCE(SUM(sample_count), 0) FROM sample_chunks WHERE tenant_id = %s AND part >= %s",
                           (tenant_id, chunks.LEVEL0_PART_BASE))
    (head,), = stack.sql("SELECT COUNT(*) FROM samples WHERE tenant_id = %s", (tenant_id,))
    return int(log) + int(level0) + int(head)


async def with_pool(stack, work):
    """work(pool) on the api's pool of the stack's database, closed afterwards."""
    address = DatabaseAddress.from_url(stack.settings.database_url)
    pool = await open_pool(address)
    try:
        return await work(pool)
    finally:
        pool.close()
        await pool.wait_closed()
