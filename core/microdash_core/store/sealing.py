"""Sealing: windows that are over get one canonical set of chunk parts 0..k in `sample_chunks`,
from their level-0 parts (the log's compaction output) and their legacy head rows (`samples`).

One batch is one transaction: up to `batch_series` series of one tenant and one window. It reads
their legacy head rows in the window with a locking read, reads the window's chunk parts FOR
UPDATE (canonical and level-0), merges (newest write wins at the same timestamp: canonical parts
< legacy head < level-0 parts in part order), rewrites parts 0..k of at most SEAL_MAX_SAMPLES
samples each, deletes exactly the level-0 parts and head rows it read (by primary key), and
commits. A crash anywhere before COMMIT leaves everything as it was; after it, the canonical parts
hold the samples and the level-0 parts and head rows are gone, together. Sealing a window that
has neither changes nothing, so any number of sealers may run and a killed one is simply run
again (docs/storage.md).

READ COMMITTED: the locking read takes record locks only, so ingest keeps inserting into the
window while it is sealed; a sample that lands after the read stays in the head (the delete names
the rows read, not the range) and the next seal merges it. Two sealers of one series serialise on
the head rows they both read; one that finds no head row for a series writes nothing for it.
"""

import logging
import time
from dataclasses import dataclass, field
from itertools import groupby
from typing import Callable, Sequence

import numpy as np
import pymysql

from microdash_core import chunks, db

log = logging.getLogger(__name__)
DEFAULT_BATCH_SERIES = 500
# Primary keys per DELETE statement: few enough that the range optimizer keeps every point.
DELETE_KEYS_PER_STATEMENT = 4_096
LOCK_WAIT_SECONDS = 10

# A series' texts for one window, within MariaDB's default max_allowed_packet (~600 k samples);
# a longer one is read again row by row.
TEXT_BOUND = 16 * 1024 * 1024

Arrays = tuple[np.ndarray, np.ndarray]


class TextBoundReached(Exception):
    """A head text reached its bound: read the batch's head again row by row."""


class SealConflict(Exception):
    """The head rows deleted are not the rows read: the transaction is rolled back."""


@dataclass(frozen=True)
class Batch:
    """Series of one tenant whose head holds samples of the window starting at window_start."""
    tenant_id: int
    window_start: int
    series_ids: tuple[int, ...]


@dataclass
class Sealed:
    """What a run sealed: samples moved from level-0 parts and the head, chunk rows written, batches
    (transactions) committed."""
    samples: int = 0
    chunks: int = 0
    batches: int = 0
    series_windows: int = 0
    seconds: float = field(default=0.0, compare=False)

    def add(self, other: "Sealed") -> None:
        self.samples += other.samples
        self.chunks += other.chunks
        self.batches += other.batches
        self.series_windows += other.series_windows


def sealed_before(now_ms: int, grace_ms: int = chunks.SEAL_GRACE_MS) -> int:
    """The cutoff of a normal run: windows ending at or before now - grace are over."""
    return now_ms - grace_ms


def due_batches(cursor, *, cutoff_ms: int, batch_series: int = DEFAULT_BATCH_SERIES,
                tenant_ids: Sequence[int] | None = None) -> list[Batch]:
    """The oldest due window of every series with legacy head rows or level-0 parts in a window
    that ends at or before cutoff_ms, in batches. The head: one index dive per series (a loose index
    scan on the primary key), and `ts <` prunes the head's daily partitions; level-0 parts: a range
    of ix_sample_chunks_part. A series' later due windows come in the next call. tenant_ids limits
    the search to those tenants (tests, a tenant's own backlog)."""
    only = f" AND tenant_id IN ({_in_list(tenant_ids)})" if tenant_ids else ""
    before = chunks.window_of(cutoff_ms)
    cursor.execute("SELECT tenant_id, series_id, MIN(ts) FROM samples WHERE ts < %s" + only +
                   " GROUP BY tenant_id, series_id", (before, *(tenant_ids or ())))
    oldest = {(tenant_id, series_id): chunks.window_of(first) for tenant_id, series_id, first in cursor.fetchall()}
    cursor.execute("SELECT tenant_id, series_id, MIN(window_start) FROM sample_chunks WHERE part >= %s"
                   " AND window_start < %s" + only + " GROUP BY tenant_id, series_id",
                   (chunks.LEVEL0_PART_BASE, before, *(tenant_ids or ())))
    for tenant_id, series_id, window_start in cursor.fetchall():
        key = (tenant_id, series_id)
        oldest[key] = min(oldest.get(key, window_start), window_start)
    by_window = sorted((tenant_id, window_start, series_id) for (tenant_id, series_id), window_start in oldest.items())
    batches = []
    for (tenant_id, window_start), rows in groupby(by_window, key=lambda row: row[:2]):
        series = [row[2] for row in rows]
        for start in range(0, len(series), batch_series):
            batches.append(Batch(tenant_id, window_start, tuple(series[start:start + batch_series])))
    return batches


