"""disk.{read,write}_bytes_per_s and disk.{read,write}_ops_per_s per block device, from
psutil.disk_io_counters(perdisk=True) (<procfs>/diskstats).

Partitions, RAM disks and loop devices are skipped (node_exporter's default), so each byte is
counted once, on its whole disk. psutil's `nowrap` is off: a counter that goes down skips one
cycle (rates.py) instead of being added to its previous value.
"""

import re

from ..rates import CounterDeltas
from . import CollectorOptions, Point, per_device_rate_points, register

IGNORED_DEVICES = re.compile(r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]+|nvme\d+n\d+p|mmcblk\d+p)\d+$")
RATE_METRICS = (
    ("read_count", "disk.read_ops_per_s"), ("read_bytes", "disk.read_bytes_per_s"),
    ("write_count", "disk.write_ops_per_s"), ("write_bytes", "disk.write_bytes_per_s"),
)


def is_ignored_device(name: str) -> bool:
    return IGNORED_DEVICES.match(name) is not None


@register("diskstats")
class DiskStatsCollector:
    def __init__(self, options: CollectorOptions):
        self._options = options
        self._counters = CounterDeltas(options.clock)

    def _readings(self) -> dict[str, tuple[int, ...]]:
        devices = self._options.psutil().disk_io_counters(perdisk=True, nowrap=False)
        return {name: tuple(getattr(counters, field) for field, _ in RATE_METRICS)
                for name, counters in devices.items() if not is_ignored_device(name)}

    def collect(self) -> list[Point]:
        return per_device_rate_points(self._counters.rates(self._readings()), RATE_METRICS)
