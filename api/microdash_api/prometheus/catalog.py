"""What /series, /labels, /label/<name>/values and /metadata answer, from the series index.

These answer from every series the tenant has in the index, whatever start and end say: the
index keeps no per-series time bounds (docs/promql.md)."""

import re


from microdash_core.matchers import Matcher

from ..sql import Pool
from .series_index import NAME, all_label_sets, find_series, metric_names

_HISTOGRAM_PART = re.compile(r"(.+)_(bucket|sum|count)$")


async def matching_label_sets(pool: Pool, *, tenant_id: int, selectors: list[list[Matcher]],
                              limit: int, truncate: bool = False) -> list[dict[str, str]]:
    """Sorted label sets; past `limit`, TooManySeries, or (truncate) limit + 1 of them."""
    found = await find_series(pool, tenant_id=tenant_id, selectors=selectors, limit=limit, truncate=truncate)
    return sorted((series.labels for series in found), key=lambda labels: sorted(labels.items()))


async def label_names(pool: Pool, *, tenant_id: int, selectors: list[list[Matcher]],
                      limit: int) -> list[str]:
    names: set[str] = set()
    async for labels in _label_sets(pool, tenant_id, selectors, limit):
        names.update(name for name, value in labels.items() if value != "")
    return sorted(names)


async def label_values(pool: Pool, *, tenant_id: int, name: str, selectors: list[list[Matcher]],
                       limit: int) -> list[str]:
    if name == NAME and not selectors:
        return await metric_names(pool, tenant_id=tenant_id)
    values: set[str] = set()
    async for labels in _label_sets(pool, tenant_id, selectors, limit):
        value = labels.get(name, "")
        if value != "":
            values.add(value)
    return sorted(values)


async def _label_sets(pool, tenant_id: int, selectors: list[list[Matcher]], limit: int):
    if selectors:
        for series in await find_series(pool, tenant_id=tenant_id, selectors=selectors, limit=limit):
            yield series.labels
    else:
        async for labels in all_label_sets(pool, tenant_id=tenant_id):
            yield labels


async def metadata(pool: Pool, *, tenant_id: int, metric: str | None) -> dict[str, list[dict]]:
    """Types inferred from the names only (microdash keeps no HELP or TYPE): `_total` is a counter,
    a `_bucket`/`_sum`/`_count` family a histogram; other names are left out, as Prometheus
    leaves out what it has no metadata for."""
    names = await metric_names(pool, tenant_id=tenant_id)
    known = set(names)
    found: dict[str, list[dict]] = {}
    for name in names:
        part = _HISTOGRAM_PART.fullmatch(name)
        if part and f"{part.group(1)}_bucket" in known:
            found[part.group(1)] = [_entry("histogram")]
        elif name.endswith("_total"):
            found[name] = [_entry("counter")]
    if metric is not None:
        return {metric: found[metric]} if metric in found else {}
    return found


def _entry(kind: str) -> dict:
    return {"type": kind, "help": "", "unit": ""}
