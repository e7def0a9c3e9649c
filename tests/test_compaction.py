"""Compaction of the head's log into level-0 chunk parts, on a real MariaDB:
- reads are the same before and after; a re-delivered batch stays one value per (series, ts), the
  newest write winning; a second run changes nothing; a group larger than a part is split;
- a process that compacts and seals, killed with SIGKILL at random points round after round with
  late and re-written samples appended between rounds, loses and doubles nothing (every
  (series, ts, value) compared through store.reads, and the stored rows themselves).
Concurrent ingest through the worker and the api while compacting and sealing:
tests/test_sealing_crash.py."""

import random
from contextlib import closing

import numpy as np
import pytest

from microdash_core import chunks, db
from microdash_core.store import compaction, head_log
from seal_support import (CURRENT, NOW, WINDOW, assert_nothing_doubled, assert_reads_exactly, chunk_rows,
                          drop_database, head_count, killed_a_while_after_start, late_rows, migrated_database, read_all,
                          seal, stored_samples, write_log)

MOVER = """
import sys
from contextlib import closing
from microdash_core import db
from microdash_core.settings import Settings
from microdash_core.store import compaction, sealing
settings = Settings(database_url=sys.argv[1])
with closing(db.connect(settings)) as connection:
    print("started", flush=True)
    policy = compaction.Policy(min_samples=int(sys.argv[4]), max_age_seconds=3600)
    compaction.compact_due(connection, batch_rows=int(sys.argv[3]), policy=policy)
    sealing.seal_due(connection, cutoff_ms=int(sys.argv[2]), batch_series=20)
print("done", flush=True)
"""


@pytest.fixture
def database(stack):
    settings = migrated_database(stack, "compact")
    yield settings
    drop_database(settings)


def _compact(settings, **kwargs) -> compaction.Compacted:
    with closing(db.connect(settings)) as connection:
        return compaction.compact_due(connection, **kwargs)


def _log_rows(settings) -> int:
    with db.transaction(settings) as cursor:
        cursor.execute("SELECT COUNT(*) FROM sample_log")
        return cursor.fetchone()[0]


def _level0_parts(settings) -> list[tuple]:
    with db.transaction(settings) as cursor:
        cursor.execute("SELECT tenant_id, series_id, window_start, part, sample_count FROM sample_chunks"
                       " WHERE part >= %s ORDER BY tenant_id, series_id, window_start, part", (chunks.LEVEL0_PART_BASE,))
        return list(cursor.fetchall())


