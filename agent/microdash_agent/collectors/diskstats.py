"""disk.{read,write}_bytes_per_s and disk.{read,write}_ops_per_s per block device, from <procfs>/diskstats.

Partitions, RAM disks and loop devices are skipped (node_exporter's default), so each byte is
counted once, on its whole disk.
"""

import re
from ..rates import CounterDeltas
from . import CollectorOptions, Point, register

# /proc/diskstats counts sectors of 512 bytes whatever the device's own sector size.
SECTOR_BYTES = 512
IGNORED_DEVICES = re.compile(r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]+|nvme\d+n\d+p|mmcblk\d+p)\d+$")
RATE_METRICS = ("disk.read_ops_per_s", "disk.read_bytes_per_s", "disk.write_ops_per_s", "disk.write_bytes_per_s")


def parse_diskstats(text: str) -> dict[str, tuple[int, int, int, int]]:
    """Device name -> (reads completed, bytes read, writes completed, bytes written)."""
    devices = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 14:
            continue
        name = fields[2]
        devices[name] = (int(fields[3]), int(fields[5]) * SECTOR_BYTES,
                         int(fields[7]), int(fields[9]) * SECTOR_BYTES)
    return devices


def is_ignored_device(name: str) -> bool:
    return IGNORED_DEVICES.match(name) is not None


@register("diskstats")
class DiskStatsCollector:
    def __init__(self, options: CollectorOptions):
        self._options = options
        self._counters = CounterDeltas(options.clock)

    def collect(self) -> list[Point]:
        devices = parse_diskstats(self._options.proc_text("diskstats"))
        readings = {name: counters for name, counters in devices.items() if not is_ignored_device(name)}
        points = []
        for device, rates in self._counters.rates(readings).items():
            labels = {"device": device}
            points.extend(Point(metric, rate, labels) for metric, rate in zip(RATE_METRICS, rates))
        return points
