"""A small in-process cache whose entries are trusted for a bounded time (credentials, memberships,
tenant limits).

A reader may ask for a fresher entry than the cache's own lifetime (`max_age`): open SSE streams
re-check every half lifetime with half-lifetime entries, so a revocation ends them within one
lifetime, like any other request.
"""

import time
from typing import Generic, Hashable, TypeVar

Value = TypeVar("Value")
MAX_ENTRIES = 10_000


class ExpiringCache(Generic[Value]):
    def __init__(self, ttl_seconds: float):
        self.ttl = ttl_seconds
        self._entries: dict[Hashable, tuple[float, Value]] = {}

    def get(self, key: Hashable, *, max_age: float | None = None) -> Value | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        age_limit = self.ttl if max_age is None else min(self.ttl, max_age)
        if time.monotonic() - entry[0] >= age_limit:
            return None
        return entry[1]

    def last_known(self, key: Hashable) -> Value | None:
        """The entry whatever its age: better than nothing while its source is unreachable."""
        entry = self._entries.get(key)
        return None if entry is None else entry[1]

    def put(self, key: Hashable, value: Value) -> None:
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (time.monotonic(), value)

    def drop(self, key: Hashable) -> None:
        self._entries.pop(key, None)
