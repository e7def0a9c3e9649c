"""Move samples from the buffer to the transport, oldest first, in batches of at most 1,000."""

import time
from collections.abc import Callable

from .buffer import SampleBuffer
from .samples import encode_batch
from .transport import Outcome, Transport

MAX_BATCH_SAMPLES = 1000


class Shipper:
    def __init__(self, buffer: SampleBuffer, transport: Transport, *, batch_samples: int = MAX_BATCH_SAMPLES,
                 clock: Callable[[], float] = time.monotonic):
        self.buffer = buffer
        self.transport = transport
        self.batch_samples = batch_samples
        self.sent_total = 0
        self.rejected_total = 0
        self._clock = clock

    def ship(self, deadline: float | None = None) -> bool:
        """Send until the buffer is empty (True), the transport says retry, or `deadline` passes."""
        while len(self.buffer):
            if deadline is not None and self._clock() >= deadline:
                return False
            batch = self.buffer.peek(self.batch_samples)
            outcome = self.transport.deliver(encode_batch(batch))
            if outcome is Outcome.RETRY:
                return False
            self.buffer.consume(len(batch))
            if outcome is Outcome.REJECTED:
                self.rejected_total += len(batch)
            else:
                self.sent_total += len(batch)
        return True
