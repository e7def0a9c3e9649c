"""End to end: `microdash-agent --once --stdout` on the fixture /proc tree, against a golden file.

The fixture's counters do not move between --once's two readings, so rates are 0 and there are
no CPU percentages. Values that depend on this machine or on the time (disk usage of the tmp rootfs,
timings, the load average, which psutil asks the kernel for, and the uptime, now minus the fixture's
btime) are null in the golden file and checked separately. Regenerate the file after a deliberate
change with AGENT_UPDATE_GOLDEN=1.
"""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from agent_sample_rules import assert_valid_samples
from conftest import AGENT_COMMAND, FIXTURE_PROC

GOLDEN = Path(__file__).resolve().parent / "fixtures" / "golden_once.json"
MACHINE_DEPENDENT = ("disk.total_bytes", "disk.used_bytes", "disk.available_bytes", "disk.used_percent",
                     "agent.collector_duration_seconds", "system.load1", "system.load5", "system.load15",
                     "system.uptime_seconds")
FIXTURE_BOOT_TIME = 1700000000  # btime in the fixture's stat


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> list[dict]:
    rootfs = tmp_path_factory.mktemp("rootfs")
    for mountpoint in ("data", "home/my files"):
        (rootfs / mountpoint).mkdir(parents=True)
    completed = subprocess.run(
        [AGENT_COMMAND, "--once", "--stdout", "--procfs", str(FIXTURE_PROC), "--rootfs", str(rootfs),
         "--host", "golden-host"],
        capture_output=True, text=True, timeout=30, env={**os.environ, "MICRODASH_AGENT_COLLECTORS": ""})
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert len(lines) == 1, "one batch, printed as one line"
    return json.loads(lines[0])


def shape(samples: list[dict]) -> list[list]:
    return [[sample["metric"], {k: v for k, v in sample["labels"].items() if k != "host"},
             None if sample["metric"] in MACHINE_DEPENDENT else sample["value"]] for sample in samples]


def test_once_stdout_matches_the_golden_output(samples):
    assert_valid_samples(samples)
    assert {sample["labels"]["host"] for sample in samples} == {"golden-host"}
    assert len({sample["ts"] for sample in samples}) == 1, "one timestamp per cycle"
    if os.environ.get("AGENT_UPDATE_GOLDEN"):
        GOLDEN.write_text("[\n" + ",\n".join(json.dumps(row) for row in shape(samples)) + "\n]\n")
    assert shape(samples) == json.loads(GOLDEN.read_text())


def test_disk_usage_of_the_rootfs_is_consistent(samples):
    usage = {(s["labels"]["mountpoint"], s["metric"]): s["value"]
             for s in samples if s["metric"].startswith("disk.") and "mountpoint" in s["labels"]}
    assert {mountpoint for mountpoint, _ in usage} == {"/", "/data", "/home/my files"}
    for mountpoint in ("/", "/data"):
        total, used = usage[(mountpoint, "disk.total_bytes")], usage[(mountpoint, "disk.used_bytes")]
        assert 0 < used <= total and 0 <= usage[(mountpoint, "disk.used_percent")] <= 100


def test_uptime_counts_from_the_fixture_boot_time_and_load_is_this_machines(samples):
    values = {s["metric"]: s["value"] for s in samples if s["metric"].startswith("system.")}
    assert values["system.uptime_seconds"] == pytest.approx(time.time() - FIXTURE_BOOT_TIME, abs=60)
    assert all(values[f"system.load{minutes}"] >= 0 for minutes in (1, 5, 15))
