"""Encoding points as bulk-API samples."""

import json

from agent_sample_rules import assert_valid_samples

from microdash_agent import samples as samples_module
from microdash_agent.collectors import Point
from microdash_agent.samples import SampleEncoder, encode_batch


def decoded(encoded: list[str]) -> list[dict]:
    return [json.loads(sample) for sample in encoded]


def test_samples_carry_the_common_labels_and_the_cycle_timestamp():
    encoder = SampleEncoder({"host": "web-1"})
    encoded = encoder.encode([Point("cpu.usage_percent", 12.5, {"cpu": "0", "mode": "user"})], ts_ms=1_700_000_000_000)
    assert decoded(encoded) == [{
        "metric": "cpu.usage_percent", "value": 12.5, "ts": 1_700_000_000_000,
        "labels": {"host": "web-1", "cpu": "0", "mode": "user"}}]


def test_a_series_seen_again_gets_its_new_value_and_timestamp():
    encoder = SampleEncoder({"host": "h"})
    point = Point("net.rx_bytes_per_s", 1.0, {"device": "eth0"})
    encoder.encode([point], ts_ms=1)
    again = decoded(encoder.encode([point._replace(value=2.5e-07), point._replace(labels={"device": "eth1"})], ts_ms=2))
    assert [(s["ts"], s["value"], s["labels"]["device"]) for s in again] == [(2, 2.5e-07, "eth0"), (2, 1.0, "eth1")]


def test_values_are_json_floats():
    encoded = decoded(SampleEncoder({}).encode([Point("a", 3, {}), Point("b", 1e20, {}), Point("c", -0.5, {})], ts_ms=1))
    assert [(s["value"], type(s["value"])) for s in encoded] == [(3.0, float), (1e20, float), (-0.5, float)]


def test_non_finite_values_are_dropped_so_the_batch_stays_valid():
    points = [Point("a", float("nan"), {}), Point("b", float("inf"), {}), Point("c", 3.0, {})]
    assert [s["metric"] for s in decoded(SampleEncoder({"host": "h"}).encode(points, ts_ms=1))] == ["c"]


def test_a_batch_is_a_valid_json_array():
    encoded = SampleEncoder({"host": "h"}).encode([Point("x.y", 1.0, {"device": "sda"}), Point("x.z", 2.0, {})], ts_ms=5)
    batch = json.loads(encode_batch(encoded))
    assert_valid_samples(batch)
    assert [sample["metric"] for sample in batch] == ["x.y", "x.z"]


def test_label_values_are_escaped():
    odd = '/mnt/données "quoted" \\ back'
    encoded = SampleEncoder({"host": "h"}).encode([Point("disk.used_bytes", 1.0, {"mountpoint": odd})], ts_ms=5)
    assert json.loads(encode_batch(encoded))[0]["labels"]["mountpoint"] == odd


def test_remembered_series_are_bounded(monkeypatch):
    monkeypatch.setattr(samples_module, "MAX_REMEMBERED_SERIES", 10)
    encoder = SampleEncoder({"host": "h"})
    for n in range(25):
        encoder.encode([Point("net.rx_bytes_per_s", 1.0, {"device": f"veth{n}"})], ts_ms=n)
    assert len(encoder._series_prefix) <= 10
