"""The ways the API runs a statement on its asyncmy pool, or in one transaction, and the errors
they raise.

The pool is asyncmy's (compiled MySQL protocol; docs/decisions.md says why not aiomysql). The api
also reaches MariaDB through the core's PyMySQL services, run in a thread (token issuing, the
series limit's seeding): each driver raises its own classes, so the tuples below name both."""

from contextlib import asynccontextmanager
from typing import AsyncIterator, TypeVar

import asyncmy
import asyncmy.errors
import pymysql

from microdash_core.db import DatabaseAddress
from microdash_core.tenants.queries import Query

Answer = TypeVar("Answer")
Pool = asyncmy.Pool
Connection = asyncmy.Connection
# The database cannot be reached or dropped the connection: 503 / retry, never 500.
OUTAGE_ERRORS = (asyncmy.errors.OperationalError, asyncmy.errors.InterfaceError,
                 pymysql.err.OperationalError, pymysql.err.InterfaceError)
DATABASE_ERRORS = (asyncmy.errors.MySQLError, pymysql.err.MySQLError)
OUT_OF_RANGE_ERRORS = (asyncmy.errors.DataError, pymysql.err.DataError)
# A statement run with parameters on the pool's plain cursors is prepared on the server once per
# connection and then executed by id, its rows in the binary protocol: MariaDB skips the parse and
# the api the text decoding (~0.08 ms of api CPU and ~0.06 ms of wall a statement). Enough for
# every statement shape of a query path, per connection; MariaDB bounds all connections' prepared
# statements together (max_prepared_stmt_count, 16,382 by default): 10 connections x 64 a process.
STATEMENT_CACHE = 64
# The pool's duplicate key (the api's own writes all go through the pool).
IntegrityError = asyncmy.errors.IntegrityError


class Transaction:
    """One connection in an open transaction, usable wherever a pool is (`acquire` gives it back
    each time), so the same repository functions run inside or outside a transaction."""

    def __init__(self, connection: Connection):
        self.connection = connection

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Connection]:
        yield self.connection


Executor = Pool | Transaction  # a pool, or one transaction's connection


async def fetch(pool: Executor, sql: str, params: tuple | list) -> list[tuple]:
    async with pool.acquire() as connection, connection.cursor() as cursor:
        await cursor.execute(sql, params)
        return list(await cursor.fetchall())


async def ask(pool: Executor, query: Query[Answer]) -> Answer:
    """A query of the core's tenant family, answered from its rows (one round trip, as `fetch`)."""
    return query.answer(await fetch(pool, query.sql, query.params))


async def execute(pool: Executor, sql: str, params: tuple | list) -> tuple[int, int]:
    """(rows affected, last insert id)."""
    async with pool.acquire() as connection, connection.cursor() as cursor:
        await cursor.execute(sql, params)
        return cursor.rowcount, cursor.lastrowid


@asynccontextmanager
async def transaction(pool: Pool) -> AsyncIterator[Transaction]:
    """Commits when the block ends, rolls back when it raises: a change and its audit entry
    are stored together or not at all."""
    async with pool.acquire() as connection:
        await connection.begin()
        try:
            yield Transaction(connection)
        except BaseException:
            await connection.rollback()
            raise
        await connection.commit()


async def open_pool(address: DatabaseAddress) -> Pool:
    """The api's pool: autocommit (each statement its own snapshot unless in `transaction`), and
    each connection keeps its last STATEMENT_CACHE statements prepared on the server."""
    return await asyncmy.create_pool(
        host=address.host, port=address.port, user=address.user, password=address.password,
        database=address.database, unix_socket=address.unix_socket, charset="utf8mb4",
        autocommit=True, minsize=0, maxsize=10, pool_recycle=3600, stmt_cache_size=STATEMENT_CACHE)


async def execute_as_text(cursor, sql: str, params: tuple | list) -> None:
    """Runs a statement whose text is new each time (a deadline written into it) as text: through
    the statement cache it would be prepared for one use, an extra round trip, and push out the
    statements that do repeat."""
    await cursor.execute(cursor.mogrify(sql, params))
