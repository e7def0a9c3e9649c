"""Compaction: the oldest rows of the head's log (`sample_log`) become level-0 chunk parts.

One batch is one transaction, per tenant: lock the tenant's oldest `batch_rows` log rows (ORDER BY
id ... FOR UPDATE), decode them, group their samples by (series, 2 h window), INSERT one level-0
part per group into `sample_chunks`, DELETE the log rows by id, COMMIT. A crash anywhere before
COMMIT leaves the log as it was; after it, the parts hold the samples and the log rows are gone,
together. Reads see either (one statement each), never both or neither.

A part's number is chunks.level0_part(largest log id of the batch, piece): unique (two batches
never share a log row), and larger for later writes, so a later part wins over an earlier one
and over every canonical part at an equal (series, ts). Within the batch, samples are taken in
log id order, then position, and encoding keeps the last of a timestamp: the newest write wins,
which is what makes a re-delivered batch (another log row with the same samples) harmless.

A level-0 part is encoded cheaply (chunks.level0: raw arrays in one zstd frame, no DECIMAL
probe), since the sealer re-encodes it canonically anyway.

The sealer folds a window's level-0 parts into its canonical parts once the window is over
(store.sealing). READ COMMITTED, as the sealer: the locking read takes record locks only, so
workers keep appending while a batch is compacted; their rows have larger ids and wait for the
next batch.
"""

import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pymysql

from microdash_core import chunks
from microdash_core.store.sealing import ATTEMPTS, RETRIED_ERRORS, prepare_session

log = logging.getLogger(__name__)
DEFAULT_BATCH_ROWS = 200
Columns = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass
class Compacted:
    """What a run compacted: log rows and their samples, level-0 parts written, transactions."""
    log_rows: int = 0
    samples: int = 0
    parts: int = 0
    batches: int = 0
    seconds: float = field(default=0.0, compare=False)

    def add(self, other: "Compacted") -> None:
        self.log_rows += other.log_rows
        self.samples += other.samples
        self.parts += other.parts
        self.batches += other.batches


def compact_due(connection: pymysql.connections.Connection, *, batch_rows: int = DEFAULT_BATCH_ROWS,
                deadline: float | None = None, tenant_ids: Sequence[int] | None = None,
                on_batch: Callable[[int, Compacted], None] | None = None) -> Compacted:
    """Compact every tenant's log, oldest rows first, until it is empty or time.monotonic() passes
    deadline (checked between batches). Rows appended meanwhile are compacted too: a run under
    steady ingest ends at the deadline. Sets the session to READ COMMITTED (prepare_session)."""
    started = time.monotonic()
    prepare_session(connection)
    total = Compacted()
    for tenant_id in _tenants_with_log(connection, tenant_ids):
        while deadline is None or time.monotonic() <= deadline:
            try:
                done = compact_batch(connection, tenant_id, batch_rows=batch_rows)
            except chunks.ChunkError as exc:
                # Left in the log (reads of it fail loudly too); the other tenants go on.
                log.error("a log row does not decode; the tenant's log is not compacted",
                          extra={"tenant_id": tenant_id, "error": str(exc)})
                break
            total.add(done)
            if on_batch is not None and done.log_rows:
                on_batch(tenant_id, done)
            if done.log_rows < batch_rows:
                break
    total.seconds = time.monotonic() - started
    return total


def _tenants_with_log(connection, tenant_ids: Sequence[int] | None) -> list[int]:
    with connection.cursor() as cursor:
        if tenant_ids:
            cursor.execute(f"SELECT DISTINCT tenant_id FROM sample_log WHERE tenant_id IN ({','.join(['%s'] * len(tenant_ids))})",
                           tuple(tenant_ids))
        else:
            cursor.execute("SELECT DISTINCT tenant_id FROM sample_log")
        found = sorted(tenant_id for (tenant_id,) in cursor.fetchall())
    connection.commit()
    return found


