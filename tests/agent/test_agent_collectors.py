"""Collectors on fixture /proc trees (CollectorOptions.procfs, as --procfs sets it): exact values."""

import os

import psutil
import pytest
from conftest import FIXTURE_PROC

from microdash_agent.collectors import REGISTRY, CollectorOptions, build_collectors
from microdash_agent.collectors.cpu import CpuCollector
from microdash_agent.collectors.diskstats import DiskStatsCollector
from microdash_agent.collectors.filesystem import FilesystemCollector
from microdash_agent.collectors.loadavg import LoadAverageCollector
from microdash_agent.collectors.memory import MemoryCollector
from microdash_agent.collectors.netdev import NetDevCollector
from microdash_agent.collectors.uptime import UptimeCollector

KIB = 1024


def values(points) -> dict[tuple, float]:
    return {(metric, tuple(sorted(labels.items()))): value for metric, value, labels in points}


def replace_in(procfs, name: str, old: str, new: str) -> None:
    path = procfs / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.fixture
def options(procfs, clock) -> CollectorOptions:
    return CollectorOptions(procfs=procfs, rootfs=procfs.parent / "root", clock=clock)


def test_every_collector_is_registered():
    assert sorted(REGISTRY) == ["cpu", "diskstats", "filesystem", "loadavg", "memory", "netdev", "uptime"]


def test_unknown_collector_names_are_refused():
    with pytest.raises(ValueError, match="unknown collector"):
        build_collectors(CollectorOptions(), ["cpu", "gpu"])


def test_loadavg_is_psutils(options, monkeypatch):
    # psutil.getloadavg is os.getloadavg (a system call), so no fixture file can drive it.
    monkeypatch.setattr(psutil, "getloadavg", lambda: (0.52, 1.25, 2.5))
    assert values(LoadAverageCollector(options).collect()) == {
        ("system.load1", ()): 0.52, ("system.load5", ()): 1.25, ("system.load15", ()): 2.5}


def test_uptime_counts_from_the_boot_time_in_stat(options):
    # The fixture's btime is 1700000000.
    collector = UptimeCollector(options, wall_clock=lambda: 1_700_123_456.5)
    assert values(collector.collect()) == {("system.uptime_seconds", ()): 123456.5}


def test_memory_and_swap(options):
    assert values(MemoryCollector(options).collect()) == {
        ("mem.total_bytes", ()): 8_000_000 * KIB,
        ("mem.used_bytes", ()): (8_000_000 - 5_000_000) * KIB,  # total - available
        ("mem.available_bytes", ()): 5_000_000 * KIB,
        ("mem.used_percent", ()): 37.5,
        ("swap.total_bytes", ()): 2_000_000 * KIB,
        ("swap.used_bytes", ()): 500_000 * KIB,
        ("swap.available_bytes", ()): 1_500_000 * KIB,
        ("swap.used_percent", ()): 25.0,
    }


def test_memory_available_on_kernels_without_memavailable(options, procfs):
    # psutil estimates it from <procfs>/zoneinfo; without that file, as MemFree + Cached.
    replace_in(procfs, "meminfo", "MemAvailable:    5000000 kB\n", "")
    found = values(MemoryCollector(options).collect())
    assert found[("mem.available_bytes", ())] == (1_000_000 + 2_500_000) * KIB
    assert found[("mem.used_bytes", ())] == (8_000_000 - 3_500_000) * KIB


