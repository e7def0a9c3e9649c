"""system.load1, system.load5, system.load15 from psutil.getloadavg().

On Linux that is os.getloadavg() (the sysinfo system call), which does not read --procfs: the load
average is not namespaced, so inside a container it is the host's anyway.
"""

from . import CollectorOptions, Point, register


@register("loadavg")
class LoadAverageCollector:
    def __init__(self, options: CollectorOptions):
        self._options = options

    def collect(self) -> list[Point]:
        one, five, fifteen = self._options.psutil().getloadavg()
        return [Point("system.load1", one, {}), Point("system.load5", five, {}), Point("system.load15", fifteen, {})]
