"""Walks the syntax tree and evaluates every node at all the query's steps at once."""

import asyncio
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import promql_parser as pp
import re2

from ..matchers import MAX_REGEX_LENGTH, compile_regex
from . import binary, calls
from .aggregations import aggregate
from .budget import Budget
from .errors import BAD_DATA, UNSUPPORTED, PromQLError
from .labels import drop_name
from .model import SelectHints, SeriesSource
from .parsing import millis, op_name, selector_matchers
from .range_functions import Windows
from .values import SampleSet, StepScalar, StepString, StepVector, label_key
from .windows import window_bounds

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
DEFAULT_SUBQUERY_STEP_MS = 60_000  # Prometheus's default evaluation_interval


@dataclass
class Context:
    source: SeriesSource
    budget: Budget
    lookback_ms: int
    query_start_ms: int
    query_end_ms: int


class Evaluator:
    def __init__(self, context: Context, times: np.ndarray, step_ms: int | None):
        self.context = context
        self.times = times
        self.step_ms = step_ms

    @property
    def budget(self) -> Budget:
        return self.context.budget

    async def eval(self, node):
        self.budget.tick()
        value = await self._eval(node)
        if isinstance(value, StepVector):
            self.budget.add_points(value.values.size)
        await asyncio.sleep(0)  # lets the event loop serve others between nodes
        return value

    async def _eval(self, node):
        if isinstance(node, pp.ParenExpr):
            return await self.eval(node.expr)
        if isinstance(node, pp.NumberLiteral):
            return StepScalar(np.full(len(self.times), float(node.val)))
        if isinstance(node, pp.StringLiteral):
            return StepString(node.val)
        if isinstance(node, pp.VectorSelector):
            return await self.instant_selector(node)
        if isinstance(node, pp.UnaryExpr):
            return self._negate(await self.eval(node.expr))
        if isinstance(node, pp.Call):
            return await calls.call(self, node)
        if isinstance(node, pp.AggregateExpr):
            return await self._aggregate(node)
        if isinstance(node, pp.BinaryExpr):
            return await self._binary(node)
        if isinstance(node, (pp.MatrixSelector, pp.SubqueryExpr)):
            raise PromQLError(BAD_DATA, "a range vector can only be the argument of a function here")
        raise PromQLError(UNSUPPORTED, f"expression {type(node).__name__} is not supported")

    def _negate(self, value):
        if isinstance(value, StepScalar):
            return StepScalar(-value.values)
        labels = [drop_name(x) for x in value.labels]
        return StepVector(labels, -value.values, value.present).relabelled(labels)

    async def scalar_values(self, node) -> np.ndarray:
        value = await self.eval(node)
        if not isinstance(value, StepScalar):
            raise PromQLError(BAD_DATA, "expected a scalar argument")
        return value.values

    async def string_value(self, node) -> str:
        value = await self.eval(node)
        if not isinstance(value, StepString):
            raise PromQLError(BAD_DATA, "expected a string argument")
        return value.value

    async def vector_value(self, node) -> StepVector:
        value = await self.eval(node)
        if not isinstance(value, StepVector):
            raise PromQLError(BAD_DATA, "expected an instant vector argument")
        return value

    # Selectors

    def reference_times(self, offset, at) -> np.ndarray:
        """The times a selector reads at: each step's time, or the @ time, less the offset."""
        base = self.times
        if at is not None:
            if at.type == pp.AtModifierType.Start:
                fixed = self.context.query_start_ms
            elif at.type == pp.AtModifierType.End:
                fixed = self.context.query_end_ms
            else:
                fixed = millis(at.at - _EPOCH)
            base = np.full(len(self.times), fixed, dtype=np.int64)
        return base - millis(offset)

    async def select(self, selector: pp.VectorSelector, ref: np.ndarray, window_ms: int,
                     range_ms: int | None, func: str | None) -> SampleSet:
        matchers = selector_matchers(selector)
        for matcher in matchers:
            _check_regex(matcher.op, matcher.value)
        hints = SelectHints(int(ref.min()), int(ref.max()), self.step_ms if len(ref) > 1 else None, range_ms, func)
        start, end = int(ref.min()) - window_ms - 1, int(ref.max())
        try:
            raw = await asyncio.wait_for(self.context.source.select(matchers, start, end, hints),
                                         self.budget.remaining_seconds())
        except asyncio.TimeoutError as exc:
            raise self.budget.timed_out() from exc
        self.budget.add_series(len(raw))
        self.budget.add_points(sum(len(s.timestamps) for s in raw))
        # In label order, as Prometheus selects: where PromQL leaves a choice to the order (topk
        # and bottomk among equal values), the same series win whatever order the source keeps.
        return SampleSet.from_raw(sorted(raw, key=lambda series: label_key(series.labels)))

    async def instant_selector(self, selector: pp.VectorSelector) -> StepVector:
        ref = self.reference_times(selector.offset, selector.at)
        samples = await self.select(selector, ref, self.context.lookback_ms, None, None)
        self.budget.add_points(samples.size * len(ref))
        lo, hi = window_bounds(samples, ref, self.context.lookback_ms)
        present = hi > lo
        last = np.clip(hi - 1, 0, max(len(samples.values) - 1, 0))
        if len(samples.values) == 0:
            return StepVector.empty(len(ref))
        return StepVector(samples.labels, samples.values[last], present, samples.timestamps[last])

    async def windows(self, node, func: str) -> Windows:
        """A range vector argument cut into one window per series and step."""
        while isinstance(node, pp.ParenExpr):
            node = node.expr
        if isinstance(node, pp.MatrixSelector):
            selector = node.vector_selector
            range_ms = millis(node.range)
            ends = self.reference_times(selector.offset, selector.at)
            samples = await self.select(selector, ends, range_ms, range_ms, func)
        elif isinstance(node, pp.SubqueryExpr):
            range_ms = millis(node.range)
            ends = self.reference_times(node.offset, node.at)
            samples = await self._subquery(node, ends, range_ms)
        else:
            raise PromQLError(BAD_DATA, f"expected a range vector in call to {func}")
        self.budget.add_points(samples.size * len(ends))  # the window bounds, one per series and step
        lo, hi = window_bounds(samples, ends, range_ms)
        return Windows(samples, lo, hi, ends, self.times, range_ms, self.budget.tick)

    async def _subquery(self, node: pp.SubqueryExpr, ends: np.ndarray, range_ms: int) -> SampleSet:
        step = millis(node.step) or DEFAULT_SUBQUERY_STEP_MS
        if step <= 0 or range_ms <= 0:
            raise PromQLError(BAD_DATA, "a subquery's range and step must be positive")
        first = int(ends.min()) - range_ms
        start = -(-first // step) * step  # the first multiple of the step at or after first
        count = (int(ends.max()) - start) // step + 1
        self.budget.add_points(max(count, 0))
        times = start + step * np.arange(max(count, 0), dtype=np.int64)
        inner = Evaluator(self.context, times, step)
        value = await inner.eval(node.expr)
        if isinstance(value, StepScalar):
            value = StepVector([{}], value.values.reshape(1, -1), np.ones((1, len(times)), dtype=bool))
        return SampleSet.from_steps(value, times)

    # Operators

    async def _aggregate(self, node: pp.AggregateExpr):
        op = op_name(node)
        param = None
        if node.param is not None:
            param = await (self.string_value(node.param) if op == "count_values" else self.scalar_values(node.param))
        vector = await self.vector_value(node.expr)
        grouping, is_without = None, False
        if node.modifier is not None:
            grouping = list(node.modifier.labels)
            is_without = node.modifier.type == pp.AggModifierType.Without
        return aggregate(op, vector, grouping, is_without, param, self.budget.tick, self.budget.add_points)

    async def _binary(self, node: pp.BinaryExpr):
        op = op_name(node)
        lhs, rhs = await self.eval(node.lhs), await self.eval(node.rhs)
        return_bool = bool(node.modifier is not None and node.modifier.return_bool)
        if isinstance(lhs, StepScalar) and isinstance(rhs, StepScalar):
            return binary.scalar_scalar(op, lhs, rhs)
        if isinstance(lhs, StepVector) and isinstance(rhs, StepScalar):
            return binary.vector_scalar(op, lhs, rhs, True, return_bool)
        if isinstance(lhs, StepScalar) and isinstance(rhs, StepVector):
            return binary.vector_scalar(op, rhs, lhs, False, return_bool)
        if not (isinstance(lhs, StepVector) and isinstance(rhs, StepVector)):
            raise PromQLError(BAD_DATA, f"binary operator {op} needs scalar or instant vector operands")
        if op in binary.SET_OPERATORS:
            return binary.set_operation(op, lhs, rhs, node.modifier)
        return binary.vector_vector(op, lhs, rhs, node.modifier, self.budget.add_points)


def _check_regex(op: str, pattern: str) -> None:
    if op not in ("=~", "!~"):
        return
    if len(pattern) > MAX_REGEX_LENGTH:
        raise PromQLError(BAD_DATA, f"regex {pattern[:40]!r}... is longer than {MAX_REGEX_LENGTH} characters")
    try:
        compile_regex(pattern)
    except (re2.error, UnicodeEncodeError) as exc:
        raise PromQLError(BAD_DATA, f"invalid regular expression {pattern!r}: RE2 syntax, without "
                                    "backreferences or lookaround") from exc

