"""The host side of the node (kubenode.py): what is changed on this machine when it starts, and
putting all of it back when it stops or after a crashed run (processes by pid, containers, iptables
chains, mounts, cgroups)."""

import os
import signal
import time
from pathlib import Path

from nodebase import (BRIDGE, FORWARD_CHAIN, NODE_IP, NODE_LINK, PERSISTENT_DIR, POD_CIDR,
                      SERVICE_CIDR, STATE_DIR, ctr, root_is_shared, run, write_sysctl)


def prepare_host() -> None:
    # A bridge without ports stands in for a dummy interface (this kernel has no dummy driver).
    run(["ip", "link", "add", NODE_LINK, "type", "bridge"])
    run(["ip", "addr", "add", f"{NODE_IP}/32", "dev", NODE_LINK])
    run(["ip", "link", "set", NODE_LINK, "up"])
    # Service addresses without a kube-proxy rule end on that link, not on the default route.
    run(["ip", "route", "add", SERVICE_CIDR, "dev", NODE_LINK, "src", NODE_IP])
    for name in ("net.ipv4.ip_forward", "net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables"):
        write_sysctl(name, "1")
    # Forwarding is on for the pods' sake only: pod traffic may go back to the bridge, nowhere else.
    run(["iptables", "-N", FORWARD_CHAIN])
    run(["iptables", "-A", FORWARD_CHAIN, "-s", POD_CIDR, "!", "-o", BRIDGE, "-j", "DROP"])
    run(["iptables", "-I", "FORWARD", "-j", FORWARD_CHAIN])
    # The agent mounts the host's / with HostToContainer propagation, which needs a shared mount.
    if not root_is_shared():
        run(["mount", "--make-shared", "/"])
    for path in (STATE_DIR, PERSISTENT_DIR / "containerd"):
        path.mkdir(parents=True, exist_ok=True)


def stop_pid(pid: int | None, timeout: float = 20) -> None:
    if not pid or not alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)
        while alive(pid):
            time.sleep(0.05)


def runs(pid: int, command: str) -> bool:
    """The pid still runs `command`: after a crash and a reboot, a recorded pid may be someone else's."""
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return False
    return os.path.basename(argv0.decode(errors="replace")) == command


def alive(pid: int) -> bool:
    """Running, not a zombie (a zombie child of ours is reaped here)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    if state == "Z":
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        return False
    return True


def kill_containers() -> None:
    """Every container and pod sandbox of the node, removed from containerd (its store outlives the run)."""
    if ctr("version", check=False).returncode != 0:
        return
    for task in ctr("-n", "k8s.io", "tasks", "ls", "-q", check=False).stdout.split():
        ctr("-n", "k8s.io", "tasks", "kill", "-a", "-s", "SIGKILL", task, check=False)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        tasks = ctr("-n", "k8s.io", "tasks", "ls", "-q", check=False).stdout.split()
        for task in tasks:
            ctr("-n", "k8s.io", "tasks", "delete", "-f", task, check=False)
        if not tasks:
            break
        time.sleep(0.5)
    containers = ctr("-n", "k8s.io", "containers", "ls", "-q", check=False).stdout.split()
    if containers:
        ctr("-n", "k8s.io", "containers", "delete", *containers, check=False)


def kill_shims() -> None:
    """containerd's shims outlive it by design; ours are the ones started with our socket's address."""
    address = str(STATE_DIR / "containerd.sock")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"containerd-shim-runc-v2") and address.encode() in argv:
            stop_pid(int(proc.name), timeout=5)


def unmount_under(roots: list[Path]) -> None:
    prefixes = tuple(str(root.resolve()) + "/" for root in roots if root.exists())
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    for mount in reversed(mounts):
        mount = mount.replace("\\040", " ")
        if mount.startswith(prefixes):
            if run(["umount", mount], check=False).returncode != 0:
                run(["umount", "-l", mount], check=False)
    for netns in ("/run/netns", "/var/run/netns"):
        for entry in Path(netns).glob("cni-*"):
            entry.unlink(missing_ok=True)


def remove_pod_cgroups() -> None:
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        for root in (hierarchy / "kubepods", hierarchy / "kubepods.slice"):
            if root.is_dir():
                for directory in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                    if directory.is_dir():
                        _rmdir(directory)
                _rmdir(root)


def _rmdir(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass
