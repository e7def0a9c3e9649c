"""Retention: whole daily partitions dropped past the longest retention, bounded deletes for tenants
with a shorter one, raw samples alike in the head and in sealed chunks (whole 2 h windows). Each
test gets its own database on the stack's MariaDB, with partitions reaching 47 days back, so
dropping partitions never disturbs the other tests. Chunk rows are inserted directly, as a
sealer would write them. Every test runs twice: with the legacy head (`samples`) unpartitioned,
as a fresh install has it, and daily-partitioned, as an upgraded database keeps it until its rows
are sealed."""

import datetime as dt
import time
import uuid

import numpy as np
import pytest

from microdash_core import chunks, db, migrate
from microdash_core.partitions import existing_partitions
from microdash_core.settings import Settings
from microdash_core.store import head_log
from microdash_core.tenants import directory
from microdash_workers.retention import enforce_retention
from microdash_workers.retention_policy import RAW, cutoff_ms
from support import append_log, partition_legacy_head

DAY = 86_400_000
HOUR = 3_600_000
WINDOW = chunks.WINDOW_MS


@pytest.fixture(params=[False, True], ids=["legacy-head-unpartitioned", "legacy-head-partitioned"])
def legacy_partitioned(request) -> bool:
    return request.param


@pytest.fixture
def database(stack, legacy_partitioned):
    """Settings for a private database; call it with setting overrides."""
    name = f"microdash_retention_{uuid.uuid4().hex[:10]}"
    url = stack.services.environment(database=name)["MICRODASH_DATABASE_URL"]
    created = []

    def make(**overrides) -> Settings:
        settings = Settings(database_url=url, redis_url=stack.settings.redis_url, **overrides)
        if not created:
            today = dt.datetime.now(dt.timezone.utc).date()
            migrate.migrate(settings, today=today - dt.timedelta(days=40))
            migrate.maintain_partitions(settings, today=today)  # also fills the days in between
            if legacy_partitioned:
                partition_legacy_head(settings, today=today, days_back=47, days_ahead=7)
            created.append(name)
        return settings

    yield make
    if created:
        stack.sql(f"DROP DATABASE `{name}`")


def new_tenant(settings, **retention) -> int:
    with db.transaction(settings) as cursor:
        tenant = directory.create_tenant(cursor, name=f"r-{uuid.uuid4().hex[:10]}")
        for column, days in retention.items():
            cursor.execute(f"UPDATE tenants SET {column} = %s WHERE id = %s", (days, tenant.id))
    return tenant.id


def insert_raw(settings, tenant_id, timestamps):
    with db.transaction(settings) as cursor:
        cursor.executemany("INSERT INTO samples (tenant_id, series_id, ts, value) VALUES (%s, 1, %s, 1.0)",
                           [(tenant_id, ts) for ts in timestamps])


def insert_log(settings, tenant_id, timestamps):
    """One log row per timestamp (two series of one bucket), as the worker appends a batch."""
    with db.transaction(settings) as cursor:
        for ts in timestamps:
            append_log(cursor, tenant_id=tenant_id, series_ids=[1, 1 + head_log.BUCKETS], timestamps=[ts, ts],
                       values=[1.0, 2.0])


def insert_1m(settings, tenant_id, timestamps):
    with db.transaction(settings) as cursor:
        cursor.executemany("INSERT INTO samples_1m VALUES (%s, 1, %s, 1, 1.0, 1.0, 1.0, 1.0, %s)",
                           [(tenant_id, ts - ts % 60_000, ts) for ts in timestamps])


def insert_chunks(settings, tenant_id, window_starts):
    """One chunk of two samples per window, as a sealer writes it."""
    rows = []
    for start in window_starts:
        ts = np.array([start, start + WINDOW - 1], dtype=np.int64)
        rows.append((tenant_id, start, int(ts[0]), int(ts[-1]), chunks.encode(ts, np.array([1.0, 2.0]))))
    with db.transaction(settings) as cursor:
        cursor.executemany("INSERT INTO sample_chunks VALUES (%s, 1, %s, 0, 2, %s, %s, %s)", rows)


