"""Transports deliver one batch (a JSON array of samples) and say what became of it.

DELIVERED: acknowledged (MQTT PUBACK, HTTP 202): the batch leaves the buffer.
REJECTED:  refused for good (HTTP 4xx but 429): retrying would fail the same way, so it is dropped.
RETRY:     not acknowledged (no connection, timeout, overload): keep it and try again later.
"""

import enum
from typing import Protocol


class Outcome(enum.Enum):
    DELIVERED = "delivered"
    REJECTED = "rejected"
    RETRY = "retry"


class Transport(Protocol):
    def deliver(self, payload: bytes) -> Outcome: ...

    def close(self) -> None: ...
