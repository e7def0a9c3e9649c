"""system.uptime_seconds: the wall clock minus psutil.boot_time() (`btime` of <procfs>/stat)."""

import time
from collections.abc import Callable

from . import CollectorOptions, Point, register


@register("uptime")
class UptimeCollector:
    def __init__(self, options: CollectorOptions, wall_clock: Callable[[], float] = time.time):
        self._options = options
        self._wall_clock = wall_clock

    def collect(self) -> list[Point]:
        return [Point("system.uptime_seconds", self._wall_clock() - self._options.psutil().boot_time(), {})]
