"""The PromQL engine's SeriesSource on MariaDB, for one tenant and one query: series by
matchers from the series index, samples through sample_reads, at the resolution read_plan
picks. It enforces the query's budgets as it goes: series touched, samples loaded, time."""

import time
from dataclasses import dataclass

import numpy as np

from microdash_core.errors import InvalidInput
from microdash_core.matchers import make_matcher
from microdash_core.promql import LabelMatcher, PromQLError, RawSeries, SelectHints

from ..raw_samples import SampleDecodeError, unreadable_chunk_reported
from ..sample_reads import SampleBudgetExceeded, SampleReadTimeout, read_samples
from ..sql import Pool
from .read_plan import ReadRequest, RetentionDays, plan_reads
from .series_index import TooManySeries, find_series


@dataclass(frozen=True)
class QueryBudget:
    max_series: int
    max_samples: int
    timeout_seconds: float


class MariaDBSeriesSource:
    def __init__(self, pool: Pool, *, tenant_id: int, budget: QueryBudget, retention: RetentionDays,
                 lookback_ms: int, now_ms: int | None = None):
        self._pool = pool
        self._tenant_id = tenant_id
        self._budget = budget
        self._retention = retention
        self._lookback_ms = lookback_ms
        self._now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
        self._deadline = time.monotonic() + budget.timeout_seconds
        self.series_touched = 0
        self.samples_loaded = 0
        self.resolutions_read: set[str] = set()

    async def select(self, matchers: list[LabelMatcher], start_ms: int, end_ms: int,
                     hints: SelectHints) -> list[RawSeries]:
        selector = _compiled(matchers)
        remaining_series = self._budget.max_series - self.series_touched
        try:
            found = await find_series(self._pool, tenant_id=self._tenant_id, selectors=[selector],
                                      limit=max(remaining_series, 0))
        except TooManySeries:
            raise PromQLError("limit", f"the query touches more than {self._budget.max_series} series"
                                       " (MICRODASH_PROMQL_MAX_SERIES); narrow its selectors") from None
        self.series_touched += len(found)
        arrays = await self._read(list(found), start_ms, end_ms, hints)
        return [RawSeries(labels=series.labels, timestamps=arrays[series.id][0], values=arrays[series.id][1])
                for series in found if series.id in arrays]

    async def _read(self, found, start_ms: int, end_ms: int, hints: SelectHints):
        request = ReadRequest(start_ms, end_ms, hints.step_ms, hints.range_ms, hints.func, self._lookback_ms)
        merged: dict[int, list] = {}
        for resolution, span in plan_reads(request, now_ms=self._now_ms, retention=self._retention):
            self.resolutions_read.add(resolution)
            part = await self._read_part([series.id for series in found], span, resolution)
            for series_id, pair in part.items():
                merged.setdefault(series_id, []).append(pair)
        return {series_id: _concatenated(pairs) for series_id, pairs in merged.items()}

    async def _read_part(self, series_ids: list[int], span, resolution):
        remaining_seconds = self._deadline - time.monotonic()
        if remaining_seconds <= 0:
            raise _timeout(self._budget.timeout_seconds)
        try:
            part = await read_samples(self._pool, tenant_id=self._tenant_id, series_ids=series_ids, span=span,
                                      resolution=resolution, timeout_seconds=remaining_seconds,
                                      max_samples=self._budget.max_samples - self.samples_loaded)
        except SampleBudgetExceeded:
            raise PromQLError("limit", f"the query loads more than {self._budget.max_samples} samples"
                                       " (MICRODASH_PROMQL_MAX_SAMPLES); shorten its range or windows,"
                                       " or narrow its selectors") from None
        except SampleReadTimeout:
            raise _timeout(self._budget.timeout_seconds) from None
        except SampleDecodeError as exc:
            reason = unreadable_chunk_reported(exc, api="promql", tenant_id=self._tenant_id)
            raise PromQLError("internal", reason) from None
        self.samples_loaded += sum(len(timestamps) for timestamps, _ in part.values())
        return part


def _compiled(matchers: list[LabelMatcher]):
    try:
        return [make_matcher(matcher.name, matcher.op, matcher.value) for matcher in matchers]
    except InvalidInput as exc:
        raise PromQLError("bad_data", str(exc)) from None


def _concatenated(pairs: list) -> tuple[np.ndarray, np.ndarray]:
    if len(pairs) == 1:
        return pairs[0]
    return np.concatenate([ts for ts, _ in pairs]), np.concatenate([vs for _, vs in pairs])


def _timeout(seconds: float) -> PromQLError:
    return PromQLError("timeout", f"the query ran longer than {seconds:g} s (MICRODASH_PROMQL_TIMEOUT_SECONDS)")
