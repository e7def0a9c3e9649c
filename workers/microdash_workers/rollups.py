"""The rollup job: recompute the 1-minute and 5-minute aggregates of the buckets that stored
samples touched (see rollup_marks), tenant by tenant, idempotently."""

import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import closing
from dataclasses import dataclass
from itertools import groupby

import numpy as np
import pymysql
import redis

from microdash_core import chunks, db, keys
from microdash_core.settings import Settings, get_settings
from microdash_core.store import reads

from . import minute_rollups, rollup_marks
from .job_lock import run_alone
from .retention_policy import RAW, cutoff_ms, days_of_tenant

log = logging.getLogger(__name__)
MINUTE_MS = rollup_marks.MINUTE_MS
FIVE_MINUTES_MS = 5 * MINUTE_MS
# One 5m statement reads at most this much of a tenant's history, so a backlog stays in small steps.
MAX_RANGE_MS = 60 * MINUTE_MS
# One raw read covers at most one chunk window (so each chunk is decoded once per run) of this many
# series: at one sample per 10 s that is 720,000 samples, ~12 MB of arrays.
SERIES_PER_READ = 1_000

# Re-running a range rewrites its rows with freshly computed aggregates, so a re-roll after a
# late sample (or after a crash) converges to the same rows. The 1m rows are computed from the raw
# samples (sealed chunks plus head, read through microdash_core.store.reads) with numpy
# (minute_rollups). A 5m bucket whose five minutes are all being rolled comes from those 1m rows in
# memory; one with some minutes not rolled now (the usual case at the head of time: a run rolls
# the last minute or two) from samples_1m, in SQL, where `last` comes from the 1m row holding the
# greatest timestamp, looked up by primary key. Both give the same rows.
ROLL_5M_SQL = """
INSERT INTO samples_5m (tenant_id, series_id, bucket_ts, sample_count, value_sum, value_min, value_max,
                        last_value, last_ts)
SELECT %(tenant)s, agg.series_id, agg.bucket, agg.n, agg.total, agg.lo, agg.hi, m.last_value, agg.last_ts
FROM (SELECT series_id, bucket_ts - bucket_ts MOD 300000 AS bucket, SUM(sample_count) AS n,
             SUM(value_sum) AS total, MIN(value_min) AS lo, MAX(value_max) AS hi, MAX(last_ts) AS last_ts
      FROM samples_1m WHERE tenant_id = %(tenant)s AND series_id IN ({series})
                            AND bucket_ts >= %(start)s AND bucket_ts < %(end)s
      GROUP BY series_id, bucket) AS agg
JOIN samples_1m AS m ON m.tenant_id = %(tenant)s AND m.series_id = agg.series_id
                     AND m.bucket_ts = agg.last_ts - agg.last_ts MOD 60000
ON DUPLICATE KEY UPDATE sample_count = VALUES(sample_count), value_sum = VALUES(value_sum),
    value_min = VALUES(value_min), value_max = VALUES(value_max), last_value = VALUES(last_value),
    last_ts = VALUES(last_ts)
"""


def roll_up(settings: Settings | None = None, *, now_ms: int | None = None) -> int:
    """RQ job (scheduled). Rolls up the closed dirty buckets; returns how many (tenant, minute) it did.

    One run at a time (a Redis lock); rounds of at most MICRODASH_ROLLUP_CLAIM_BUCKETS buckets
    until none are due or the time budget is spent.
    """
    settings = settings or get_settings()
    connection = redis.Redis.from_url(settings.redis_url)
    return run_alone(connection, keys.ROLLUP_LOCK, what="rollup", run=lambda: _roll_up(settings, connection, now_ms))


def _roll_up(settings: Settings, connection: redis.Redis, now_ms: int | None) -> int:
    with closing(_connect(settings)) as database, closing(_connect(settings)) as reader, \
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="rollup-read") as executor:
        reader.autocommit(True)  # one SELECT at a time: no transaction to keep open
        return _roll_rounds(settings, connection, database, now_ms, ReadAhead(reader, executor))


def _connect(settings: Settings) -> pymysql.connections.Connection:
    database = db.connect(settings)
    db.read_committed(database)  # reads see committed samples only and take no locks that would stall ingest
    return database


@dataclass(frozen=True)
class ReadAhead:
    """A second connection and one thread that reads and prepares the next step (raw samples, numpy,
    INSERT text) while this step's rows are written: the job otherwise waits for MariaDB one
    statement at a time, and preparing (MariaDB reading, then Python) and writing (MariaDB) can
    use two cores. Two steps are in memory at once."""
    connection: pymysql.connections.Connection
    executor: ThreadPoolExecutor


def _roll_rounds(settings: Settings, connection: redis.Redis, database, now_ms: int | None,
                 read_ahead: ReadAhead | None = None) -> int:
    deadline = time.monotonic() + settings.rollup_time_budget_seconds
    rolled = 0
    while True:
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        rollup_marks.claim_closed(connection, closed_before_ms=now - settings.rollup_grace_seconds * 1000,
                                  limit=settings.rollup_claim_buckets)
        buckets = rollup_marks.claimed(connection, limit=settings.rollup_claim_buckets)
        if not buckets:
            return rolled
        for tenant_id, tenant_buckets in groupby(sorted(buckets), key=lambda bucket: bucket[0]):
            minutes = [minute for _tenant, minute in tenant_buckets]
            roll_tenant(database, settings, tenant_id=tenant_id, minutes=minutes, now_ms=now, read_ahead=read_ahead)
            rollup_marks.release(connection, [(tenant_id, minute) for minute in minutes])
        rolled += len(buckets)
        if time.monotonic() > deadline:
            log.info("rollup time budget spent; the rest waits for the next run", extra={"rolled": rolled})
            return rolled