def test_cpu_percentages_come_from_tick_deltas(options, procfs, clock):
    cpu = CpuCollector(options)
    assert cpu.collect() == []  # first cycle: nothing to compare with
    clock.advance(1)
    replace_in(procfs, "stat", "cpu  3000 100 1000 20000 500", "cpu  3060 100 1035 20100 505")
    replace_in(procfs, "stat", "cpu0 1000 50 500 10000 250", "cpu0 1050 50 525 10020 255")
    replace_in(procfs, "stat", "cpu1 2000 50 500 10000 250", "cpu1 2010 50 510 10080 250")
    found = values(cpu.collect())
    expected = {("0", "user"): 50, ("0", "system"): 25, ("0", "idle"): 20, ("0", "iowait"): 5,
                ("1", "user"): 10, ("1", "system"): 10, ("1", "idle"): 80,
                ("total", "user"): 30, ("total", "system"): 17.5, ("total", "idle"): 50, ("total", "iowait"): 2.5}
    for cpu_name in ("0", "1", "total"):
        for mode in ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"):
            key = ("cpu.usage_percent", (("cpu", cpu_name), ("mode", mode)))
            assert found.pop(key) == pytest.approx(expected.get((cpu_name, mode), 0.0), abs=1e-9)
    assert found == {}


def test_cpu_counters_going_backwards_are_skipped(options, procfs, clock):
    cpu = CpuCollector(options)
    cpu.collect()
    clock.advance(1)
    replace_in(procfs, "stat", "cpu  3000 100 1000 20000", "cpu  3000 100 1000 20200")
    replace_in(procfs, "stat", "cpu0 1000 50 500 10000", "cpu0 1000 50 500 10100")
    replace_in(procfs, "stat", "cpu1 2000 50 500 10000", "cpu1 20 50 500 10100")
    # cpu1's counters went backwards (it was offline): it alone is skipped this cycle.
    assert {labels["cpu"] for _, _, labels in cpu.collect()} == {"0", "total"}


def test_diskstats_rates_per_whole_disk(options, procfs, clock):
    disks = DiskStatsCollector(options)
    assert disks.collect() == []
    replace_in(procfs, "diskstats", "sda 1000 10 20000 500 2000 20 40000", "sda 1100 10 22000 500 2200 20 44000")
    clock.advance(10)
    found = values(disks.collect())
    assert {dict(labels)["device"] for _, labels in found} == {"sda", "nvme0n1", "dm-0"}
    sda = (("device", "sda"),)
    assert found[("disk.read_ops_per_s", sda)] == 10.0
    assert found[("disk.read_bytes_per_s", sda)] == 2000 * 512 / 10
    assert found[("disk.write_ops_per_s", sda)] == 20.0
    assert found[("disk.write_bytes_per_s", sda)] == 4000 * 512 / 10
    assert found[("disk.read_bytes_per_s", (("device", "nvme0n1"),))] == 0.0


def test_network_rates_without_loopback(options, procfs, clock):
    nics = NetDevCollector(options)
    assert nics.collect() == []
    replace_in(procfs, "net/dev", "eth0: 1000000    1000    1    2", "eth0: 1010000    1100    2    4")
    replace_in(procfs, "net/dev", "500000     800    3    4", "505000     850    3    5")
    clock.advance(10)
    found = values(nics.collect())
    assert {dict(labels)["device"] for _, labels in found} == {"eth0", "wlan0"}
    eth0 = (("device", "eth0"),)
    assert {metric: value for (metric, labels), value in found.items() if labels == eth0} == {
        "net.rx_bytes_per_s": 1000.0, "net.tx_bytes_per_s": 500.0,
        "net.rx_packets_per_s": 10.0, "net.tx_packets_per_s": 5.0,
        "net.rx_errors_per_s": 0.1, "net.tx_errors_per_s": 0.0,
        "net.rx_drops_per_s": 0.2, "net.tx_drops_per_s": 0.1,
    }


def test_network_counter_reset_skips_one_cycle(options, procfs, clock):
    nics = NetDevCollector(options)
    nics.collect()
    replace_in(procfs, "net/dev", "eth0: 1000000", "eth0:     100")
    clock.advance(10)
    assert {labels["device"] for _, _, labels in nics.collect()} == {"wlan0"}
    replace_in(procfs, "net/dev", "eth0:     100", "eth0:    1100")
    clock.advance(10)
    assert values(nics.collect())[("net.rx_bytes_per_s", (("device", "eth0"),))] == 100.0


