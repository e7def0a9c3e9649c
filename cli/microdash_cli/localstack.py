"""Private MariaDB, Redis and Mosquitto instances for `make run` and for the tests.

Each instance lives in its own data directory and listens on 127.0.0.1 only; nothing here
touches a system-wide service. Functions return argv lists so that callers can either exec them
(under honcho) or start them as throwaway subprocesses (tests).
"""

import os
import random
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

DYNSEC_PLUGIN = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"
MQTT_ADMIN = "microdash-admin"


# Servers get ports below the kernel's ephemeral range (32768+ by default), which outgoing
# connections draw from: a server restarted on "its" port could otherwise find it taken as the
# local end of some client's connection.
SERVER_PORTS = range(20_000, 32_000)


def free_port() -> int:
    for _ in range(200):
        port = random.choice(SERVER_PORTS)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port found in 20000-31999")


def wait_for_port(port: int, *, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process {process.args[0]} exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


def install_mariadb_datadir(datadir: Path, attempts: int = 2) -> None:
    """Create the system tables. A failed attempt leaves a partial datadir, which is wiped before
    the next (an install failed once, unexplained, on a busy test machine: its output is kept)."""
    for attempt in range(1, attempts + 1):
        shutil.rmtree(datadir, ignore_errors=True)
        datadir.mkdir(parents=True)
        installed = subprocess.run(
            ["mariadb-install-db", "--no-defaults", f"--datadir={datadir}", "--user=root",
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            capture_output=True, text=True,
        )
        if installed.returncode == 0:
            return
        failure = (f"mariadb-install-db failed (exit {installed.returncode}, attempt {attempt} of {attempts})"
                   f" for {datadir}:\n" + (installed.stdout + installed.stderr)[-3000:])
        print(failure, file=sys.stderr, flush=True)
    raise RuntimeError(failure)


# The redo log the local stack and the benchmarks use; the tests ask for a smaller one, since each
# throwaway instance preallocates it on disk and a test run starts dozens.
MARIADB_REDO_LOG_SIZE = "256M"


def mariadb_argv(datadir: Path, port: int, *, redo_log_size: str = MARIADB_REDO_LOG_SIZE) -> list[str]:
    datadir = datadir.resolve()
    if not (datadir / "mysql").is_dir():
        install_mariadb_datadir(datadir)
    # Its own temporary directory: instances sharing /tmp have had their temporary tables removed
    # by another instance's (or a test's) clean-up, which fails the statement using them.
    tmpdir = datadir.parent / f"{datadir.name}-tmp"
    tmpdir.mkdir(exist_ok=True)
    return [
        shutil.which("mariadbd") or "/usr/sbin/mariadbd", "--no-defaults", f"--datadir={datadir}",
        f"--socket={datadir}/mariadb.sock", f"--port={port}", "--bind-address=127.0.0.1", "--user=root",
        f"--pid-file={datadir}/mariadb.pid", "--skip-name-resolve", "--innodb-buffer-pool-size=512M",
        f"--innodb-log-file-size={redo_log_size}", "--innodb-flush-log-at-trx-commit=1", "--max-connections=500",
        # The head's inserts land at 10,000s of places in `samples`; the hash index finds each
        # leaf without descending the tree (about a quarter of MariaDB's CPU; decisions.md).
        "--innodb-adaptive-hash-index=ON",
        "--log-error=" + str(datadir / "error.log"), f"--tmpdir={tmpdir}",
    ]


REDIS_APPENDFSYNC_MODES = ("always", "everysec")
REDIS_MAXMEMORY = "1gb"


def redis_argv(datadir: Path, port: int, *, appendfsync: str = "always") -> list[str]:
    """A Redis whose acknowledged writes survive a crash: with AOF fsynced on every write
    ("always"), an accepted batch is on disk before the 202 or PUBACK; "everysec" is faster and
    can lose the last second. Full, it refuses writes (the api answers 503) rather than evicting
    queued batches."""
    if appendfsync not in REDIS_APPENDFSYNC_MODES:
        raise ValueError(f"appendfsync must be one of {REDIS_APPENDFSYNC_MODES}, got {appendfsync!r}")
    datadir = datadir.resolve()
    datadir.mkdir(parents=True, exist_ok=True)
    return [
        shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(port), "--bind", "127.0.0.1",
        "--dir", str(datadir), "--appendonly", "yes", "--appendfsync", appendfsync, "--save", "",
        "--maxmemory", REDIS_MAXMEMORY, "--maxmemory-policy", "noeviction",
        "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning",
    ]


def mosquitto_argv(datadir: Path, port: int, *, admin_password: str) -> list[str]:
    """Mosquitto with the dynamic security plugin and an admin identity; no anonymous access."""
    datadir = datadir.resolve()
    datadir.mkdir(parents=True, exist_ok=True)
    dynsec = datadir / "dynamic-security.json"
    if not dynsec.exists():
        subprocess.run(["mosquitto_ctrl", "dynsec", "init", str(dynsec), MQTT_ADMIN, admin_password],
                       check=True, stdout=subprocess.DEVNULL)
    config = datadir / "mosquitto.conf"
    config.write_text(
        "per_listener_settings false\n"
        f"listener {port} 127.0.0.1\n"
        "allow_anonymous false\n"
        f"plugin {DYNSEC_PLUGIN}\n"
        f"plugin_opt_config_file {dynsec}\n"
        "persistence true\n"
        # The bridge acknowledges a message only once its batch is in Redis, so it needs many
        # messages in flight, and a long queue while it restarts (defaults: 20 and 1000).
        "max_inflight_messages 20000\n"
        "max_queued_messages 1000000\n"
        f"persistence_location {datadir}/\n"
        "log_dest stderr\n"
        # Run as root, Mosquitto drops to the `mosquitto` user, which cannot read data under a
        # private temporary directory; these instances are local and private, so keep the user.
        + ("user root\n" if os.geteuid() == 0 else "")
    )
    return [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(config)]


class ServiceInstances:
    """Throwaway MariaDB + Redis (+ Mosquitto) in a temporary directory, on free ports.

    Used by the tests and the benchmarks; `stop()` (or leaving the `with` block) kills them and
    the data goes with the directory.
    """

    def __init__(self, root: Path, *, mosquitto: bool = False, log_dir: Path | None = None,
                 redis_appendfsync: str = "always", mariadb_redo_log_size: str = MARIADB_REDO_LOG_SIZE):
        self.root = root
        self.mariadb_redo_log_size = mariadb_redo_log_size
        self.redis_appendfsync = redis_appendfsync
        self.with_mosquitto = mosquitto
        self.log_dir = log_dir or root
        self.processes: dict[str, subprocess.Popen] = {}
        self.ports: dict[str, int] = {}
        self.mqtt_admin_password = "test-admin-" + os.urandom(4).hex()
        self._restarted: set[str] = set()  # a restarted server must keep its port

    def __enter__(self) -> "ServiceInstances":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> None:
        self.start_service("mariadb", self._mariadb_argv, timeout=60)
        self.start_service("redis", self._redis_argv)
        if self.with_mosquitto:
            self.start_service("mosquitto", lambda port: mosquitto_argv(
                self.root / "mosquitto", port, admin_password=self.mqtt_admin_password))

    def start_service(self, name: str, argv_for_port, *, timeout: float = 30, attempts: int = 3) -> None:
        """Start a server on its port (a fresh free one the first time). A free port can be taken
        by another process before the server binds it, so a server that exits at once is started
        again on another port."""
        for attempt in range(attempts):
            port = self.ports.get(name) or free_port()
            log = open(self.log_dir / f"{name}.log", "ab")
            process = subprocess.Popen(argv_for_port(port), stdout=log, stderr=subprocess.STDOUT)
            self.processes[name], self.ports[name] = process, port
            try:
                wait_for_port(port, timeout=timeout, process=process)
                return
            except RuntimeError:
                self.processes.pop(name)
                if attempt == attempts - 1:
                    raise
                if name in self._restarted:
                    time.sleep(1)  # keep the port: its old socket may still be closing
                else:
                    self.ports.pop(name)

    def stop_service(self, name: str, *, kill: bool = False) -> None:
        process = self.processes.pop(name, None)
        if process is None:
            return
        process.kill() if kill else process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart_service(self, name: str) -> None:
        self.stop_service(name)
        self._restarted.add(name)
        starters = {
            "mariadb": self._mariadb_argv,
            "redis": self._redis_argv,
            "mosquitto": lambda port: mosquitto_argv(self.root / "mosquitto", port,
                                                     admin_password=self.mqtt_admin_password),
        }
        self.start_service(name, starters[name], timeout=60)

    def _mariadb_argv(self, port: int) -> list[str]:
        return mariadb_argv(self.root / "mariadb", port, redo_log_size=self.mariadb_redo_log_size)

    def _redis_argv(self, port: int) -> list[str]:
        return redis_argv(self.root / "redis", port, appendfsync=self.redis_appendfsync)

    def stop(self) -> None:
        for name in list(self.processes):
            self.stop_service(name)

    def environment(self, database: str = "microdash") -> dict[str, str]:
        """MICRODASH_* variables pointing the components at these instances."""
        env = {
            "MICRODASH_DATABASE_URL": f"mysql://root@127.0.0.1:{self.ports['mariadb']}/{database}",
            "MICRODASH_REDIS_URL": f"redis://127.0.0.1:{self.ports['redis']}/0",
        }
        if "mosquitto" in self.ports:
            env["MICRODASH_MQTT_URL"] = f"mqtt://127.0.0.1:{self.ports['mosquitto']}"
            env["MICRODASH_MQTT_ADMIN_PASSWORD"] = self.mqtt_admin_password
        return env


def start_component(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """Start a `microdash <args>` process with the given extra environment, logging to a file."""
    log = open(log_path, "ab")
    executable = shutil.which("microdash")
    if executable is None:
        raise RuntimeError("the microdash command is not on PATH; run inside the project's venv")
    return subprocess.Popen([executable, *args], env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
