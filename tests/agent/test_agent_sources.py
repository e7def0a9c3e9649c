"""What psutil reads from the fixture /proc tree (PROCFS_PATH set by CollectorOptions), and the
agent's own filters on it: exact values."""

import pytest
from conftest import FIXTURE_PROC

from microdash_agent.collectors import CollectorOptions
from microdash_agent.collectors.cpu import MODES, mode_percentages, mode_seconds
from microdash_agent.collectors.diskstats import is_ignored_device
from microdash_agent.collectors.filesystem import FilesystemCollector, Mount, real_mounts


@pytest.fixture
def psutil():
    return CollectorOptions(procfs=FIXTURE_PROC).psutil()


def test_options_point_psutil_at_their_procfs(psutil):
    assert psutil.PROCFS_PATH == str(FIXTURE_PROC)
    assert psutil.boot_time() == 1700000000.0


def test_cpu_seconds_per_mode_total_and_per_core(psutil):
    # /proc/stat counts clock ticks (1/100 s); psutil gives seconds.
    assert mode_seconds(psutil.cpu_times()) == pytest.approx((30, 1, 10, 200, 5, 0.5, 0.5, 0.1))
    assert [mode_seconds(times) for times in psutil.cpu_times(percpu=True)] == [
        pytest.approx((10, 0.5, 5, 100, 2.5, 0.25, 0.25, 0.05)),
        pytest.approx((20, 0.5, 5, 100, 2.5, 0.25, 0.25, 0.05)),
    ]


def test_modes_a_kernel_does_not_report_count_as_unused():
    class OldKernelTimes:  # no steal column
        user, nice, system, idle, iowait, irq, softirq = 1, 2, 3, 4, 5, 6, 7

    assert mode_seconds(OldKernelTimes()) == (1, 2, 3, 4, 5, 6, 7, 0.0)
    assert len(MODES) == 8


def test_mode_percentages():
    assert mode_percentages((1, 0, 1, 2)) == (25.0, 0.0, 25.0, 50.0)
    assert mode_percentages((0, 0, 0)) is None


def test_net_counters(psutil):
    interfaces = psutil.net_io_counters(pernic=True, nowrap=False)
    assert list(interfaces) == ["lo", "eth0", "wlan0"]
    eth0 = interfaces["eth0"]
    assert (eth0.bytes_recv, eth0.bytes_sent, eth0.packets_recv, eth0.packets_sent) == (1000000, 500000, 1000, 800)
    assert (eth0.errin, eth0.errout, eth0.dropin, eth0.dropout) == (1, 3, 2, 4)


def test_disk_counters_in_512_byte_sectors(psutil):
    devices = psutil.disk_io_counters(perdisk=True, nowrap=False)
    sda, nvme = devices["sda"], devices["nvme0n1"]
    assert (sda.read_count, sda.read_bytes, sda.write_count, sda.write_bytes) == (1000, 20000 * 512, 2000, 40000 * 512)
    assert (nvme.read_count, nvme.read_bytes, nvme.write_count, nvme.write_bytes) == (
        5000, 100000 * 512, 6000, 120000 * 512)
    assert len(devices) == 8


def test_partitions_ram_and_loop_devices_are_ignored(psutil):
    ignored = [name for name in psutil.disk_io_counters(perdisk=True, nowrap=False) if is_ignored_device(name)]
    assert ignored == ["loop0", "ram0", "zram0", "sda1", "nvme0n1p1"]
    assert not is_ignored_device("dm-0") and not is_ignored_device("mmcblk0")
    assert is_ignored_device("mmcblk0p2") and is_ignored_device("xvdb3")


def test_memory_and_swap_in_bytes(psutil):
    memory, swap = psutil.virtual_memory(), psutil.swap_memory()
    assert (memory.total, memory.available) == (8_000_000 * 1024, 5_000_000 * 1024)
    assert (swap.total, swap.free) == (2_000_000 * 1024, 1_500_000 * 1024)


def test_psutil_keeps_block_device_file_systems_unescaped(psutil):
    mounts = {(part.device, part.mountpoint, part.fstype) for part in psutil.disk_partitions(all=False)}
    # "nodev" types in <procfs>/filesystems (proc, tmpfs, overlay, cgroup...) are already gone.
    assert mounts == {("/dev/sda1", "/", "ext4"), ("/dev/loop0", "/snap/core/123", "squashfs"),
                      ("/dev/nvme0n1p1", "/data", "xfs"), ("/dev/mapper/vg-home", "/home/my files", "ext4"),
                      ("/dev/sda1", "/var/lib/docker/volumes/x", "ext4")}


def test_only_real_filesystems_remain():
    # Gone as well: squashfs, and a bind mount inside the container runtime's tree.
    assert FilesystemCollector(CollectorOptions(procfs=FIXTURE_PROC)).mounts() == [
        Mount("/dev/sda1", "/", "ext4"),
        Mount("/dev/nvme0n1p1", "/data", "xfs"),
        Mount("/dev/mapper/vg-home", "/home/my files", "ext4"),
    ]


def test_pseudo_filesystems_and_runtime_trees_are_not_real():
    mounts = [Mount("tmpfs", "/run", "tmpfs"), Mount("cgroup", "/sys/fs/cgroup/x", "cgroup"),
              Mount("/dev/sdb1", "/var/lib/kubelet/pods/x", "ext4"), Mount("/dev/sdc1", "/srv", "ext4")]
    assert real_mounts(mounts) == [Mount("/dev/sdc1", "/srv", "ext4")]


def test_the_last_mount_on_a_mountpoint_wins():
    mounts = [Mount("/dev/sda1", "/mnt", "ext4"), Mount("/dev/sdb1", "/mnt", "xfs")]
    assert real_mounts(mounts) == [Mount("/dev/sdb1", "/mnt", "xfs")]
