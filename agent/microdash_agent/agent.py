"""The agent's loop: every interval, collect one cycle into the buffer, then ship what it can."""

import logging
import threading
import time

from .collectors import Point
from .footprint import release_free_memory
from .runner import CollectorRunner
from .samples import SampleEncoder
from .shipper import Shipper

log = logging.getLogger(__name__)
# --once takes two readings this far apart, so that rates and CPU percentages have a window.
ONCE_RATE_WINDOW_SECONDS = 1.0
SHUTDOWN_FLUSH_SECONDS = 5.0


class Agent:
    def __init__(self, *, runner: CollectorRunner, shipper: Shipper, host: str, interval: float):
        self.runner = runner
        self.shipper = shipper
        self.buffer = shipper.buffer
        self.host = host
        self.interval = interval
        self.encoder = SampleEncoder({"host": host})

    def collect(self) -> list[str]:
        ts_ms = int(time.time() * 1000)
        points = self.runner.run() + self._own_points()
        return self.encoder.encode(points, ts_ms=ts_ms)

    def cycle(self, deadline: float | None = None) -> None:
        self.buffer.extend(self.collect())
        self.shipper.ship(deadline)

    def run(self, stop: threading.Event, *, initial_delay: float = 0.0) -> None:
        """Cycle every interval until `stop` is set; the first cycle has no rates yet."""
        if stop.wait(initial_delay):
            return
        next_slot = self._cycle_in_slot(time.monotonic())
        release_free_memory()  # every module the agent needs is loaded by now
        while not stop.wait(max(0.0, next_slot - time.monotonic())):
            next_slot = self._cycle_in_slot(next_slot)

    def _cycle_in_slot(self, slot_start: float) -> float:
        """Run one cycle in the slot starting at `slot_start`; return when the next slot starts."""
        slot_end = slot_start + self.interval
        self.cycle(deadline=slot_end)
        now = time.monotonic()
        if now > slot_end:  # a slow transport overran the slot: start the next cycle now
            log.debug("cycle overran its %.1f s slot by %.1f s", self.interval, now - slot_end)
            return now
        return slot_end

    def run_once(self) -> bool:
        """One collection with rates: prime the counters, wait, collect and ship. True if all was sent."""
        self.runner.run()
        time.sleep(ONCE_RATE_WINDOW_SECONDS)
        self.buffer.extend(self.collect())
        return self.shipper.ship(time.monotonic() + SHUTDOWN_FLUSH_SECONDS)

    def shutdown(self, flush_seconds: float = SHUTDOWN_FLUSH_SECONDS) -> None:
        """Send what can be sent within `flush_seconds`; the rest stays in the spool, if any."""
        if len(self.buffer) and not self.shipper.ship(time.monotonic() + flush_seconds):
            log.warning("shutting down with %d unsent samples", len(self.buffer))
        self.shipper.transport.close()
        self.buffer.close()

    def _own_points(self) -> list[Point]:
        return [
            Point("agent.buffered_samples", float(len(self.buffer)), {}),
            Point("agent.dropped_samples_total", float(self.buffer.dropped_total), {}),
            Point("agent.rejected_samples_total", float(self.shipper.rejected_total), {}),
            Point("agent.sent_samples_total", float(self.shipper.sent_total), {}),
        ]
