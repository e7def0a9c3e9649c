"""compose.yaml run with podman-compose (the root dev group's pin) on the images `make images`
builds, under a project name of its own and free ports, so a developer's own stack is untouched.

Podman here is rootful 4.3 with CNI networking and no systemd: the containers get the project's
containers.conf (runc, rlimits within the host's), and healthchecks run only when asked
(`podman healthcheck run`; no systemd timer runs them), so `healthy` is what they answer then.
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
PODMAN_COMPOSE = Path(sys.executable).with_name("podman-compose")  # the dev group's pin
CONTAINERS_CONF = REPO / "scripts" / "images" / "podman" / "containers.conf"
PROJECT = "microdash-compose-test"
DNSNAME_STATE = Path("/run/containers/cni/dnsname")
CNI_IPAM_STATE = Path("/var/lib/cni/networks")
# compose.yaml's services: the long-running ones, those with a healthcheck, the one-off step
LONG_RUNNING = ("mariadb", "redis", "mosquitto", "api", "worker", "scheduler", "bridge", "agent")
HEALTHCHECKED = ("mariadb", "redis", "mosquitto", "api")
ONE_OFF = ("prestart",)
# The host settings the CNI bridge plugin changes (it turns forwarding on); put back after `down`.
SYSCTLS = ("net.ipv4.ip_forward",)
# compose's prestart prints the demo login: token and MQTT identity (cli/microdash_cli/main.py)
BANNER = re.compile(r"tenant: (?P<tenant>\S+)\s+token: (?P<token>\S+)\s+"
                    r"mqtt:\s+\S+\s+username (?P<username>\S+)\s+password (?P<password>\S+)\s+topics (?P<prefix>\S+?)\.\.\.")
TIMINGS: dict[str, float] = {}


@dataclass
class ComposeStack:
    api_port: int
    mqtt_port: int
    sysctls: dict[str, str] = field(default_factory=dict)
    bridge_seen: str | None = None  # the project network's bridge while it was up

    @property
    def environment(self) -> dict[str, str]:
        return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF),
                "API_PORT": str(self.api_port), "MQTT_PORT": str(self.mqtt_port)}

    def compose(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return _run([str(PODMAN_COMPOSE), "--project-name", PROJECT, "--file", str(REPO / "compose.yaml"), *args],
                    env=self.environment, timeout=timeout)

    def podman(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        return _run(["podman", *args], env=self.environment, check=check, timeout=timeout)

    def container(self, service: str) -> str:
        return f"{PROJECT}_{service}_1"

    def state(self, service: str) -> dict[str, str]:
        status, code = self.podman("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}",
                                   self.container(service)).stdout.split()
        return {"status": status, "exit_code": code}

    def healthy(self, service: str) -> bool:
        return self.podman("healthcheck", "run", self.container(service), check=False).returncode == 0

    def demo_login(self) -> dict[str, str]:
        """The last banner prestart printed (podman-compose may run it again when a dependant starts)."""
        printed = self.podman("logs", self.container("prestart"))
        logs = printed.stdout + printed.stderr
        found = list(BANNER.finditer(logs))
        assert found, f"no login banner in prestart's log:\n{logs[-3000:]}"
        return found[-1].groupdict()

    def bridge(self) -> str | None:
        found = self.podman("network", "inspect", "--format", "{{.NetworkInterface}}", f"{PROJECT}_default", check=False)
        return found.stdout.strip() or None if found.returncode == 0 else None

    def project_objects(self) -> dict[str, list[str]]:
        label = f"label=io.podman.compose.project={PROJECT}"
        return {
            "containers": self.podman("ps", "-a", "--filter", label, "--format", "{{.Names}}").stdout.split(),
            "pods": self.podman("pod", "ps", "--filter", f"name=pod_{PROJECT}", "--format", "{{.Name}}").stdout.split(),
            "networks": self.podman("network", "ls", "--filter", label, "--format", "{{.Name}}").stdout.split(),
            "volumes": self.podman("volume", "ls", "--filter", label, "--format", "{{.Name}}").stdout.split(),
        }


def remove_network_leftovers(bridge: str | None) -> None:
    """What the project's CNI network leaves on the host after `down`: the DNS rule for its bridge
    (INPUT, udp 53), per-container rules of a run that could not be torn down, and the host-local
    IPAM directory. The plugins' shared base chains (CNI-FORWARD, CNI-HOSTPORT-*) stay, as after
    any podman container with a published port; a real node (tests/cluster) uses them too."""
    marks = [f'name: "{PROJECT}_default"', *([f"-i {bridge} ", f"-o {bridge} "] if bridge else [])]
    for table in ("filter", "nat"):
        rules = _run(["iptables", "-t", table, "-S"], env=dict(os.environ)).stdout.splitlines()
        for rule in rules:
            if rule.startswith("-A ") and any(mark in rule + " " for mark in marks):
                _run(["iptables", "-t", table, "-D", *shlex.split(rule)[1:]], env=dict(os.environ), check=False)
    shutil.rmtree(CNI_IPAM_STATE / f"{PROJECT}_default", ignore_errors=True)


def project_dns_running() -> bool:
    pidfile = DNSNAME_STATE / f"{PROJECT}_default" / "pidfile"
    pid = pidfile.read_text().strip() if pidfile.exists() else ""
    return bool(pid) and Path(f"/proc/{pid}").exists()


def stop_stale_dns() -> None:
    """The dnsname plugin's dnsmasq for the project's network outlives a run whose containers could
    not be torn down (their network namespaces unmounted under them); the next network gets the
    same gateway address, and a second dnsmasq cannot listen on it."""
    directory = DNSNAME_STATE / f"{PROJECT}_default"
    pidfile = directory / "pidfile"
    if pidfile.exists():
        pid = int(pidfile.read_text().strip() or 0)
        cmdline = Path(f"/proc/{pid}/cmdline")
        if pid and cmdline.exists() and str(directory).encode() in cmdline.read_bytes():
            os.kill(pid, signal.SIGTERM)
            wait_for("the stale dnsmasq to stop", lambda: not cmdline.exists(), timeout=10, interval=0.2)
    shutil.rmtree(directory, ignore_errors=True)


def _run(argv: list[str], *, env: dict[str, str], check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def read_sysctls() -> dict[str, str]:
    return {name: _sysctl_path(name).read_text().strip() for name in SYSCTLS}


def write_sysctls(values: dict[str, str]) -> None:
    for name, value in values.items():
        _sysctl_path(name).write_text(value)


def _sysctl_path(name: str) -> Path:
    return Path("/proc/sys") / name.replace(".", "/")


def wait_for(what: str, check, timeout: float = 180, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (httpx.HTTPError, OSError, RuntimeError, KeyError, ValueError) as error:
            last = repr(error)
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout} s (last: {last})")
