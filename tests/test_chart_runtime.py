"""The chart's containers run for real, outside Kubernetes: the environment a pod would get
(ConfigMap, Secrets, `$(VAR)` expansion) is built from the rendered manifests, the Services'
names are pointed at real MariaDB, Redis and Mosquitto instances holding the rendered passwords,
and the containers' own commands run with it: the migration Job, the bridge's broker sync, the api
(ready, in production mode)."""

import base64
import os
import re
import subprocess
import time

import httpx
import pytest

from chart_support import SCENARIOS, RELEASE, by_kind_and_name, render
from microdash_cli.localstack import ServiceInstances, free_port
from support import throwaway_services

SERVICES = {"mariadb": 3306, "redis": 6379, "mosquitto": 1883}


@pytest.fixture(scope="module")
def rendered():
    return by_kind_and_name(render(SCENARIOS["default"]))


@pytest.fixture(scope="module")
def secrets(rendered) -> dict[tuple[str, str], str]:
    return {(name, key): base64.b64decode(value).decode()
            for (kind, name), doc in rendered.items() if kind == "Secret" for key, value in doc["data"].items()}


@pytest.fixture(scope="module")
def services(tmp_path_factory, secrets):
    """Real servers that hold the passwords the chart generated, as the bundled ones would."""
    instances = throwaway_services(tmp_path_factory.mktemp("chart-runtime"), mosquitto=True)
    instances.mqtt_admin_password = secrets[(f"{RELEASE}-microdash", "mqtt-admin-password")]
    instances.start()
    database_password = secrets[(f"{RELEASE}-microdash-mariadb", "mariadb-password")]
    subprocess.run(["mariadb", "-h", "127.0.0.1", "-P", str(instances.ports["mariadb"]), "-u", "root", "-e",
                    "CREATE DATABASE microdash; CREATE USER microdash@'%' IDENTIFIED BY '" + database_password + "';"
                    " GRANT ALL ON microdash.* TO microdash@'%';"], check=True)
    redis_password = secrets[(f"{RELEASE}-microdash-redis", "redis-password")]
    subprocess.run(["redis-cli", "-p", str(instances.ports["redis"]), "CONFIG", "SET", "requirepass", redis_password],
                   check=True, capture_output=True)
    yield instances
    instances.stop()


def pod_environment(container: dict, rendered: dict, secrets: dict, services: ServiceInstances) -> dict[str, str]:
    """What the kubelet would give the container, with the Services' names pointed at the instances."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        config = rendered.get(("ConfigMap", source["configMapRef"]["name"]))
        assert config or source["configMapRef"].get("optional"), source
        env.update(config["data"] if config else {})
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = re.sub(r"\$\((\w+)\)", lambda match: env[match.group(1)], item["value"])
            continue
        reference = item["valueFrom"]["secretKeyRef"]
        if (reference["name"], reference["key"]) in secrets:
            env[item["name"]] = secrets[(reference["name"], reference["key"])]
        else:
            assert reference.get("optional"), reference
    for name, port in SERVICES.items():
        for key, value in env.items():
            env[key] = value.replace(f"{RELEASE}-microdash-{name}:{port}", f"127.0.0.1:{services.ports[name]}")
    return env


def run_container(container: dict, env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    base = {key: value for key, value in os.environ.items() if not key.startswith("MICRODASH_")}
    return subprocess.run(["microdash", *container["args"]], env={**base, **env}, capture_output=True, text=True,
                          timeout=120, **kwargs)


def _pod(rendered, kind: str, name: str) -> dict:
    return rendered[(kind, f"{RELEASE}-microdash-{name}")]["spec"]["template"]["spec"]


def test_the_migration_job_migrates_before_and_after_the_release_exists(rendered, secrets, services):
    container = _pod(rendered, "Job", "migrate")["containers"][0]
    database_only = {key: value for key, value in secrets.items() if key[0].endswith("-mariadb")}
    for objects, existing in (({}, database_only), (rendered, secrets)):  # pre-install, then pre-upgrade
        result = run_container(container, pod_environment(container, objects, existing, services))
        assert result.returncode == 0, result.stderr
        assert "schema up to date" in result.stdout


def test_the_bridges_init_containers_migrate_and_sync_the_broker(rendered, secrets, services):
    migrate, broker_sync = _pod(rendered, "StatefulSet", "bridge")["initContainers"]
    for container in (migrate, broker_sync):
        result = run_container(container, pod_environment(container, rendered, secrets, services))
        assert result.returncode == 0, (container["name"], result.stderr)
    assert "broker in sync" in result.stdout


def test_the_api_container_starts_in_production_mode_and_is_ready(rendered, secrets, services):
    api = _pod(rendered, "Deployment", "api")["containers"][0]
    env = pod_environment(api, rendered, secrets, services)
    assert env["MICRODASH_ENVIRONMENT"] == "production" and len(env["MICRODASH_SECRET_KEY"]) == 32
    port = free_port()
    env.update(MICRODASH_API_HOST="127.0.0.1", MICRODASH_API_PORT=str(port))  # 0.0.0.0:8080 may be taken here
    base = {key: value for key, value in os.environ.items() if not key.startswith("MICRODASH_")}
    process = subprocess.Popen(["microdash", *api["args"]], env={**base, **env}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline, answer = time.monotonic() + 60, None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}{api['readinessProbe']['httpGet']['path']}", timeout=2)
                if answer.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        assert answer is not None and answer.status_code == 200, process.stderr.read() if process.poll() else answer
        assert answer.json()["checks"] == {"database": "ok", "redis": "ok"}
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_worker_scheduler_and_bridge_run_with_the_pod_environment(rendered, secrets, services, tmp_path):
    """Each long-running container started as its pod would start it, watched until it is at work."""
    import redis

    pods = {"worker": _pod(rendered, "Deployment", "worker"), "scheduler": _pod(rendered, "Deployment", "scheduler"),
            "bridge": _pod(rendered, "StatefulSet", "bridge")}
    for init in pods["bridge"]["initContainers"]:  # the bridge's broker identity comes from broker sync
        assert run_container(init, pod_environment(init, rendered, secrets, services)).returncode == 0
    base = {key: value for key, value in os.environ.items() if not key.startswith("MICRODASH_")}
    processes, logs, envs = {}, {}, {}
    try:
        for name, pod in pods.items():
            container = pod["containers"][0]
            envs[name] = pod_environment(container, rendered, secrets, services)
            logs[name] = tmp_path / f"{name}.log"
            with open(logs[name], "wb") as log:
                processes[name] = subprocess.Popen(["microdash", *container["args"]], env={**base, **envs[name]},
                                                   stdout=log, stderr=subprocess.STDOUT)
        at_work = {
            "bridge": lambda: "bridge subscribed" in logs["bridge"].read_text(),
            "scheduler": lambda: "scheduler started" in logs["scheduler"].read_text(),
            "worker": lambda: redis.Redis.from_url(envs["worker"]["MICRODASH_REDIS_URL"]).scard("rq:workers") > 0,
        }
        deadline = time.monotonic() + 60
        while at_work and time.monotonic() < deadline:
            for name in list(at_work):
                assert processes[name].poll() is None, logs[name].read_text()
                if at_work[name]():
                    at_work.pop(name)
            time.sleep(0.3)
        assert not at_work, {name: logs[name].read_text()[-2000:] for name in at_work}
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            process.wait(timeout=30)
