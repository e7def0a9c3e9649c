"""cpu.usage_percent{cpu, mode}: share of CPU time per mode between two cycles, per core and "total".

The modes are the kernel's eight disjoint ones, so they add up to 100 for each cpu. guest and
guest_nice are left out because the kernel already counts them inside user and nice. "total" is
the kernel's own all-cores line (psutil.cpu_times()), which, unlike a sum of the cores, does not
drop when a core goes offline. The cores are psutil.cpu_times(percpu=True), labelled by their
position in that list ("0", "1", ...), which is the kernel's numbering while every core is online.
"""

from collections.abc import Sequence

from ..rates import CounterDeltas
from . import CollectorOptions, Point, register

MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def mode_percentages(increases: Sequence[float]) -> tuple[float, ...] | None:
    busy_and_idle = sum(increases)
    if busy_and_idle <= 0:
        return None
    return tuple(100.0 * part / busy_and_idle for part in increases)


def mode_seconds(times) -> tuple[float, ...]:
    """The MODES of one psutil scputimes; a mode this kernel does not report counts as never used."""
    return tuple(getattr(times, mode, 0.0) for mode in MODES)


@register("cpu")
class CpuCollector:
    def __init__(self, options: CollectorOptions):
        self._options = options
        self._seconds = CounterDeltas(options.clock)

    def collect(self) -> list[Point]:
        psutil = self._options.psutil()
        readings = {"total": mode_seconds(psutil.cpu_times())}
        readings.update((str(cpu), mode_seconds(times)) for cpu, times in enumerate(psutil.cpu_times(percpu=True)))
        _, increases = self._seconds.deltas(readings)
        points = []
        for cpu, delta in increases.items():
            percentages = mode_percentages(delta) or ()
            points.extend(Point("cpu.usage_percent", percent, {"cpu": cpu, "mode": mode})
                          for mode, percent in zip(MODES, percentages))
        return points
