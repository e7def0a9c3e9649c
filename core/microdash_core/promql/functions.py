"""Functions of instant vectors and scalars: math, clamping, rounding, labels, sorting."""

import numpy as np

from . import labels as lbl
from .values import StepScalar, StepVector

MATH = {
    "abs": np.abs, "ceil": np.ceil, "floor": np.floor, "exp": np.exp, "sqrt": np.sqrt,
    "ln": np.log, "log2": np.log2, "log10": np.log10, "sgn": np.sign,
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan,
    "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "asinh": np.arcsinh, "acosh": np.arccosh,
    "atanh": np.arctanh, "deg": np.degrees, "rad": np.radians,
}


def _mapped(vector: StepVector, values: np.ndarray, present: np.ndarray | None = None) -> StepVector:
    present = vector.present if present is None else present
    return StepVector(vector.labels, values, present).relabelled([lbl.drop_name(x) for x in vector.labels])


def math_function(name: str, vector: StepVector) -> StepVector:
    with np.errstate(all="ignore"):
        return _mapped(vector, MATH[name](vector.values))


def clamp(vector: StepVector, low: np.ndarray | None, high: np.ndarray | None) -> StepVector:
    values, present = vector.values, vector.present
    with np.errstate(invalid="ignore"):
        if low is not None:
            values = np.maximum(values, low[None, :])
        if high is not None:
            values = np.minimum(values, high[None, :])
        if low is not None and high is not None:
            present = present & ~(high < low)[None, :]  # clamp(v, min, max) with max < min is empty
    return _mapped(vector, values, present)


def round_to(vector: StepVector, to_nearest: np.ndarray | None) -> StepVector:
    with np.errstate(all="ignore"):
        if to_nearest is None:
            return _mapped(vector, np.floor(vector.values + 0.5))
        inverse = 1.0 / to_nearest[None, :]
        return _mapped(vector, np.floor(vector.values * inverse + 0.5) / inverse)


def timestamp(vector: StepVector, steps: np.ndarray) -> StepVector:
    times = vector.sample_times if vector.sample_times is not None else np.broadcast_to(steps, vector.values.shape)
    return _mapped(vector, times / 1000)


def scalar(vector: StepVector) -> StepScalar:
    """The single element's value at each step; NaN where there are none or several."""
    count = vector.present.sum(axis=0)
    total = np.where(vector.present, vector.values, 0.0).sum(axis=0)
    return StepScalar(np.where(count == 1, total, np.nan))


def vector_of(value: StepScalar) -> StepVector:
    steps = len(value.values)
    return StepVector([{}], value.values.reshape(1, steps).copy(), np.ones((1, steps), dtype=bool))


def sort_rows(vector: StepVector, descending: bool) -> StepVector:
    """Orders the rows by their value at the first step: what an instant query shows. A range
    query's rows are ordered by labels at the end, as Prometheus does."""
    if not vector.labels:
        return vector
    first = vector.values[:, 0]
    nan_first = ~np.isnan(first)  # Prometheus's value heaps put NaN first
    key = -first if descending else first
    order = np.lexsort((np.nan_to_num(key, nan=0.0), nan_first, ~vector.present[:, 0]))
    return vector.rows(order)


def label_replace(vector: StepVector, dst: str, replacement: str, src: str, regex: str) -> StepVector:
    compiled = lbl.compile_capturing(regex, "label_replace")
    lbl.check_label_name(dst, "label_replace")
    return vector.relabelled([lbl.label_replace(x, compiled, dst, replacement, src) for x in vector.labels])


def label_join(vector: StepVector, dst: str, separator: str, sources: list[str]) -> StepVector:
    lbl.check_label_name(dst, "label_join")
    return vector.relabelled([lbl.label_join(x, dst, separator, sources) for x in vector.labels])


def absent(vector: StepVector, labels: dict[str, str], steps: int) -> StepVector:
    missing = ~vector.present.any(axis=0) if vector.labels else np.ones(steps, dtype=bool)
    return StepVector([labels], np.ones((1, steps)), missing.reshape(1, steps))


def _calendar(name: str, seconds: np.ndarray) -> np.ndarray:
    whole = np.trunc(np.nan_to_num(seconds, nan=0.0, posinf=0.0, neginf=0.0)).astype(np.int64)
    instant = whole.astype("datetime64[s]")
    days, months, years = (instant.astype(f"datetime64[{unit}]") for unit in ("D", "M", "Y"))
    parts = {
        "year": lambda: years.astype(np.int64) + 1970,
        "month": lambda: months.astype(np.int64) % 12 + 1,
        "day_of_month": lambda: (days - months.astype("datetime64[D]")).astype(np.int64) + 1,
        "day_of_year": lambda: (days - years.astype("datetime64[D]")).astype(np.int64) + 1,
        "day_of_week": lambda: (days.astype(np.int64) + 4) % 7,  # 1970-01-01 was a Thursday
        "days_in_month": lambda: ((months + 1).astype("datetime64[D]") - months.astype("datetime64[D]")).astype(np.int64),
        "hour": lambda: whole // 3600 % 24,
        "minute": lambda: whole // 60 % 60,
    }
    return np.where(np.isfinite(seconds), parts[name]().astype(np.float64), np.nan)


CALENDAR = ("year", "month", "day_of_month", "day_of_year", "day_of_week", "days_in_month", "hour", "minute")


def calendar(name: str, vector: StepVector) -> StepVector:
    """The UTC calendar field of each value read as Unix seconds (Prometheus's hour(), year()...)."""
    return _mapped(vector, _calendar(name, vector.values))
