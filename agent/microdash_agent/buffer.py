"""The bounded offline buffer: encoded samples waiting for the transport to acknowledge them.

Samples leave the buffer only once acknowledged (``consume``), so a batch that failed is sent
again, in the same order, on the next try. When full, the oldest samples are dropped and counted:
recent data is worth more than old data after a long outage. With a spool, every change is
mirrored on disk so the backlog survives a restart.
"""

from collections import deque
from itertools import islice

from .spool import Spool


class SampleBuffer:
    def __init__(self, capacity: int, spool: Spool | None = None):
        if capacity < 1:
            raise ValueError("buffer capacity must be at least 1 sample")
        self.capacity = capacity
        self.dropped_total = 0
        self._samples: deque[str] = deque()
        self._spool = spool
        if spool is not None:
            self._samples.extend(spool.load())
            self._drop_overflow()

    def __len__(self) -> int:
        return len(self._samples)

    def extend(self, samples: list[str]) -> None:
        if self._spool is not None:
            self._spool.append(samples)
        self._samples.extend(samples)
        self._drop_overflow()

    def peek(self, count: int) -> list[str]:
        """The oldest `count` samples, left in the buffer until consumed."""
        return list(islice(self._samples, count))

    def consume(self, count: int) -> None:
        """Remove the oldest `count` samples: acknowledged, or rejected for good."""
        count = min(count, len(self._samples))
        for _ in range(count):
            self._samples.popleft()
        if self._spool is not None:
            self._spool.consume(count)

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()

    def _drop_overflow(self) -> None:
        overflow = len(self._samples) - self.capacity
        if overflow > 0:
            self.consume(overflow)
            self.dropped_total += overflow
