"""Compaction: the oldest rows of the head's log (`sample_log`) become level-0 chunk parts.

One batch is one transaction, per tenant: lock the tenant's oldest `batch_rows` log rows (ORDER BY
id ... FOR UPDATE; fewer if the first of them already hold `max_log_samples`, which flushes them
all: a stored batch of few series is a few large rows), decode them, keep the last written of
each (series, ts), and decide per series (Policy): a series with at least `min_samples` samples
in the batch, or with a sample from a row older than `max_age_seconds`, is flushed (one level-0
part per (series, 2 h window) INSERTed into `sample_chunks`); the others wait in the log. If
nothing is due the batch writes nothing. Else the batch's rows are DELETEd and the waiting
samples re-written as log rows (per bucket) that take the batch's largest ids (of their bucket's
rows) and the oldest `written_at` of what they hold: every row written after the batch still has
a larger id, so precedence is kept, and a waiting sample's age still counts
from its first write (bounded age). A batch holding `max_log_samples` or more flushes every series
(the log is a read's cost: it is bounded). COMMIT. A crash anywhere before COMMIT leaves the log as
it was; after it, the parts and the log hold the samples, together. Reads see either (one
statement each), never both or neither.

Why wait: under the common load (many series, one sample each per scrape) a fixed interval made
one part per series per run, each a row to insert, read and delete; waiting until a series has
some samples (or a bounded age) makes parts of several samples (docs/storage.md, measured).

A part's number is chunks.level0_part(largest log id of the batch, piece): unique (two batches
never share a log row), and larger for later writes, so a later part wins over an earlier one
and over every canonical part at an equal (series, ts). A flushed series takes all its samples of
the batch, which starts at the tenant's oldest row, so no older log row keeps a sample of it that
would wrongly win over its part. Within the batch, samples are taken in log id order, then
position, and the last of a (series, timestamp) is kept: the newest write wins, which is what makes
a re-delivered batch (another log row with the same samples) harmless.

A level-0 part is encoded cheaply (chunks.level0: raw arrays in one zstd frame, no DECIMAL
probe), since the sealer re-encodes it canonically anyway. The sealer folds a window's level-0
parts into its canonical parts once the window is over (store.sealing). READ COMMITTED, as the
sealer: the locking read takes record locks only, so workers keep appending while a batch is
compacted; their rows have larger ids and wait for the next batch.
"""

import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pymysql

from microdash_core import chunks, db
from microdash_core.store import head_log
from microdash_core.store.sealing import LOCK_WAIT_SECONDS

log = logging.getLogger(__name__)
DEFAULT_BATCH_ROWS = 200 * head_log.BUCKETS  # a stored batch is up to BUCKETS rows
Columns = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Policy:
    """When a series' samples leave the log (module docstring)."""
    min_samples: int = 1
    max_age_seconds: float = 0.0
    max_log_samples: int = 1_000_000


# Every series flushed at once: tests, the bench, and the sealing of a backlog.
EVERYTHING = Policy()


def policy_of(settings) -> Policy:
    """The policy the settings give (MICRODASH_COMPACT_*)."""
    return Policy(min_samples=settings.compact_min_samples, max_age_seconds=settings.compact_max_age_seconds,
                  max_log_samples=settings.compact_max_log_samples)


@dataclass
class Compacted:
    """What a run compacted: log rows and their samples, level-0 parts written, transactions."""
    log_rows: int = 0
    samples: int = 0
    parts: int = 0
    batches: int = 0
    waiting: int = 0  # samples re-written to the log (their series not due yet)
    waiting_rows: int = 0
    seconds: float = field(default=0.0, compare=False)
    more_behind: bool = field(default=False, compare=False)  # the batch stopped at batch_rows or its samples

    def add(self, other: "Compacted") -> None:
        self.log_rows += other.log_rows
        self.samples += other.samples
        self.parts += other.parts
        self.batches += other.batches
        self.waiting += other.waiting
        self.waiting_rows += other.waiting_rows


def compact_due(connection: pymysql.connections.Connection, *, batch_rows: int = DEFAULT_BATCH_ROWS,
                policy: Policy = EVERYTHING, deadline: float | None = None, tenant_ids: Sequence[int] | None = None,
                on_batch: Callable[[int, Compacted], None] | None = None) -> Compacted:
    """Compact every tenant's log, oldest rows first, until what is left is not due (policy), or
    time.monotonic() passes deadline (checked between batches). Rows appended meanwhile are
    compacted too: a run under steady ingest ends at the deadline. Sets the session to READ
    COMMITTED, locks waited for sealing's LOCK_WAIT_SECONDS at most."""
    started = time.monotonic()
    db.read_committed(connection, lock_wait_seconds=LOCK_WAIT_SECONDS)
    total = Compacted()
    for tenant_id in _tenants_with_log(connection, tenant_ids):
        while deadline is None or time.monotonic() <= deadline:
            try:
                done = compact_batch(connection, tenant_id, batch_rows=batch_rows, policy=policy)
            except chunks.ChunkError as exc:
                # Left in the log (reads of it fail loudly too); the other tenants go on.
                log.error("a log row does not decode; the tenant's log is not compacted",
                          extra={"tenant_id": tenant_id, "error": str(exc)})
                break
            total.add(done)
            if on_batch is not None and done.log_rows:
                on_batch(tenant_id, done)
            # More behind only if the batch was full; and it must have shrunk the log, or the
            # next batch would be the same rows (their series not due).
            if not done.more_behind or done.log_rows <= done.waiting_rows:
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
                  batch_rows: int = DEFAULT_BATCH_ROWS, policy: Policy = EVERYTHING) -> Compacted:
    """One transaction, retried on a deadlock or lock wait timeout (it is idempotent)."""
    return db.retried_on_lock_race(
        connection, lambda cursor: _compact_in_transaction(cursor, tenant_id, batch_rows, policy),
        what="compaction", context={"tenant_id": tenant_id})


