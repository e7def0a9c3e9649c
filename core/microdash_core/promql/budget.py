"""What one query may spend: series selected, points held, and wall-clock time."""

import time

from .errors import LIMIT, TIMEOUT, PromQLError
from .model import QueryLimits


class Budget:
    def __init__(self, limits: QueryLimits):
        self.limits = limits
        self.deadline = time.monotonic() + limits.timeout_seconds
        self.series = 0
        self.points = 0

    def remaining_seconds(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise self.timed_out()
        return left

    def tick(self) -> None:
        """Called between chunks of work: a query past its deadline stops there."""
        if time.monotonic() >= self.deadline:
            raise self.timed_out()

    def timed_out(self) -> PromQLError:
        return PromQLError(TIMEOUT, f"query timed out after {self.limits.timeout_seconds:g}s")

    def add_series(self, count: int) -> None:
        self.series += count
        if self.series > self.limits.max_series:
            raise PromQLError(LIMIT, f"query selects more than {self.limits.max_series} series; "
                                     "narrow the selectors or the time range")

    def add_points(self, count: int) -> None:
        self.points += count
        if self.points > self.limits.max_points:
            raise PromQLError(LIMIT, f"query would load or compute more than {self.limits.max_points} points; "
                                     "narrow the selectors, shorten the range or raise the step")
