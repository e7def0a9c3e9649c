"""db.retried_on_lock_race, the one retry loop of the store's transactions (compaction, sealing),
on a real MariaDB: a lock wait timeout is retried until the lock comes free, the last lost race
and any other error are raised, and a failed run leaves nothing behind."""

import logging
import threading
from contextlib import closing

import pymysql
import pytest

from microdash_core import db
from seal_support import database_settings, drop_database


@pytest.fixture
def settings(stack):
    settings = database_settings(stack, "retry")
    name = db.DatabaseAddress.from_url(settings.database_url).database
    with closing(db.connect(settings, with_database=False)) as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}`")
    with db.transaction(settings) as cursor:
        cursor.execute("CREATE TABLE counters (id INT PRIMARY KEY, value INT NOT NULL)")
        cursor.execute("INSERT INTO counters VALUES (1, 0)")
    yield settings
    drop_database(settings)


def _connection(settings, lock_wait_seconds: int = 1):
    connection = db.connect(settings)
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION innodb_lock_wait_timeout = %s", (lock_wait_seconds,))
    return connection


def _held_row(settings):
    """A connection whose open transaction holds the counter row's lock."""
    holder = db.connect(settings)
    with holder.cursor() as cursor:
        cursor.execute("SELECT value FROM counters WHERE id = 1 FOR UPDATE")
    return holder


def _value(settings) -> int:
    with db.transaction(settings) as cursor:
        cursor.execute("SELECT value FROM counters WHERE id = 1")
        return cursor.fetchone()[0]


def _increment(runs: list):
    def work(cursor):
        runs.append(1)
        cursor.execute("UPDATE counters SET value = value + 1 WHERE id = 1")
        return len(runs)
    return work


def test_a_lock_wait_timeout_is_retried_until_the_lock_comes_free(settings, caplog):
    runs = []
    with closing(_held_row(settings)) as holder, closing(_connection(settings)) as connection:
        release = threading.Timer(1.5, holder.commit)  # after the first run's 1 s wait
        release.start()
        try:
            with caplog.at_level(logging.WARNING, logger="microdash_core.db"):
                done = db.retried_on_lock_race(connection, _increment(runs), what="the test", context={"row": 1})
        finally:
            release.join()
    assert done == len(runs) == 2 and _value(settings) == 1
    (warning,) = [record for record in caplog.records if "lock race" in record.getMessage()]
    assert warning.getMessage() == "the test lost a lock race, retrying" and (warning.row, warning.attempt) == (1, 1)


def test_the_last_lost_race_is_raised_and_nothing_is_written(settings, monkeypatch):
    monkeypatch.setattr(db, "ATTEMPTS", 2)
    runs = []
    with closing(_held_row(settings)) as holder, closing(_connection(settings)) as connection:
        with pytest.raises(pymysql.err.OperationalError) as raised:
            db.retried_on_lock_race(connection, _increment(runs), what="the test")
        holder.commit()
    assert raised.value.args[0] == db.LOCK_WAIT_TIMEOUT and len(runs) == 2 and _value(settings) == 0


def test_any_other_error_is_raised_at_once_and_its_writes_rolled_back(settings):
    runs = []

    def half_done(cursor):
        _increment(runs)(cursor)
        cursor.execute("INSERT INTO counters VALUES (1, 5)")  # a duplicate key

    with closing(_connection(settings)) as connection:
        with pytest.raises(pymysql.err.IntegrityError):
            db.retried_on_lock_race(connection, half_done, what="the test")
        assert db.retried_on_lock_race(connection, _increment(runs), what="the test") == 2  # the connection is usable
    assert len(runs) == 2 and _value(settings) == 1
