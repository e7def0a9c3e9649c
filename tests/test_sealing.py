"""Sealing against a real MariaDB: windows that are over move from the head into chunks and read
back exactly; late samples merge on the next seal with the newest value winning; a full window
becomes several parts; a repeated seal is a no-op; the scheduled job, its lock and its counters."""

import httpx
import numpy as np
import pytest

from microdash_core import chunks, db, keys
from microdash_core.store import sealing
from seal_support import (CURRENT, NOW, WINDOW, assert_nothing_doubled, assert_reads_exactly, chunk_rows,
                          drop_database, head_count, migrated_database, seal, stored_samples, write_head)


@pytest.fixture
def database(stack):
    settings = migrated_database(stack)
    yield settings
    drop_database(settings)


def _rows(tenant, series, first_ts, count, step, rng) -> list:
    # full-precision values, so any rounding on the way shows
    return [(tenant, series, first_ts + i * step, float(v)) for i, v in enumerate(rng.normal(0, 1e6, count))]


def test_windows_that_are_over_are_sealed_and_read_back_exactly(database):
    rng = np.random.default_rng(1)
    expected = {}
    rows = []
    for series in range(1, 41):
        rows += _rows(1, series, CURRENT - 3 * WINDOW + series, 2000, 10_000, rng)  # 3 past windows and the current
        rows += _rows(2, series, CURRENT - WINDOW + 7, 50, 60_000, rng)  # another tenant, the same series ids
    write_head(database, rows, expected)

    sealed = seal(database, sealing.sealed_before(NOW), batch_series=7)

    in_current = sum(1 for _t, _s, ts, _v in rows if ts >= CURRENT)
    assert sealed.samples == len(rows) - in_current
    assert head_count(database) == in_current  # the open window stays in the head
    assert sealed.series_windows == 40 * 3 + 40 and sealed.chunks == sealed.series_windows
    assert_reads_exactly(database, expected)
    assert_nothing_doubled(database, expected)
    chunks_before = stored_samples(database)

    again = seal(database, sealing.sealed_before(NOW))
    assert (again.samples, again.chunks) == (0, 0)
    assert stored_samples(database)[1] == chunks_before[1]


def test_a_window_is_sealed_only_once_its_grace_is_over(database):
    window = CURRENT - WINDOW
    write_head(database, [(1, 1, window + 5, 1.0), (1, 1, window + WINDOW - 1, 2.0)])
    assert seal(database, sealing.sealed_before(window + WINDOW + chunks.SEAL_GRACE_MS - 1)).samples == 0
    assert seal(database, sealing.sealed_before(window + WINDOW + chunks.SEAL_GRACE_MS)).samples == 2


def test_late_samples_are_merged_into_a_sealed_window_and_the_newest_value_wins(database):
    rng = np.random.default_rng(2)
    window = CURRENT - 2 * WINDOW
    expected = {}
    write_head(database, _rows(1, 5, window, 720, 10_000, rng), expected)
    seal(database, sealing.sealed_before(NOW))
    assert head_count(database) == 0

    late = [(1, 5, window + 10_000 * i, -float(i)) for i in range(0, 720, 10)]  # re-written samples
    late += [(1, 5, window + 10_000 * i + 3, 0.5 * i) for i in range(100)]  # new ones between
    write_head(database, late, expected)
    assert_reads_exactly(database, expected)  # before the next seal, the head already wins

    sealed = seal(database, sealing.sealed_before(NOW))
    assert sealed.samples == len(late) and sealed.chunks == 1
    assert head_count(database) == 0
    assert_reads_exactly(database, expected)
    assert_nothing_doubled(database, expected)


def test_a_window_over_the_part_size_is_written_as_parts_and_reads_back_exactly(database, monkeypatch):
    rng = np.random.default_rng(3)
    window = CURRENT - WINDOW
    count = 2 * chunks.SEAL_MAX_SAMPLES + 1000
    step = WINDOW // count
    expected = {}
    write_head(database, _rows(1, 9, window, count, step, rng), expected)
    sealed = seal(database, sealing.sealed_before(NOW))
    assert (sealed.samples, sealed.chunks) == (count, 3)
    with db.transaction(database) as cursor:
        cursor.execute("SELECT part, sample_count FROM sample_chunks WHERE series_id = 9 ORDER BY part")
        assert cursor.fetchall() == ((0, 8192), (1, 8192), (2, 1000))
    assert_reads_exactly(database, expected)

    # late samples that fill the window further: the parts are rewritten in one transaction
    write_head(database, [(1, 9, window + i * step + 1, float(i)) for i in range(0, count, 2)], expected)
    assert seal(database, sealing.sealed_before(NOW)).chunks == 4
    assert_reads_exactly(database, expected)
    assert_nothing_doubled(database, expected)

    # larger parts (a later release, say): the merge writes fewer parts and drops the stale ones
    monkeypatch.setattr(chunks, "SEAL_MAX_SAMPLES", 40_000)
    write_head(database, [(1, 9, window + 2, 42.0)], expected)
    assert seal(database, sealing.sealed_before(NOW)).chunks == 1
    assert chunk_rows(database) == 1
    assert_reads_exactly(database, expected)


