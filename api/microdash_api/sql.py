"""The two ways the API runs a statement on its aiomysql pool."""

import aiomysql


async def fetch(pool: aiomysql.Pool, sql: str, params: tuple | list) -> list[tuple]:
    async with pool.acquire() as connection, connection.cursor() as cursor:
        await cursor.execute(sql, params)
        return list(await cursor.fetchall())


async def execute(pool: aiomysql.Pool, sql: str, params: tuple | list) -> tuple[int, int]:
    """(rows affected, last insert id)."""
    async with pool.acquire() as connection, connection.cursor() as cursor:
        await cursor.execute(sql, params)
        return cursor.rowcount, cursor.lastrowid
