"""The ways the API runs a statement on its aiomysql pool, or in one transaction."""

from contextlib import asynccontextmanager
from typing import AsyncIterator, TypeVar

import aiomysql

from microdash_core.tenants.queries import Query

Answer = TypeVar("Answer")


class Transaction:
    """One connection in an open transaction, usable wherever a pool is (`acquire` gives it back
    each time), so the same repository functions run inside or outside a transaction."""

    def __init__(self, connection: aiomysql.Connection):
        self.connection = connection

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[aiomysql.Connection]:
        yield self.connection


Executor = aiomysql.Pool | Transaction  # a pool, or one transaction's connection


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
async def transaction(pool: aiomysql.Pool) -> AsyncIterator[Transaction]:
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