def seal_due(connection: pymysql.connections.Connection, *, cutoff_ms: int,
             batch_series: int = DEFAULT_BATCH_SERIES, deadline: float | None = None,
             tenant_ids: Sequence[int] | None = None, on_batch: Callable[[Batch, Sealed], None] | None = None) -> Sealed:
    """Seal every window that ends at or before cutoff_ms, oldest first, until none is left or
    time.monotonic() passes deadline (checked between batches). A cutoff in the future seals open
    windows too (the bench, tests): what arrives for them later is merged by the next seal.
    Sets the connection's session to READ COMMITTED, locks waited for LOCK_WAIT_SECONDS at most."""
    started = time.monotonic()
    db.read_committed(connection, lock_wait_seconds=LOCK_WAIT_SECONDS)
    total = Sealed()
    while True:
        with connection.cursor() as cursor:
            batches = due_batches(cursor, cutoff_ms=cutoff_ms, batch_series=batch_series, tenant_ids=tenant_ids)
        connection.commit()
        if not batches:
            break
        sealed_before_pass = total.samples
        for batch in batches:
            done = seal_batch(connection, batch)
            total.add(done)
            if on_batch is not None:
                on_batch(batch, done)
            if deadline is not None and time.monotonic() > deadline:
                break
        # A pass that found work but sealed none: another sealer has it; do not spin on it.
        if total.samples == sealed_before_pass or deadline is not None and time.monotonic() > deadline:
            break
    total.seconds = time.monotonic() - started
    return total


def seal_batch(connection: pymysql.connections.Connection, batch: Batch) -> Sealed:
    """One transaction, retried on a deadlock or lock wait timeout (it is idempotent)."""
    return db.retried_on_lock_race(connection, lambda cursor: _seal_in_transaction(cursor, batch), what="seal batch",
                                   context={"tenant_id": batch.tenant_id, "window_start": batch.window_start})


