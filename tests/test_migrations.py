"""Schema migrations and sample partitions against a real MariaDB."""

import datetime as dt
import json
from contextlib import closing

from microdash_core import db, migrate
from microdash_core.partitions import LEGACY_HEAD, PARTITIONED_TABLES, day_end_ms, existing_partitions
from seal_support import drop_database, migrated_database, write_head
from support import legacy_head_partitioned, partition_legacy_head


def test_migrate_is_idempotent_and_partitions_cover_the_window(stack):
    settings = stack.settings
    assert migrate.migrate(settings) == []  # already applied by the stack
    today = dt.datetime.now(dt.timezone.utc).date()
    for table in PARTITIONED_TABLES:
        with db.transaction(settings) as cursor:
            partitions = existing_partitions(cursor, table)
        for offset in range(-7, settings.partition_days_ahead + 1):
            day = today + dt.timedelta(days=offset)
            assert partitions[f"p{day:%Y%m%d}"] == day_end_ms(day), table
        assert partitions["p_future"] is None


def test_a_fresh_install_has_one_unpartitioned_legacy_head_and_housekeeping_keeps_it_so(stack):
    """The legacy head is no longer written: a daily partition of it would be an empty file."""
    settings = migrated_database(stack, "fresh")
    try:
        assert LEGACY_HEAD not in PARTITIONED_TABLES
        with db.transaction(settings) as cursor:
            assert not legacy_head_partitioned(cursor)
        later = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=3)
        assert LEGACY_HEAD not in migrate.maintain_partitions(settings, today=later)  # the hourly job
        assert migrate.migrate(settings, today=later) == []
        (files,), = _sql(settings, "SELECT COUNT(*) FROM information_schema.PARTITIONS"
                                   " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'samples'")
        assert files == 1  # an unpartitioned table's one row (PARTITION_NAME NULL): one file
        with db.transaction(settings) as cursor:
            assert existing_partitions(cursor, LEGACY_HEAD) == {}
    finally:
        drop_database(settings)


def test_the_legacy_head_keeps_its_partitions_while_it_holds_rows(stack):
    """An upgraded database's legacy head with rows stays partitioned (unpartitioning it would copy
    every row) and gets no new partitions; once empty, housekeeping removes its partitioning, and
    the unpartitioned table takes rows as before."""
    settings = migrated_database(stack, "upgraded")
    try:
        today = dt.datetime.now(dt.timezone.utc).date()
        partition_legacy_head(settings, today=today, days_back=7, days_ahead=7)
        now = int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000)
        write_head(settings, [(1, 1, now - 1000, 1.5)])
        assert migrate.unpartition_legacy_head(settings) is False
        migrate.maintain_partitions(settings, today=today + dt.timedelta(days=9))
        with db.transaction(settings) as cursor:
            partitions = existing_partitions(cursor, LEGACY_HEAD)
        assert max(bound for bound in partitions.values() if bound is not None) == day_end_ms(
            today + dt.timedelta(days=7))  # none added for it
        assert _sql(settings, "SELECT tenant_id, series_id, ts, value FROM samples") == [(1, 1, now - 1000, 1.5)]

        _sql(settings, "DELETE FROM samples")  # its rows sealed into chunks
        migrate.maintain_partitions(settings)
        with db.transaction(settings) as cursor:
            assert not legacy_head_partitioned(cursor)
        write_head(settings, [(1, 1, now, 2.5)])  # readers and writers of the head work on either shape
        assert _sql(settings, "SELECT tenant_id, series_id, ts, value FROM samples") == [(1, 1, now, 2.5)]
    finally:
        drop_database(settings)


def test_unpartitioning_the_empty_legacy_head_gives_up_on_a_held_lock_and_tries_again(stack):
    """A transaction that read the head holds its metadata lock: the ALTER waits at most
    RECLAIM_LOCK_WAIT_SECONDS, leaves the table as it was, and the next run does it."""
    settings = migrated_database(stack, "locked")
    try:
        partition_legacy_head(settings, today=dt.datetime.now(dt.timezone.utc).date(), days_back=1, days_ahead=1)
        with closing(db.connect(settings)) as reader, reader.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM samples")  # its transaction stays open
            assert migrate.unpartition_legacy_head(settings) is False
            with db.transaction(settings) as check:
                assert legacy_head_partitioned(check)
            reader.commit()
        assert migrate.unpartition_legacy_head(settings) is True
        with db.transaction(settings) as check:
            assert not legacy_head_partitioned(check)
    finally:
        drop_database(settings)


def _sql(settings, statement: str) -> list[tuple]:
    with db.transaction(settings) as cursor:
        cursor.execute(statement)
        return list(cursor.fetchall())


def test_sealed_chunks_are_page_compressed_with_daily_partitions(stack):
    (options,), = stack.sql("SELECT CREATE_OPTIONS FROM information_schema.TABLES"
                            " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'sample_chunks'")
    assert "page_compressed" in options.lower() and "partitioned" in options.lower()
    assert "sample_chunks" in PARTITIONED_TABLES
    (expression,), = stack.sql("SELECT DISTINCT PARTITION_EXPRESSION FROM information_schema.PARTITIONS"
                               " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'sample_chunks'")
    assert expression.strip("`") == "window_start"


def test_partitions_are_added_for_later_days_without_touching_existing(stack):
    settings = stack.settings
    later = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=3)
    with db.transaction(settings) as cursor:
        before = {table: existing_partitions(cursor, table) for table in PARTITIONED_TABLES}
    created = migrate.maintain_partitions(settings, today=later)
    with db.transaction(settings) as cursor:
        after = {table: existing_partitions(cursor, table) for table in PARTITIONED_TABLES}
    for table in PARTITIONED_TABLES:
        assert len(created[table]) == 3 and all(name not in before[table] for name in created[table])
        assert {name: bound for name, bound in after[table].items() if name in before[table]} == before[table]
    assert migrate.maintain_partitions(settings, today=later) == {table: [] for table in PARTITIONED_TABLES}


def _migrate_with(stack, database_url: str, wait: str):
    import os
    import subprocess
    import time

    env = {**os.environ, **stack.env, "MICRODASH_DATABASE_URL": database_url, "MICRODASH_LOG_FORMAT": "json"}
    started = time.monotonic()
    result = subprocess.run(["microdash", "migrate", "--wait", wait], env=env, capture_output=True, text=True,
                            timeout=float(wait) + 30)
    return result, time.monotonic() - started


def test_migrate_wait_fails_at_once_when_the_database_refuses_the_password(stack):
    """The migration Job waits up to 300 s for MariaDB; a wrong password must not look like a slow start."""
    from urllib.parse import urlsplit

    url = urlsplit(stack.env["MICRODASH_DATABASE_URL"])
    wrong = url._replace(netloc=f"{url.username}:not-the-password@{url.hostname}:{url.port}").geturl()
    result, seconds = _migrate_with(stack, wrong, wait="60")
    assert result.returncode == 1, result.stderr
    assert seconds < 10
    assert "refused the credentials" in result.stderr and "Access denied" in result.stderr
    assert "not-the-password" not in result.stderr


def test_migrate_wait_retries_an_unreachable_database_saying_why(stack):
    from microdash_cli.localstack import free_port

    result, seconds = _migrate_with(stack, f"mysql://microdash:x@127.0.0.1:{free_port()}/microdash", wait="2")
    assert result.returncode == 1 and seconds >= 2
    retries = [json.loads(line) for line in result.stderr.splitlines()
               if line.startswith("{") and "retrying" in line]
    assert retries and "Can't connect" in retries[0]["error"], result.stderr
    assert "not reachable within 2 s" in result.stderr
