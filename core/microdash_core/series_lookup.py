"""Finding a tenant's series in the series table: the one statement the api (aiomysql), the alert
evaluator and the CLI (PyMySQL) each run. A series row holds its metric (PromQL's __name__) and its
other labels as canonical JSON compared byte for byte (utf8mb4_bin), so a label's value can narrow
the statement with JSON_VALUE; the SQL only narrows, callers with matchers still match the decoded
labels (RE2, microdash_core.matchers)."""

from collections.abc import Collection, Iterable, Sequence

import orjson

from .samples import LABEL_NAME

# (label name, the values it may have): a narrowing of the statement by one label.
LabelValues = tuple[str, Sequence[str]]


def statement(*, tenant_id: int, metrics: Collection[str] | None = None, label_values: Iterable[LabelValues] = (),
              ordered: bool = False) -> tuple[str, list]:
    """SELECT id, metric, labels of the tenant's series: of these metrics (None: any; none: no
    series), and with each named label among its values. A name that is not a label name, or no
    values, narrows nothing (the caller's matching decides)."""
    sql, params = "SELECT id, metric, labels FROM series WHERE tenant_id = %s", [tenant_id]
    if metrics is not None:
        sql += f" AND metric IN ({_placeholders(len(metrics))})" if metrics else " AND FALSE"
        params.extend(metrics)
    for name, values in label_values:
        if LABEL_NAME.fullmatch(name) and values:
            sql += f" AND JSON_VALUE(labels, %s) IN ({_placeholders(len(values))})"
            params += [f'$."{name}"', *values]
    if ordered:
        sql += " ORDER BY metric, id"
    return sql, params


def find_series(cursor, *, tenant_id: int, metrics: Collection[str]) -> dict[int, tuple[str, dict[str, str]]]:
    """The tenant's series of these metrics on a PyMySQL cursor: id → (metric, labels)."""
    if not metrics:
        return {}
    cursor.execute(*statement(tenant_id=tenant_id, metrics=sorted(metrics)))
    return {series_id: (metric, orjson.loads(labels)) for series_id, metric, labels in cursor.fetchall()}


def _placeholders(count: int) -> str:
    return ",".join(["%s"] * count)
