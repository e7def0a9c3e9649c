"""mem.* and swap.*: total, used and available bytes and the used percentage, from
psutil.virtual_memory() and psutil.swap_memory() (<procfs>/meminfo).

"Used" is total minus available, as `free` counts it (psutil's own `used` for memory is that too);
for swap, available is psutil's free (SwapFree).
"""

from . import CollectorOptions, Point, register


def usage_points(prefix: str, total: int, available: int) -> list[Point]:
    used = total - available
    return [
        Point(f"{prefix}.total_bytes", float(total), {}),
        Point(f"{prefix}.used_bytes", float(used), {}),
        Point(f"{prefix}.available_bytes", float(available), {}),
        Point(f"{prefix}.used_percent", 100.0 * used / total if total > 0 else 0.0, {}),
    ]


@register("memory")
class MemoryCollector:
    def __init__(self, options: CollectorOptions):
        self._options = options

    def collect(self) -> list[Point]:
        psutil = self._options.psutil()
        memory, swap = psutil.virtual_memory(), psutil.swap_memory()
        return usage_points("mem", memory.total, memory.available) + usage_points("swap", swap.total, swap.free)