def _seal_in_transaction(cursor, batch: Batch) -> Sealed:
    head = _locked_head(cursor, batch)
    stored = _locked_parts(cursor, batch)
    moving = {series_id for series_id, parts in stored.items() if any(chunks.is_level0(p) for p, _ in parts)}
    moving.update(head)
    rows, stale, consumed_parts, consumed_head, samples = [], [], {}, {}, 0
    for series_id in sorted(moving):
        parts = stored.get(series_id, [])
        try:
            decoded = [(part, chunks.decode(blob)) for part, blob in parts]
        except chunks.ChunkError as exc:
            # Left as it is (reads of it fail loudly too), so that it blocks no other series.
            log.error("a stored chunk does not decode; its window is not sealed",
                      extra={"tenant_id": batch.tenant_id, "series_id": series_id,
                             "window_start": batch.window_start, "error": str(exc)})
            continue
        canonical = [pair for part, pair in decoded if not chunks.is_level0(part)]
        level0 = [pair for part, pair in decoded if chunks.is_level0(part)]
        newer = ([head[series_id]] if series_id in head else []) + level0
        ts, vs = _merged(canonical, newer)
        new_parts = _split(ts, vs)
        rows.extend((batch.tenant_id, series_id, batch.window_start, number, len(part_ts), int(part_ts[0]),
                     int(part_ts[-1]), chunks.encode(part_ts, part_vs))
                    for number, (part_ts, part_vs) in enumerate(new_parts))
        if len(canonical) > len(new_parts):
            stale.append((series_id, len(new_parts)))
        consumed_parts[series_id] = [part for part, _blob in parts if chunks.is_level0(part)]
        if series_id in head:
            consumed_head[series_id] = head[series_id][0]
        samples += sum(pair[0].size for pair in newer)
    if not rows:
        return Sealed(batches=1)
    cursor.executemany(
        "INSERT INTO sample_chunks (tenant_id, series_id, window_start, part, sample_count, first_ts, last_ts, data)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE sample_count = VALUES(sample_count),"
        " first_ts = VALUES(first_ts), last_ts = VALUES(last_ts), data = VALUES(data)", rows)
    for series_id, first_stale in stale:
        cursor.execute("DELETE FROM sample_chunks WHERE tenant_id = %s AND series_id = %s AND window_start = %s"
                       " AND part >= %s AND part < %s",
                       (batch.tenant_id, series_id, batch.window_start, first_stale, chunks.LEVEL0_PART_BASE))
    _delete_level0_parts(cursor, batch, consumed_parts)
    _delete_head_rows(cursor, batch.tenant_id, consumed_head)
    return Sealed(samples=samples, chunks=len(rows), batches=1, series_windows=len(consumed_parts))


def _delete_level0_parts(cursor, batch: Batch, consumed: dict[int, list[int]]) -> None:
    """Delete exactly the level-0 parts read: one compaction inserted since is not among them."""
    keys = [(series_id, part) for series_id, parts in consumed.items() for part in parts]
    deleted = 0
    for start in range(0, len(keys), DELETE_KEYS_PER_STATEMENT):
        piece = keys[start:start + DELETE_KEYS_PER_STATEMENT]
        pairs = ",".join(f"({int(series_id)},{int(part)})" for series_id, part in piece)
        deleted += cursor.execute("DELETE FROM sample_chunks WHERE tenant_id = %s AND window_start = %s"
                                  f" AND (series_id, part) IN ({pairs})", (batch.tenant_id, batch.window_start))
    if deleted != len(keys):  # the parts are locked since the read: only a bug gets here
        raise SealConflict(f"deleted {deleted} level-0 parts of the {len(keys)} sealed; rolled back")


def _in_list(values) -> str:
    return ",".join(["%s"] * len(values))


def _locked_head(cursor, batch: Batch) -> dict[int, Arrays]:
    """The head rows of the batch's series in its window, locked until COMMIT, per series.

    Each series' timestamps and values come as two texts (GROUP_CONCAT) that numpy parses: a
    Python tuple per row costs ten times more. A DOUBLE prints as its shortest round-trip decimal,
    so the values are exact. A text cut at its bound (NULL, or counts that disagree) makes the
    batch read again row by row, in the same transaction."""
    where, params = _head_where(batch)
    cursor.execute(
        f"SET STATEMENT group_concat_max_len = {TEXT_BOUND} FOR"
        " SELECT series_id, COUNT(*), GROUP_CONCAT(ts ORDER BY ts SEPARATOR ','),"
        f" GROUP_CONCAT(value ORDER BY ts SEPARATOR ',') FROM samples WHERE {where} GROUP BY series_id FOR UPDATE",
        params)
    try:
        return {series_id: _parsed(count, ts_text, value_text)
                for series_id, count, ts_text, value_text in cursor.fetchall()}
    except TextBoundReached:
        return _locked_head_rows(cursor, batch)


def _head_where(batch: Batch) -> tuple[str, tuple]:
    return (f"tenant_id = %s AND series_id IN ({_in_list(batch.series_ids)}) AND ts >= %s AND ts < %s",
            (batch.tenant_id, *batch.series_ids, batch.window_start, chunks.window_end(batch.window_start)))


def _parsed(count: int, ts_text, value_text) -> Arrays:
    if ts_text is None or value_text is None:
        raise TextBoundReached()
    timestamps = np.array(_text(ts_text).split(","), dtype=np.int64)
    values = np.array(_text(value_text).split(","), dtype=np.float64)
    if not count == timestamps.size == values.size:
        raise TextBoundReached()
    return timestamps, values


