"""db.retried_on_lock_race, the one retry loop of the store's transactions (compaction, sealing),
on a real MariaDB: a lock wait timeout is retried until the lock comes free, the last lost race
and any other error are raised, and a failed run leaves nothing behind. And db.retried under it,
as the worker's storing uses it (work that commits its own steps, deadlocks only): a real
deadlock is retried at once keeping what the lost run committed, a lock wait timeout is raised,
and an error that is not the database's is raised with no roll back."""

import logging
import threading
from contextlib import closing

import pymysql
import pytest

from microdash_core import db
from seal_support import created_database, drop_database


@pytest.fixture
def settings(stack):
    settings = created_database(stack, "retry")
    with db.transaction(settings) as cursor:
        cursor.execute("CREATE TABLE counters (id INT PRIMARY KEY, value INT NOT NULL)")
        cursor.execute("INSERT INTO counters VALUES (1, 0), (2, 0)")
        cursor.execute("INSERT INTO counters SELECT seq, 0 FROM seq_100_to_199")  # a rival's weight
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


def _value(settings, row: int = 1) -> int | None:
    with db.transaction(settings) as cursor:
        cursor.execute("SELECT value FROM counters WHERE id = %s", (row,))
        found = cursor.fetchone()
        return None if found is None else found[0]


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


STORING = dict(errors=frozenset({db.DEADLOCK}), attempts=5, pause_seconds=0)  # as the worker's SampleStore


class _Rival:
    """A transaction heavier than the work's (so InnoDB picks the work as the deadlock's victim)
    that holds row 2 and, once started, waits for row 1 in a thread, then commits."""

    def __init__(self, settings):
        self.settings = settings
        self.connection = _connection(settings, lock_wait_seconds=20)
        with self.connection.cursor() as cursor:
            cursor.execute("UPDATE counters SET value = value + 1 WHERE id >= 100")
            cursor.execute("UPDATE counters SET value = value + 1 WHERE id = 2")
        self.thread = threading.Thread(target=self._wait_for_row_1)

    def _wait_for_row_1(self):
        with self.connection.cursor() as cursor:
            cursor.execute("UPDATE counters SET value = value + 1 WHERE id = 1")
        self.connection.commit()

    def start_waiting(self):
        self.thread.start()
        with closing(db.connect(self.settings)) as observer, observer.cursor() as cursor:
            for _ in range(200):
                cursor.execute("SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'")
                if cursor.fetchone()[0]:
                    return
                observer.commit()
                threading.Event().wait(0.02)
        raise AssertionError("the rival never waited for row 1")

    def close(self):
        self.thread.join(timeout=30)
        self.connection.close()


def test_storing_retries_a_real_deadlock_at_once_and_keeps_what_the_lost_run_committed(settings, caplog):
    runs = []
    with closing(_connection(settings, lock_wait_seconds=20)) as connection:
        rival = _Rival(settings)
        try:
            def operation():  # as SampleStore's: a committed step (a series created), then the batch
                runs.append(1)
                with connection.cursor() as cursor:
                    cursor.execute("INSERT INTO counters VALUES (10, %s) ON DUPLICATE KEY UPDATE value = value",
                                   (len(runs),))
                    connection.commit()
                    cursor.execute("UPDATE counters SET value = value + 1 WHERE id = 1")
                    if len(runs) == 1:
                        rival.start_waiting()  # for row 1, which this run holds
                    cursor.execute("UPDATE counters SET value = value + 1 WHERE id = 2")  # held by the rival
                connection.commit()
                return len(runs)

            with caplog.at_level(logging.WARNING, logger="microdash_core.db"):
                done = db.retried(operation, roll_back=connection.rollback, what="storing", **STORING)
        finally:
            rival.close()
    assert done == len(runs) == 2
    assert (_value(settings, 1), _value(settings, 2), _value(settings, 10)) == (2, 2, 1)  # the first run's row kept
    (warning,) = [record for record in caplog.records if "lock race" in record.getMessage()]
    assert warning.getMessage() == "storing lost a lock race, retrying" and warning.attempt == 1
    assert warning.error.startswith("Deadlock found")


def test_storing_raises_a_lock_wait_timeout_at_once_rolled_back(settings):
    runs = []
    rolled_back = []
    with closing(_held_row(settings)) as holder, closing(_connection(settings)) as connection:
        def roll_back():
            rolled_back.append(1)
            connection.rollback()

        def operation():
            runs.append(1)
            with connection.cursor() as cursor:
                cursor.execute("UPDATE counters SET value = value + 1 WHERE id = 2")
                cursor.execute("UPDATE counters SET value = value + 1 WHERE id = 1")  # held
            connection.commit()

        with pytest.raises(pymysql.err.OperationalError) as raised:
            db.retried(operation, roll_back=roll_back, what="storing", **STORING)
        holder.commit()
    assert raised.value.args[0] == db.LOCK_WAIT_TIMEOUT and len(runs) == len(rolled_back) == 1
    assert _value(settings, 2) == 0  # the row updated before the wait was rolled back


def test_an_error_not_the_databases_is_raised_with_no_roll_back(settings):
    with closing(_connection(settings)) as connection:
        def operation():
            with connection.cursor() as cursor:
                cursor.execute("UPDATE counters SET value = 7 WHERE id = 1")
            raise KeyError("a bug")

        with pytest.raises(KeyError):
            db.retried(operation, roll_back=connection.rollback, what="storing", **STORING)
        with connection.cursor() as cursor:  # the caller decides: its transaction is still open
            cursor.execute("SELECT value FROM counters WHERE id = 1")
            assert cursor.fetchone()[0] == 7
        assert _value(settings) == 0
        connection.rollback()
