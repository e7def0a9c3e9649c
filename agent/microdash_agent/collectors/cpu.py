"""cpu.usage_percent{cpu, mode}: share of CPU time per mode between two cycles, per core and "total".

The modes are the kernel's eight disjoint ones, so they add up to 100 for each cpu. guest and
guest_nice are left out because the kernel already counts them inside user and nice. "total" is
the kernel's own all-cores line, which, unlike a sum of the cores, does not drop when a core goes
offline.
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


def parse_cpu_stat(text: str) -> dict[str, tuple[int, ...]]:
    """Mode counters (clock ticks) per core ("0", "1", ...) and for all of them ("total")."""
    cpus = {}
    for line in text.splitlines():
        if not line.startswith("cpu"):
            continue
        name, *counters = line.split()[: len(MODES) + 1]
        # Old kernels have fewer columns (no steal); those modes count as never used.
        cpus[name[3:] or "total"] = tuple(map(int, counters)) + (0,) * (len(MODES) - len(counters))
    return cpus


@register("cpu")
class CpuCollector:
    def __init__(self, options: CollectorOptions):
        self._options = options
        self._ticks = CounterDeltas(options.clock)

    def collect(self) -> list[Point]:
        _, increases = self._ticks.deltas(parse_cpu_stat(self._options.proc_text("stat")))
        points = []
        for cpu, delta in increases.items():
            percentages = mode_percentages(delta) or ()
            points.extend(Point("cpu.usage_percent", percent, {"cpu": cpu, "mode": mode})
                          for mode, percent in zip(MODES, percentages))
        return points
