"""Run every collector once per cycle, each timed and isolated, as node_exporter's scrape does.

A collector that raises yields agent.collector_success 0 for that cycle while the others carry
on; its error is logged at the start of a failure streak and then once every `log_every` cycles.
"""

import logging
import time
from collections.abc import Mapping

from .collectors import Collector, Point
from .streaks import FailureStreak

log = logging.getLogger(__name__)


class CollectorRunner:
    def __init__(self, collectors: Mapping[str, Collector], *, log_every: int = 60):
        self._collectors = dict(collectors)
        self._streaks = {name: FailureStreak(log, every=log_every) for name in self._collectors}

    @property
    def names(self) -> list[str]:
        return list(self._collectors)

    def run(self) -> list[Point]:
        points: list[Point] = []
        for name, collector in self._collectors.items():
            started = time.perf_counter()
            succeeded = self._collect_into(points, name, collector)
            labels = {"collector": name}
            points.append(Point("agent.collector_duration_seconds", time.perf_counter() - started, labels))
            points.append(Point("agent.collector_success", 1.0 if succeeded else 0.0, labels))
        return points

    def _collect_into(self, points: list[Point], name: str, collector: Collector) -> bool:
        streak = self._streaks[name]
        try:
            collected = list(collector.collect())
        except Exception as error:  # noqa: BLE001 - any collector bug must stay inside that collector
            streak.failed("collector %s failed: %s: %s", name, type(error).__name__, error, exc_info=True)
            return False
        streak.succeeded("collector %s recovered", name)
        points.extend(collected)
        return True
