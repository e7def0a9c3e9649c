"""net.{rx,tx}_{bytes,packets,errors,drops}_per_s per network interface, from <procfs>/net/dev.

The loopback interface is left out unless CollectorOptions.include_loopback is set.
"""

from ..rates import CounterDeltas
from . import CollectorOptions, Point, register

LOOPBACK = "lo"
# Columns of <procfs>/net/dev after the interface name, paired with the metric each one becomes.
RATE_METRICS = (
    (0, "net.rx_bytes_per_s"), (8, "net.tx_bytes_per_s"),
    (1, "net.rx_packets_per_s"), (9, "net.tx_packets_per_s"),
    (2, "net.rx_errors_per_s"), (10, "net.tx_errors_per_s"),
    (3, "net.rx_drops_per_s"), (11, "net.tx_drops_per_s"),
)


def parse_net_dev(text: str) -> dict[str, tuple[int, ...]]:
    """Interface -> the counters of RATE_METRICS, in that order."""
    interfaces = {}
    for line in text.splitlines()[2:]:
        name, _, counters = line.rpartition(":")
        columns = counters.split()
        if name and len(columns) >= 16:
            interfaces[name.strip()] = tuple(int(columns[column]) for column, _ in RATE_METRICS)
    return interfaces


@register("netdev")
class NetDevCollector:
    def __init__(self, options: CollectorOptions):
        self._options = options
        self._include_loopback = options.include_loopback
        self._counters = CounterDeltas(options.clock)

    def _readings(self) -> dict[str, tuple[int, ...]]:
        interfaces = parse_net_dev(self._options.proc_text("net/dev"))
        return {name: counters for name, counters in interfaces.items()
                if self._include_loopback or name != LOOPBACK}

    def collect(self) -> list[Point]:
        points = []
        for device, rates in self._counters.rates(self._readings()).items():
            labels = {"device": device}
            points.extend(Point(metric, rate, labels) for (_, metric), rate in zip(RATE_METRICS, rates))
        return points