def test_the_sealing_job_seals_what_is_over_counts_it_and_runs_once_at_a_time(stack, database):
    from microdash_workers.sealing import seal_windows

    redis_client = stack.redis_client()
    expected = {}
    write_head(database, [(1, s, CURRENT - WINDOW + i * 10_000, float(i)) for s in (1, 2) for i in range(30)]
               + [(1, 1, CURRENT + 5, 3.0)], expected)
    lock = redis_client.lock(keys.SEAL_LOCK, timeout=30)
    assert lock.acquire(blocking=False)
    try:
        assert seal_windows(database, now_ms=NOW) == 0  # another run holds the lock
    finally:
        lock.release()
    counted = {name: int(redis_client.hget(keys.TELEMETRY_COUNTERS, name) or 0)
               for name in ("samples_sealed", "chunks_written")}
    assert seal_windows(database, now_ms=NOW) == 60
    assert int(redis_client.hget(keys.TELEMETRY_COUNTERS, "samples_sealed")) - counted["samples_sealed"] == 60
    assert int(redis_client.hget(keys.TELEMETRY_COUNTERS, "chunks_written")) - counted["chunks_written"] == 2
    exposed = httpx.get(stack.api_url + "/metrics").text.splitlines()
    assert f"microdash_samples_sealed_total {float(counted['samples_sealed'] + 60)}" in exposed
    assert head_count(database) == 1
    assert_reads_exactly(database, expected)


def test_the_job_stops_at_its_time_budget_and_the_next_run_goes_on(database):
    from microdash_workers.sealing import seal_windows

    write_head(database, [(1, s, CURRENT - w * WINDOW, 1.0) for s in range(1, 4) for w in range(1, 6)])
    quick = database.model_copy(update={"seal_time_budget_seconds": 1e-6, "seal_batch_series": 1})
    assert seal_windows(quick, now_ms=NOW) == 1  # one batch, then the budget is spent
    while seal_windows(quick, now_ms=NOW):
        pass
    assert head_count(database) == 0 and chunk_rows(database) == 15


def test_the_scheduler_registers_the_sealing_job_at_its_interval(database):
    from microdash_workers.scheduler import SEAL_JOB_ID, periodic_jobs

    settings = database.model_copy(update={"seal_interval_seconds": 42})
    assert (SEAL_JOB_ID, "microdash_workers.sealing.seal_windows", 42) in periodic_jobs(settings)


def test_a_seal_takes_only_the_given_tenants(database):
    write_head(database, [(1, 1, CURRENT - WINDOW, 1.0), (2, 1, CURRENT - WINDOW, 2.0)])
    assert seal(database, NOW, tenant_ids=[2]).samples == 1
    with db.transaction(database) as cursor:
        cursor.execute("SELECT tenant_id FROM samples")
        assert cursor.fetchall() == ((1,),)
        cursor.execute("SELECT tenant_id FROM sample_chunks")
        assert cursor.fetchall() == ((2,),)


def test_due_windows_come_oldest_first_per_series_in_batches(database):
    write_head(database, [(1, s, CURRENT - w * WINDOW + 1, 1.0) for s in range(1, 6) for w in (1, 3)]
               + [(3, 9, CURRENT - WINDOW, 1.0)])
    with db.transaction(database) as cursor:
        batches = sealing.due_batches(cursor, cutoff_ms=NOW, batch_series=2)
    assert batches == [sealing.Batch(1, CURRENT - 3 * WINDOW, (1, 2)), sealing.Batch(1, CURRENT - 3 * WINDOW, (3, 4)),
                       sealing.Batch(1, CURRENT - 3 * WINDOW, (5,)), sealing.Batch(3, CURRENT - WINDOW, (9,))]


def test_a_head_text_at_its_bound_is_read_again_row_by_row(database, monkeypatch):
    rng = np.random.default_rng(6)
    expected = {}
    write_head(database, _rows(1, 3, CURRENT - WINDOW, 500, 1000, rng) + _rows(1, 4, CURRENT - WINDOW, 3, 1000, rng),
               expected)
    monkeypatch.setattr(sealing, "TEXT_BOUND", 200)
    assert seal(database, NOW).samples == 503
    assert head_count(database) == 0
    assert_reads_exactly(database, expected)


def test_a_chunk_that_does_not_decode_blocks_only_its_own_window(database):
    window = CURRENT - WINDOW
    write_head(database, [(1, 1, window, 1.0), (1, 2, window, 2.0)])
    seal(database, NOW)
    with db.transaction(database) as cursor:
        cursor.execute("UPDATE sample_chunks SET data = CONCAT(data, 'x') WHERE series_id = 1")
    write_head(database, [(1, 1, window + 1, 3.0), (1, 2, window + 1, 4.0)])
    assert seal(database, NOW).samples == 1
    with db.transaction(database) as cursor:
        cursor.execute("SELECT series_id, ts FROM samples")
        assert cursor.fetchall() == ((1, window + 1),)
