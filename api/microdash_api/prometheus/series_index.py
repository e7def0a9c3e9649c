"""Series lookup by label matchers, tenant-scoped, on the api's asyncmy pool: the statements and
the matching are microdash_core.series_lookup's (a Selector narrows the SQL by metric and by the
label values it names; every matcher then runs on the decoded labels with RE2).
"""

from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass

import orjson
from asyncmy.cursors import SSCursor

from microdash_core import series_lookup
from microdash_core.matchers import Matcher
from microdash_core.series_lookup import NAME

from ..sql import Pool

_FETCH_ROWS = 2_000


@dataclass(frozen=True)
class IndexedSeries:
    id: int
    labels: dict[str, str]  # with __name__


class TooManySeries(Exception):
    def __init__(self, limit: int):
        super().__init__(f"more than {limit} series")
        self.limit = limit


async def find_series(pool: Pool, *, tenant_id: int, selectors: list[list[Matcher]],
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


async def metric_names(pool: Pool, *, tenant_id: int) -> list[str]:
    async with pool.acquire() as connection, connection.cursor() as cursor:
        await cursor.execute(*series_lookup.metric_names_statement(tenant_id=tenant_id))
        return [row[0] for row in await cursor.fetchall()]


async def all_label_sets(pool: Pool, *, tenant_id: int) -> AsyncIterator[dict[str, str]]:
    """Every series' labels with __name__, streamed (a tenant may hold many)."""
    async with aclosing(_rows(pool, *series_lookup.statement(tenant_id=tenant_id))) as rows:
        async for series in rows:
            yield series.labels


async def _matching(pool: Pool, tenant_id: int, matchers: list[Matcher]) -> AsyncIterator[IndexedSeries]:
    selector = series_lookup.Selector.of(matchers)
    metrics = selector.metrics(await metric_names(pool, tenant_id=tenant_id) if selector.needs_metric_names else ())
    if metrics == []:
        return
    sql, params = series_lookup.statement(tenant_id=tenant_id, metrics=metrics, label_values=selector.named_values())
    async with aclosing(_rows(pool, sql, params)) as rows:
        async for series in rows:
            if selector.matches(series.labels):
                yield series


async def _rows(pool: Pool, sql: str, params: list) -> AsyncIterator[IndexedSeries]:
    async with pool.acquire() as connection, connection.cursor(SSCursor) as cursor:
        await cursor.execute(sql, params)
        while rows := await cursor.fetchmany(_FETCH_ROWS):
            for series_id, metric, labels_json in rows:
                labels = orjson.loads(labels_json)
                labels[NAME] = metric
                yield IndexedSeries(series_id, labels)
