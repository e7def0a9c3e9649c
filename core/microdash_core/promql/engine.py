"""The two entry points: an instant query at one time, a range query over evenly spaced steps."""

import asyncio

import numpy as np

from .budget import Budget
from .errors import BAD_DATA, PromQLError
from .evaluator import Context, Evaluator
from .model import QueryLimits, SeriesSource
from .parsing import MATRIX, SCALAR, STRING, VECTOR, parse, value_type
from .result import QueryResult, ResultSeries
from .values import StepScalar, StepString, StepVector, label_key

MAX_STEPS = 11_000  # Prometheus's limit on points per series in a range query


async def instant_query(text: str, *, source: SeriesSource, time_ms: int, limits: QueryLimits,
                        lookback_ms: int = 300_000) -> QueryResult:
    expr = parse(text)
    kind = value_type(expr)
    budget = Budget(limits)
    evaluator = Evaluator(Context(source, budget, lookback_ms, time_ms, time_ms),
                          np.array([time_ms], dtype=np.int64), None)

    async def run() -> QueryResult:
        if kind == MATRIX:
            return await _matrix_at(evaluator, expr)
        return _instant_result(await evaluator.eval(expr), time_ms)
    return await _bounded(run(), budget)


async def range_query(text: str, *, source: SeriesSource, start_ms: int, end_ms: int, step_ms: int,
                      limits: QueryLimits, lookback_ms: int = 300_000) -> QueryResult:
    if step_ms <= 0:
        raise PromQLError(BAD_DATA, "zero or negative query resolution step widths are not accepted")
    if end_ms < start_ms:
        raise PromQLError(BAD_DATA, "end timestamp must not be before start time")
    if (end_ms - start_ms) // step_ms + 1 > MAX_STEPS:
        raise PromQLError(BAD_DATA, f"exceeded maximum resolution of {MAX_STEPS} points per timeseries; "
                                    "try decreasing the query resolution (?step=XX)")
    expr = parse(text)
    kind = value_type(expr)
    if kind not in (SCALAR, VECTOR):
        raise PromQLError(BAD_DATA, f"invalid expression type \"{_type_name(kind)}\" for range query, "
                                    "must be Scalar or instant Vector")
    budget = Budget(limits)
    times = np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64)
    evaluator = Evaluator(Context(source, budget, lookback_ms, start_ms, end_ms), times, step_ms)

    async def run() -> QueryResult:
        return _range_result(await evaluator.eval(expr), times)
    return await _bounded(run(), budget)


def _type_name(kind: str) -> str:
    return {MATRIX: "range vector", VECTOR: "instant vector", STRING: "string", SCALAR: "scalar"}[kind]


async def _bounded(work, budget: Budget) -> QueryResult:
    try:
        return await asyncio.wait_for(work, budget.limits.timeout_seconds)
    except asyncio.TimeoutError as exc:
        raise budget.timed_out() from exc


async def _matrix_at(evaluator: Evaluator, expr) -> QueryResult:
    windows = await evaluator.windows(expr, None)
    samples = windows.samples
    series = []
    for row, labels in enumerate(samples.labels):
        lo, hi = int(windows.lo[row, 0]), int(windows.hi[row, 0])
        if hi > lo:
            series.append(ResultSeries(labels, samples.timestamps[lo:hi], samples.values[lo:hi]))
    series.sort(key=lambda s: label_key(s.labels))
    return QueryResult("matrix", series, time_ms=int(evaluator.times[0]))


def _instant_result(value, time_ms: int) -> QueryResult:
    if isinstance(value, StepScalar):
        return QueryResult("scalar", time_ms=time_ms, scalar=float(value.values[0]))
    if isinstance(value, StepString):
        return QueryResult("string", time_ms=time_ms, string=value.value)
    stamp = np.array([time_ms], dtype=np.int64)
    series = [ResultSeries(labels, stamp, value.values[row, :1].copy())
              for row, labels in enumerate(value.labels) if value.present[row, 0]]
    return QueryResult("vector", series, time_ms=time_ms)


def _range_result(value, times: np.ndarray) -> QueryResult:
    if isinstance(value, StepScalar):
        return QueryResult("matrix", [ResultSeries({}, times, value.values)], time_ms=int(times[0]))
    assert isinstance(value, StepVector)
    series = [ResultSeries(labels, times[value.present[row]], value.values[row][value.present[row]])
              for row, labels in enumerate(value.labels) if value.present[row].any()]
    series.sort(key=lambda s: label_key(s.labels))
    return QueryResult("matrix", series, time_ms=int(times[0]))