def test_compaction_keeps_every_read_and_a_second_run_changes_nothing(database):
    rng = np.random.default_rng(1)
    expected = {}
    rows = [(tenant, series, CURRENT - WINDOW + i * 30_000, float(v))
            for tenant in (1, 2) for series in range(1, 31) for i, v in enumerate(rng.normal(0, 100, 400))]
    write_log(database, rows, expected, batch_size=700)
    redelivered = rows[1000:1700]  # the same batch appended again: same samples, same values
    write_log(database, redelivered, expected, batch_size=700)
    rewritten = [(tenant, series, ts, value + 1) for tenant, series, ts, value in rows[3000:3100]]
    write_log(database, rewritten, expected)
    assert read_all(database, [1, 2]) == expected
    with db.transaction(database) as cursor:
        cursor.execute("SELECT COUNT(*) FROM sample_log GROUP BY tenant_id ORDER BY tenant_id")
        per_tenant = [count for (count,) in cursor.fetchall()]

    done = _compact(database, batch_rows=3)
    assert done.log_rows == sum(per_tenant) and done.samples == len(rows) + 800
    assert _log_rows(database) == 0
    assert read_all(database, [1, 2]) == expected
    parts = _level0_parts(database)
    numbers = {part for *_key, part, _count in parts}
    assert len(numbers) == sum(-(-count // 3) for count in per_tenant)  # one number per compaction batch
    assert all(count <= chunks.SEAL_MAX_SAMPLES for *_key, count in parts)

    again = _compact(database)
    assert (again.log_rows, again.parts) == (0, 0) and _level0_parts(database) == parts
    assert_nothing_doubled(database, expected)


def test_a_group_larger_than_a_part_is_written_in_pieces_and_sealed_into_canonical_parts(database):
    expected = {}
    count = chunks.SEAL_MAX_SAMPLES * 2 + 100
    rows = [(1, 7, CURRENT - WINDOW + i * 100, float(i)) for i in range(count)]
    write_log(database, rows, expected, batch_size=count)
    done = _compact(database)
    assert done.parts == 3 and [row[4] for row in _level0_parts(database)] == [8192, 8192, 100]
    assert read_all(database, [1]) == expected

    sealed = seal(database)
    assert sealed.samples == count and _level0_parts(database) == [] and chunk_rows(database) == 3
    assert head_count(database) == 0
    assert_reads_exactly(database, expected)
    assert_nothing_doubled(database, expected)


def test_a_late_sample_compacted_after_its_window_was_sealed_wins_and_the_next_seal_folds_it(database):
    expected = {}
    write_log(database, [(1, 3, CURRENT - WINDOW + i * 10_000, 1.0) for i in range(100)], expected)
    _compact(database)
    seal(database)
    assert chunk_rows(database) == 1 and _level0_parts(database) == []
    write_log(database, [(1, 3, CURRENT - WINDOW + 50 * 10_000, 9.0), (1, 3, CURRENT - WINDOW + 5, 8.0)], expected)
    _compact(database)
    assert len(_level0_parts(database)) == 1 and read_all(database, [1]) == expected
    assert seal(database).samples == 2
    assert chunk_rows(database) == 1 and _level0_parts(database) == []
    assert_reads_exactly(database, expected)


def _kill_after_a_while(settings, picker: random.Random) -> bool:
    """Start a compactor-sealer, SIGKILL it a random time after it starts; True if still running."""
    # min_samples 1 flushes every series; 40 and 100 leave some in the log, re-written (waiting)
    return killed_a_while_after_start(MOVER, [settings.database_url, NOW, picker.choice([1, 4, 16]),
                                              picker.choice([1, 40, 100])], picker,
                                      wait_seconds=(0.02, 0.6))  # the mover is quick since parts are cheap to write


def test_a_compactor_killed_at_random_points_loses_and_doubles_nothing(database):
    rng = np.random.default_rng(8)
    picker = random.Random(8)
    windows = [CURRENT - w * WINDOW for w in (3, 2, 1, 0)]
    expected = {}
    rows = [(1 + s % 2, s, window + i * 40_000, float(v)) for s in range(1, 301) for window in windows
            for i, v in enumerate(rng.normal(0, 1e3, 150))]
    write_log(database, [row for row in rows if row[2] < windows[1]], expected)
    _compact(database)
    seal(database)  # the oldest window sealed: later rounds merge into it
    write_log(database, [row for row in rows if row[2] >= windows[1]], expected, batch_size=300)
    write_log(database, late_rows(rng, range(1, 301), windows[:2], 0.2, tenants=2, shuffled=True), expected,
              batch_size=300)
    log_rows = _log_rows(database)

    killed_while_running = 0
    for _round in range(6):
        killed_while_running += _kill_after_a_while(database, picker)
        assert_reads_exactly(database, expected)
        assert_nothing_doubled(database, expected)
        late = late_rows(rng, range(1, 301, 7), windows, 0.1, tenants=2, shuffled=True)  # sealed, half-moved or not
        before = _log_rows(database)
        write_log(database, late, expected, batch_size=200)
        log_rows += _log_rows(database) - before
    assert killed_while_running >= 3, "the mover finished before most kills: the rounds tested little"
    assert _log_rows(database) < log_rows, "the killed movers committed nothing"

    _compact(database)
    seal(database)
    assert _log_rows(database) == 0
    assert {row[2] for row in _level0_parts(database)} <= {CURRENT}  # only the open window's
    assert_reads_exactly(database, expected)
    assert_nothing_doubled(database, expected)
    sealed, unsealed = stored_samples(database)
    assert sum(ts.size for ts in sealed.values()) + sum(len(set(ts)) for ts in unsealed.values()) == \
        sum(len(samples) for samples in expected.values())


def test_the_job_compacts_counts_and_runs_once_at_a_time(database):
    import redis

    from microdash_core import keys
    from microdash_workers.compaction import compact_log
    from microdash_workers.scheduler import COMPACT_JOB_ID, periodic_jobs

    assert (COMPACT_JOB_ID, "microdash_workers.compaction.compact_log", 7) in periodic_jobs(
        database.model_copy(update={"compact_interval_seconds": 7}))
    client = redis.Redis.from_url(database.redis_url)
    counted, parts_counted = (int(client.hget(keys.TELEMETRY_COUNTERS, name) or 0)
                              for name in ("samples_compacted", "level0_parts_written"))
    expected = {}
    write_log(database, [(1, s, CURRENT + s * 1000, float(s)) for s in range(1, 41)], expected, batch_size=10)
    held = client.lock(keys.COMPACT_LOCK, timeout=30)
    assert held.acquire(blocking=False)
    try:
        assert compact_log(database) == 0 and _log_rows(database) == 40  # another run holds the lock
    finally:
        held.release()
    # 40 log rows: four batches of ten series, each series in its own bucket
    assert compact_log(database) == 0 and _log_rows(database) == 40  # one sample a series, young: waits
    assert compact_log(database.model_copy(update={"compact_min_samples": 1})) == 40 and _log_rows(database) == 0
    assert int(client.hget(keys.TELEMETRY_COUNTERS, "samples_compacted")) - counted == 40
    assert int(client.hget(keys.TELEMETRY_COUNTERS, "level0_parts_written")) - parts_counted == 40  # one a series
    assert read_all(database, [1]) == expected


def test_a_corrupt_log_row_stops_its_tenants_compaction_only(database):
    expected = {}
    write_log(database, [(1, 1, CURRENT + i, 1.0) for i in range(10)], batch_size=5)
    write_log(database, [(2, 1, CURRENT + i, 2.0) for i in range(10)], expected, batch_size=5)
    with db.transaction(database) as cursor:
        cursor.execute("SELECT MIN(id) FROM sample_log WHERE tenant_id = 1")
        (broken,), = cursor.fetchall()
        cursor.execute("UPDATE sample_log SET data = CONCAT(LEFT(data, 40), 'x', SUBSTRING(data, 42)) WHERE id = %s",
                       (broken,))
    done = _compact(database)
    assert done.samples == 10 and read_all(database, [2]) == expected
    with db.transaction(database) as cursor:
        cursor.execute("SELECT tenant_id, COUNT(*) FROM sample_log GROUP BY tenant_id")
        assert cursor.fetchall() == ((1, 2),)  # both of tenant 1's rows wait, in order


SLOW, FAST = 11, 12  # a series with a sample per batch, and one with many


def _policy(**kwargs) -> compaction.Policy:
    return compaction.Policy(**{"min_samples": 50, "max_age_seconds": 3600, **kwargs})


def _log_ids(settings, tenant: int = 1) -> list[int]:
    with db.transaction(settings) as cursor:
        cursor.execute("SELECT id FROM sample_log WHERE tenant_id = %s ORDER BY id", (tenant,))
        return [log_id for (log_id,) in cursor.fetchall()]


def _common_load(settings, expected, batches: int, *, first: int = 0, tenant: int = 1) -> None:
    """Batches as a scrape makes them: one sample of SLOW and of 100 other slow series, and 15 of
    FAST (116 samples a batch)."""
    for b in range(first, first + batches):
        ts = CURRENT + b * 10_000
        rows = [(tenant, series, ts, float(b)) for series in [SLOW, *range(100, 200)]]
        rows += [(tenant, FAST, ts + i, float(b * 100 + i)) for i in range(15)]
        write_log(settings, rows, expected, batch_size=len(rows))


def test_a_series_waits_in_the_log_until_it_has_enough_samples_and_reads_never_change(database):
    expected = {}
    _common_load(database, expected, 3)
    nothing = _compact(database, policy=_policy())
    rows = 3 * head_log.BUCKETS  # 102 series a batch: every bucket
    assert (nothing.log_rows, nothing.parts, nothing.waiting_rows) == (0, 0, rows) and _log_rows(database) == rows
    _common_load(database, expected, 1, first=3)  # FAST now holds 60 samples in the batch: due
    before = _log_ids(database)
    done = _compact(database, policy=_policy())
    assert (done.log_rows, done.samples, done.parts) == (rows + head_log.BUCKETS, 60, 1)
    assert [row[1] for row in _level0_parts(database)] == [FAST]
    # the 404 waiting samples in a row per bucket, under the bucket's largest id (its row of the
    # last batch): later rows stay newer
    assert done.waiting == 404 and _log_ids(database) == before[-head_log.BUCKETS:]
    assert read_all(database, [1]) == expected

    _common_load(database, expected, 50, first=4)  # every slow series reaches 50 + 4
    done = _compact(database, policy=_policy())
    assert done.waiting == 0 and _log_rows(database) == 0
    parts = _level0_parts(database)
    assert len([part for part in parts if part[1] == SLOW]) == 1 and sum(part[4] for part in parts) == \
        sum(len(samples) for samples in expected.values())
    assert read_all(database, [1]) == expected
    assert_nothing_doubled(database, expected)


def test_a_later_write_wins_over_a_waiting_sample_and_over_its_part(database):
    expected = {}
    _common_load(database, expected, 2)
    write_log(database, [(1, FAST, CURRENT + i, -1.0) for i in range(60)], expected)  # FAST due, rewritten
    _compact(database, policy=_policy())
    assert read_all(database, [1]) == expected
    # re-written values of a waiting sample and of a compacted one, appended after the compaction
    write_log(database, [(1, SLOW, CURRENT, 42.0), (1, FAST, CURRENT + 3, 43.0)], expected)
    assert read_all(database, [1]) == expected
    _compact(database, policy=_policy())
    assert read_all(database, [1]) == expected
    _compact(database)
    assert _log_rows(database) == 0 and read_all(database, [1]) == expected
    seal(database, CURRENT + 3 * WINDOW)
    assert_reads_exactly(database, expected)
    assert_nothing_doubled(database, expected)


def test_a_sample_leaves_the_log_once_it_is_old_enough_and_waiting_keeps_its_age(database):
    expected = {}
    _common_load(database, expected, 2)
    with db.transaction(database) as cursor:  # the first batch written two minutes ago
        cursor.execute("UPDATE sample_log SET written_at = NOW(3) - INTERVAL 120 SECOND WHERE id <= %s",
                       (_log_ids(database)[head_log.BUCKETS - 1],))  # its row of every bucket
    write_log(database, [(1, 500, CURRENT + 5, 1.0)], expected)  # a series only in a young row
    done = _compact(database, policy=_policy(max_age_seconds=60))
    assert done.waiting == 1 and done.samples == 2 * 116  # the old row's series, with their young samples
    assert read_all(database, [1]) == expected
    assert _compact(database, policy=_policy(max_age_seconds=60)).log_rows == 0  # series 500 is young
    with db.transaction(database) as cursor:
        cursor.execute("UPDATE sample_log SET written_at = NOW(3) - INTERVAL 61 SECOND")
    assert _compact(database, policy=_policy(max_age_seconds=60)).samples == 1 and _log_rows(database) == 0
    assert read_all(database, [1]) == expected


def test_a_batch_of_max_log_samples_flushes_every_series(database):
    expected = {}
    _common_load(database, expected, 2)
    done = _compact(database, policy=_policy(max_log_samples=2 * 116))
    assert done.waiting == 0 and _log_rows(database) == 0 and read_all(database, [1]) == expected


def test_a_batch_of_few_large_rows_stops_at_max_log_samples_and_the_next_batch_takes_the_rest(database):
    """A stored batch of one series is one large row: batch_rows of them could hold far more than
    memory should. A batch takes rows until it holds max_log_samples (it then flushes every
    series), and the run goes on with the rows behind it."""
    expected = {}
    rows = [(1, 7, CURRENT + i * 1000, float(i)) for i in range(500)]
    write_log(database, rows, expected, batch_size=100)  # five rows of 100 samples
    assert _log_rows(database) == 5
    done = _compact(database, batch_rows=100, policy=_policy(max_log_samples=250))
    assert (done.batches, done.log_rows, done.samples, done.waiting) == (2, 5, 500, 0)  # 3 rows, then 2
    assert len({part for *_key, part, _count in _level0_parts(database)}) == 2
    assert _log_rows(database) == 0 and read_all(database, [1]) == expected


def test_waiting_rows_keep_their_tenant_and_another_tenant_is_untouched(database):
    mine, theirs = {}, {}
    _common_load(database, mine, 3, tenant=1)
    _common_load(database, theirs, 1, tenant=2)
    write_log(database, [(1, FAST, CURRENT + 50_000 + i, 0.5) for i in range(60)], mine)
    theirs_before = _log_ids(database, tenant=2)
    done = _compact(database, policy=_policy(), tenant_ids=[1])
    assert done.parts == 1 and done.waiting > 0
    assert _log_ids(database, tenant=2) == theirs_before
    with db.transaction(database) as cursor:
        cursor.execute("SELECT DISTINCT tenant_id FROM sample_chunks")
        assert cursor.fetchall() == ((1,),)
    assert read_all(database, [1]) == mine and read_all(database, [2]) == theirs


def test_rows_whose_series_could_be_due_are_decoded_and_left_alone_when_none_is(database):
    """Four rows of 15 samples of four series: their series_max add up to 60 (>= 50), so the
    batch is decoded, but no series has 50: nothing is written, the rows stay as they were."""
    expected = {}
    for series in (21, 22, 23, 24):
        write_log(database, [(1, series, CURRENT + i * 1000, float(i)) for i in range(15)], expected)
    before = _log_ids(database)
    done = _compact(database, policy=_policy())
    assert (done.log_rows, done.parts, done.waiting, done.waiting_rows) == (0, 0, 60, 4)
    assert _log_ids(database) == before and read_all(database, [1]) == expected
    write_log(database, [(1, 22, CURRENT + i * 1000 + 1, 1.0) for i in range(40)], expected)
    done = _compact(database, policy=_policy())
    assert (done.parts, done.samples, done.waiting) == (1, 55, 45) and read_all(database, [1]) == expected


def test_parts_split_over_several_statements_are_all_written(database, monkeypatch):
    monkeypatch.setattr(db, "STATEMENT_BYTES", 300)  # a statement or two per part
    expected = {}
    write_log(database, [(1, series, CURRENT + i * 1000, float(series * i)) for series in range(1, 30)
                         for i in range(1 + series % 5)] + [(1, 99, CURRENT + i, 0.5) for i in range(200)], expected)
    done = _compact(database)
    assert done.parts == 30 and _log_rows(database) == 0 and read_all(database, [1]) == expected
