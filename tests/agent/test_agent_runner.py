"""The runner times every collector and keeps a failing one from stopping the others."""

import logging

from microdash_agent.collectors import CollectorOptions, Point, build_collectors
from microdash_agent.runner import CollectorRunner


class Broken:
    def collect(self):
        raise RuntimeError("sensor on fire")


class Fixed:
    def __init__(self, *points: Point):
        self.points = list(points)

    def collect(self):
        return self.points


def by_collector(points, metric: str) -> dict[str, float]:
    return {labels["collector"]: value for name, value, labels in points if name == metric}


def test_a_failing_collector_does_not_stop_the_others(procfs):
    collectors = build_collectors(CollectorOptions(procfs=procfs, rootfs=procfs))
    runner = CollectorRunner({"broken": Broken(), **collectors})
    points = runner.run()
    success = by_collector(points, "agent.collector_success")
    assert success == {"broken": 0.0, **{name: 1.0 for name in collectors}}
    assert {"system.load1", "mem.total_bytes", "system.uptime_seconds"} <= {point.metric for point in points}
    durations = by_collector(points, "agent.collector_duration_seconds")
    assert set(durations) == set(success) and all(0 <= seconds < 5 for seconds in durations.values())


def test_points_of_a_collector_that_fails_halfway_are_discarded():
    class FailsHalfway:
        def collect(self):
            yield Point("half.done", 1.0, {})
            raise OSError("file vanished")

    points = CollectorRunner({"half": FailsHalfway()}).run()
    assert [point.metric for point in points] == ["agent.collector_duration_seconds", "agent.collector_success"]


def test_failures_are_logged_once_per_n_cycles_and_recovery_once(caplog):
    runner = CollectorRunner({"broken": Broken(), "fine": Fixed(Point("ok", 1.0, {}))}, log_every=5)
    caplog.set_level(logging.INFO, logger="microdash_agent.runner")
    for _ in range(11):
        runner.run()
    assert [record.getMessage() for record in caplog.records] == [
        f"collector broken failed: RuntimeError: sensor on fire ({cycle} time(s) in a row)" for cycle in (1, 6, 11)]
    assert caplog.records[0].exc_info and not caplog.records[1].exc_info

    caplog.clear()
    runner._collectors["broken"] = Fixed()
    runner.run()
    runner.run()
    assert [record.getMessage() for record in caplog.records] == ["collector broken recovered after 11 failure(s)"]


def test_log_every_cycle_when_asked(caplog):
    runner = CollectorRunner({"broken": Broken()}, log_every=1)
    for _ in range(3):
        runner.run()
    assert len(caplog.records) == 3
