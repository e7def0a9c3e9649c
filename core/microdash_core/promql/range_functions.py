"""Functions of a range vector (rate, increase, *_over_time, ...), for every series and step at
once. Each takes a Windows and its scalar parameters (one value per step) and returns the values
and presence, both of shape (series, steps). Formulas follow Prometheus 2.4x's functions.go."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import EXECUTION, PromQLError
from .values import SampleSet
from .windows import reduce_windows

Result = tuple[np.ndarray, np.ndarray]


@dataclass
class Windows:
    samples: SampleSet
    lo: np.ndarray  # (series, steps)
    hi: np.ndarray
    ends: np.ndarray  # (steps,) each window's end: the step's time less the offset
    steps: np.ndarray  # (steps,) the evaluation times themselves
    range_ms: int
    tick: Callable[[], None]

    @property
    def counts(self) -> np.ndarray:
        return self.hi - self.lo

    def at(self, index: np.ndarray, array: np.ndarray) -> np.ndarray:
        return array[np.clip(index, 0, max(len(array) - 1, 0))] if len(array) else np.zeros(index.shape)

    def columns(self, cols: np.ndarray) -> "Windows":
        return Windows(self.samples, self.lo[:, cols], self.hi[:, cols], self.ends[cols], self.steps[cols],
                       self.range_ms, self.tick)

    def reduce(self, fill: float, reducer) -> np.ndarray:
        return reduce_windows(self.samples, self.lo, self.hi, fill, reducer, self.tick)

    def reduce_at(self, ufunc: np.ufunc) -> np.ndarray:
        """ufunc over each window, in sample order as Prometheus sums, without copying windows:
        reduceat over the bounds interleaved; an empty window's row is garbage, and absent."""
        self.tick()
        values = np.append(self.samples.values, 0.0)  # lets a window end at the last sample
        bounds = np.empty(2 * self.lo.size, dtype=np.int64)
        bounds[0::2], bounds[1::2] = self.lo.ravel(), self.hi.ravel()
        return ufunc.reduceat(values, bounds)[0::2].reshape(self.lo.shape)


