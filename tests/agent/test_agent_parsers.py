"""Parsers of /proc files, on the fixture tree: pure functions, exact values."""

from conftest import FIXTURE_PROC

from microdash_agent.collectors.cpu import parse_cpu_stat
from microdash_agent.collectors.diskstats import is_ignored_device, parse_diskstats
from microdash_agent.collectors.filesystem import Mount, parse_mounts, real_mounts
from microdash_agent.collectors.loadavg import parse_loadavg
from microdash_agent.collectors.memory import memory_available, parse_meminfo
from microdash_agent.collectors.netdev import parse_net_dev
from microdash_agent.collectors.uptime import parse_uptime


def fixture_text(name: str) -> str:
    return (FIXTURE_PROC / name).read_text()


def test_loadavg():
    assert parse_loadavg(fixture_text("loadavg")) == (0.52, 1.25, 2.50)


def test_uptime():
    assert parse_uptime(fixture_text("uptime")) == 123456.78


def test_cpu_stat_per_core_and_total():
    assert parse_cpu_stat(fixture_text("stat")) == {
        "total": (3000, 100, 1000, 20000, 500, 50, 50, 10),
        "0": (1000, 50, 500, 10000, 250, 25, 25, 5),
        "1": (2000, 50, 500, 10000, 250, 25, 25, 5),
    }


def test_cpu_stat_of_old_kernels_without_steal():
    assert parse_cpu_stat("cpu  1 2 3 4 5 6 7\ncpu0 1 2 3 4 5 6 7\n")["0"] == (1, 2, 3, 4, 5, 6, 7, 0)


def test_net_dev_counters_in_rate_metric_order():
    interfaces = parse_net_dev(fixture_text("net/dev"))
    # rx bytes, tx bytes, rx packets, tx packets, rx errs, tx errs, rx drop, tx drop
    assert interfaces["eth0"] == (1000000, 500000, 1000, 800, 1, 3, 2, 4)
    assert list(interfaces) == ["lo", "eth0", "wlan0"]


def test_diskstats_counts_reads_writes_and_512_byte_sectors():
    devices = parse_diskstats(fixture_text("diskstats"))
    assert devices["sda"] == (1000, 20000 * 512, 2000, 40000 * 512)
    assert devices["nvme0n1"] == (5000, 100000 * 512, 6000, 120000 * 512)
    assert len(devices) == 8


def test_diskstats_skips_short_lines():
    assert parse_diskstats("garbage\n 8 0 sda 1 2\n") == {}


def test_partitions_ram_and_loop_devices_are_ignored():
    ignored = [name for name in parse_diskstats(fixture_text("diskstats")) if is_ignored_device(name)]
    assert ignored == ["loop0", "ram0", "zram0", "sda1", "nvme0n1p1"]
    assert not is_ignored_device("dm-0") and not is_ignored_device("mmcblk0")
    assert is_ignored_device("mmcblk0p2") and is_ignored_device("xvdb3")


def test_mounts_are_parsed_and_unescaped():
    mounts = parse_mounts(fixture_text("1/mounts"))
    assert Mount("/dev/mapper/vg-home", "/home/my files", "ext4") in mounts
    assert len(mounts) == 16


def test_only_real_filesystems_remain():
    kept = real_mounts(parse_mounts(fixture_text("1/mounts")))
    # Gone: sysfs, proc, devtmpfs, devpts, tmpfs (twice), securityfs, cgroup, cgroup2, squashfs,
    # overlay, nsfs, and a bind mount inside the container runtime's tree.
    assert kept == [
        Mount("/dev/sda1", "/", "ext4"),
        Mount("/dev/nvme0n1p1", "/data", "xfs"),
        Mount("/dev/mapper/vg-home", "/home/my files", "ext4"),
    ]


def test_the_last_mount_on_a_mountpoint_wins():
    text = "/dev/sda1 /mnt ext4 rw 0 0\n/dev/sdb1 /mnt xfs rw 0 0\n"
    assert real_mounts(parse_mounts(text)) == [Mount("/dev/sdb1", "/mnt", "xfs")]


def test_meminfo_in_bytes():
    meminfo = parse_meminfo(fixture_text("meminfo"))
    assert meminfo["MemTotal"] == 8_000_000 * 1024 and meminfo["SwapFree"] == 1_500_000 * 1024
    assert meminfo["HugePages_Total"] == 0 and meminfo["Hugepagesize"] == 2048 * 1024
    assert memory_available(meminfo) == 5_000_000 * 1024


def test_memory_available_on_kernels_without_memavailable():
    meminfo = parse_meminfo("MemTotal: 100 kB\nMemFree: 10 kB\nBuffers: 5 kB\nCached: 20 kB\n")
    assert memory_available(meminfo) == 35 * 1024
