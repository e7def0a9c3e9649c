"""mem.* and swap.*: total, used and available bytes and the used percentage, from <procfs>/meminfo.

"Used" is total minus available, as `free` counts it; for swap, available is SwapFree.
"""

from . import CollectorOptions, Point, register


def parse_meminfo(text: str) -> dict[str, int]:
    """Field name -> bytes (the kernel writes kB; the few unitless fields are page counts, kept as is)."""
    fields = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            fields[name] = int(parts[0]) * 1024 if parts[-1] == "kB" else int(parts[0])
    return fields


def memory_available(meminfo: dict[str, int]) -> int:
    if "MemAvailable" in meminfo:
        return meminfo["MemAvailable"]
    # Kernels before 3.14 lack MemAvailable; this is their usual approximation.
    return meminfo["MemFree"] + meminfo.get("Buffers", 0) + meminfo.get("Cached", 0)


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
        meminfo = parse_meminfo(self._options.proc_text("meminfo"))
        return (usage_points("mem", meminfo["MemTotal"], memory_available(meminfo))
                + usage_points("swap", meminfo.get("SwapTotal", 0), meminfo.get("SwapFree", 0)))
