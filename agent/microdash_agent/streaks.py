"""Log failures that repeat every cycle without flooding the log.

The first failure of a streak is logged, then every `every`-th one, and the recovery once: a
collector or a broker that stays broken for a day costs a few lines, not thousands.
"""

import logging


class FailureStreak:
    def __init__(self, logger: logging.Logger, *, every: int = 60):
        self._log = logger
        self._every = every
        self.failures = 0

    def failed(self, message: str, *args, exc_info: bool = False) -> None:
        self.failures += 1
        if self.failures == 1 or (self.failures - 1) % self._every == 0:
            self._log.warning("%s (%d time(s) in a row)", message % args, self.failures,
                              exc_info=exc_info and self.failures == 1)

    def succeeded(self, message: str, *args) -> None:
        if self.failures:
            self._log.info("%s after %d failure(s)", message % args, self.failures)
        self.failures = 0
