"""The collector registry: each module in this package registers its collector with ``@register``.

A collector is built once from the :class:`CollectorOptions` and then asked to ``collect()`` every
cycle, returning :class:`Point` values; the runner adds timing, success and the common labels.
The host's numbers come from psutil, through ``CollectorOptions.psutil()``, which points psutil at
``procfs`` (``--procfs``) so that the collectors also run on fixture /proc trees.
"""

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import NamedTuple, Protocol

import psutil


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

    def psutil(self) -> ModuleType:
        """psutil, reading `procfs` as /proc.

        psutil.PROCFS_PATH is one setting for the whole process, so it is set again before every
        use: each collector reads the tree of its own options (tests build several).
        """
        psutil.PROCFS_PATH = str(self.procfs)
        return psutil

    def host_path(self, absolute: str) -> str:
        """Where the host's path `absolute` is visible to the agent (under --rootfs)."""
        return str(self.rootfs / absolute.lstrip("/"))


class Collector(Protocol):
    def collect(self) -> list[Point]: ...


CollectorFactory = Callable[[CollectorOptions], Collector]
REGISTRY: dict[str, CollectorFactory] = {}


def per_device_rate_points(rates: Mapping[str, Sequence[float]], metrics: Sequence[tuple[str, str]]) -> list[Point]:
    """Points for per-device counter rates: `metrics` pairs a counter field with its metric name."""
    points = []
    for device, device_rates in rates.items():
        labels = {"device": device}
        points.extend(Point(metric, rate, labels) for (_, metric), rate in zip(metrics, device_rates))
    return points


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
