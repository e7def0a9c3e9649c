"""The types a caller hands the engine: its limits, and the source it reads samples from."""

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class QueryLimits:
    max_series: int  # series returned by the source, summed over every selector of the query
    max_points: int  # samples loaded plus the points of every step matrix the evaluation builds
    timeout_seconds: float


@dataclass(frozen=True)
class LabelMatcher:
    """op is "=", "!=", "=~" or "!~"; regexes are fully anchored and meant for RE2
    (microdash_core.matchers). A matcher on a missing label compares against ""."""

    name: str
    op: str
    value: str


@dataclass(frozen=True)
class SelectHints:
    """What the evaluation will do with the samples, so a source may choose a rollup.
    start_ms/end_ms: the first and last time the selector is read at (the steps' times less its
    offset, or its @ time), before its range or lookback reaches back;
    step_ms: the step between them (None for one instant); range_ms: the range of a range
    selector (None for an instant selector, which looks back up to the lookback delta);
    func: the function the range selector feeds (e.g. "rate"), None for none."""

    start_ms: int
    end_ms: int
    step_ms: int | None
    range_ms: int | None
    func: str | None


@dataclass
class RawSeries:
    labels: dict[str, str]  # includes "__name__"
    timestamps: np.ndarray  # int64 epoch milliseconds, strictly ascending
    values: np.ndarray  # float64, same length


class SeriesSource(Protocol):
    async def select(self, matchers: list[LabelMatcher], start_ms: int, end_ms: int,
                     hints: SelectHints) -> list[RawSeries]:
        """Every series matching all matchers, with its samples start_ms < ts <= end_ms.
        Series without a sample in that interval may be left out."""
        ...