def _locked_head_rows(cursor, batch: Batch) -> dict[int, Arrays]:
    where, params = _head_where(batch)
    cursor.execute(f"SELECT series_id, ts, value FROM samples WHERE {where} ORDER BY series_id, ts FOR UPDATE", params)
    rows: dict[int, tuple[list, list]] = {}
    for series_id, ts, value in cursor.fetchall():
        pair = rows.setdefault(series_id, ([], []))
        pair[0].append(ts)
        pair[1].append(value)
    return {series_id: (np.array(ts, dtype=np.int64), np.array(vs, dtype=np.float64))
            for series_id, (ts, vs) in rows.items()}


def _text(value) -> str:
    return value.decode() if isinstance(value, (bytes, bytearray)) else value


def _locked_parts(cursor, batch: Batch) -> dict[int, list[tuple[int, bytes]]]:
    """The stored parts (part number, blob; in part order: canonical, then level-0) of the window
    of each series of the batch."""
    cursor.execute(
        f"SELECT series_id, part, data FROM sample_chunks WHERE tenant_id = %s AND series_id IN ({_in_list(batch.series_ids)})"
        " AND window_start = %s ORDER BY series_id, part FOR UPDATE",
        (batch.tenant_id, *batch.series_ids, batch.window_start))
    parts: dict[int, list[tuple[int, bytes]]] = {}
    for series_id, part, data in cursor.fetchall():
        parts.setdefault(series_id, []).append((part, data))
    return parts


def _merged(stored: list[Arrays], newer: list[Arrays]) -> Arrays:
    """Canonical parts (in order, not overlapping) plus newer sample sets (each sorted and unique,
    oldest write first): sorted, one value per timestamp, the last given's where several have one."""
    if not stored and len(newer) == 1:
        return newer[0]
    ts = np.concatenate([pair[0] for pair in stored + newer])
    vs = np.concatenate([pair[1] for pair in stored + newer])
    order = np.argsort(ts[::-1], kind="stable")  # the last given (the newest) first among equals
    ts, vs = ts[::-1][order], vs[::-1][order]
    keep = np.concatenate(([True], ts[1:] != ts[:-1]))
    return ts[keep], vs[keep]


def _split(ts: np.ndarray, vs: np.ndarray) -> list[Arrays]:
    size = chunks.SEAL_MAX_SAMPLES
    return [(ts[start:start + size], vs[start:start + size]) for start in range(0, ts.size, size)]


def _delete_head_rows(cursor, tenant_id: int, consumed: dict[int, np.ndarray]) -> None:
    """Delete exactly the rows read, by primary key: a row inserted since (READ COMMITTED takes no
    gap locks) is not among them and stays in the head for the next seal. The keys are integers
    from int64 arrays, written as literals (escaping 400 k parameters costs more than the delete)."""
    if not consumed:
        return
    clauses: list[str] = []
    keys = deleted = 0
    for series_id, timestamps in consumed.items():
        for start in range(0, timestamps.size, DELETE_KEYS_PER_STATEMENT):
            piece = timestamps[start:start + DELETE_KEYS_PER_STATEMENT]
            if clauses and keys + piece.size > DELETE_KEYS_PER_STATEMENT:
                deleted += _delete(cursor, tenant_id, clauses)
                clauses, keys = [], 0
            clauses.append(f"(series_id = {int(series_id)} AND ts IN ({','.join(map(str, piece.tolist()))}))")
            keys += piece.size
    if clauses:
        deleted += _delete(cursor, tenant_id, clauses)
    expected = sum(timestamps.size for timestamps in consumed.values())
    if deleted != expected:  # the rows are locked since the read: only a bug gets here
        raise SealConflict(f"deleted {deleted} head rows of the {expected} sealed; rolled back")


def _delete(cursor, tenant_id: int, clauses: list[str]) -> int:
    return cursor.execute(f"DELETE FROM samples WHERE tenant_id = %s AND ({' OR '.join(clauses)})", (tenant_id,))
