"""`make run`'s process set (the Procfile under honcho) starts the whole stack and Ctrl-C stops it."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

from microdash_cli.localstack import free_port
from support import TEST_MARIADB_REDO_LOG_SIZE

ROOT = Path(__file__).resolve().parents[1]


def test_procfile_starts_everything_and_sigint_stops_it(tmp_path):
    ports = {name: free_port() for name in ("mariadb", "redis", "mqtt", "api")}
    env = {**os.environ, "MICRODASH_LOG_FORMAT": "text",
           "MICRODASH_DEV_MARIADB_PORT": str(ports["mariadb"]), "MICRODASH_DEV_REDIS_PORT": str(ports["redis"]),
           "MICRODASH_DEV_MQTT_PORT": str(ports["mqtt"]), "MICRODASH_API_PORT": str(ports["api"]),
           "MICRODASH_DATABASE_URL": f"mysql://root@127.0.0.1:{ports['mariadb']}/microdash",
           "MICRODASH_REDIS_URL": f"redis://127.0.0.1:{ports['redis']}/0",
           "MICRODASH_MQTT_URL": f"mqtt://127.0.0.1:{ports['mqtt']}", "MICRODASH_DEV_AGENT_INTERVAL": "1",
           "MICRODASH_DEV_MARIADB_REDO_LOG_SIZE": TEST_MARIADB_REDO_LOG_SIZE}
    log_path = tmp_path / "honcho.log"
    with open(log_path, "wb") as log:
        honcho = subprocess.Popen(["honcho", "start", "-f", str(ROOT / "Procfile"), "-d", str(tmp_path)],
                                  cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        api = f"http://127.0.0.1:{ports['api']}"
        deadline = time.monotonic() + 120
        while not _ready(api):
            assert honcho.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.5)
        output = log_path.read_text()
        assert f"microdash is starting on http://localhost:{ports['api']}" in output
        credentials = dict(line.split("=", 1) for line in (tmp_path / ".run/demo-credentials").read_text().splitlines())
        assert credentials["token"] in output and credentials["login"] == "admin@example.com"
        headers = {"Authorization": f"Bearer {credentials['token']}"}
        assert httpx.post(api + "/api/v1/metrics", json={"metric": "demo.up", "value": 1}, headers=headers).status_code == 202
        deadline = time.monotonic() + 30
        while not httpx.get(api + "/api/v1/series", headers=headers).json()["series"]:
            assert time.monotonic() < deadline, "the demo sample was never stored"
            time.sleep(0.2)
        deadline = time.monotonic() + 30  # the local agent reports this machine over MQTT
        while not httpx.get(api + "/api/v1/series", params={"match": "host=~.+"}, headers=headers).json()["series"]:
            assert time.monotonic() < deadline, "the local agent's samples never arrived"
            time.sleep(0.5)
        login = httpx.post(api + "/api/v1/auth/login", json={"email": credentials["login"],
                                                             "password": credentials["password"]})
        assert login.status_code == 200
        dashboard = httpx.get(api + "/explore")  # `make run` builds frontend/dist; the api serves it
        assert dashboard.status_code == 200 and '<div id="app">' in dashboard.text
    finally:
        honcho.send_signal(signal.SIGINT)
        honcho.wait(timeout=60)
    time.sleep(0.5)
    for port in ports.values():  # everything it started is gone
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, port


def _ready(api: str) -> bool:
    try:
        return httpx.get(api + "/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
