"""Binary operators between scalars and instant vectors: arithmetic, comparisons (filters, or
0/1 with bool), set operators, and vector matching with on/ignoring and group_left/right."""

import numpy as np
import promql_parser as pp

from . import labels as lbl
from .errors import EXECUTION, PromQLError
from .values import StepScalar, StepVector, format_labels, label_key

COMPARISONS = {"==": np.equal, "!=": np.not_equal, ">": np.greater, "<": np.less,
               ">=": np.greater_equal, "<=": np.less_equal}
ARITHMETIC = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide,
              "%": np.fmod, "^": np.power, "atan2": np.arctan2}
SET_OPERATORS = {"and", "or", "unless"}
# Prometheus 2.4x drops the metric name for these only (atan2 keeps it).
_DROPS_NAME = {"+", "-", "*", "/", "%", "^"}


def _apply(op: str, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(value, keep): keep is None for arithmetic; for comparisons the value is the left side's."""
    with np.errstate(all="ignore"):
        if op in COMPARISONS:
            return np.broadcast_to(left, np.broadcast_shapes(left.shape, right.shape)), COMPARISONS[op](left, right)
        return ARITHMETIC[op](left, right), None


def scalar_scalar(op: str, left: StepScalar, right: StepScalar) -> StepScalar:
    value, keep = _apply(op, left.values, right.values)
    return StepScalar(keep.astype(np.float64) if keep is not None else value)


def vector_scalar(op: str, vector: StepVector, scalar: StepScalar, vector_left: bool, return_bool: bool) -> StepVector:
    s = scalar.values[None, :]
    value, keep = _apply(op, vector.values, s) if vector_left else _apply(op, s, vector.values)
    present = vector.present
    if keep is not None:
        value = vector.values  # the vector's own value, whichever side it stood on
        if return_bool:
            value, keep = keep.astype(np.float64), None
        else:
            present = present & keep
    drops = op in _DROPS_NAME or return_bool
    labels = [lbl.drop_name(x) for x in vector.labels] if drops else vector.labels
    result = StepVector(labels, np.array(value, dtype=np.float64), present)
    return result.relabelled(labels) if drops else result


def _matching(modifier) -> tuple[bool, list[str]]:
    if modifier is None or modifier.matching is None:
        return False, []
    return modifier.matching.type == pp.LabelModifierType.Include, list(modifier.matching.labels)


def set_operation(op: str, lhs: StepVector, rhs: StepVector, modifier) -> StepVector:
    on, names = _matching(modifier)
    left_sigs = [lbl.signature(x, on, names) for x in lhs.labels]
    right_sigs = [lbl.signature(x, on, names) for x in rhs.labels]
    if op == "or":
        seen = _presence_by_signature(lhs, left_sigs)
        right_present = rhs.present.copy()
        for row, sig in enumerate(right_sigs):
            if sig in seen:
                right_present[row] &= ~seen[sig]
        labels = lhs.labels + rhs.labels
        combined = StepVector(labels, np.vstack([lhs.values, rhs.values]), np.vstack([lhs.present, right_present]))
        return combined.relabelled(labels)
    seen = _presence_by_signature(rhs, right_sigs)
    none = np.zeros(lhs.steps, dtype=bool)
    matched = np.array([seen.get(sig, none) for sig in left_sigs], dtype=bool).reshape(lhs.present.shape)
    present = lhs.present & (matched if op == "and" else ~matched)
    return StepVector(lhs.labels, lhs.values, present, lhs.sample_times)


def _presence_by_signature(vector: StepVector, sigs: list[tuple]) -> dict[tuple, np.ndarray]:
    seen: dict[tuple, np.ndarray] = {}
    for row, sig in enumerate(sigs):
        seen[sig] = seen[sig] | vector.present[row] if sig in seen else vector.present[row].copy()
    return seen


def vector_vector(op: str, lhs: StepVector, rhs: StepVector, modifier, charge) -> StepVector:
    """charge(points) is told the size of the matched pairs before they are built."""
    card = modifier.card if modifier is not None else pp.VectorMatchCardinality.OneToOne
    return_bool = bool(modifier is not None and modifier.return_bool)
    include = list(modifier.group_labels or []) if modifier is not None else []
    on, names = _matching(modifier)
    swapped = card == pp.VectorMatchCardinality.OneToMany
    many, one = (rhs, lhs) if swapped else (lhs, rhs)
    one_rows = _rows_by_signature(one, on, names, "left" if swapped else "right")
    pairs = [(m, o) for m, labels in enumerate(many.labels)
             for o in one_rows.get(lbl.signature(labels, on, names), ())]
    if not pairs:
        return StepVector.empty(lhs.steps)
    charge(len(pairs) * lhs.steps)
    many_idx, one_idx = (np.array(x, dtype=np.int64) for x in zip(*pairs))
    left_values, right_values = many.values[many_idx], one.values[one_idx]
    if swapped:
        left_values, right_values = right_values, left_values
    value, keep = _apply(op, left_values, right_values)
    present = many.present[many_idx] & one.present[one_idx]
    if keep is not None:
        if return_bool:
            value = keep.astype(np.float64)
        else:
            present = present & keep
    labels = [_result_labels(many.labels[m], one.labels[o], op, card, on, names, include, return_bool)
              for m, o in pairs]
    result = StepVector(labels, np.array(value, dtype=np.float64), present)
    _check_unique_matches(result, many_idx, card == pp.VectorMatchCardinality.OneToOne,
                          [lbl.signature(many.labels[m], on, names) for m in many_idx])
    return result.relabelled(labels)


def _rows_by_signature(vector: StepVector, on: bool, names: list[str], side: str) -> dict[tuple, list[int]]:
    rows: dict[tuple, list[int]] = {}
    for row, labels in enumerate(vector.labels):
        rows.setdefault(lbl.signature(labels, on, names), []).append(row)
    for sig, members in rows.items():
        if len(members) > 1 and (vector.present[members].sum(axis=0) > 1).any():
            raise PromQLError(EXECUTION, f"found duplicate series for the match group {format_labels(dict(sig))} "
                                         f"on the {side} hand-side of the operation; many-to-many matching not "
                                         "allowed: matching labels must be unique on one side")
    return rows


def _result_labels(many: dict, one: dict, op: str, card, on: bool, names: list[str],
                   include: list[str], return_bool: bool) -> dict:
    out = lbl.drop_name(many) if op in _DROPS_NAME or return_bool else dict(many)
    if card == pp.VectorMatchCardinality.OneToOne:
        out = lbl.keep_only(out, names) if on else {k: v for k, v in out.items() if k not in names}
    for name in include:
        if one.get(name, ""):
            out[name] = one[name]
        else:
            out.pop(name, None)
    return out


def _check_unique_matches(result: StepVector, many_idx: np.ndarray, one_to_one: bool, sigs: list[tuple]) -> None:
    keys = sigs if one_to_one else [label_key(x) for x in result.labels]
    groups: dict[tuple, list[int]] = {}
    for row, key in enumerate(keys):
        groups.setdefault(key, []).append(row)
    for rows in groups.values():
        if len(rows) > 1 and (result.present[rows].sum(axis=0) > 1).any():
            if one_to_one:
                raise PromQLError(EXECUTION, "multiple matches for labels: many-to-one matching must be "
                                             "explicit (group_left/group_right)")
            raise PromQLError(EXECUTION, "multiple matches for labels: grouping labels must ensure unique matches")
