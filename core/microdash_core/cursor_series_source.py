"""The PromQL engine's SeriesSource on a synchronous PyMySQL cursor, for one tenant: what the
alert evaluator (a worker, inside its transaction) reads an expression rule's series through.

Every statement is scoped by the tenant, so an expression sees that tenant's series only; the
series lookup is narrowed in MariaDB by the metric and the label values a selector names, as the
api's (series_lookup.Selector), and every matcher then decides on the decoded labels. The
series table's metric column is PromQL's __name__; raw samples only (an alert looks at the last
minutes, which raw retention always holds), read through store.reads: sealed chunks plus the head
in one statement. Budgets are enforced as it goes: series touched, and samples counted before they
are loaded (a sealed chunk counts whole). (The api's Prometheus endpoints read through their own async source,
which also picks rollups for long ranges.)
"""

import orjson
from pymysql.cursors import Cursor

from . import chunks, series_lookup
from .errors import InvalidInput
from .matchers import Matcher, make_matcher
from .promql import LabelMatcher, PromQLError, RawSeries, SelectHints
from .series_lookup import NAME
from .store import reads

_FETCH_ROWS = 10_000


class CursorSeriesSource:
    def __init__(self, cursor: Cursor, *, tenant_id: int, max_series: int, max_samples: int):
        self._cursor = cursor
        self._tenant_id = tenant_id
        self._max_series = max_series
        self._max_samples = max_samples
        self.series_touched = 0
        self.samples_loaded = 0

    async def select(self, matchers: list[LabelMatcher], start_ms: int, end_ms: int,
                     hints: SelectHints) -> list[RawSeries]:
        found = self._find_series(_compiled(matchers))
        samples = self._read_samples(sorted(found), start_ms, end_ms)
        return [RawSeries(labels=found[series_id], timestamps=ts, values=values)
                for series_id, (ts, values) in sorted(samples.items())]

    def _find_series(self, matchers: list[Matcher]) -> dict[int, dict[str, str]]:
        selector = series_lookup.Selector.of(matchers)
        metrics = selector.metrics(self._metric_names() if selector.needs_metric_names else ())
        if metrics == []:
            return {}
        self._cursor.execute(*series_lookup.statement(tenant_id=self._tenant_id, metrics=metrics,
                                                      label_values=selector.named_values()))
        found: dict[int, dict[str, str]] = {}
        while rows := self._cursor.fetchmany(_FETCH_ROWS):
            for series_id, metric, labels_json in rows:
                labels = {**orjson.loads(labels_json), NAME: metric}
                if selector.matches(labels):
                    found[series_id] = labels
        self.series_touched += len(found)
        if self.series_touched > self._max_series:
            raise PromQLError("limit", f"the expression touches more than {self._max_series} series"
                                       " (MICRODASH_ALERT_EXPR_MAX_SERIES); narrow its selectors")
        return found

    def _metric_names(self) -> list[str]:
        self._cursor.execute(*series_lookup.metric_names_statement(tenant_id=self._tenant_id))
        return [row[0] for row in self._cursor.fetchall()]

    def _read_samples(self, series_ids: list[int], start_ms: int, end_ms: int) -> dict[int, reads.Arrays]:
        if not series_ids or end_ms <= start_ms:
            return {}
        selection = {"tenant_id": self._tenant_id, "series_ids": series_ids,
                     "span": reads.Span.left_open(start_ms, end_ms)}
        self._cursor.execute(*reads.count_statement(**selection))
        counted = int(self._cursor.fetchone()[0] or 0)
        if counted > self._max_samples - self.samples_loaded:
            raise PromQLError("limit", f"the expression loads more than {self._max_samples} samples"
                                       " (MICRODASH_ALERT_EXPR_MAX_SAMPLES); shorten its windows or narrow"
                                       " its selectors")
        try:
            found = reads.read_series(self._cursor, **selection, counted=counted)
        except chunks.ChunkError as exc:  # the rule waits, its reason shown on the rule, until repaired
            raise PromQLError("internal", f"stored samples could not be decoded ({exc})") from None
        self.samples_loaded += sum(len(ts) for ts, _values in found.values())
        return found


def _compiled(matchers: list[LabelMatcher]) -> list[Matcher]:
    try:
        return [make_matcher(matcher.name, matcher.op, matcher.value) for matcher in matchers]
    except InvalidInput as exc:
        raise PromQLError("bad_data", str(exc)) from None