def roll_tenant(database: pymysql.connections.Connection, settings: Settings, *, tenant_id: int,
                minutes: list[int], now_ms: int, read_ahead: ReadAhead | None = None) -> None:
    """Recompute the tenant's 1m rows for the given minutes and the 5m rows that enclose them
    (raw reads on `database` one after the other, or ahead on read_ahead's connection)."""
    with database.cursor() as cursor:
        # Raw rows older than the tenant's raw retention may be partly deleted already; re-rolling
        # from what is left would shrink a complete rollup row, so such buckets keep their rows.
        oldest = cutoff_ms(now_ms, days_of_tenant(cursor, settings, RAW, tenant_id))
        kept = [minute for minute in minutes if minute >= oldest]
        if len(kept) < len(minutes):
            log.warning("late samples behind raw retention not rolled up",
                        extra={"tenant_id": tenant_id, "buckets": len(minutes) - len(kept)})
        roll_minutes(cursor, tenant_id=tenant_id, minutes=kept, read_ahead=read_ahead)
    database.commit()


def roll_minutes(cursor, *, tenant_id: int, minutes: list[int], read_ahead: ReadAhead | None = None) -> int:
    """Write the tenant's 1m rows of the given minutes from its raw samples, and the 5m rows that
    enclose them; returns the 1m rows written. A minute without samples keeps whatever row it had
    (as the SQL rollup did)."""
    if not minutes:
        return 0
    cursor.execute("SELECT id FROM series WHERE tenant_id = %s ORDER BY id", (tenant_id,))
    series_ids = [row[0] for row in cursor.fetchall()]
    steps = [(span, window_minutes, series_ids[i:i + SERIES_PER_READ])
             for first, end, window_minutes in window_spans(minutes)
             for span in [reads.Span.half_open(first, end)] for i in range(0, len(series_ids), SERIES_PER_READ)]
    written = 0
    prepared = _prepared(cursor, tenant_id, steps, read_ahead)
    for (_span, window_minutes, group), (rows, statements) in zip(steps, prepared):
        for statement in statements:
            cursor.execute(statement)
        for start, stop in merged_ranges(five_minute_buckets(window_minutes)[1].tolist(), FIVE_MINUTES_MS):
            cursor.execute(ROLL_5M_SQL.format(series=",".join(str(int(s)) for s in group)),
                           {"tenant": tenant_id, "start": start, "end": stop})
        written += rows
    return written


def _prepared(cursor, tenant_id: int, steps: list, read_ahead: ReadAhead | None) -> Iterator[tuple[int, list[str]]]:
    """Per step, in order: its 1m row count and the INSERTs of its 1m rows and of its whole 5m
    buckets. With read_ahead, the next step is read and prepared (MariaDB, then numpy and the
    statement text) in the other thread while the caller writes this one."""
    def prepare(step, on_cursor) -> tuple[int, list[str]]:
        span, window_minutes, group = step
        found = reads.read_series(on_cursor, tenant_id=tenant_id, series_ids=group, span=span)
        one_minute = minute_rollups.minute_rows(found, window_minutes)
        whole, _partial = five_minute_buckets(window_minutes)
        five_minutes = minute_rollups.five_minute_rows(one_minute, whole)
        return len(one_minute), (minute_rollups.insert_statements("samples_1m", tenant_id, one_minute)
                                 + minute_rollups.insert_statements("samples_5m", tenant_id, five_minutes))

    if read_ahead is None:
        yield from (prepare(step, cursor) for step in steps)
        return
    with read_ahead.connection.cursor() as reader:
        pending = read_ahead.executor.submit(prepare, steps[0], reader) if steps else None
        try:
            for n in range(len(steps)):
                done = pending.result()
                pending = read_ahead.executor.submit(prepare, steps[n + 1], reader) if n + 1 < len(steps) else None
                yield done
        finally:
            if pending is not None:  # the caller stopped early: the reader's cursor is free only after this
                wait([pending])


def five_minute_buckets(minutes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 5m buckets (starts) enclosing the sorted minutes: those whose five minutes are all
    among them, and the others."""
    buckets, counts = np.unique(minutes - minutes % FIVE_MINUTES_MS, return_counts=True)
    whole = counts == FIVE_MINUTES_MS // MINUTE_MS
    return buckets[whole], buckets[~whole]


def window_spans(minutes: list[int]) -> list[tuple[int, int, np.ndarray]]:
    """(first, end, minutes) per chunk window the minutes fall in: [first, end) spans the window's
    first to last given minute, so a chunk is read once for all of its minutes."""
    spans = []
    ordered = sorted(set(minutes))
    for _window, group in groupby(ordered, key=chunks.window_of):
        in_window = list(group)
        spans.append((in_window[0], in_window[-1] + MINUTE_MS, np.array(in_window, dtype=np.int64)))
    return spans


def merged_ranges(minutes: list[int], width_ms: int) -> list[tuple[int, int]]:
    """Half-open [start, end) ranges of whole width_ms buckets covering the minutes, adjacent ones merged."""
    ranges: list[tuple[int, int]] = []
    for bucket in sorted({minute - minute % width_ms for minute in minutes}):
        if ranges and ranges[-1][1] == bucket and bucket - ranges[-1][0] < MAX_RANGE_MS:
            ranges[-1] = (ranges[-1][0], bucket + width_ms)
        else:
            ranges.append((bucket, bucket + width_ms))
    return ranges
