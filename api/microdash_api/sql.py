"""The ways the API runs a statement on its aiomysql pool."""

from typing import TypeVar

import aiomysql

from microdash_core.tenants.queries import Query

Answer = TypeVar("Answer")


async def fetch(pool: aiomysql.Pool, sql: str, params: tuple | list) -> list[tuple]:
    async with pool.acquire() as connection, connection.cursor() as cursor:
        await cursor.execute(sql, params)
        return list(await cursor.fetchall())


async def ask(pool: aiomysql.Pool, query: Query[Answer]) -> Answer:
    """A query of the core's tenant family, answered from its rows (one round trip, as `fetch`)."""
    return query.answer(await fetch(pool, query.sql, query.params))


async def execute(pool: aiomysql.Pool, sql: str, params: tuple | list) -> tuple[int, int]:
    """(rows affected, last insert id)."""
    async with pool.acquire() as connection, connection.cursor() as cursor:
        await cursor.execute(sql, params)
        return cursor.rowcount, cursor.lastrowid
