"""`microdash migrate` on a database of the previous schema (up to 0009: every sample a row):
it adds sample_chunks and converts the raw rows of every window that is over into chunks, with
progress printed; killed part way (SIGKILL) and run again, every (series, ts, value) is as before.
`--schema-only` leaves the rows where they are."""

import datetime as dt
import os
import signal
import subprocess
import time
from contextlib import closing

import numpy as np
import pytest
from yoyo import get_backend, read_migrations

from microdash_core import chunks, db, migrate
from microdash_core.partitions import ensure_partitions
from seal_support import (WINDOW, assert_nothing_doubled, assert_reads_exactly, chunk_rows, database_settings,
                          drop_database, head_count, write_head)
from support import legacy_head_partitioned

PREVIOUS_SCHEMA = "0010"  # migrations before this one


def _previous_schema(settings) -> None:
    migrate.create_database(settings)
    backend = get_backend(migrate._yoyo_url(db.DatabaseAddress.from_url(settings.database_url)))
    with backend.lock():
        backend.apply_migrations(backend.to_apply(read_migrations(str(migrate.MIGRATIONS_DIR)))
                                 .filter(lambda migration: migration.id < PREVIOUS_SCHEMA))
    with db.transaction(settings) as cursor:
        ensure_partitions(cursor, table="samples", today=dt.datetime.now(dt.timezone.utc).date(), days_back=7,
                          days_ahead=2)
        cursor.execute("SHOW TABLES LIKE 'sample_chunks'")
        assert cursor.fetchall() == ()


@pytest.fixture
def old_database(stack):
    settings = database_settings(stack, "old")
    _previous_schema(settings)
    yield settings
    drop_database(settings)


def _fill(settings, now_ms: int) -> dict:
    """Rows as the previous release stored them: 3 tenants, 400 series, 6 past windows and the
    current one (which must stay in the head)."""
    rng = np.random.default_rng(13)
    current = chunks.window_of(now_ms)
    rows = []
    for series in range(1, 401):
        tenant = 1 + series % 3
        first = current - 6 * WINDOW + series * 1000
        count = (now_ms - first) // 80_000
        values = np.round(rng.normal(100, 30, count), 2) if series % 2 else rng.normal(0, 1e9, count)
        rows += [(tenant, series, first + i * 80_000, float(v)) for i, v in enumerate(values)]
    expected = {}
    write_head(settings, rows, expected)
    return expected


def _migrate(settings, *args: str) -> subprocess.Popen:
    env = {**os.environ, "MICRODASH_DATABASE_URL": settings.database_url, "MICRODASH_REDIS_URL": settings.redis_url,
           "MICRODASH_LOG_LEVEL": "WARNING", "MICRODASH_SEAL_BATCH_SERIES": "20",
           "MICRODASH_RECLAIM_MIN_FREE_BYTES": str(1024 * 1024)}  # this small backlog is worth a rebuild
    return subprocess.Popen(["microdash", "migrate", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_migrate_converts_the_previous_schemas_rows_resumably(old_database):
    now = int(time.time() * 1000)
    expected = _fill(old_database, now)
    in_head_for_good = head_count(old_database) - head_count(old_database, chunks.window_of(now - chunks.SEAL_GRACE_MS))

    interrupted = _migrate(old_database)
    lines = []
    while not any(line.startswith("sealing:") for line in lines):  # progress: it is converting
        line = interrupted.stdout.readline()
        assert line, "".join(lines)
        lines.append(line)
    os.kill(interrupted.pid, signal.SIGKILL)
    interrupted.wait(timeout=30)
    assert lines[0].startswith("schema up to date (2 migration(s) applied)"), lines
    assert chunk_rows(old_database) > 0 and head_count(old_database) > in_head_for_good, "not killed part way"
    assert_reads_exactly(old_database, expected)
    assert_nothing_doubled(old_database, expected)

    resumed_at = int(time.time() * 1000)
    resumed = _migrate(old_database)
    output, _ = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, output
    assert "schema up to date (0 migration(s) applied)" in output
    assert "raw samples of past windows sealed into chunks" in output
    assert "samples: rebuilt in" in output, output  # the emptied head's space given back
    assert head_count(old_database, chunks.window_of(resumed_at - chunks.SEAL_GRACE_MS)) == 0
    assert head_count(old_database) <= in_head_for_good  # the windows not over stay in the head
    assert_reads_exactly(old_database, expected)
    assert_nothing_doubled(old_database, expected)

    again = _migrate(old_database)
    output, _ = again.communicate(timeout=120)
    assert again.returncode == 0 and "sealed into chunks: 0 samples" in output, output
    assert "samples: " in output and "not worth a rebuild" in output, output
    assert _partitioned(old_database)  # the windows not over still hold rows there

    # Later the sealing job seals those too; the hourly partition upkeep then finds the head empty.
    migrate.seal_backlog(old_database, now_ms=now + 3 * WINDOW + chunks.SEAL_GRACE_MS)
    assert head_count(old_database) == 0
    migrate.maintain_partitions(old_database)
    assert not _partitioned(old_database)
    assert_reads_exactly(old_database, expected)
    assert_nothing_doubled(old_database, expected)


def _partitioned(settings) -> bool:
    with closing(db.connect(settings)) as connection, connection.cursor() as cursor:
        return legacy_head_partitioned(cursor)


def test_migrate_removes_the_legacy_heads_partitions_once_it_has_sealed_every_row(old_database):
    current = chunks.window_of(int(time.time() * 1000) - chunks.SEAL_GRACE_MS)
    rows = [(1 + series % 3, series, current - 3 * WINDOW + series * 1000 + i * 60_000, float(i))
            for series in range(1, 31) for i in range(100)]
    expected = {}
    write_head(old_database, rows, expected)
    migrated = _migrate(old_database)
    output, _ = migrated.communicate(timeout=300)
    assert migrated.returncode == 0, output
    assert "samples: empty, its daily partitions removed" in output, output
    assert head_count(old_database) == 0 and not _partitioned(old_database)
    assert_reads_exactly(old_database, expected)
    assert_nothing_doubled(old_database, expected)


def test_schema_only_leaves_the_rows_in_the_head(old_database):
    now = int(time.time() * 1000)
    expected = _fill(old_database, now)
    rows = head_count(old_database)
    migrated = _migrate(old_database, "--schema-only")
    output, _ = migrated.communicate(timeout=120)
    assert migrated.returncode == 0 and "sealed" not in output, output
    assert head_count(old_database) == rows and chunk_rows(old_database) == 0 and _partitioned(old_database)
    assert_reads_exactly(old_database, expected)
