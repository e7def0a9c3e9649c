"""Fixtures for the node agent's tests: fixture /proc trees, a fake clock, a throwaway Mosquitto.

Nothing here uses the main stack's fixtures (tests/conftest.py): the agent is tested on its own.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from microdash_cli.localstack import free_port

FIXTURE_PROC = Path(__file__).resolve().parent / "fixtures" / "proc"
AGENT_COMMAND = str(Path(sys.executable).parent / "microdash-agent")
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds




def wait_until(condition, timeout: float = 10.0, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


class Broker:
    """A Mosquitto on 127.0.0.1 that accepts anyone; stop() and start() again keep its port."""

    def __init__(self, directory: Path, *, tls_files: dict[str, Path] | None = None, extra_config: tuple = ()):
        self.port = free_port()
        self.url = f"{'mqtts' if tls_files else 'mqtt'}://127.0.0.1:{self.port}"
        self.config = directory / "mosquitto.conf"
        lines = [f"listener {self.port} 127.0.0.1", "allow_anonymous true", "persistence false", *extra_config]
        if tls_files:
            lines += [f"{option} {path}" for option, path in tls_files.items()]
            if os.geteuid() == 0:
                lines.append("user root")  # else it reads the key files as "mosquitto", locked out of tmp
        self.config.write_text("\n".join(lines) + "\n")
        self.log = directory / "mosquitto.log"
        self._process: subprocess.Popen | None = None

    def start(self, attempts: int = 5) -> None:
        for attempt in range(attempts):
            with open(self.log, "ab") as log:
                self._process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=log, stderr=log)
            try:
                wait_until(self._accepts_connections, timeout=10)
                return
            except AssertionError:
                if attempt == attempts - 1 or self._process.poll() is None:
                    raise
                time.sleep(1)  # a restart on the same port: the old socket may still be closing

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def _accepts_connections(self) -> bool:
        assert self._process.poll() is None, f"mosquitto exited: {self.log.read_text()}"
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            return True
        except OSError:
            return False


@pytest.fixture
def broker(tmp_path):
    broker = Broker(tmp_path)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def procfs(tmp_path) -> Path:
    """A private, writable copy of the fixture /proc tree."""
    copy = tmp_path / "proc"
    shutil.copytree(FIXTURE_PROC, copy)
    return copy


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
