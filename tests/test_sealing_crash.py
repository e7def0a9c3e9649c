"""Sealing is crash-safe and safe under concurrent ingest, on a real MariaDB:
- a sealer process killed with SIGKILL at random points, round after round, loses nothing and
  doubles nothing (every (series, ts, value) compared through store.reads, and the stored chunks
  and head rows themselves);
- the worker's SampleStore (and the api) writing (and re-writing) samples into a window while its
  log is compacted and the window sealed: every sample ends up readable exactly once, with the
  newest value. (The compactor's own crash test: tests/test_compaction.py.)"""

import random
import time
from contextlib import closing

import numpy as np
import pytest

from microdash_core import chunks, db
from microdash_core.store import compaction, sealing
from microdash_core.tenants import directory
from seal_support import (CURRENT, NOW, WINDOW, Rewrites, assert_nothing_doubled, assert_reads_exactly, by_series,
                          compact_and_seal, drop_database, head_count, killed_a_while_after_start, late_rows,
                          migrated_database, read_all, repeated_in_background, stored_samples, write_head)

SEALER = """
import sys
from contextlib import closing
from microdash_core import db
from microdash_core.settings import Settings
from microdash_core.store import sealing
settings = Settings(database_url=sys.argv[1])
with closing(db.connect(settings)) as connection:
    print("started", flush=True)
    sealing.seal_due(connection, cutoff_ms=int(sys.argv[2]), batch_series=int(sys.argv[3]))
print("done", flush=True)
"""


@pytest.fixture
def database(stack):
    settings = migrated_database(stack)
    yield settings
    drop_database(settings)


def _kill_after_a_while(settings, picker: random.Random) -> bool:
    """Start a sealer, SIGKILL it a random time after it starts sealing; True if it was still running."""
    return killed_a_while_after_start(SEALER, [settings.database_url, NOW, picker.choice([2, 5, 20])], picker,
                                      wait_seconds=(0.05, 1.0))


def test_a_sealer_killed_at_random_points_loses_and_doubles_nothing(database):
    rng = np.random.default_rng(4)
    picker = random.Random(4)
    windows = [CURRENT - w * WINDOW for w in (4, 3, 2, 1)]
    expected = {}
    rows = [(1, s, window + i * 40_000, float(v)) for s in range(1, 401) for window in windows
            for i, v in enumerate(rng.normal(0, 1e3, 150))]
    write_head(database, [row for row in rows if row[2] < windows[2]], expected)
    compact_and_seal(database)  # the two oldest windows are sealed already: the rounds below merge into them
    write_head(database, [row for row in rows if row[2] >= windows[2]], expected)
    write_head(database, late_rows(rng, range(1, 401), windows[:2], 0.2), expected)
    total = head_count(database)

    killed_while_running = 0
    for _round in range(6):
        killed_while_running += _kill_after_a_while(database, picker)
        assert_reads_exactly(database, expected)
        assert_nothing_doubled(database, expected)
        # more late samples for the next round, into windows that may be sealed, half-sealed or not
        late = late_rows(rng, range(1, 401, 7), windows, 0.1)
        write_head(database, late, expected)
        total += len(late)
    assert killed_while_running >= 3, "the sealer finished before most kills: the rounds tested little"
    assert head_count(database) < total, "the killed sealers committed nothing"

    compact_and_seal(database)
    assert head_count(database) == 0
    assert_reads_exactly(database, expected)
    assert_nothing_doubled(database, expected)
    sealed, _head = stored_samples(database)
    assert sum(ts.size for ts in sealed.values()) == sum(len(samples) for samples in expected.values())


