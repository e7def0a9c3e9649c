"""net.{rx,tx}_{bytes,packets,errors,drops}_per_s per network interface, from
psutil.net_io_counters(pernic=True) (<procfs>/net/dev).

The loopback interface is left out unless CollectorOptions.include_loopback is set. psutil's
`nowrap` is off: a counter that goes down skips one cycle (rates.py).
"""

from ..rates import CounterDeltas
from . import CollectorOptions, Point, per_device_rate_points, register

LOOPBACK = "lo"
# psutil's counter of each interface, paired with the metric its rate becomes.
RATE_METRICS = (
    ("bytes_recv", "net.rx_bytes_per_s"), ("bytes_sent", "net.tx_bytes_per_s"),
    ("packets_recv", "net.rx_packets_per_s"), ("packets_sent", "net.tx_packets_per_s"),
    ("errin", "net.rx_errors_per_s"), ("errout", "net.tx_errors_per_s"),
    ("dropin", "net.rx_drops_per_s"), ("dropout", "net.tx_drops_per_s"),
)


@register("netdev")
class NetDevCollector:
    def __init__(self, options: CollectorOptions):
        self._options = options
        self._include_loopback = options.include_loopback
        self._counters = CounterDeltas(options.clock)

    def _readings(self) -> dict[str, tuple[int, ...]]:
        interfaces = self._options.psutil().net_io_counters(pernic=True, nowrap=False)
        return {name: tuple(getattr(counters, field) for field, _ in RATE_METRICS)
                for name, counters in interfaces.items() if self._include_loopback or name != LOOPBACK}

    def collect(self) -> list[Point]:
        return per_device_rate_points(self._counters.rates(self._readings()), RATE_METRICS)
