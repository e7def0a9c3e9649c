"""Bench-only launcher: `python bench/profiled.py <microdash args>` runs the microdash CLI under cProfile.

Used by `bench/run.py --profile DIR`. Active only when MICRODASH_BENCH_PROFILE names the output
file; otherwise it behaves exactly like the `microdash` command. Every thread started after launch
(e.g. the API's thread pool that enqueues batches) gets its own profiler. Profilers count each
thread's CPU time (time.thread_time), not wall time: on a shared machine, and with threads
waiting for the GIL, wall time charged functions for time they spent waiting. On SIGUSR2 (sent by the
bench before it stops the stack) or at normal exit, all of them are merged into one pstats file.
"""

import cProfile
import os
import pstats
import signal
import sys
import threading
import time

_thread_profiles: list[cProfile.Profile] = []
_dumped: list[str] = []


class _Snapshot:
    """A pstats source for a profiler that may still be enabled in another thread."""

    def __init__(self, profile: cProfile.Profile):
        profile.snapshot_stats()
        self.stats = profile.stats

    def create_stats(self) -> None:
        pass


def _profile_new_threads() -> None:
    """Wrap Thread._bootstrap_inner (not run(), which subclasses such as anyio's WorkerThread override)."""
    original_bootstrap = threading.Thread._bootstrap_inner

    def profiled_bootstrap(self):
        profile = cProfile.Profile(time.thread_time)
        _thread_profiles.append(profile)
        profile.enable()
        try:
            original_bootstrap(self)
        finally:
            profile.disable()

    threading.Thread._bootstrap_inner = profiled_bootstrap


def _dump(main_profile: cProfile.Profile, path: str) -> None:
    if _dumped:
        return
    _dumped.append(path)
    main_profile.disable()
    stats = pstats.Stats(main_profile)
    for profile in list(_thread_profiles):
        snapshot = _Snapshot(profile)
        if snapshot.stats:
            stats.add(snapshot)
    stats.dump_stats(path + ".tmp")
    os.replace(path + ".tmp", path)


def main() -> None:
    from microdash_cli.main import app

    sys.argv = ["microdash", *sys.argv[1:]]
    output = os.environ.get("MICRODASH_BENCH_PROFILE")
    if not output:
        app()
        return
    _profile_new_threads()
    profile = cProfile.Profile(time.thread_time)
    signal.signal(signal.SIGUSR2, lambda signum, frame: _dump(profile, output))
    profile.enable()
    try:
        app()
    finally:
        _dump(profile, output)


if __name__ == "__main__":
    main()