def compact_batch(connection: pymysql.connections.Connection, tenant_id: int, *,
                  batch_rows: int = DEFAULT_BATCH_ROWS) -> Compacted:
    """One transaction, retried on a deadlock or lock wait timeout (it is idempotent)."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with connection.cursor() as cursor:
                done = _compact_in_transaction(cursor, tenant_id, batch_rows)
            connection.commit()
            return done
        except pymysql.err.OperationalError as exc:
            connection.rollback()
            if exc.args[0] not in RETRIED_ERRORS or attempt == ATTEMPTS:
                raise
            log.warning("compaction lost a lock race, retrying",
                        extra={"tenant_id": tenant_id, "attempt": attempt, "error": exc.args[1]})
            time.sleep(0.05 * attempt)
        except BaseException:
            connection.rollback()
            raise
    raise AssertionError("unreachable")


def _compact_in_transaction(cursor, tenant_id: int, batch_rows: int) -> Compacted:
    cursor.execute("SELECT id, data FROM sample_log WHERE tenant_id = %s ORDER BY id LIMIT %s FOR UPDATE",
                   (tenant_id, batch_rows))
    locked = cursor.fetchall()
    if not locked:
        return Compacted(batches=1)
    ids = [log_id for log_id, _data in locked]
    sids, ts, vs = _decoded_in_write_order(locked)
    rows = list(_level0_rows(tenant_id, max(ids), sids, ts, vs))
    for start in range(0, len(rows), 500):
        cursor.executemany(
            "INSERT INTO sample_chunks (tenant_id, series_id, window_start, part, sample_count, first_ts, last_ts, data)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", rows[start:start + 500])
    deleted = cursor.execute(f"DELETE FROM sample_log WHERE tenant_id = %s AND id IN ({','.join(map(str, ids))})",
                             (tenant_id,))
    if deleted != len(ids):  # locked since the read: only a bug gets here
        raise RuntimeError(f"deleted {deleted} log rows of the {len(ids)} compacted; rolled back")
    return Compacted(log_rows=len(ids), samples=int(ts.size), parts=len(rows), batches=1)


def _decoded_in_write_order(locked: list[tuple[int, bytes]]) -> Columns:
    """The rows' samples concatenated in id order. A row that does not decode stops the batch
    (and so the tenant's compaction, not the others') loudly: dropping it would lose acknowledged
    samples, and compacting the rows after it would let them lose to it once it is repaired."""
    columns = []
    for log_id, data in locked:
        try:
            columns.append(chunks.batch.decode(data))
        except chunks.ChunkError as exc:
            raise type(exc)(f"log row {log_id}: {exc}") from exc
    return tuple(np.concatenate([column[i] for column in columns]) for i in range(3))  # type: ignore[return-value]


def _level0_rows(tenant_id: int, newest_id: int, sids: np.ndarray, ts: np.ndarray, vs: np.ndarray):
    """One level-0 part per (series, window), in pieces of at most SEAL_MAX_SAMPLES, sorted by
    time with one sample per timestamp (the last written kept), as rows for sample_chunks.
    Sorting and deduplicating are done once for the batch; a part costs its slice and its cheap
    encoding (chunks.level0) only."""
    sids, ts, vs = last_written_per_series_and_timestamp(sids, ts, vs)
    windows = ts - ts % chunks.WINDOW_MS
    edges = np.flatnonzero((sids[1:] != sids[:-1]) | (windows[1:] != windows[:-1])) + 1
    for start, end in zip(np.concatenate(([0], edges)).tolist(), np.concatenate((edges, [ts.size])).tolist()):
        series_id, window_start = int(sids[start]), int(windows[start])
        for piece, first in enumerate(range(start, end, chunks.SEAL_MAX_SAMPLES)):
            last = min(first + chunks.SEAL_MAX_SAMPLES, end)
            yield (tenant_id, series_id, window_start, chunks.level0_part(newest_id, piece), last - first,
                   int(ts[first]), int(ts[last - 1]), chunks.level0.encode(ts[first:last], vs[first:last]))


def last_written_per_series_and_timestamp(sids: np.ndarray, ts: np.ndarray, vs: np.ndarray) -> Columns:
    """Sorted by (series, time), one sample per (series, timestamp): the last in the input."""
    sids, ts, vs = sids[::-1], ts[::-1], vs[::-1]
    order = np.lexsort((ts, sids))  # stable: of equal keys the last written (first reversed) leads
    sids, ts, vs = sids[order], ts[order], vs[order]
    keep = np.concatenate(([True], (sids[1:] != sids[:-1]) | (ts[1:] != ts[:-1])))
    return sids[keep], ts[keep], vs[keep]
