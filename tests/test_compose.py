"""compose.yaml: what the file must hold (services, the images `make images` builds, healthchecks,
named volumes, real subcommands and settings), and `docker compose config` where the Compose
plugin exists. tests/compose runs it for real with podman-compose."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent
COMPOSE = REPO / "compose.yaml"
MICRODASH_SERVICES = {"prestart", "api", "worker", "scheduler", "bridge", "agent"}
DATASTORES = {"mariadb": r"docker\.io/library/mariadb:10\.11\.\d+", "redis": r"docker\.io/library/redis:7\.\d+\.\d+",
              "mosquitto": r"docker\.io/library/eclipse-mosquitto:2\.0\.\d+"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_it_runs_the_whole_stack(compose):
    assert set(compose["services"]) == MICRODASH_SERVICES | set(DATASTORES)
    for name, image in DATASTORES.items():
        assert re.fullmatch(image, compose["services"][name]["image"]), name
    server_image = "${MICRODASH_IMAGE:-ghcr.io/microdash/microdash:%s}" % chart_app_version()
    for name in MICRODASH_SERVICES:
        assert compose["services"][name]["build"] == "." and compose["services"][name]["image"] == server_image


def chart_app_version() -> str:
    return yaml.safe_load((REPO / "charts" / "microdash" / "Chart.yaml").read_text())["appVersion"]


def test_the_images_are_the_ones_make_images_builds(compose):
    """No registry here: `podman-compose up` must find every image in the local storage."""
    script = (REPO / "scripts" / "build-images.sh").read_text()
    assert "server=ghcr.io/microdash/microdash:$version" in script and "version=$(app_version)" in script
    values = yaml.safe_load((REPO / "charts" / "microdash" / "values.yaml").read_text())
    for name in DATASTORES:
        image = values[name]["image"]
        assert compose["services"][name]["image"] == f"{image['repository']}:{image['tag']}", name


def test_servers_have_healthchecks_and_dependents_wait_for_them(compose):
    services = compose["services"]
    for name in [*DATASTORES, "api"]:
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            expected = "service_completed_successfully" if dependency == "prestart" else "service_healthy"
            assert condition == {"condition": expected}, (name, dependency)
            assert dependency == "prestart" or "healthcheck" in services[dependency], (name, dependency)
    for name in MICRODASH_SERVICES - {"prestart"}:
        assert services[name]["depends_on"]["prestart"] == {"condition": "service_completed_successfully"}


def test_prestart_waits_for_the_database_and_the_broker_itself(compose):
    """podman 4.3 cannot start a service whose exited --requires dependency (prestart) has
    dependencies of its own; prestart waits with --wait instead, longer than MariaDB's healthcheck."""
    prestart = compose["services"]["prestart"]
    assert prestart["depends_on"] == {}
    wait = float(prestart["command"][prestart["command"].index("--wait") + 1])
    mariadb = compose["services"]["mariadb"]["healthcheck"]
    assert wait >= mariadb["retries"] * float(mariadb["interval"].rstrip("s"))


def test_data_lives_in_named_volumes(compose):
    declared = set(compose["volumes"])
    used = {volume.split(":")[0] for service in compose["services"].values() for volume in service.get("volumes", [])
            if not volume.startswith(("/", "./"))}
    assert used == declared == {"mariadb-data", "redis-data", "mosquitto-data", "microdash-run"}
    for name, path in (("mariadb", "/var/lib/mysql"), ("redis", "/data"), ("mosquitto", "/mosquitto/data")):
        assert f"{name}-data:{path}" in compose["services"][name]["volumes"]


def test_mosquitto_uses_the_charts_configuration_and_init_step(compose):
    mosquitto = compose["services"]["mosquitto"]
    mounts = {volume.split(":")[0]: volume.split(":")[1] for volume in mosquitto["volumes"]}
    for local, inside in (("./charts/microdash/files/mosquitto.conf", "/mosquitto/config/mosquitto.conf"),
                          ("./charts/microdash/files/mosquitto-init.sh", "/mosquitto/config/init.sh")):
        assert mounts[local] == inside and (REPO / local).is_file()
    assert "sh /mosquitto/config/init.sh && exec mosquitto -c /mosquitto/config/mosquitto.conf" in mosquitto["command"]


def test_redis_keeps_an_append_only_file(compose):
    command = compose["services"]["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--appendfsync") + 1] == "${REDIS_APPENDFSYNC:-always}"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"


def test_microdash_services_run_real_subcommands_with_real_settings(compose):
    from microdash_cli.main import app
    from microdash_core.settings import ENV_FILE_VARIABLE, Settings

    settings = {f"MICRODASH_{name.upper()}" for name in Settings.model_fields}
    runner = CliRunner()
    for name in MICRODASH_SERVICES:
        service = compose["services"][name]
        words = [word for word in service["command"] if not word.startswith(("-", "/"))]
        result = runner.invoke(app, [*words, "--help"])
        assert result.exit_code == 0, (name, result.output)
        for option in (word for word in service["command"] if word.startswith("--")):
            assert option in result.output, (name, option)
        names = set(service["environment"]) - {"MICRODASH_AGENT_PROCFS", "MICRODASH_AGENT_ROOTFS", ENV_FILE_VARIABLE}
        assert names <= settings, (name, names - settings)


def test_the_agent_reads_the_hosts_trees_read_only(compose):
    from microdash_agent.config import parse_config

    agent = compose["services"]["agent"]
    assert {"/proc:/host/proc:ro", "/:/host/root:ro"} <= set(agent["volumes"])
    config = parse_config(["--stdout"], environ={key: value for key, value in agent["environment"].items()
                                                 if key.startswith("MICRODASH_AGENT_")})
    assert (str(config.procfs), str(config.rootfs)) == ("/host/proc", "/host/root")


def _compose_command() -> list[str]:
    """Docker Compose where its plugin is installed, else podman-compose (the root dev group's pin)."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    return [str(Path(sys.executable).with_name("podman-compose"))]


def test_compose_accepts_and_resolves_the_file():
    result = subprocess.run([*_compose_command(), "--file", str(COMPOSE), "config"], capture_output=True, text=True,
                            cwd=REPO, env={**os.environ, "API_PORT": "18080"}, timeout=60)
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)["services"]
    assert resolved["api"]["image"] == f"ghcr.io/microdash/microdash:{chart_app_version()}"
    assert "$CONTROL/dynamic-security/v1/response" in resolved["mosquitto"]["healthcheck"]["test"]
    published = resolved["api"]["ports"][0]
    assert published == "127.0.0.1:18080:8080" or (published["host_ip"], str(published["published"])) == ("127.0.0.1", "18080")


def test_the_secret_key_is_generated_on_the_first_start_and_read_by_every_service(compose):
    """With a public secret key every MQTT password could be computed from a token's public id."""
    services = compose["services"]
    command = services["prestart"]["command"]
    secrets = command[command.index("--secrets") + 1]
    assert secrets.startswith("/var/lib/microdash/")
    for name in MICRODASH_SERVICES:
        assert services[name]["environment"]["MICRODASH_ENV_FILE"] == secrets, name
        assert any(volume.startswith("microdash-run:/var/lib/microdash") for volume in services[name]["volumes"]), name
    for port in (*services["api"]["ports"], *services["mosquitto"]["ports"]):
        assert port.startswith("127.0.0.1:"), port
