"""The values an expression evaluates to over the steps of a query.

An instant vector over s steps is a StepVector: n label sets, and n x s arrays of values and of
presence (a series may be absent at some steps). A scalar is one value per step. A range vector
is a SampleSet: every series' raw samples in flat arrays, cut into windows per step later."""

from dataclasses import dataclass

import numpy as np

from .errors import EXECUTION, PromQLError
from .model import RawSeries

Labels = dict[str, str]


def label_key(labels: Labels) -> tuple:
    return tuple(sorted(labels.items()))


def format_labels(labels: Labels) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


@dataclass
class StepScalar:
    values: np.ndarray  # (s,)


@dataclass
class StepString:
    value: str


@dataclass
class StepVector:
    labels: list[Labels]
    values: np.ndarray  # (n, s) float64
    present: np.ndarray  # (n, s) bool
    sample_times: np.ndarray | None = None  # (n, s) int64, set by a plain selector (for timestamp())

    @classmethod
    def empty(cls, steps: int) -> "StepVector":
        return cls([], np.zeros((0, steps)), np.zeros((0, steps), dtype=bool))

    @property
    def steps(self) -> int:
        return self.values.shape[1]

    def rows(self, indices) -> "StepVector":
        indices = np.asarray(indices, dtype=np.int64)
        times = None if self.sample_times is None else self.sample_times[indices]
        return StepVector([self.labels[i] for i in indices], self.values[indices], self.present[indices], times)

    def without_absent(self) -> "StepVector":
        return self.rows(np.flatnonzero(self.present.any(axis=1)))

    def relabelled(self, labels: list[Labels]) -> "StepVector":
        """The same points under new label sets; rows that now share one are merged, which fails
        where two of them are present at the same step, as Prometheus refuses it."""
        return merge_duplicates(StepVector(labels, self.values, self.present))


def merge_duplicates(vector: StepVector) -> StepVector:
    groups: dict[tuple, list[int]] = {}
    for row, labels in enumerate(vector.labels):
        groups.setdefault(label_key(labels), []).append(row)
    if len(groups) == len(vector.labels):
        return vector
    labels, values, present = [], [], []
    for rows in groups.values():
        group_present = vector.present[rows]
        if (group_present.sum(axis=0) > 1).any():
            raise PromQLError(EXECUTION, "vector cannot contain metrics with the same labelset "
                                         f"{format_labels(vector.labels[rows[0]])}")
        labels.append(vector.labels[rows[0]])
        values.append(np.where(group_present, vector.values[rows], 0.0).sum(axis=0))
        present.append(group_present.any(axis=0))
    return StepVector(labels, np.array(values).reshape(len(labels), vector.steps),
                      np.array(present).reshape(len(labels), vector.steps))


@dataclass
class SampleSet:
    """Range-vector data: series i's samples are timestamps/values[starts[i]:starts[i + 1]]."""

    labels: list[Labels]
    timestamps: np.ndarray  # int64 ms, ascending within each series
    values: np.ndarray  # float64
    starts: np.ndarray  # (n + 1,) int64

    @classmethod
    def from_raw(cls, series: list[RawSeries]) -> "SampleSet":
        starts = np.zeros(len(series) + 1, dtype=np.int64)
        if series:
            pairs = [_ascending(s) for s in series]
            np.cumsum([len(t) for t, _ in pairs], out=starts[1:])
            timestamps = np.concatenate([t for t, _ in pairs])
            values = np.concatenate([v for _, v in pairs])
        else:
            timestamps, values = np.zeros(0, dtype=np.int64), np.zeros(0)
        return cls([dict(s.labels) for s in series], timestamps, values, starts)

    @classmethod
    def from_steps(cls, vector: StepVector, times: np.ndarray) -> "SampleSet":
        """A subquery's result: each series' present points at the subquery's step times."""
        kept = vector.without_absent()
        present = kept.present
        grid = np.broadcast_to(times, present.shape)
        starts = np.zeros(len(kept.labels) + 1, dtype=np.int64)
        np.cumsum(present.sum(axis=1), out=starts[1:])
        return cls(kept.labels, grid[present].astype(np.int64), kept.values[present], starts)

    @property
    def size(self) -> int:
        return len(self.labels)

    def series_ids(self) -> np.ndarray:
        return np.repeat(np.arange(self.size, dtype=np.int64), np.diff(self.starts))


def _ascending(series: RawSeries) -> tuple[np.ndarray, np.ndarray]:
    """The samples in strictly ascending time, as windows need: a source that breaks its promise
    (a repeated or out-of-order sample) gets them sorted, keeping the last value per time."""
    timestamps = np.asarray(series.timestamps, dtype=np.int64)
    values = np.asarray(series.values, dtype=np.float64)
    if len(timestamps) != len(values):
        raise ValueError("a RawSeries has more timestamps than values, or fewer")
    if len(timestamps) > 1 and not (np.diff(timestamps) > 0).all():
        order = np.argsort(timestamps, kind="stable")
        timestamps, values = timestamps[order], values[order]
        last = np.append(timestamps[1:] != timestamps[:-1], True)
        timestamps, values = timestamps[last], values[last]
    return timestamps, values
