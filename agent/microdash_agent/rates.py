"""Turn cumulative counters (bytes read, CPU ticks, packets) into deltas and per-second rates.

Readings are compared snapshot to snapshot: a key seen for the first time has no delta yet, and a
key whose counters went down (a reboot, a re-created device, a wrapped counter) is skipped for that
cycle rather than reported as a negative rate. Keys that disappear are forgotten with the snapshot.
"""

import time
from collections.abc import Callable, Hashable, Mapping, Sequence

Counters = Sequence[float]


class CounterDeltas:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._previous: dict[Hashable, tuple[float, ...]] = {}
        self._previous_time: float | None = None

    def deltas(self, readings: Mapping[Hashable, Counters]) -> tuple[float, dict[Hashable, tuple[float, ...]]]:
        """Seconds since the previous snapshot, and each comparable key's counter increases."""
        now = self._clock()
        previous, previous_time = self._previous, self._previous_time
        self._previous = {key: tuple(counters) for key, counters in readings.items()}
        self._previous_time = now
        if previous_time is None or now <= previous_time:
            return 0.0, {}
        increases = {}
        for key, counters in self._previous.items():
            before = previous.get(key)
            if before is None or len(before) != len(counters):
                continue
            delta = tuple(new - old for new, old in zip(counters, before))
            if min(delta, default=0) >= 0:
                increases[key] = delta
        return now - previous_time, increases

    def rates(self, readings: Mapping[Hashable, Counters]) -> dict[Hashable, tuple[float, ...]]:
        """Per-second rate of each counter, for keys with a usable previous reading."""
        elapsed, increases = self.deltas(readings)
        return {key: tuple(value / elapsed for value in delta) for key, delta in increases.items()}
