"""A statement and how its rows become the answer, independent of the driver that runs it."""

from collections.abc import Callable, Sequence
from typing import Generic, NamedTuple, TypeVar

from pymysql.cursors import Cursor

Answer = TypeVar("Answer")


class Query(NamedTuple, Generic[Answer]):
    """A tuple rather than a dataclass: one is built per token-cache miss on the ingest path."""

    sql: str
    params: tuple
    answer: Callable[[Sequence[tuple]], Answer]

    def run(self, cursor: Cursor) -> Answer:
        cursor.execute(self.sql, self.params)
        return self.answer(cursor.fetchall())


def first_row(rows: Sequence[tuple]) -> tuple | None:
    return tuple(rows[0]) if rows else None


def first_value(rows: Sequence[tuple]) -> object | None:
    """The first column of the first row; None when there is no row."""
    return rows[0][0] if rows else None


def all_rows(rows: Sequence[tuple]) -> list[tuple]:
    return [tuple(row) for row in rows]
