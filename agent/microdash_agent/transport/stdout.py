"""--stdout: print each batch as one line of JSON instead of sending it."""

import sys
from typing import TextIO

from . import Outcome


class StdoutTransport:
    def __init__(self, stream: TextIO | None = None):
        self._stream = stream

    def deliver(self, payload: bytes) -> Outcome:
        stream = self._stream or sys.stdout
        stream.write(payload.decode() + "\n")
        stream.flush()
        return Outcome.DELIVERED

    def close(self) -> None:
        pass
