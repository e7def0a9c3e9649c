"""Synchronous MariaDB access (PyMySQL) for the CLI, the workers and the operator."""

import binascii
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import pymysql

from .settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
LOCK_WAIT_TIMEOUT = 1205
DEADLOCK = 1213
# Errors after which InnoDB has rolled back the statement or the transaction and a rerun may pass.
LOST_LOCK_RACE = frozenset({LOCK_WAIT_TIMEOUT, DEADLOCK})
ATTEMPTS = 6
# Bytes of one multi-row INSERT at most (blobs as hex: twice their size), well inside max_allowed_packet.
STATEMENT_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class DatabaseAddress:
    host: str
    port: int
    user: str
    password: str
    database: str
    unix_socket: str | None = None

    @classmethod
    def from_url(cls, url: str) -> "DatabaseAddress":
        """Parse ``mysql://user:password@host:port/database[?unix_socket=/path]``."""
        parts = urlsplit(url)
        if parts.scheme not in ("mysql", "mariadb"):
            raise ValueError(f"database URL must start with mysql:// or mariadb://, got {parts.scheme!r}")
        query = parse_qs(parts.query)
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            database=parts.path.lstrip("/") or "microdash",
            unix_socket=query.get("unix_socket", [None])[0],
        )

    def connect_kwargs(self, *, with_database: bool = True) -> dict:
        kwargs = dict(host=self.host, port=self.port, user=self.user, password=self.password, charset="utf8mb4")
        if self.unix_socket:
            kwargs["unix_socket"] = self.unix_socket
        if with_database:
            kwargs["database"] = self.database
        return kwargs


def connect(settings: Settings, *, with_database: bool = True) -> pymysql.connections.Connection:
    address = DatabaseAddress.from_url(settings.database_url)
    return pymysql.connect(**address.connect_kwargs(with_database=with_database), autocommit=False)


@contextmanager
def transaction(settings: Settings) -> Iterator[pymysql.cursors.Cursor]:
    """A connection with one transaction: committed on success, rolled back on error, then closed."""
    connection = connect(settings)
    try:
        with connection.cursor() as cursor:
            yield cursor
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        connection.close()


def read_committed(connection: pymysql.connections.Connection, *, lock_wait_seconds: int | None = None) -> None:
    """The session's transactions READ COMMITTED from now on: a plain read sees what is committed
    when it runs and a locking read takes record locks only (no gap locks), so ingest keeps
    inserting beside what the store's jobs read; with lock_wait_seconds, a lock is waited for that
    long at most (innodb_lock_wait_timeout; else the server's)."""
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
        if lock_wait_seconds is not None:
            cursor.execute("SET SESSION innodb_lock_wait_timeout = %s", (lock_wait_seconds,))
    connection.commit()


def insert_as_literals(cursor: pymysql.cursors.Cursor, table: str, columns: Sequence[str],
                       rows: Iterable[tuple]) -> int:
    """INSERT the rows (each: integers, then one blob) in the cursor's transaction, as multi-row
    statements of at most STATEMENT_BYTES written as literals: integers as %d and the blob as hex,
    so nothing needs escaping (PyMySQL's escaping of the blobs was half of a small row's cost).
    Returns the rows written."""
    insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ".encode()
    literal = b"(" + b"%d," * (len(columns) - 1) + b"x'%s')"
    statement: list[bytes] = []
    size = written = 0
    for row in rows:
        value = literal % (row[:-1] + (binascii.hexlify(row[-1]),))
        if statement and size + len(value) > STATEMENT_BYTES:
            cursor.execute(insert + b",".join(statement))
            statement, size = [], 0
        statement.append(value)
        size += len(value) + 1
        written += 1
    if statement:
        cursor.execute(insert + b",".join(statement))
    return written


def retried_on_lock_race(connection: pymysql.connections.Connection, work: Callable[[pymysql.cursors.Cursor], T], *,
                         what: str, context: dict | None = None) -> T:
    """work(cursor) as one transaction, committed; rolled back and run again after a deadlock or a
    lock wait timeout (at most ATTEMPTS runs, waiting a little longer each time), so work must be
    idempotent. Any other error rolls back and is raised, as is the last lost race. `what` and
    `context` name the work in the warning logged for each retry."""

    def one_transaction() -> T:
        try:
            with connection.cursor() as cursor:
                done = work(cursor)
            connection.commit()
            return done
        except pymysql.err.OperationalError:
            raise  # rolled back by retried
        except BaseException:
            connection.rollback()
            raise

    return retried(one_transaction, roll_back=connection.rollback, what=what, context=context, attempts=ATTEMPTS)


def retried(run: Callable[[], T], *, roll_back: Callable[[], None], what: str, context: dict | None = None,
            errors: frozenset[int] = LOST_LOCK_RACE, attempts: int = ATTEMPTS, pause_seconds: float = 0.05) -> T:
    """run(), and after an OperationalError roll_back() then, if its code is one of `errors`, run()
    again (at most `attempts` runs, pausing pause_seconds x the attempt between them); the last one,
    or one of another code, is raised after roll_back(). run() owns its transactions (it may commit
    some of its work before it fails: that part stays), so it must be idempotent. Any other
    exception is raised as it is, with no roll_back (a connection interrupted mid-reply cannot be
    trusted with one: the caller decides). `what` and `context` name the work in the warning logged
    for each retry."""
    for attempt in range(1, attempts + 1):
        try:
            return run()
        except pymysql.err.OperationalError as exc:
            roll_back()
            if exc.args[0] not in errors or attempt == attempts:
                raise
            log.warning(f"{what} lost a lock race, retrying",
                        extra={**(context or {}), "attempt": attempt, "error": exc.args[1]})
            time.sleep(pause_seconds * attempt)
    raise AssertionError("unreachable")
