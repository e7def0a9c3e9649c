"""system.uptime_seconds from <procfs>/uptime (seconds since boot, as the kernel counts them)."""

from . import CollectorOptions, Point, register


def parse_uptime(text: str) -> float:
    return float(text.split()[0])


@register("uptime")
class UptimeCollector:
    def __init__(self, options: CollectorOptions):
        self._options = options

    def collect(self) -> list[Point]:
        return [Point("system.uptime_seconds", parse_uptime(self._options.proc_text("uptime")), {})]
