"""Function calls: which function, how its arguments are evaluated, and which labels it keeps."""

import math

import numpy as np
import promql_parser as pp

from . import functions as fn
from .errors import UNSUPPORTED, PromQLError
from .histograms import histogram_quantile
from .labels import drop_name
from .parsing import selector_matchers
from .range_functions import MATRIX_ARGUMENT, RANGE_FUNCTIONS
from .values import StepScalar, StepVector

SUPPORTED = sorted({*RANGE_FUNCTIONS, *fn.MATH, *fn.CALENDAR, "absent", "absent_over_time", "clamp", "clamp_max",
                    "clamp_min", "histogram_quantile", "label_join", "label_replace", "pi", "round",
                    "scalar", "sort", "sort_desc", "time", "timestamp", "vector"})


async def call(ev, node: pp.Call):
    name = node.func.name
    args = list(node.args)
    if name in RANGE_FUNCTIONS:
        return await _range_function(ev, name, args)
    if name == "absent_over_time":
        windows = await ev.windows(args[0], name)
        seen = (windows.counts >= 1).any(axis=0) if windows.samples.size else np.zeros(len(ev.times), dtype=bool)
        return StepVector([_absent_labels(args[0])], np.ones((1, len(ev.times))), ~seen.reshape(1, -1))
    handler = _INSTANT.get(name)
    if handler is None:
        raise PromQLError(UNSUPPORTED, f"function {name} is not supported")
    return await handler(ev, args)


async def _range_function(ev, name: str, args: list):
    position = MATRIX_ARGUMENT.get(name, 0)
    windows = await ev.windows(args[position], name)
    params = [await ev.scalar_values(arg) for i, arg in enumerate(args) if i != position]
    values, present = RANGE_FUNCTIONS[name](windows, params)
    labels = windows.samples.labels
    if name != "last_over_time":  # last_over_time acts like an offset and keeps the name
        labels = [drop_name(x) for x in labels]
    vector = StepVector(labels, values, present).without_absent()
    return vector.relabelled(vector.labels)


def _absent_labels(node) -> dict[str, str]:
    """The labels absent() gives its 1: those of the selector's equality matchers, unless a
    label is matched twice or otherwise."""
    while isinstance(node, pp.ParenExpr):
        node = node.expr
    if isinstance(node, pp.MatrixSelector):
        node = node.vector_selector
    if not isinstance(node, pp.VectorSelector):
        return {}
    labels, ambiguous = {}, set()
    for matcher in selector_matchers(node):
        if matcher.name == "__name__":
            continue
        if matcher.op == "=" and matcher.name not in labels:
            labels[matcher.name] = matcher.value
        else:
            ambiguous.add(matcher.name)
    return {k: v for k, v in labels.items() if k not in ambiguous and v != ""}


def _unwrap(node):
    while isinstance(node, pp.ParenExpr):
        node = node.expr
    return node


async def _absent(ev, args):
    vector = await ev.vector_value(args[0])
    return fn.absent(vector, _absent_labels(args[0]), len(ev.times))


async def _time(ev, args):
    return StepScalar(ev.times / 1000)


async def _pi(ev, args):
    return StepScalar(np.full(len(ev.times), math.pi))


async def _vector(ev, args):
    return fn.vector_of(StepScalar(await ev.scalar_values(args[0])))


async def _scalar(ev, args):
    return fn.scalar(await ev.vector_value(args[0]))


async def _clamp(ev, args):
    return fn.clamp(await ev.vector_value(args[0]), await ev.scalar_values(args[1]), await ev.scalar_values(args[2]))


async def _clamp_min(ev, args):
    return fn.clamp(await ev.vector_value(args[0]), await ev.scalar_values(args[1]), None)


async def _clamp_max(ev, args):
    return fn.clamp(await ev.vector_value(args[0]), None, await ev.scalar_values(args[1]))


async def _round(ev, args):
    to_nearest = await ev.scalar_values(args[1]) if len(args) > 1 else None
    return fn.round_to(await ev.vector_value(args[0]), to_nearest)


async def _timestamp(ev, args):
    vector = await ev.vector_value(args[0])
    if not isinstance(_unwrap(args[0]), pp.VectorSelector):
        vector = StepVector(vector.labels, vector.values, vector.present)  # the step's time, not the sample's
    return fn.timestamp(vector, ev.times)


async def _sort(ev, args):
    return fn.sort_rows(await ev.vector_value(args[0]), descending=False)


async def _sort_desc(ev, args):
    return fn.sort_rows(await ev.vector_value(args[0]), descending=True)


async def _label_replace(ev, args):
    vector = await ev.vector_value(args[0])
    dst, replacement, src, regex = [await ev.string_value(a) for a in args[1:5]]
    return fn.label_replace(vector, dst, replacement, src, regex)


async def _label_join(ev, args):
    vector = await ev.vector_value(args[0])
    dst, separator, *sources = [await ev.string_value(a) for a in args[1:]]
    return fn.label_join(vector, dst, separator, sources)


async def _histogram_quantile(ev, args):
    q = await ev.scalar_values(args[0])
    return histogram_quantile(q, await ev.vector_value(args[1]), ev.budget.tick)


def _calendar(name):
    async def handler(ev, args):
        if args:
            vector = await ev.vector_value(args[0])
        else:
            vector = fn.vector_of(StepScalar(ev.times / 1000))
        return fn.calendar(name, vector)
    return handler


def _math(name):
    async def handler(ev, args):
        return fn.math_function(name, await ev.vector_value(args[0]))
    return handler


_INSTANT = {
    "absent": _absent, "time": _time, "pi": _pi, "vector": _vector, "scalar": _scalar, "clamp": _clamp,
    "clamp_min": _clamp_min, "clamp_max": _clamp_max, "round": _round, "timestamp": _timestamp,
    "sort": _sort, "sort_desc": _sort_desc, "label_replace": _label_replace, "label_join": _label_join,
    "histogram_quantile": _histogram_quantile, **{name: _math(name) for name in fn.MATH},
    **{name: _calendar(name) for name in fn.CALENDAR},
}
