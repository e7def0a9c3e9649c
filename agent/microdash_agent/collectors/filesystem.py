"""disk.{total,used,available}_bytes and disk.used_percent per real mounted file system.

The mount table is the host's PID 1 one (<procfs>/1/mounts) when --procfs points at a host's
/proc mounted elsewhere (a DaemonSet), else psutil.disk_partitions(all=False): /etc/mtab, without the file systems <procfs>/filesystems marks "nodev"
(zfs excepted), listed again only when the mount table may have changed (MountTableChanges).
Mountpoint M is measured at <rootfs>/M and labelled M. The pseudo and virtual file
systems psutil keeps (squashfs, iso9660...) are skipped too, as are the kernel's and container
runtimes' own trees (node_exporter's defaults, plus tmpfs).
"""

import os
import re
import select
from collections.abc import Callable, Iterable
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


class Mount(NamedTuple):
    device: str
    mountpoint: str
    fstype: str


def is_real_filesystem(mount: Mount) -> bool:
    return (mount.fstype not in PSEUDO_FS_TYPES and not mount.fstype.startswith("cgroup")
            and not IGNORED_MOUNTPOINTS.match(mount.mountpoint))


def real_mounts(mounts: Iterable[Mount]) -> list[Mount]:
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


def host_mounts(procfs: os.PathLike | str) -> list[Mount] | None:
    """The host's mount table as its PID 1 sees it, when the host's /proc is mounted elsewhere.

    In a DaemonSet (--procfs /host/proc with hostPID) psutil would list <procfs>/self/mounts,
    which is the agent container's own mount namespace; psutil has no way to read another's.
    """
    if os.path.realpath(procfs) == "/proc":
        return None
    try:
        with open(f"{procfs}/1/mounts", encoding="utf-8", errors="replace") as table:
            lines = table.read().splitlines()
    except OSError:
        return None
    mounts = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 3:
            mounts.append(Mount(_unescape(fields[0]), _unescape(fields[1]), fields[2]))
    return mounts


def _unescape(field: str) -> str:
    """The kernel writes space, tab, newline and backslash in mount paths as octal escapes."""
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), field)


class MountTableChanges:
    """Called, tells whether the mount table may have changed since the previous call.

    The kernel flags an open <procfs>/self/mounts (POLLPRI) at every mount and unmount, so an
    unchanged table costs one poll() instead of a listing. A file the kernel does not write (a
    fixture tree's, of non-zero size) counts as changed every time.
    """

    def __init__(self, procfs: os.PathLike | str):
        self._table = self._events = None
        try:
            table = open(f"{procfs}/self/mounts", "rb")  # noqa: SIM115 - held open to be polled
        except OSError:
            return
        if os.fstat(table.fileno()).st_size:
            table.close()
            return
        self._table, self._events = table, select.poll()
        self._events.register(table, select.POLLPRI)

    def __call__(self) -> bool:
        return self._events is None or bool(self._events.poll(0))


@register("filesystem")
class FilesystemCollector:
    def __init__(self, options: CollectorOptions, statvfs: Callable[[str], os.statvfs_result] = os.statvfs):
        self._options = options
        self._statvfs = statvfs
        self._mount_table_changed = MountTableChanges(options.procfs)
        self._mounts: list[Mount] | None = None

    def mounts(self) -> list[Mount]:
        if self._mounts is None or self._mount_table_changed():
            listed = host_mounts(self._options.procfs)
            if listed is None:
                partitions = self._options.psutil().disk_partitions(all=False)
                listed = [Mount(part.device, part.mountpoint, part.fstype) for part in partitions]
            self._mounts = real_mounts(listed)
        return self._mounts

    def collect(self) -> list[Point]:
        points = []
        for mount in self.mounts():
            try:
                # statvfs rather than psutil.disk_usage, whose percentage is rounded to 0.1.
                stats = self._statvfs(self._options.host_path(mount.mountpoint))
            except OSError:
                continue  # unmounted since the table was read, or not visible from here
            labels = {"mountpoint": mount.mountpoint, "device": mount.device, "fstype": mount.fstype}
            points.extend(usage_points(stats, labels))
        return points
