"""Finding a tenant's series in the series table: the one statement the api (asyncmy), the alert
evaluator and the CLI (PyMySQL) each run. A series row holds its metric (PromQL's __name__) and its
other labels as canonical JSON compared byte for byte (utf8mb4_bin), so a label's value can narrow
the statement with JSON_VALUE; the SQL only narrows, callers with matchers still match the decoded
labels (RE2, microdash_core.matchers).

A selector's matchers (Selector) narrow it so: those on __name__ pick the metrics (an equality is
one indexed lookup, any other name matcher filters the tenant's distinct metric names, also read
from the index); a label matcher that names its values (`job="a"`, or a regex that is only
literals joined by `|`, as Grafana's variables write them) can narrow it with JSON_VALUE, so
MariaDB drops most rows before Python decodes them. Every matcher then runs on the decoded labels
with RE2 (MariaDB's own REGEXP is not linear-time, so never used). The callers run the statements,
each on its own driver."""

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

import orjson

from .matchers import Matcher
from .samples import LABEL_NAME

NAME = "__name__"  # PromQL's name for the metric column
# (label name, the values it may have): a narrowing of the statement by one label.
LabelValues = tuple[str, Sequence[str]]
_LITERAL_ALTERNATIVES = re.compile(r"[A-Za-z0-9_\-:/ ]+(?:\|[A-Za-z0-9_\-:/ ]+)*")


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


def metric_names_statement(*, tenant_id: int) -> tuple[str, list]:
    """SELECT the tenant's distinct metric names, in order."""
    return "SELECT DISTINCT metric FROM series WHERE tenant_id = %s ORDER BY metric", [tenant_id]


@dataclass(frozen=True)
class Selector:
    """One selector's matchers as the lookup uses them (module docstring)."""
    by_name: tuple[Matcher, ...]
    others: tuple[Matcher, ...]

    @classmethod
    def of(cls, matchers: Iterable[Matcher]) -> "Selector":
        matchers = list(matchers)
        return cls(tuple(m for m in matchers if m.name == NAME), tuple(m for m in matchers if m.name != NAME))

    @property
    def needs_metric_names(self) -> bool:
        """Whether metrics() filters the tenant's metric names (metric_names_statement): the
        __name__ matchers name no metric with an equality."""
        return bool(self.by_name) and self._named_metric() is None

    def metrics(self, metric_names: Sequence[str] = ()) -> list[str] | None:
        """The metric names the __name__ matchers allow, of the one an equality names, else of
        metric_names (the tenant's, read when needs_metric_names); None when there are no such
        matchers: any metric."""
        if not self.by_name:
            return None
        named = self._named_metric()
        candidates = [named] if named is not None else metric_names
        return [name for name in candidates if all(matcher.matches({NAME: name}) for matcher in self.by_name)]

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a series' labels (with __name__) hold every matcher not on __name__."""
        return all(matcher.matches(labels) for matcher in self.others)

    def named_values(self) -> list[LabelValues]:
        """(label, the only values it may have) for each matcher that names them, none of them ""."""
        named = []
        for matcher in self.others:
            if matcher.op == "=" and matcher.value:
                named.append((matcher.name, [matcher.value]))
            elif matcher.op == "=~" and _LITERAL_ALTERNATIVES.fullmatch(matcher.value):
                named.append((matcher.name, matcher.value.split("|")))
        return named

    def _named_metric(self) -> str | None:
        return next((matcher.value for matcher in self.by_name if matcher.op == "="), None)


def find_series(cursor, *, tenant_id: int, metrics: Collection[str]) -> dict[int, tuple[str, dict[str, str]]]:
    """The tenant's series of these metrics on a PyMySQL cursor: id → (metric, labels)."""
    if not metrics:
        return {}
    cursor.execute(*statement(tenant_id=tenant_id, metrics=sorted(metrics)))
    return {series_id: (metric, orjson.loads(labels)) for series_id, metric, labels in cursor.fetchall()}


def _placeholders(count: int) -> str:
    return ",".join(["%s"] * count)