def _compact_in_transaction(cursor, tenant_id: int, batch_rows: int, policy: Policy) -> Compacted:
    waiting = _nothing_can_be_due(cursor, tenant_id, batch_rows, policy)
    if waiting is not None:
        return waiting
    last_id, more_behind = _batch_end(cursor, tenant_id, batch_rows, policy.max_log_samples)
    cursor.execute("SELECT id, data, written_at, written_at <= NOW(3) - INTERVAL %s MICROSECOND, bucket FROM sample_log"
                   " WHERE tenant_id = %s AND id <= %s ORDER BY id LIMIT %s FOR UPDATE",
                   (int(policy.max_age_seconds * 1_000_000), tenant_id, last_id, batch_rows))
    locked = cursor.fetchall()
    if not locked:
        return Compacted(batches=1)
    ids = np.array([row[0] for row in locked], dtype=np.int64)
    sids, ts, vs, row_of = _decoded_in_write_order(locked)
    sids, ts, vs, row_of = last_written_per_series_and_timestamp(sids, ts, vs, row_of)
    due = _due_samples(sids, row_of, np.array([bool(row[3]) for row in locked]), policy)
    if not due.any():
        return Compacted(batches=1, log_rows=0, waiting=int(ts.size), waiting_rows=len(locked))
    rows = list(_level0_rows(tenant_id, int(ids.max()), sids[due], ts[due], vs[due]))
    db.insert_as_literals(cursor, "sample_chunks", _PART_COLUMNS, rows)
    deleted = cursor.execute(f"DELETE FROM sample_log WHERE tenant_id = %s AND id IN ({','.join(map(str, ids.tolist()))})",
                             (tenant_id,))
    if deleted != len(ids):  # locked since the read: only a bug gets here
        raise RuntimeError(f"deleted {deleted} log rows of the {len(ids)} compacted; rolled back")
    waiting = ~due
    waiting_rows = _rewrite_waiting(cursor, tenant_id, locked, sids[waiting], ts[waiting], vs[waiting], row_of[waiting])
    return Compacted(log_rows=len(ids), samples=int(due.sum()), parts=len(rows), batches=1, more_behind=more_behind,
                     waiting=int(waiting.sum()), waiting_rows=waiting_rows)


_PART_COLUMNS = ("tenant_id", "series_id", "window_start", "part", "sample_count", "first_ts", "last_ts", "data")


def _batch_end(cursor, tenant_id: int, batch_rows: int, max_samples: int) -> tuple[int, bool]:
    """(the last log id of the batch, whether rows are left behind it): the oldest batch_rows
    rows, fewer if max_samples is reached before (a batch that reaches it flushes every series, so
    no more is needed; a stored batch of few series is a few large rows, and batch_rows of them
    would hold far more samples than memory should). Not locking: rows committed meanwhile have
    larger ids (the locking read takes the same prefix)."""
    cursor.execute("SELECT id, sample_count FROM sample_log WHERE tenant_id = %s ORDER BY id LIMIT %s",
                   (tenant_id, batch_rows))
    rows = cursor.fetchall()
    if not rows:
        return 0, False
    counts = np.cumsum([count for _id, count in rows])
    end = min(int(np.searchsorted(counts, max_samples)), len(rows) - 1)  # the row that reaches it
    return int(rows[end][0]), end < len(rows) - 1 or len(rows) == batch_rows


def _nothing_can_be_due(cursor, tenant_id: int, batch_rows: int, policy: Policy) -> Compacted | None:
    """Without locking or decoding: the batch's rows when no series can be due in them (no row
    old enough, the rows' series_max adding up to less than min_samples, and the batch smaller
    than max_log_samples), else None. Spares the job the decoding of a young log every run."""
    if policy.min_samples <= 1:
        return None
    cursor.execute("SELECT COUNT(*), COALESCE(SUM(series_max), 0), COALESCE(SUM(sample_count), 0),"
                   " COALESCE(MIN(written_at) <= NOW(3) - INTERVAL %s MICROSECOND, 0) FROM"
                   " (SELECT series_max, sample_count, written_at FROM sample_log WHERE tenant_id = %s"
                   "  ORDER BY id LIMIT %s) AS batch",
                   (int(policy.max_age_seconds * 1_000_000), tenant_id, batch_rows))
    rows, series_max, samples, old = cursor.fetchone()
    if old or int(series_max) >= policy.min_samples or int(samples) >= policy.max_log_samples:
        return None
    return Compacted(batches=1, waiting=int(samples), waiting_rows=int(rows))


