"""POST batches to <url>/api/v1/metrics/bulk with a bearer token (stdlib urllib only)."""

import http.client
import logging
import urllib.error
import urllib.request

from ..streaks import FailureStreak
from . import Outcome

log = logging.getLogger(__name__)
BULK_PATH = "/api/v1/metrics/bulk"


def outcome_for_status(status: int) -> Outcome:
    if 200 <= status < 300:
        return Outcome.DELIVERED
    if status == 429 or not 400 <= status < 500:
        return Outcome.RETRY
    return Outcome.REJECTED


class HttpTransport:
    def __init__(self, *, url: str, token: str, timeout: float = 10.0):
        self.endpoint = url.rstrip("/") + BULK_PATH
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                         "User-Agent": "microdash-agent"}
        self._timeout = timeout
        self._failures = FailureStreak(log)

    def deliver(self, payload: bytes) -> Outcome:
        request = urllib.request.Request(self.endpoint, data=payload, headers=self._headers, method="POST")
        detail = ""
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status, detail = error.code, error.read(500).decode(errors="replace")
        except (OSError, http.client.HTTPException) as error:  # URLError is an OSError
            self._failures.failed("POST %s failed: %s; batch kept for retry", self.endpoint, error)
            return Outcome.RETRY
        outcome = outcome_for_status(status)
        if outcome is Outcome.DELIVERED:
            self._failures.succeeded("POST %s succeeds again", self.endpoint)
        elif outcome is Outcome.RETRY:
            self._failures.failed("POST %s answered %d; batch kept for retry: %s", self.endpoint, status, detail)
        else:
            self._failures.failed("POST %s answered %d; batch dropped: %s", self.endpoint, status, detail)
        return outcome

    def close(self) -> None:
        pass
