"""Series lookup by label matchers, tenant-scoped: the series table holds a metric column
(PromQL's __name__) and the other labels as canonical JSON.

Matchers on __name__ narrow the SQL first (an equality is one indexed lookup, any other name
matcher filters the tenant's distinct metric names, also read from the index). A label matcher
that names its values (`job="a"`, or a regex that is only literals joined by `|`, as Grafana's
variables write them) also narrows the SQL, with JSON_VALUE, so MariaDB drops most rows before
Python decodes them. Every matcher then runs on the decoded labels with RE2: the SQL only ever
narrows, the answer comes from RE2 (MariaDB's own REGEXP is not linear-time, so never used).
"""

import re
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass

import aiomysql
import orjson

from microdash_core import series_lookup
from microdash_core.matchers import Matcher

NAME = "__name__"
_LITERAL_ALTERNATIVES = re.compile(r"[A-Za-z0-9_\-:/ ]+(?:\|[A-Za-z0-9_\-:/ ]+)*")
_FETCH_ROWS = 2_000


@dataclass(frozen=True)
class IndexedSeries:
    id: int
    labels: dict[str, str]  # with __name__


class TooManySeries(Exception):
    def __init__(self, limit: int):
        super().__init__(f"more than {limit} series")
        self.limit = limit


async def find_series(pool: aiomysql.Pool, *, tenant_id: int, selectors: list[list[Matcher]],
                      limit: int, truncate: bool = False) -> list[IndexedSeries]:
    """The series matching any of the selectors (each a list of matchers that must all hold),
    ordered by id. Past `limit` raises TooManySeries, or with `truncate` returns limit + 1 series."""
    found: dict[int, IndexedSeries] = {}
    for matchers in selectors:
        async with aclosing(_matching(pool, tenant_id, matchers)) as stream:
            async for series in stream:
                found[series.id] = series
                if len(found) > limit:
                    if truncate:
                        return [found[key] for key in sorted(found)]
                    raise TooManySeries(limit)
    return [found[key] for key in sorted(found)]


async def metric_names(pool: aiomysql.Pool, *, tenant_id: int) -> list[str]:
    async with pool.acquire() as connection, connection.cursor() as cursor:
        await cursor.execute("SELECT DISTINCT metric FROM series WHERE tenant_id = %s ORDER BY metric", (tenant_id,))
        return [row[0] for row in await cursor.fetchall()]


async def all_label_sets(pool: aiomysql.Pool, *, tenant_id: int) -> AsyncIterator[dict[str, str]]:
    """Every series' labels with __name__, streamed (a tenant may hold many)."""
    async with aclosing(_rows(pool, *series_lookup.statement(tenant_id=tenant_id))) as rows:
        async for series in rows:
            yield series.labels


async def _matching(pool: aiomysql.Pool, tenant_id: int, matchers: list[Matcher]) -> AsyncIterator[IndexedSeries]:
    by_name = [matcher for matcher in matchers if matcher.name == NAME]
    others = [matcher for matcher in matchers if matcher.name != NAME]
    metrics = await _metrics_for(pool, tenant_id, by_name)
    if metrics == []:
        return
    sql, params = series_lookup.statement(tenant_id=tenant_id, metrics=metrics, label_values=_named_values(others))
    async with aclosing(_rows(pool, sql, params)) as rows:
        async for series in rows:
            if all(matcher.matches(series.labels) for matcher in others):
                yield series


def _named_values(matchers: list[Matcher]) -> list[tuple[str, list[str]]]:
    """(label, the only values it may have) for each matcher that names them, none of them ""."""
    named = []
    for matcher in matchers:
        if matcher.op == "=" and matcher.value:
            named.append((matcher.name, [matcher.value]))
        elif matcher.op == "=~" and _LITERAL_ALTERNATIVES.fullmatch(matcher.value):
            named.append((matcher.name, matcher.value.split("|")))
    return named


async def _metrics_for(pool: aiomysql.Pool, tenant_id: int, by_name: list[Matcher]) -> list[str] | None:
    """The metric names the __name__ matchers allow; None when there are no such matchers."""
    if not by_name:
        return None
    equal = next((matcher.value for matcher in by_name if matcher.op == "="), None)
    candidates = [equal] if equal is not None else await metric_names(pool, tenant_id=tenant_id)
    return [name for name in candidates if all(matcher.matches({NAME: name}) for matcher in by_name)]


async def _rows(pool: aiomysql.Pool, sql: str, params: list) -> AsyncIterator[IndexedSeries]:
    async with pool.acquire() as connection, connection.cursor(aiomysql.SSCursor) as cursor:
        await cursor.execute(sql, params)
        while rows := await cursor.fetchmany(_FETCH_ROWS):
            for series_id, metric, labels_json in rows:
                labels = orjson.loads(labels_json)
                labels[NAME] = metric
                yield IndexedSeries(series_id, labels)
