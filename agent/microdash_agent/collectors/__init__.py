"""The collector registry: each module in this package registers its collector with ``@register``.

A collector is built once from the :class:`CollectorOptions` and then asked to ``collect()`` every
cycle, returning :class:`Point` values; the runner adds timing, success and the common labels.
Reading host files stays in ``CollectorOptions.proc_text`` so parsers are pure and testable on
fixture trees.
"""

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple, Protocol


class Point(NamedTuple):
    metric: str
    value: float
    labels: dict[str, str]


# NamedTuples rather than dataclasses: importing dataclasses costs the agent a megabyte of RSS.
class CollectorOptions(NamedTuple):
    procfs: Path = Path("/proc")
    rootfs: Path = Path("/")
    include_loopback: bool = False
    clock: Callable[[], float] = time.monotonic

    def proc_text(self, relative: str) -> str:
        with open(f"{self.procfs}/{relative}", encoding="utf-8", errors="replace") as proc_file:
            return proc_file.read()

    def host_path(self, absolute: str) -> str:
        """Where the host's path `absolute` is visible to the agent (under --rootfs)."""
        return str(self.rootfs / absolute.lstrip("/"))


class Collector(Protocol):
    def collect(self) -> list[Point]: ...


CollectorFactory = Callable[[CollectorOptions], Collector]
REGISTRY: dict[str, CollectorFactory] = {}


def register(name: str) -> Callable[[CollectorFactory], CollectorFactory]:
    def add(factory: CollectorFactory) -> CollectorFactory:
        REGISTRY[name] = factory
        return factory

    return add


def build_collectors(options: CollectorOptions, names: Iterable[str] | None = None) -> dict[str, Collector]:
    wanted = list(REGISTRY) if names is None else list(names)
    unknown = [name for name in wanted if name not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown collector(s): {', '.join(unknown)}; known: {', '.join(sorted(REGISTRY))}")
    return {name: REGISTRY[name](options) for name in wanted}


# Imported last: each module registers itself with the registry defined above.
from . import cpu, diskstats, filesystem, loadavg, memory, netdev, uptime  # noqa: E402,F401