def timestamps_of(settings, table, tenant_id):
    column = {"samples": "ts", "sample_chunks": "window_start"}.get(table, "last_ts")
    with db.transaction(settings) as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE tenant_id = %s ORDER BY {column}", (tenant_id,))
        return [row[0] for row in cursor.fetchall()]


def partition_bounds(settings, table):
    with db.transaction(settings) as cursor:
        return sorted(bound for bound in existing_partitions(cursor, table).values() if bound is not None)


def raw_partitioned_tables(legacy_partitioned: bool) -> tuple[str, ...]:
    return ("samples", "sample_chunks") if legacy_partitioned else ("sample_chunks",)


def test_partitions_past_the_longest_retention_are_dropped_and_shorter_ones_deleted(database, legacy_partitioned):
    settings = database()
    now = int(time.time() * 1000)
    default_tenant = new_tenant(settings)
    long_tenant = new_tenant(settings, retention_raw_days=10)
    old, middle, recent = now - 20 * DAY, now - 9 * DAY, now - HOUR
    windows = [chunks.window_of(ts) for ts in (old, middle, recent)]
    for tenant in (default_tenant, long_tenant):
        insert_raw(settings, tenant, [old, middle, recent])
        insert_chunks(settings, tenant, windows)
        insert_log(settings, tenant, [old, middle, recent])
    insert_1m(settings, default_tenant, [now - 40 * DAY, now - 20 * DAY])
    before = {table: partition_bounds(settings, table) for table in ("samples", "sample_chunks", "samples_1m")}

    report = enforce_retention(settings, now_ms=now)

    for table in raw_partitioned_tables(legacy_partitioned):
        after = partition_bounds(settings, table)
        assert min(after) > RAW.cutoff(now, 10) and len(report[table]["dropped_partitions"]) > 20
        assert after == [bound for bound in before[table] if bound > RAW.cutoff(now, 10)]
    assert timestamps_of(settings, "samples", long_tenant) == [middle, recent]
    assert timestamps_of(settings, "samples", default_tenant) == [recent]  # 9 days old: a bounded delete
    assert timestamps_of(settings, "sample_chunks", long_tenant) == windows[1:]
    assert timestamps_of(settings, "sample_chunks", default_tenant) == windows[2:]
    assert report["sample_chunks"]["deleted_rows"] == 1
    if legacy_partitioned:
        assert report["samples"]["deleted_rows"] == 1
    else:  # no partitions: every row past the longest retention goes by bounded deletes, as the log's
        assert before["samples"] == partition_bounds(settings, "samples") == []
        assert report["samples"] == {"dropped_partitions": [], "deleted_rows": 3}
    assert timestamps_of(settings, "sample_log", long_tenant) == [middle, recent]
    assert timestamps_of(settings, "sample_log", default_tenant) == [recent]
    assert report["sample_log"] == {"dropped_partitions": [], "deleted_rows": 3}  # old twice, middle once
    assert min(partition_bounds(settings, "samples_1m")) > cutoff_ms(now, 30)
    assert len(partition_bounds(settings, "samples_1m")) < len(before["samples_1m"])
    assert timestamps_of(settings, "samples_1m", default_tenant) == [now - 20 * DAY]
    assert report["samples_5m"] == {"dropped_partitions": [], "deleted_rows": 0}
    again = enforce_retention(settings, now_ms=now)
    assert again["samples"] == again["sample_chunks"] == again["sample_log"] == {"dropped_partitions": [],
                                                                                   "deleted_rows": 0}


