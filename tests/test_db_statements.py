"""db's statement and session helpers on a real MariaDB: insert_as_literals (the multi-row
INSERTs of the head's log and of compaction's level-0 parts) writes every row once, byte for
byte, in statements of at most STATEMENT_BYTES; read_committed (the sessions of sealing,
compaction and the rollups) makes a transaction see what others commit meanwhile, and sets the
lock wait only when given one."""

from contextlib import closing

import pytest

from microdash_core import db
from microdash_core.store import compaction, sealing
from seal_support import NOW, created_database, drop_database, migrated_database

COLUMNS = ("id", "small", "large", "data")
EVERY_BYTE = bytes(range(256))


@pytest.fixture
def settings(stack):
    settings = created_database(stack, "statements")
    with db.transaction(settings) as cursor:
        cursor.execute("CREATE TABLE blobs (id INT PRIMARY KEY, small INT NOT NULL, large BIGINT NOT NULL,"
                       " data LONGBLOB NOT NULL)")
    yield settings
    drop_database(settings)


def _inserts(cursor) -> int:
    cursor.execute("SHOW SESSION STATUS LIKE 'Com_insert'")
    return int(cursor.fetchone()[1])


def _stored(settings) -> list[tuple]:
    with db.transaction(settings) as cursor:
        cursor.execute("SELECT id, small, large, data FROM blobs ORDER BY id")
        return [(row_id, small, large, bytes(data)) for row_id, small, large, data in cursor.fetchall()]


def test_rows_are_written_once_byte_for_byte_in_the_callers_transaction(settings):
    rows = [(1, -7, -(2 ** 63), EVERY_BYTE), (2, 0, 2 ** 63 - 1, b"'\\\"\x00;--"), (3, 2 ** 31 - 1, 5, b"")]
    with closing(db.connect(settings)) as connection, connection.cursor() as cursor:
        before = _inserts(cursor)
        assert db.insert_as_literals(cursor, "blobs", COLUMNS, iter(rows)) == 3
        assert _inserts(cursor) == before + 1  # one statement
        assert _stored(settings) == []  # not committed yet
        connection.commit()
    assert _stored(settings) == rows


def test_rows_past_the_statement_bound_go_in_more_statements_none_lost(settings, monkeypatch):
    monkeypatch.setattr(db, "STATEMENT_BYTES", 1_000)
    rows = [(i, i % 3, i * 1_000_003, EVERY_BYTE[i * 4:i * 4 + 100]) for i in range(40)]  # ~250 bytes each
    with closing(db.connect(settings)) as connection, connection.cursor() as cursor:
        before = _inserts(cursor)
        assert db.insert_as_literals(cursor, "blobs", COLUMNS, rows) == 40
        statements = _inserts(cursor) - before
        connection.commit()
    assert 8 <= statements <= 14  # three or four rows a statement
    assert _stored(settings) == rows


def test_no_rows_make_no_statement(settings):
    with closing(db.connect(settings)) as connection, connection.cursor() as cursor:
        before = _inserts(cursor)
        assert db.insert_as_literals(cursor, "blobs", COLUMNS, []) == 0
        assert _inserts(cursor) == before


def _session(connection) -> tuple[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@SESSION.tx_isolation, @@SESSION.innodb_lock_wait_timeout")
        isolation, lock_wait = cursor.fetchone()
    connection.commit()
    return isolation, int(lock_wait)


def _server_lock_wait(settings) -> int:
    with db.transaction(settings) as cursor:
        cursor.execute("SELECT @@GLOBAL.innodb_lock_wait_timeout")
        return int(cursor.fetchone()[0])


def test_a_read_committed_transaction_sees_what_others_commit_meanwhile(settings):
    with closing(db.connect(settings)) as repeatable, closing(db.connect(settings)) as committed:
        assert _session(repeatable)[0] == "REPEATABLE-READ"  # the server's default, as before the call
        db.read_committed(committed)
        assert _session(committed) == ("READ-COMMITTED", _server_lock_wait(settings))
        counts = []
        for connection in (repeatable, committed):
            with connection.cursor() as cursor:
                cursor.execute("SELECT COUNT(*) FROM blobs")  # the transaction's first read
                counts.append(cursor.fetchone()[0])
        with db.transaction(settings) as cursor:
            cursor.execute("INSERT INTO blobs VALUES (1, 1, 1, x'00')")
        for connection in (repeatable, committed):
            with connection.cursor() as cursor:
                cursor.execute("SELECT COUNT(*) FROM blobs")
                counts.append(cursor.fetchone()[0])
            connection.commit()
    assert counts == [0, 0, 0, 1]

    with closing(db.connect(settings)) as connection:
        db.read_committed(connection, lock_wait_seconds=7)
        assert _session(connection) == ("READ-COMMITTED", 7)


def test_sealing_compaction_and_the_rollups_read_committed(stack):
    from microdash_workers import rollups

    migrated = migrated_database(stack, "sessions")
    try:
        for move in (lambda connection: sealing.seal_due(connection, cutoff_ms=NOW),
                     lambda connection: compaction.compact_due(connection)):
            with closing(db.connect(migrated)) as connection:
                move(connection)
                assert _session(connection) == ("READ-COMMITTED", sealing.LOCK_WAIT_SECONDS)
        with closing(rollups._connect(migrated)) as connection:
            assert _session(connection) == ("READ-COMMITTED", _server_lock_wait(migrated))
    finally:
        drop_database(migrated)
