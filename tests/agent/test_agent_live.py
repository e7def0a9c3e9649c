"""One real cycle on this machine's /proc: the values must be sane."""

import json
import time

import pytest
from agent_sample_rules import assert_valid_samples

from microdash_agent.collectors import CollectorOptions, build_collectors
from microdash_agent.runner import CollectorRunner
from microdash_agent.samples import SampleEncoder, encode_batch


@pytest.fixture(scope="module")
def live_samples() -> list[dict]:
    runner = CollectorRunner(build_collectors(CollectorOptions()))
    runner.run()
    time.sleep(0.3)  # enough clock ticks (10 ms each) for CPU percentages to mean something
    points = runner.run()
    return json.loads(encode_batch(SampleEncoder({"host": "live"}).encode(points, ts_ms=int(time.time() * 1000))))


def values_of(samples: list[dict], metric: str) -> list[float]:
    return [sample["value"] for sample in samples if sample["metric"] == metric]


def test_every_collector_succeeds_and_every_sample_is_valid(live_samples):
    assert_valid_samples(live_samples)
    assert set(values_of(live_samples, "agent.collector_success")) == {1.0}
    assert len(values_of(live_samples, "agent.collector_success")) == 7


def test_cpu_percentages_are_within_bounds_and_add_up(live_samples):
    cpu = [s for s in live_samples if s["metric"] == "cpu.usage_percent"]
    assert {s["labels"]["cpu"] for s in cpu} >= {"total", "0"}
    assert all(-1e-6 <= s["value"] <= 100 + 1e-6 for s in cpu)
    total = sum(s["value"] for s in cpu if s["labels"]["cpu"] == "total")
    assert total == pytest.approx(100.0)


def test_memory_mounts_load_and_uptime(live_samples):
    (mem_total,) = values_of(live_samples, "mem.total_bytes")
    (mem_used,) = values_of(live_samples, "mem.used_bytes")
    assert 0 < mem_used < mem_total
    mountpoints = {s["labels"]["mountpoint"] for s in live_samples if s["metric"] == "disk.total_bytes"}
    assert mountpoints and all(not m.startswith(("/proc", "/sys", "/dev")) for m in mountpoints)
    assert all(value > 0 for value in values_of(live_samples, "disk.total_bytes"))
    assert values_of(live_samples, "system.load1")[0] >= 0
    assert values_of(live_samples, "system.uptime_seconds")[0] > 0


def test_rates_are_non_negative(live_samples):
    rates = [s for s in live_samples if s["metric"].endswith("_per_s")]
    assert rates and all(s["value"] >= 0 for s in rates)
    assert "lo" not in {s["labels"]["device"] for s in rates if s["metric"].startswith("net.")}