def test_loopback_can_be_included(procfs, clock):
    nics = NetDevCollector(CollectorOptions(procfs=procfs, include_loopback=True, clock=clock))
    nics.collect()
    clock.advance(1)
    assert {labels["device"] for _, _, labels in nics.collect()} == {"lo", "eth0", "wlan0"}


class FakeStatvfs:
    def __init__(self, missing: set[str] = frozenset()):
        self.paths: list[str] = []
        self.missing = missing

    def __call__(self, path: str) -> os.statvfs_result:
        self.paths.append(path)
        if path in self.missing:
            raise FileNotFoundError(path)
        # bsize, frsize, blocks, bfree, bavail, files, ffree, favail, flag, namemax
        return os.statvfs_result((4096, 4096, 1000, 400, 300, 0, 0, 0, 0, 255))


def test_filesystem_usage_is_measured_under_rootfs_and_labelled_with_the_host_path(options):
    statvfs = FakeStatvfs()
    found = values(FilesystemCollector(options, statvfs=statvfs).collect())
    root = str(options.rootfs)
    assert statvfs.paths == [root, root + "/data", root + "/home/my files"]
    data = (("device", "/dev/nvme0n1p1"), ("fstype", "xfs"), ("mountpoint", "/data"))
    assert found[("disk.total_bytes", data)] == 1000 * 4096
    assert found[("disk.used_bytes", data)] == 600 * 4096
    assert found[("disk.available_bytes", data)] == 300 * 4096
    assert found[("disk.used_percent", data)] == pytest.approx(100 * 600 / 900)
    assert len(found) == 3 * 4


def test_filesystem_skips_mounts_it_cannot_measure(options):
    statvfs = FakeStatvfs(missing={str(options.rootfs) + "/data"})
    mountpoints = {labels["mountpoint"] for _, _, labels in FilesystemCollector(options, statvfs=statvfs).collect()}
    assert mountpoints == {"/", "/home/my files"}


def test_fixture_tree_is_untouched():
    # The collectors' tests rewrite a private copy; the shared fixture must stay as committed.
    assert "cpu0 1000 50 500 10000 250" in (FIXTURE_PROC / "stat").read_text()


def test_filesystem_notices_new_mounts(options, procfs):
    collector = FilesystemCollector(options, statvfs=FakeStatvfs())
    assert len(collector.collect()) == 3 * 4
    with open(procfs / "self" / "mounts", "a") as mounts:
        mounts.write("/dev/sdc1 /backup ext4 rw 0 0\n")
    assert "/backup" in {labels["mountpoint"] for _, _, labels in collector.collect()}


def test_filesystem_lists_the_real_mount_table_again_only_when_it_changes(monkeypatch):
    listings = []
    monkeypatch.setattr(psutil, "disk_partitions", lambda all: listings.append(all) or [])
    collector = FilesystemCollector(CollectorOptions())  # this machine's /proc, which the kernel flags
    for _ in range(3):
        collector.collect()
    assert listings == [False]


def test_in_a_container_the_mount_table_is_the_hosts_init_one(tmp_path):
    from microdash_agent.collectors.filesystem import host_mounts

    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "mounts").write_text(
        "/dev/sda1 / ext4 rw 0 0\n/dev/sdb1 /mnt/my\\040data xfs rw 0 0\nproc /proc proc rw 0 0\n")
    mounts = host_mounts(tmp_path)
    assert [(m.device, m.mountpoint, m.fstype) for m in mounts] == [
        ("/dev/sda1", "/", "ext4"), ("/dev/sdb1", "/mnt/my data", "xfs"), ("proc", "/proc", "proc")]
    assert host_mounts("/proc") is None  # on the host itself psutil's own listing is used
    assert host_mounts(tmp_path / "missing") is None
