"""system.load1, system.load5, system.load15 from <procfs>/loadavg.

Read from the file rather than os.getloadavg() so that --procfs is honoured.
"""

from . import CollectorOptions, Point, register


def parse_loadavg(text: str) -> tuple[float, float, float]:
    one, five, fifteen = text.split()[:3]
    return float(one), float(five), float(fifteen)


@register("loadavg")
class LoadAverageCollector:
    def __init__(self, options: CollectorOptions):
        self._options = options

    def collect(self) -> list[Point]:
        one, five, fifteen = parse_loadavg(self._options.proc_text("loadavg"))
        return [Point("system.load1", one, {}), Point("system.load5", five, {}), Point("system.load15", fifteen, {})]
