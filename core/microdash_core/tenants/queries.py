"""A statement and how its rows become the answer, independent of the driver that runs it."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from pymysql.cursors import Cursor

Answer = TypeVar("Answer")


@dataclass(frozen=True)
class Query(Generic[Answer]):
    sql: str
    params: tuple
    answer: Callable[[Sequence[tuple]], Answer]

    def run(self, cursor: Cursor) -> Answer:
        cursor.execute(self.sql, self.params)
        return self.answer(cursor.fetchall())


def first_row(rows: Sequence[tuple]) -> tuple | None:
    return tuple(rows[0]) if rows else None


def all_rows(rows: Sequence[tuple]) -> list[tuple]:
    return [tuple(row) for row in rows]