def _in_windows(w: Windows, pair_index: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Sums weights (or counts) over the marked pairs (i, i+1) that lie inside each window: the
    pairs lo .. hi - 2. Counts are exact, and resets are sparse, so the prefix sums of their
    values are short; a pair straddling two series is never inside a window."""
    prefix = np.zeros(len(pair_index) + 1)
    np.cumsum(np.ones(len(pair_index)) if weights is None else weights, out=prefix[1:])
    upper = np.searchsorted(pair_index, w.hi - 1, side="left")
    lower = np.searchsorted(pair_index, w.lo, side="left")
    return np.where(w.counts >= 2, prefix[upper] - prefix[lower], 0.0)


def _drops(w: Windows) -> np.ndarray:
    """The pairs (i, i+1) of one series whose value falls: the counter resets."""
    v = w.samples.values
    drops = np.flatnonzero(v[1:] < v[:-1])
    straddling = w.samples.starts[1:-1] - 1  # the last sample of a series and the next one's first
    return drops[~np.isin(drops, straddling)] if len(drops) else drops


def extrapolated_rate(w: Windows, is_counter: bool, is_rate: bool) -> Result:
    v, t = w.samples.values, w.samples.timestamps
    present = w.counts >= 2
    first, last = np.where(present, w.lo, 0), np.where(present, w.hi - 1, 0)
    v_first, v_last = w.at(first, v), w.at(last, v)
    t_first, t_last = w.at(first, t), w.at(last, t)
    result = v_last - v_first
    if is_counter:
        drops = _drops(w)
        if len(drops):
            result = result + _in_windows(w, drops, v[drops])
    with np.errstate(divide="ignore", invalid="ignore"):
        to_start = (t_first - (w.ends - w.range_ms)) / 1000
        to_end = (w.ends - t_last) / 1000
        sampled = (t_last - t_first) / 1000
        average = sampled / (w.counts - 1)
        if is_counter:
            to_zero = sampled * (v_first / result)
            use_zero = (result > 0) & (v_first >= 0) & (to_zero < to_start)
            to_start = np.where(use_zero, to_zero, to_start)
        threshold = average * 1.1
        interval = (sampled + np.where(to_start < threshold, to_start, average / 2)
                    + np.where(to_end < threshold, to_end, average / 2))
        factor = interval / sampled
        if is_rate:
            factor = factor / (w.range_ms / 1000)
        return result * factor, present


def instant_value(w: Windows, is_rate: bool) -> Result:
    v, t = w.samples.values, w.samples.timestamps
    present = w.counts >= 2
    last, previous = np.where(present, w.hi - 1, 0), np.where(present, w.hi - 2, 0)
    v_last, v_previous = w.at(last, v), w.at(previous, v)
    result = v_last - v_previous
    if is_rate:
        result = np.where(v_last < v_previous, v_last, result)
        with np.errstate(divide="ignore", invalid="ignore"):
            result = result / ((w.at(last, t) - w.at(previous, t)) / 1000)
    return result, present


def _regression(values: np.ndarray, times: np.ndarray, mask: np.ndarray, want_slope: bool) -> np.ndarray:
    """Least squares over each row as Prometheus's linearRegression computes it, with x in
    seconds since the row's first sample; the slope, or the intercept at that first sample."""
    x = np.where(mask, (times - times[:, :1]) / 1e3, 0.0)
    y = np.where(mask, values, 0.0)
    n = mask.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sum_x, sum_y = x.sum(axis=1), y.sum(axis=1)
        cov = (x * y).sum(axis=1) - sum_x * sum_y / n
        var = (x * x).sum(axis=1) - sum_x * sum_x / n
        slope = cov / var
        intercept = sum_y / n - slope * sum_x / n
    first = values[:, 0]
    constant = ((values == first[:, None]) | ~mask).all(axis=1)
    infinite = np.isinf(first)
    if want_slope:
        return np.where(constant, np.where(infinite, np.nan, 0.0), slope)
    return np.where(constant, np.where(infinite, np.nan, first), intercept)


def deriv(w: Windows) -> Result:
    return w.reduce(0.0, lambda v, t, m: _regression(v, t, m, True)), w.counts >= 2


def predict_linear(w: Windows, seconds: np.ndarray) -> Result:
    def per_value(part: Windows, duration: float) -> np.ndarray:
        slope = part.reduce(0.0, lambda v, t, m: _regression(v, t, m, True))
        at_first = part.reduce(0.0, lambda v, t, m: _regression(v, t, m, False))
        t_first = part.at(part.lo, part.samples.timestamps)
        # Prometheus takes the intercept at the evaluation time, then adds slope * duration.
        intercept = at_first + slope * ((part.steps[None, :] - t_first) / 1000)
        return intercept + slope * duration
    return by_parameter(w, seconds, per_value), w.counts >= 2


def by_parameter(w: Windows, parameter: np.ndarray, compute) -> np.ndarray:
    """compute(windows, value) for each distinct value a per-step parameter takes (nearly always one)."""
    out = np.full(w.lo.shape, np.nan)
    for value in np.unique(parameter):
        cols = np.flatnonzero((parameter == value) | (np.isnan(parameter) & np.isnan(value)))
        out[:, cols] = compute(w.columns(cols), float(value))
    return out


def _smoothing_rows(smoothing: float, trend: float):
    """Prometheus's holt_winters (3.x: double_exponential_smoothing): a recurrence along each
    window, run for all windows at once, one sample position at a time."""
    def rows(v, t, m):
        n = m.sum(axis=1)
        previous, smoothed = np.zeros(len(v)), v[:, 0].copy()
        slope = v[:, 1] - v[:, 0] if v.shape[1] > 1 else np.zeros(len(v))
        for i in range(1, v.shape[1]):
            active = i < n
            if i > 1:
                slope = np.where(active, trend * (smoothed - previous) + (1 - trend) * slope, slope)
            updated = smoothing * v[:, i] + (1 - smoothing) * (smoothed + slope)
            previous = np.where(active, smoothed, previous)
            smoothed = np.where(active, updated, smoothed)
        return smoothed
    return rows


def double_exponential_smoothing(w: Windows, smoothing: np.ndarray, trend: np.ndarray) -> Result:
    sf, tf = float(smoothing[0]), float(trend[0])
    for name, factor in (("smoothing", sf), ("trend", tf)):
        if not 0 < factor < 1:
            raise PromQLError(EXECUTION, f"invalid {name} factor. Expected: 0 < {name[0]}f < 1, got: {factor:f}")
    return w.reduce(0.0, _smoothing_rows(sf, tf)), w.counts >= 2


def _stdvar_rows(v, t, m):
    n = m.sum(axis=1)
    mean = v.sum(axis=1) / n
    deviation = np.where(m, v - mean[:, None], 0.0)
    return (deviation * deviation).sum(axis=1) / n


def _quantile_rows(q: float):
    def rows(v, t, m):
        n = m.sum(axis=1)
        ordered = np.sort(v, axis=1)  # the NaN padding sorts last
        rank = q * (n - 1)
        lower = np.maximum(0, np.floor(rank)).astype(np.int64)
        upper = np.minimum(n - 1, lower + 1)
        weight = rank - np.floor(rank)
        at = np.arange(len(n))
        return ordered[at, lower] * (1 - weight) + ordered[at, upper] * weight
    return rows


def quantile_over_time(w: Windows, q: np.ndarray) -> Result:
    def per_value(part: Windows, phi: float) -> np.ndarray:
        if np.isnan(phi):
            return np.full(part.lo.shape, np.nan)
        if phi < 0 or phi > 1:
            return np.full(part.lo.shape, -np.inf if phi < 0 else np.inf)
        return part.reduce(np.nan, _quantile_rows(phi))
    return by_parameter(w, q, per_value), w.counts >= 1


def over_time(name: str, w: Windows) -> Result:
    present = w.counts >= 1
    v = w.samples.values
    with np.errstate(divide="ignore", invalid="ignore"):
        if name == "count_over_time":
            return w.counts.astype(np.float64), present
        if name == "present_over_time":
            return np.ones(w.lo.shape), present
        if name == "last_over_time":
            return w.at(w.hi - 1, v), present
        if name == "sum_over_time":
            return w.reduce_at(np.add), present
        if name == "avg_over_time":
            return w.reduce_at(np.add) / w.counts, present
        if name == "min_over_time":
            return w.reduce_at(np.fmin), present
        if name == "max_over_time":
            return w.reduce_at(np.fmax), present
        if name == "stdvar_over_time":
            return w.reduce(0.0, _stdvar_rows), present
        if name == "stddev_over_time":
            return np.sqrt(w.reduce(0.0, _stdvar_rows)), present
        if name in ("changes", "resets"):
            return _changes_or_resets(name, w), present
    raise KeyError(name)


def _changes_or_resets(name: str, w: Windows) -> np.ndarray:
    if name == "resets":
        return _in_windows(w, _drops(w), None)
    v = w.samples.values
    changed = (v[1:] != v[:-1]) & ~(np.isnan(v[1:]) & np.isnan(v[:-1]))
    return _in_windows(w, np.flatnonzero(changed), None)


RANGE_FUNCTIONS = {
    "rate": lambda w, args: extrapolated_rate(w, True, True),
    "increase": lambda w, args: extrapolated_rate(w, True, False),
    "delta": lambda w, args: extrapolated_rate(w, False, False),
    "irate": lambda w, args: instant_value(w, True),
    "idelta": lambda w, args: instant_value(w, False),
    "deriv": lambda w, args: deriv(w),
    "predict_linear": lambda w, args: predict_linear(w, args[0]),
    "quantile_over_time": lambda w, args: quantile_over_time(w, args[0]),
    "holt_winters": lambda w, args: double_exponential_smoothing(w, args[0], args[1]),
    "double_exponential_smoothing": lambda w, args: double_exponential_smoothing(w, args[0], args[1]),
    **{name: (lambda w, args, name=name: over_time(name, w)) for name in (
        "count_over_time", "present_over_time", "last_over_time", "sum_over_time", "avg_over_time",
        "min_over_time", "max_over_time", "stdvar_over_time", "stddev_over_time", "changes", "resets")},
}
# The matrix argument's position: quantile_over_time(phi, m) takes it second.
MATRIX_ARGUMENT = {"quantile_over_time": 1}