def test_samples_stored_into_a_window_while_it_is_sealed_are_read_exactly_once_newest_value(stack, database):
    from microdash_workers.storage import SampleStore

    with db.transaction(database) as cursor:
        tenant = directory.create_tenant(cursor, name="sealing-race")
    store = SampleStore(database)
    windows = [CURRENT - WINDOW, CURRENT]
    writes = Rewrites(random.Random(5), metric="race_metric", label="k", series=20,
                      timestamp=lambda rng: rng.choice(windows) + rng.randrange(300) * 24_000)
    seals: list[sealing.Sealed] = []
    sizes = random.Random(7)

    def compact_and_seal_a_while(connection):
        compaction.compact_due(connection, batch_rows=sizes.choice([1, 3, 10]),
                               deadline=time.monotonic() + 0.5)  # it drains a log that keeps growing
        sealing.seal_due(connection, cutoff_ms=CURRENT + 2 * WINDOW, batch_series=5,
                         on_batch=lambda _batch, sealed: seals.append(sealed))

    deadline = time.monotonic() + 300
    stored = 0
    try:
        with repeated_in_background(database, compact_and_seal_a_while):
            # Appending a batch to the log is quick: write until the seals have overlapped the writes.
            while stored < 150 or sum(1 for sealed in list(seals) if sealed.samples) < 10:
                assert time.monotonic() < deadline, "the seals did not overlap the writes"
                stored += 1
                store.store(tenant_id=tenant.id, samples=writes.batch(200))
    finally:
        store.close()
    assert sum(1 for sealed in seals if sealed.samples) >= 10, "the seals did not overlap the writes"

    compact_and_seal(database, CURRENT + 2 * WINDOW)
    assert head_count(database) == 0
    expected = by_series(database, tenant.id, writes.written, "k")
    assert_reads_exactly(database, expected)
    assert_nothing_doubled(database, expected)


def test_samples_posted_to_the_api_while_their_window_is_sealed_are_read_once_newest_value(stack):
    """The same through the real api and worker, into the shared database (the seals take only
    this tenant). One worker stores the batches in the order they were accepted."""
    tenant, token = stack.new_tenant("seal-api")
    settings = stack.settings
    windows = [chunks.window_of(int(time.time() * 1000)) - w * WINDOW for w in (2, 1)]  # over, and recent
    writes = Rewrites(random.Random(6), metric="sealed_race", label="host", series=10, prefix="h",
                      timestamp=lambda rng: rng.choice(windows) + rng.randrange(300) * 24_000)
    sealed_batches: list[int] = []

    def compact_and_seal_the_tenant(connection):
        compaction.compact_due(connection, batch_rows=2, tenant_ids=[tenant.id])
        sealing.seal_due(connection, cutoff_ms=windows[-1] + 2 * WINDOW, batch_series=3,
                         tenant_ids=[tenant.id], on_batch=lambda _b, s: sealed_batches.append(s.samples))
        time.sleep(0.05)

    with repeated_in_background(settings, compact_and_seal_the_tenant):
        with stack.client(token) as client:
            for _request in range(60):
                assert client.post("/api/v1/metrics/bulk", json=writes.body(150)).status_code == 202
        deadline = time.monotonic() + 60
        while True:  # until the worker has stored every batch
            expected = by_series(settings, tenant.id, writes.written, "host")
            if read_all(settings, [tenant.id]) == expected or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert sum(1 for samples in sealed_batches if samples) >= 5, "the seals did not overlap the writes"
    with closing(db.connect(settings)) as connection:
        compaction.compact_due(connection, tenant_ids=[tenant.id])
        sealing.seal_due(connection, cutoff_ms=windows[-1] + 2 * WINDOW, tenant_ids=[tenant.id])
    assert stack.sql("SELECT COUNT(*) FROM sample_log WHERE tenant_id = %s", (tenant.id,)) == [(0,)]  # the head
    assert stack.sql("SELECT COUNT(*) FROM sample_chunks WHERE tenant_id = %s AND part >= %s",
                     (tenant.id, chunks.LEVEL0_PART_BASE)) == [(0,)]
    assert_reads_exactly(settings, expected)
    assert_nothing_doubled(settings, expected)
