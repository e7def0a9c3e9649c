"""Retention: whole daily partitions dropped past the longest retention, bounded deletes for tenants
with a shorter one. Each test gets its own database on the stack's MariaDB, with partitions
reaching 47 days back, so dropping partitions never disturbs the other tests."""

import datetime as dt
import time
import uuid

import pytest

from microdash_core import db, migrate, tenancy
from microdash_core.partitions import existing_partitions
from microdash_core.settings import Settings
from microdash_workers.retention import enforce_retention
from microdash_workers.retention_policy import cutoff_ms

DAY = 86_400_000
HOUR = 3_600_000


@pytest.fixture
def database(stack):
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
            created.append(name)
        return settings

    yield make
    if created:
        stack.sql(f"DROP DATABASE `{name}`")


def new_tenant(settings, **retention) -> int:
    with db.transaction(settings) as cursor:
        tenant = tenancy.create_tenant(cursor, name=f"r-{uuid.uuid4().hex[:10]}")
        for column, days in retention.items():
            cursor.execute(f"UPDATE tenants SET {column} = %s WHERE id = %s", (days, tenant.id))
    return tenant.id


def insert_raw(settings, tenant_id, timestamps):
    with db.transaction(settings) as cursor:
        cursor.executemany("INSERT INTO samples (tenant_id, series_id, ts, value) VALUES (%s, 1, %s, 1.0)",
                           [(tenant_id, ts) for ts in timestamps])


def insert_1m(settings, tenant_id, timestamps):
    with db.transaction(settings) as cursor:
        cursor.executemany("INSERT INTO samples_1m VALUES (%s, 1, %s, 1, 1.0, 1.0, 1.0, 1.0, %s)",
                           [(tenant_id, ts - ts % 60_000, ts) for ts in timestamps])


def timestamps_of(settings, table, tenant_id):
    column = "ts" if table == "samples" else "last_ts"
    with db.transaction(settings) as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE tenant_id = %s ORDER BY {column}", (tenant_id,))
        return [row[0] for row in cursor.fetchall()]


def partition_bounds(settings, table):
    with db.transaction(settings) as cursor:
        return sorted(bound for bound in existing_partitions(cursor, table).values() if bound is not None)


def test_partitions_past_the_longest_retention_are_dropped_and_shorter_ones_deleted(database):
    settings = database()
    now = int(time.time() * 1000)
    default_tenant = new_tenant(settings)
    long_tenant = new_tenant(settings, retention_raw_days=10)
    old, middle, recent = now - 20 * DAY, now - 9 * DAY, now - HOUR
    insert_raw(settings, default_tenant, [old, middle, recent])
    insert_raw(settings, long_tenant, [old, middle, recent])
    insert_1m(settings, default_tenant, [now - 40 * DAY, now - 20 * DAY])
    raw_before, one_minute_before = partition_bounds(settings, "samples"), partition_bounds(settings, "samples_1m")

    report = enforce_retention(settings, now_ms=now)

    raw_after = partition_bounds(settings, "samples")
    assert min(raw_after) > cutoff_ms(now, 10) and len(report["raw"]["dropped_partitions"]) > 20
    assert raw_after == [bound for bound in raw_before if bound > cutoff_ms(now, 10)]
    assert timestamps_of(settings, "samples", long_tenant) == [middle, recent]
    assert timestamps_of(settings, "samples", default_tenant) == [recent]  # 9 days old: a bounded delete
    assert report["raw"]["deleted_rows"] == 1
    assert min(partition_bounds(settings, "samples_1m")) > cutoff_ms(now, 30)
    assert len(partition_bounds(settings, "samples_1m")) < len(one_minute_before)
    assert timestamps_of(settings, "samples_1m", default_tenant) == [now - 20 * DAY]
    assert report["5m"] == {"dropped_partitions": [], "deleted_rows": 0}
    assert enforce_retention(settings, now_ms=now)["raw"] == {"dropped_partitions": [], "deleted_rows": 0}


def test_a_short_retention_tenant_loses_old_rows_in_bounded_chunks_and_others_keep_theirs(database):
    settings = database(retention_delete_chunk=2)
    now = int(time.time() * 1000)
    short = new_tenant(settings, retention_raw_days=2, retention_1m_days=2)
    other = new_tenant(settings)
    old = [now - 3 * DAY + offset * 1000 for offset in range(5)]
    insert_raw(settings, short, [*old, now - HOUR])
    insert_raw(settings, other, [*old, now - HOUR])
    insert_1m(settings, short, [now - 3 * DAY, now - HOUR])
    insert_1m(settings, other, [now - 3 * DAY])

    report = enforce_retention(settings, now_ms=now)

    assert timestamps_of(settings, "samples", short) == [now - HOUR]
    assert timestamps_of(settings, "samples", other) == [*old, now - HOUR]
    assert timestamps_of(settings, "samples_1m", short) == [now - HOUR]
    assert timestamps_of(settings, "samples_1m", other) == [now - 3 * DAY]
    assert report["raw"]["deleted_rows"] == 5 and report["1m"]["deleted_rows"] == 1


def test_partitions_stay_as_long_as_samples_are_accepted(database):
    settings = database(retention_raw_days=2)
    now = int(time.time() * 1000)
    tenant = new_tenant(settings)
    insert_raw(settings, tenant, [now - 5 * DAY, now - HOUR])

    enforce_retention(settings, now_ms=now)

    # Samples up to MAX_SAMPLE_AGE (7 d) old are still accepted, so their partitions are kept;
    # the 5-day-old row goes by a bounded delete instead.
    oldest_kept = min(partition_bounds(settings, "samples"))
    assert cutoff_ms(now, 7) < oldest_kept <= cutoff_ms(now, 7) + DAY
    assert timestamps_of(settings, "samples", tenant) == [now - HOUR]