def test_a_short_retention_tenant_loses_old_rows_in_bounded_chunks_and_others_keep_theirs(database):
    settings = database(retention_delete_chunk=2)  # and one chunk row per DELETE
    now = int(time.time() * 1000)
    short = new_tenant(settings, retention_raw_days=2, retention_1m_days=2)
    other = new_tenant(settings)
    old = [now - 3 * DAY + offset * 1000 for offset in range(5)]
    old_windows = [chunks.window_of(now - 3 * DAY) + index * WINDOW for index in range(3)]
    recent_window = chunks.window_of(now - HOUR)
    for tenant in (short, other):
        insert_raw(settings, tenant, [*old, now - HOUR])
        insert_chunks(settings, tenant, [*old_windows, recent_window])
        insert_log(settings, tenant, [*old, now - HOUR])
    insert_1m(settings, short, [now - 3 * DAY, now - HOUR])
    insert_1m(settings, other, [now - 3 * DAY])

    report = enforce_retention(settings, now_ms=now)

    assert timestamps_of(settings, "samples", short) == [now - HOUR]
    assert timestamps_of(settings, "samples", other) == [*old, now - HOUR]
    assert timestamps_of(settings, "sample_chunks", short) == [recent_window]
    assert timestamps_of(settings, "sample_chunks", other) == [*old_windows, recent_window]
    assert timestamps_of(settings, "samples_1m", short) == [now - HOUR]
    assert timestamps_of(settings, "samples_1m", other) == [now - 3 * DAY]
    assert report["samples"]["deleted_rows"] == 5 and report["samples_1m"]["deleted_rows"] == 1
    assert report["sample_chunks"]["deleted_rows"] == 3
    assert timestamps_of(settings, "sample_log", short) == [now - HOUR]
    assert timestamps_of(settings, "sample_log", other) == [*old, now - HOUR]
    assert report["sample_log"]["deleted_rows"] == 5


def test_raw_retention_keeps_a_window_until_the_whole_window_is_past(database):
    """A chunk goes whole, so raw retention is rounded up to 2 h windows, in the head alike."""
    settings = database()
    now = chunks.window_of(int(time.time() * 1000)) + HOUR  # 2 days back is the middle of a window
    tenant = new_tenant(settings, retention_raw_days=2)
    cutoff = RAW.cutoff(now, 2)
    assert cutoff == now - 2 * DAY - HOUR
    insert_chunks(settings, tenant, [cutoff - 2 * WINDOW, cutoff - WINDOW, cutoff])
    insert_raw(settings, tenant, [cutoff - WINDOW, cutoff - 1, cutoff, now - 2 * DAY - 1])

    report = enforce_retention(settings, now_ms=now)

    # Kept: the window starting at the cut-off, with samples up to 1 h older than 2 days.
    assert timestamps_of(settings, "sample_chunks", tenant) == [cutoff]
    assert timestamps_of(settings, "samples", tenant) == [cutoff, now - 2 * DAY - 1]
    assert report["sample_chunks"]["deleted_rows"] == 2 and report["samples"]["deleted_rows"] == 2

    later = enforce_retention(settings, now_ms=now + WINDOW)  # that window is wholly past now
    assert timestamps_of(settings, "sample_chunks", tenant) == timestamps_of(settings, "samples", tenant) == []
    assert later["sample_chunks"]["deleted_rows"] == 1 and later["samples"]["deleted_rows"] == 2


def test_partitions_stay_as_long_as_samples_are_accepted(database, legacy_partitioned):
    settings = database(retention_raw_days=2)
    now = int(time.time() * 1000)
    tenant = new_tenant(settings)
    insert_raw(settings, tenant, [now - 5 * DAY, now - HOUR])
    insert_chunks(settings, tenant, [chunks.window_of(now - 5 * DAY), chunks.window_of(now - HOUR)])

    enforce_retention(settings, now_ms=now)

    # Samples up to MAX_SAMPLE_AGE (7 d) old are still accepted, so their partitions are kept;
    # the 5-day-old rows go by a bounded delete instead.
    for table in raw_partitioned_tables(legacy_partitioned):
        oldest_kept = min(partition_bounds(settings, table))
        assert RAW.cutoff(now, 7) < oldest_kept <= RAW.cutoff(now, 7) + DAY
    assert timestamps_of(settings, "samples", tenant) == [now - HOUR]
    assert timestamps_of(settings, "sample_chunks", tenant) == [chunks.window_of(now - HOUR)]