def _due_samples(sids: np.ndarray, row_of: np.ndarray, row_is_old: np.ndarray, policy: Policy) -> np.ndarray:
    """Per sample (sorted by series): is its series due, by its count in the batch, the age of its
    oldest row, or the batch's size."""
    if sids.size >= policy.max_log_samples or policy.min_samples <= 1:
        return np.ones(sids.size, dtype=bool)
    starts = np.concatenate(([0], np.flatnonzero(sids[1:] != sids[:-1]) + 1))
    counts = np.diff(np.concatenate((starts, [sids.size])))
    old = np.maximum.reduceat(row_is_old[row_of].astype(np.int8), starts).astype(bool)
    return np.repeat((counts >= policy.min_samples) | old, counts)


def _rewrite_waiting(cursor, tenant_id: int, locked: list[tuple], sids: np.ndarray, ts: np.ndarray, vs: np.ndarray,
                     row_of: np.ndarray) -> int:
    """The samples not due as log rows again, per bucket, under the largest ids of that bucket's
    rows they came from (deleted in this transaction), with the oldest written_at among those rows.
    A bucket's samples all came from rows of that bucket, so each bucket has ids enough."""
    rows = []
    for bucket, bucket_sids, (bucket_ts, bucket_vs, bucket_row_of) in head_log.by_bucket(sids, ts, vs, row_of):
        fields = list(head_log.pieces(bucket_sids, bucket_ts, bucket_vs))
        sources = np.unique(bucket_row_of)
        if any(locked[int(index)][4] != bucket for index in sources):  # only a bug gets here
            raise RuntimeError(f"a sample of bucket {bucket} came from a log row of another bucket; rolled back")
        written_at = min(locked[int(index)][2] for index in sources)
        reused = sorted(int(locked[int(index)][0]) for index in sources)[-len(fields):]
        if len(reused) < len(fields):  # a row holds at most MAX_BATCH_SAMPLES: only a bug gets here
            raise RuntimeError(f"{len(fields)} waiting rows but {len(reused)} ids to give them; rolled back")
        rows.extend((tenant_id, log_id, written_at, bucket, *row) for log_id, row in zip(reused, fields))
    if rows:
        cursor.executemany(head_log.INSERT_AT, rows)
    return len(rows)


def _decoded_in_write_order(locked: list[tuple]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The rows' samples concatenated in id order, and the index of each sample's row. A row that
    does not decode stops the batch (and so the tenant's compaction, not the others') loudly:
    dropping it would lose acknowledged samples, and compacting the rows after it would let them
    lose to it once it is repaired."""
    columns = []
    for log_id, data, *_rest in locked:
        try:
            columns.append(chunks.batch.decode(data))
        except chunks.ChunkError as exc:
            raise type(exc)(f"log row {log_id}: {exc}") from exc
    row_of = np.repeat(np.arange(len(columns)), [column[1].size for column in columns])
    return (*(np.concatenate([column[i] for column in columns]) for i in range(3)), row_of)  # type: ignore[return-value]


def _level0_rows(tenant_id: int, newest_id: int, sids: np.ndarray, ts: np.ndarray, vs: np.ndarray):
    """One level-0 part per (series, window), in pieces of at most SEAL_MAX_SAMPLES, as rows for
    sample_chunks, of samples sorted by (series, time) with one per timestamp. Sorting and
    deduplicating are done once for the batch; a part costs its slice and its cheap encoding
    (chunks.level0) only."""
    windows = ts - ts % chunks.WINDOW_MS
    edges = np.flatnonzero((sids[1:] != sids[:-1]) | (windows[1:] != windows[:-1])) + 1
    for start, end in zip(np.concatenate(([0], edges)).tolist(), np.concatenate((edges, [ts.size])).tolist()):
        series_id, window_start = int(sids[start]), int(windows[start])
        for piece, first in enumerate(range(start, end, chunks.SEAL_MAX_SAMPLES)):
            last = min(first + chunks.SEAL_MAX_SAMPLES, end)
            yield (tenant_id, series_id, window_start, chunks.level0_part(newest_id, piece), last - first,
                   int(ts[first]), int(ts[last - 1]), chunks.level0.encode(ts[first:last], vs[first:last]))


def last_written_per_series_and_timestamp(sids: np.ndarray, ts: np.ndarray, *others: np.ndarray) -> tuple:
    """Sorted by (series, time), one sample per (series, timestamp): the last in the input; the
    other columns (values, row indexes) follow."""
    sids, ts, others = sids[::-1], ts[::-1], [column[::-1] for column in others]
    order = np.lexsort((ts, sids))  # stable: of equal keys the last written (first reversed) leads
    sids, ts, others = sids[order], ts[order], [column[order] for column in others]
    keep = np.concatenate(([True], (sids[1:] != sids[:-1]) | (ts[1:] != ts[:-1])))
    return (sids[keep], ts[keep], *(column[keep] for column in others))
