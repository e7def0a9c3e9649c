"""The throwaway microdash stack a benchmark run talks to: MariaDB + Redis, api, N workers.

Everything lives in one temporary directory and listens on 127.0.0.1; `BenchStack.stop()`
terminates every process this module started (and only those).
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pymysql
import redis

from microdash_cli.localstack import ServiceInstances, free_port, start_component
from microdash_core import db
from microdash_core.settings import Settings
from microdash_core.tenants import api_tokens, directory

READY_TIMEOUT_S = 60.0
MIGRATE_TIMEOUT_S = 180.0
STOP_GRACE_S = 10.0
PROFILE_DUMP_WAIT_S = 15.0
PROFILE_LAUNCHER = Path(__file__).with_name("profiled.py")
FRONTEND_DIST = Path(__file__).resolve().parents[1] / "frontend" / "dist"


@dataclass(frozen=True)
class BenchTenant:
    id: int
    name: str
    token: str


@dataclass
class BenchStack:
    root: Path
    worker_count: int
    profile_dir: Path | None = None
    bridge_count: int = 1
    redis_appendfsync: str = "always"
    services: ServiceInstances | None = None
    env: dict[str, str] = field(default_factory=dict)
    api: subprocess.Popen | None = None
    workers: list[subprocess.Popen] = field(default_factory=list)
    bridges: list[subprocess.Popen] = field(default_factory=list)
    api_port: int = 0

    # ---- start -------------------------------------------------------------------------------

    def start(self) -> None:
        if self.profile_dir is not None:
            for stale in self.profile_dir.glob("*.pstats"):
                stale.unlink()
        self.services = ServiceInstances(self.root, log_dir=self.root, mosquitto=True,
                                         redis_appendfsync=self.redis_appendfsync)
        self.services.start()
        self.api_port = free_port()
        self.env = {
            **self.services.environment(),
            "MICRODASH_API_PORT": str(self.api_port),
            "MICRODASH_LOG_LEVEL": "WARNING",
            "MICRODASH_LOG_FORMAT": "text",
            "MICRODASH_FRONTEND_DIR": str(FRONTEND_DIST),  # the dashboard scenario loads it in a browser
        }
        self._migrate()
        self._run_once(["broker", "sync"], "broker-sync")
        self.api = self._start_component(["api"], "api")
        self.bridges = [self._start_bridge(n) for n in range(self.bridge_count)]
        self.workers = [self._start_component(["worker"], f"worker-{n}") for n in range(self.worker_count)]
        self._wait_ready()

    def _start_bridge(self, number: int) -> subprocess.Popen:
        """Several bridges share the messages (a shared subscription), each with its own session."""
        if self.bridge_count == 1:
            return self._start_component(["bridge"], "bridge")
        env = {"MICRODASH_BRIDGE_SHARED_SUBSCRIPTION": "true", "MICRODASH_BRIDGE_CLIENT_ID": f"bench-bridge-{number}"}
        return self._start_component(["bridge"], f"bridge-{number}", env)

    def _migrate(self) -> None:
        self._run_once(["migrate"], "migrate")

    def _run_once(self, args: list[str], name: str) -> None:
        executable = shutil.which("microdash")
        if executable is None:
            raise RuntimeError("the microdash command is not on PATH; run with the project's venv on PATH")
        with open(self.root / f"{name}.log", "ab") as log:
            subprocess.run([executable, *args], env={**os.environ, **self.env}, stdout=log,
                           stderr=subprocess.STDOUT, check=True, timeout=MIGRATE_TIMEOUT_S)

    def _start_component(self, args: list[str], name: str, extra_env: dict[str, str] | None = None
                         ) -> subprocess.Popen:
        log_path = self.root / f"{name}.log"
        own_env = {**self.env, **(extra_env or {})}
        if self.profile_dir is None:
            return start_component(args, own_env, log_path)
        # Profiling hook (bench only): the same CLI, run under bench/profiled.py which enables cProfile.
        env = {**os.environ, **own_env, "MICRODASH_BENCH_PROFILE": str(self.profile_dir / f"{name}.pstats")}
        log = open(log_path, "ab")
        return subprocess.Popen([sys.executable, str(PROFILE_LAUNCHER), *args], env=env,
                                stdout=log, stderr=subprocess.STDOUT)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                self._check_alive()
                try:
                    if client.get("/readyz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        raise TimeoutError(f"api not ready after {READY_TIMEOUT_S} s (see {self.root}/api.log)")

    def _check_alive(self) -> None:
        for process in [self.api, *self.bridges, *self.workers]:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{process.args} exited with {process.returncode}; logs in {self.root}")

    # ---- use ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def settings(self) -> Settings:
        return Settings(database_url=self.env["MICRODASH_DATABASE_URL"], redis_url=self.env["MICRODASH_REDIS_URL"],
                        mqtt_url=self.env["MICRODASH_MQTT_URL"],
                        mqtt_admin_password=self.env["MICRODASH_MQTT_ADMIN_PASSWORD"])

    def create_tenant(self, name: str, *, rate_limit: int = 10_000_000, max_series: int | None = None) -> BenchTenant:
        with db.transaction(self.settings) as cursor:
            tenant = directory.create_tenant(cursor, name=name, ingest_rate_limit=rate_limit, max_series=max_series)
            token = api_tokens.issue_token(cursor, tenant=tenant, name="bench")
        return BenchTenant(tenant.id, tenant.name, token)

    def connect_db(self) -> pymysql.connections.Connection:
        connection = db.connect(self.settings)
        connection.autocommit(True)
        return connection

    def connect_redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.env["MICRODASH_REDIS_URL"])

    def wait_quiet(self, *, busy_share: float = 0.05, window_s: float = 1.0, timeout_s: float = 30.0) -> float:
        """Wait (bounded) until the stack's processes together use under busy_share of one core over
        a window: e.g. MariaDB flushing the pages of a seal the bench itself just ran. Returns the
        seconds waited."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            before = self.cpu_seconds()
            time.sleep(window_s)
            after = self.cpu_seconds()
            busy = sum(after[name] - before.get(name, 0.0) for name in after if name != "bench-client")
            if busy < busy_share * window_s:
                break
        return round(time.monotonic() - started, 1)

    def cpu_seconds(self) -> dict[str, float]:
        """User + system CPU seconds used so far by each process of the stack and by this bench process."""
        processes = {"api": self.api, **self._bridges_by_name(),
                     **{f"worker-{n}": w for n, w in enumerate(self.workers)}}
        if self.services is not None:
            processes.update(self.services.processes)
        times = {name: cpu_seconds(process.pid) for name, process in processes.items() if process is not None}
        own = os.times()
        times["bench-client"] = own.user + own.system
        return times

    def peak_rss_mb(self) -> dict[str, float | list[float] | None]:
        return {"api": peak_rss_mb(self.api.pid) if self.api else None,
                "bridge": max((peak_rss_mb(bridge.pid) or 0.0 for bridge in self.bridges), default=None),
                "workers": [peak_rss_mb(worker.pid) for worker in self.workers]}

    def server_versions(self) -> dict[str, str]:
        connection = self.connect_db()
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT VERSION()")
                mariadb = cursor.fetchone()[0]
        finally:
            connection.close()
        client = self.connect_redis()
        try:
            redis_version = client.info("server")["redis_version"]
        finally:
            client.close()
        return {"mariadb": mariadb, "redis": redis_version}

    def log_tails(self, lines: int = 15) -> str:
        parts = []
        for log in sorted(self.root.glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            if tail:
                parts.append(f"--- {log.name} ---\n" + "\n".join(tail))
        return "\n".join(parts)

    # ---- stop --------------------------------------------------------------------------------

    def component_names(self) -> list[str]:
        return ["api", *self._bridges_by_name(), *(f"worker-{n}" for n in range(len(self.workers)))]

    def _bridges_by_name(self) -> dict[str, subprocess.Popen]:
        if len(self.bridges) == 1:
            return {"bridge": self.bridges[0]}
        return {f"bridge-{n}": bridge for n, bridge in enumerate(self.bridges)}

    def dump_profiles(self) -> None:
        """Ask profiled components (bench/profiled.py) to write their pstats files now."""
        if self.profile_dir is None:
            return
        for process in [self.api, *self.bridges, *self.workers]:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGUSR2)
        expected = [self.profile_dir / f"{name}.pstats" for name in self.component_names()]
        deadline = time.monotonic() + PROFILE_DUMP_WAIT_S
        while time.monotonic() < deadline and not all(path.exists() for path in expected):
            time.sleep(0.1)

    def stop(self) -> list[str]:
        """Terminate the components (SIGTERM, then SIGKILL after a grace period) and the services.

        Returns a note for each component that had to be killed.
        """
        components = [p for p in [*self.workers, self.api, *self.bridges] if p is not None]
        children = [pid for process in components for pid in child_pids(process.pid)]
        for process in components:
            if process.poll() is None:
                process.terminate()
        notes = _wait_all_or_kill(components, STOP_GRACE_S)
        for pid in children:  # e.g. the RQ scheduler process a worker forks
            _kill_if_alive(pid)
        if self.services is not None:
            self.services.stop()
        return notes


def _wait_all_or_kill(processes: list[subprocess.Popen], grace_s: float) -> list[str]:
    deadline = time.monotonic() + grace_s
    notes = []
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_GRACE_S)
            notes.append(f"pid {process.pid} (`microdash {process.args[-1]}`) ignored SIGTERM for "
                         f"{grace_s:.0f} s and was killed")
    return notes


def child_pids(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _kill_if_alive(pid: int) -> None:
    """SIGKILL a leftover child of a component, if that pid is still a microdash process."""
    try:
        if b"microdash" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process from /proc/<pid>/stat (0.0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM (peak resident set) of a live process, from /proc; None if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None
