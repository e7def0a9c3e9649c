"""histogram_quantile over classic buckets (series with an "le" label), as Prometheus 2.4x's
bucketQuantile: buckets sorted and merged by bound, counts made monotonic, linear interpolation
inside the bucket that holds the rank."""

import numpy as np

from .values import StepVector

BUCKET_LABEL = "le"


def _upper_bound(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def histogram_quantile(q: np.ndarray, vector: StepVector, tick) -> StepVector:
    groups: dict[tuple, list[tuple[float, int]]] = {}
    out_labels: dict[tuple, dict] = {}
    for row, labels in enumerate(vector.labels):
        bound = _upper_bound(labels.get(BUCKET_LABEL))
        if bound is None:
            continue
        key = tuple(sorted((k, v) for k, v in labels.items() if k != BUCKET_LABEL))
        groups.setdefault(key, []).append((bound, row))
        out_labels.setdefault(key, {k: v for k, v in labels.items() if k not in (BUCKET_LABEL, "__name__")})
    result_labels, values, present = [], [], []
    for key, buckets in groups.items():
        tick()
        result_labels.append(out_labels[key])
        group_values, group_present = _group_quantile(q, vector, sorted(buckets))
        values.append(group_values)
        present.append(group_present)
    steps = vector.steps
    return StepVector(result_labels, np.array(values).reshape(len(result_labels), steps),
                      np.array(present, dtype=bool).reshape(len(result_labels), steps)).relabelled(result_labels)


def _group_quantile(q: np.ndarray, vector: StepVector, buckets: list[tuple[float, int]]):
    rows = [row for _, row in buckets]
    bounds_all = np.array([bound for bound, _ in buckets])
    present = vector.present[rows]
    counts = np.where(present, vector.values[rows], 0.0)
    out = np.full(vector.steps, np.nan)
    any_present = present.any(axis=0)
    patterns, inverse = np.unique(present.T, axis=0, return_inverse=True)
    for index, pattern in enumerate(patterns):
        cols = np.flatnonzero(inverse.ravel() == index)
        if pattern.any():
            out[cols] = _quantile(q[cols], bounds_all[pattern], counts[pattern][:, cols])
    return out, any_present


def _quantile(q: np.ndarray, bounds: np.ndarray, counts: np.ndarray) -> np.ndarray:
    bounds, counts = _coalesce(bounds, counts)
    result = np.full(counts.shape[1], np.nan)
    if np.isposinf(bounds[-1]) and len(bounds) >= 2:
        result = _interpolate(q, bounds, np.maximum.accumulate(counts, axis=0))
    result = np.where(q < 0, -np.inf, result)
    result = np.where(q > 1, np.inf, result)
    return np.where(np.isnan(q), np.nan, result)


def _coalesce(bounds: np.ndarray, counts: np.ndarray):
    unique, first = np.unique(bounds, return_index=True)
    if len(unique) == len(bounds):
        return bounds, counts
    inverse = np.searchsorted(unique, bounds)
    merged = np.zeros((len(unique), counts.shape[1]))
    np.add.at(merged, inverse, counts)
    return unique, merged


def _interpolate(q: np.ndarray, bounds: np.ndarray, counts: np.ndarray) -> np.ndarray:
    last = len(bounds) - 1
    observations = counts[-1]
    rank = q * observations
    reached = counts[:-1] >= rank[None, :]
    bucket = np.where(reached.any(axis=0), reached.argmax(axis=0), last)
    cols = np.arange(counts.shape[1])
    previous = np.maximum(bucket - 1, 0)
    below = np.where(bucket > 0, counts[previous, cols], 0.0)
    start = np.where(bucket > 0, bounds[previous], 0.0)
    end = bounds[np.minimum(bucket, last)]
    with np.errstate(all="ignore"):
        inside = start + (end - start) * ((rank - below) / (counts[bucket, cols] - below))
    result = np.where(bucket == last, bounds[last - 1], inside)
    result = np.where((bucket == 0) & (bounds[0] <= 0), bounds[0], result)
    return np.where((observations == 0) | np.isnan(observations), np.nan, result)
