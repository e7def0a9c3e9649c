"""Private MariaDB, Redis and Mosquitto instances for `make run` and for the tests.

Each instance lives in its own data directory and listens on 127.0.0.1 only; nothing here
touches a system-wide service. Functions return argv lists so that callers can either exec them
(under honcho) or start them as throwaway subprocesses (tests).
"""

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

DYNSEC_PLUGIN = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"
MQTT_ADMIN = "microdash-admin"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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


def mariadb_argv(datadir: Path, port: int) -> list[str]:
    datadir = datadir.resolve()
    if not (datadir / "mysql").is_dir():
        datadir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mariadb-install-db", "--no-defaults", f"--datadir={datadir}", "--user=root",
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    return [
        shutil.which("mariadbd") or "/usr/sbin/mariadbd", "--no-defaults", f"--datadir={datadir}",
        f"--socket={datadir}/mariadb.sock", f"--port={port}", "--bind-address=127.0.0.1", "--user=root",
        f"--pid-file={datadir}/mariadb.pid", "--skip-name-resolve", "--innodb-buffer-pool-size=512M",
        "--innodb-log-file-size=256M", "--innodb-flush-log-at-trx-commit=1", "--max-connections=500",
        "--log-error=" + str(datadir / "error.log"),
    ]


def redis_argv(datadir: Path, port: int) -> list[str]:
    datadir = datadir.resolve()
    datadir.mkdir(parents=True, exist_ok=True)
    # AOF with fsync every second: an acknowledged batch survives a Redis restart.
    return [
        shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(port), "--bind", "127.0.0.1",
        "--dir", str(datadir), "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
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
        f"persistence_location {datadir}/\n"
        "log_dest stderr\n"
    )
    if os.geteuid() == 0:
        shutil.chown(datadir, "mosquitto", "mosquitto")
        for path in datadir.iterdir():
            shutil.chown(path, "mosquitto", "mosquitto")
    return [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(config)]
