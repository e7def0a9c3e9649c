"""Aggregation operators (sum, avg, topk, quantile, ...) with by/without, over all steps at once."""

import numpy as np

from ..samples import LABEL_NAME
from . import labels as lbl
from .errors import EXECUTION, UNSUPPORTED, PromQLError
from .result import format_value
from .values import Labels, StepVector, label_key

SUPPORTED = {"sum", "avg", "min", "max", "count", "group", "stddev", "stdvar", "topk", "bottomk",
             "quantile", "count_values"}


def group_labels(labels: Labels, grouping: list[str] | None, is_without: bool) -> Labels:
    if grouping is None:
        return {}
    if is_without:
        return lbl.without(labels, grouping)
    return {k: v for k, v in labels.items() if k in grouping and v != ""}


def aggregate(op: str, vector: StepVector, grouping: list[str] | None, is_without: bool,
              param, tick, charge) -> StepVector:
    """tick() is called between groups; charge(points) before count_values builds its rows,
    which may number one per distinct value."""
    if op not in SUPPORTED:
        raise PromQLError(UNSUPPORTED, f"aggregation {op} is not supported")
    groups: dict[tuple, tuple[Labels, list[int]]] = {}
    for row, labels in enumerate(vector.labels):
        out = group_labels(labels, grouping, is_without)
        groups.setdefault(label_key(out), (out, []))[1].append(row)
    if op in ("topk", "bottomk"):
        return _select_k(vector, groups, param, op == "topk", tick)
    if op == "count_values":
        return _count_values(vector, groups, param, tick, charge)
    labels, values, present = [], [], []
    for out, rows in groups.values():
        tick()
        v, p = vector.values[rows], vector.present[rows]
        labels.append(out)
        values.append(_reduce(op, v, p, param))
        present.append(p.any(axis=0))
    steps = vector.steps
    return StepVector(labels, np.array(values).reshape(len(labels), steps),
                      np.array(present, dtype=bool).reshape(len(labels), steps))


def _reduce(op: str, v: np.ndarray, p: np.ndarray, param) -> np.ndarray:
    count = p.sum(axis=0)
    with np.errstate(all="ignore"):
        if op == "sum":
            return np.where(p, v, 0.0).sum(axis=0)
        if op == "count":
            return count.astype(np.float64)
        if op == "group":
            return np.ones(v.shape[1])
        if op == "avg":
            return np.where(p, v, 0.0).sum(axis=0) / count
        if op == "min":
            return np.fmin.reduce(np.where(p, v, np.nan), axis=0)
        if op == "max":
            return np.fmax.reduce(np.where(p, v, np.nan), axis=0)
        if op in ("stddev", "stdvar"):
            mean = np.where(p, v, 0.0).sum(axis=0) / count
            deviation = np.where(p, v - mean, 0.0)
            variance = (deviation * deviation).sum(axis=0) / count
            return np.sqrt(variance) if op == "stddev" else variance
        if op == "quantile":
            return _quantile_columns(v, p, param)
    raise PromQLError(UNSUPPORTED, f"aggregation {op} is not supported")


def _quantile_columns(v: np.ndarray, p: np.ndarray, phi: np.ndarray) -> np.ndarray:
    ordered = np.sort(np.where(p, v, np.nan), axis=0)  # absent sorts last
    n = p.sum(axis=0)
    with np.errstate(all="ignore"):
        rank = phi * (n - 1)
        lower = np.clip(np.floor(np.nan_to_num(rank)), 0, None).astype(np.int64)
        upper = np.minimum(np.maximum(n - 1, 0), lower + 1)
        lower = np.minimum(lower, np.maximum(n - 1, 0))
        weight = rank - np.floor(rank)
        cols = np.arange(v.shape[1])
        result = ordered[lower, cols] * (1 - weight) + ordered[upper, cols] * weight
    result = np.where(phi < 0, -np.inf, np.where(phi > 1, np.inf, result))
    return np.where(np.isnan(phi), np.nan, result)


def _select_k(vector: StepVector, groups, k_param: np.ndarray, largest: bool, tick) -> StepVector:
    """Keeps, per group and step, the k largest (smallest) elements with their own labels.
    Absent elements never count; NaN ranks below every number. An instant query lists each
    group's winners best first, as Prometheus does."""
    k = np.nan_to_num(k_param, nan=0.0, posinf=2**62, neginf=0).astype(np.int64)
    keep = np.zeros_like(vector.present)
    ordered_rows = []
    for _, rows in groups.values():
        tick()
        # One row per step, contiguous, so each step sorts its own small row.
        v, p = vector.values[rows].T, vector.present[rows].T
        tier = np.where(p, np.isnan(v).view(np.int8), 2)
        secondary = np.nan_to_num(-v if largest else v, nan=0.0)
        order = np.lexsort((secondary, tier), axis=-1)
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.broadcast_to(np.arange(len(rows)), order.shape), axis=-1)
        keep[rows] = (p & (rank < k[:, None])).T
        ordered_rows.extend(np.asarray(rows)[order[0]].tolist())
    kept = StepVector(vector.labels, vector.values, keep, vector.sample_times).rows(ordered_rows)
    return kept.without_absent()


def _count_values(vector: StepVector, groups, label: str, tick, charge) -> StepVector:
    if not LABEL_NAME.fullmatch(label):
        raise PromQLError(EXECUTION, f"invalid label name {label!r} in count_values")
    labels, values, present = [], [], []
    for out, rows in groups.values():
        tick()
        v, p = vector.values[rows], vector.present[rows]
        distinct_values = np.unique(v[p])
        charge(len(distinct_values) * vector.steps)
        for distinct in distinct_values:
            hits = (p & ((v == distinct) | (np.isnan(v) & np.isnan(distinct)))).sum(axis=0)
            labels.append({**out, label: format_value(float(distinct))})
            values.append(hits.astype(np.float64))
            present.append(hits > 0)
    steps = vector.steps
    return StepVector(labels, np.array(values).reshape(len(labels), steps),
                      np.array(present, dtype=bool).reshape(len(labels), steps)).relabelled(labels)
