"""Collects SSE events from /api/v1/stream in a background thread, for tests."""

import json
import threading
import time

import httpx
from httpx_sse import connect_sse


class StreamReader:
    """Collects `points` events from /api/v1/stream in a background thread."""

    def __init__(self, stack, token=None, params=None, headers=None, cookies=None):
        self.events: list = []
        self.ready = threading.Event()
        self.error: Exception | None = None
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.Client(base_url=stack.api_url, headers=headers, cookies=cookies,
                                    timeout=httpx.Timeout(5, read=30))
        self._params = params or {}
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self.ready.wait(10), f"stream did not open: {self.error!r}"

    def _run(self):
        try:
            with connect_sse(self._client, "GET", "/api/v1/stream", params=self._params) as source:
                source.response.raise_for_status()
                for event in source.iter_sse():
                    if event.event == "ready":
                        self.ready.set()
                    elif event.event == "points":
                        self.events.append((event.id, json.loads(event.data)))
                    if self._stop:
                        return
        except Exception as exc:  # noqa: BLE001 - reported to the test through self.error
            self.error = exc
            self.ready.set()

    def points(self):
        return [point for _, batch in self.events for point in batch]

    def wait_for(self, count: int, timeout: float = 15) -> list:
        deadline = time.monotonic() + timeout
        while len(self.points()) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.points()

    def close(self):
        self._stop = True
        self._client.close()
