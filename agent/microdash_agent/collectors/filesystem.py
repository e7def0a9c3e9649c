"""disk.{total,used,available}_bytes and disk.used_percent per real mounted file system.

The mount table comes from <procfs>/1/mounts (the host's, when the agent runs in a container with
the host's /proc), falling back to <procfs>/self/mounts. Mountpoint M is measured at <rootfs>/M and
labelled M. Pseudo and virtual file systems are skipped, as are the kernel's and container
runtimes' own trees (node_exporter's defaults, plus tmpfs).
"""

import os
import re
from collections.abc import Callable
from typing import NamedTuple

from . import CollectorOptions, Point, register

PSEUDO_FS_TYPES = frozenset({
    "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts", "devtmpfs",
    "efivarfs", "erofs", "fusectl", "fuse.lxcfs", "hugetlbfs", "iso9660", "mqueue", "nsfs", "overlay",
    "proc", "procfs", "pstore", "ramfs", "rootfs", "rpc_pipefs", "securityfs", "selinuxfs", "squashfs",
    "sysfs", "tmpfs", "tracefs",
})
IGNORED_MOUNTPOINTS = re.compile(
    r"^/(dev|proc|sys|run/credentials/.+|var/lib/docker/.+|var/lib/containers/storage/.+|var/lib/kubelet/.+)($|/)")
_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


class Mount(NamedTuple):
    device: str
    mountpoint: str
    fstype: str


def _unescape(field: str) -> str:
    # The kernel writes space, tab, newline and backslash in mount fields as \040-style octal.
    return _OCTAL_ESCAPE.sub(lambda match: chr(int(match.group(1), 8)), field)


def parse_mounts(text: str) -> list[Mount]:
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            mounts.append(Mount(_unescape(fields[0]), _unescape(fields[1]), fields[2]))
    return mounts


def is_real_filesystem(mount: Mount) -> bool:
    return (mount.fstype not in PSEUDO_FS_TYPES and not mount.fstype.startswith("cgroup")
            and not IGNORED_MOUNTPOINTS.match(mount.mountpoint))


def real_mounts(mounts: list[Mount]) -> list[Mount]:
    """Real file systems, one per mountpoint; the last mount wins, as it hides the ones below it."""
    by_mountpoint = {mount.mountpoint: mount for mount in mounts if is_real_filesystem(mount)}
    return list(by_mountpoint.values())


def usage_points(stats: os.statvfs_result, labels: dict[str, str]) -> list[Point]:
    total = stats.f_blocks * stats.f_frsize
    used = (stats.f_blocks - stats.f_bfree) * stats.f_frsize
    available = stats.f_bavail * stats.f_frsize
    # As df does: the space reserved for root counts neither as used nor as available.
    usable = used + available
    return [
        Point("disk.total_bytes", float(total), labels),
        Point("disk.used_bytes", float(used), labels),
        Point("disk.available_bytes", float(available), labels),
        Point("disk.used_percent", 100.0 * used / usable if usable else 0.0, labels),
    ]


@register("filesystem")
class FilesystemCollector:
    def __init__(self, options: CollectorOptions, statvfs: Callable[[str], os.statvfs_result] = os.statvfs):
        self._options = options
        self._statvfs = statvfs
        self._mount_table_text = ""
        self._mounts: list[Mount] = []

    def _mount_table(self) -> str:
        try:
            return self._options.proc_text("1/mounts")
        except OSError:
            return self._options.proc_text("self/mounts")

    def _real_mounts(self) -> list[Mount]:
        text = self._mount_table()
        if text != self._mount_table_text:  # mounts rarely change: parse only when they do
            self._mount_table_text, self._mounts = text, real_mounts(parse_mounts(text))
        return self._mounts

    def collect(self) -> list[Point]:
        points = []
        for mount in self._real_mounts():
            try:
                stats = self._statvfs(self._options.host_path(mount.mountpoint))
            except OSError:
                continue  # unmounted since the table was read, or not visible from here
            labels = {"mountpoint": mount.mountpoint, "device": mount.device, "fstype": mount.fstype}
            points.extend(usage_points(stats, labels))
        return points
