"""Every container the chart renders, in every ci scenario: probes where it serves, resources,
a restricted security context; and what the containers run is what the code understands
(CLI subcommands, MICRODASH_* settings, agent options, the Mosquitto configuration)."""

import itertools
import os
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from chart_support import CHART, SCENARIOS, by_kind_and_name, component, containers, pod_spec, render, RELEASE

DATASTORES = {"mariadb", "redis", "mosquitto"}


def _all_containers(scenario):
    for doc in render(SCENARIOS[scenario]):
        for container in containers(doc):
            yield doc, container


def _where(doc, container) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']} container {container['name']}"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_container_has_requests_and_a_memory_limit(scenario):
    for doc, container in _all_containers(scenario):
        resources = container.get("resources", {})
        assert {"cpu", "memory"} <= set(resources.get("requests", {})), _where(doc, container)
        assert "memory" in resources.get("limits", {}), _where(doc, container)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_container_runs_restricted(scenario):
    for doc, container in _all_containers(scenario):
        context, pod_context = container.get("securityContext", {}), pod_spec(doc).get("securityContext", {})
        where = _where(doc, container)
        assert context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is True, where
        assert context.get("readOnlyRootFilesystem") is True, where
        assert context.get("allowPrivilegeEscalation") is False, where
        assert context.get("capabilities") == {"drop": ["ALL"]}, where
        assert (context.get("seccompProfile") or pod_context.get("seccompProfile")) == {"type": "RuntimeDefault"}, where
        assert not context.get("privileged"), where


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_serving_container_has_probes(scenario):
    for doc, container in _all_containers(scenario):
        if not container.get("ports"):
            continue
        where = _where(doc, container)
        assert "readinessProbe" in container and "livenessProbe" in container, where
        if any(port["name"] in ("http", "health") for port in container["ports"]):
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", where
            ready = "/readyz" if container["name"] == "api" else "/healthz"
            assert container["readinessProbe"]["httpGet"]["path"] == ready, where


def test_only_the_api_and_the_operators_health_endpoint_listen_among_microdash_containers():
    serving = {(component(doc), container["name"]) for doc, container in _all_containers("default")
               if container.get("ports")}
    assert serving == {("api", "api"), ("operator", "operator"), ("mariadb", "mariadb"), ("redis", "redis"),
                       ("mosquitto", "mosquitto")}


def test_the_agent_sees_the_host_read_only_and_runs_on_every_node():
    docs = render(SCENARIOS["default"])
    daemonset = by_kind_and_name(docs)[("DaemonSet", f"{RELEASE}-microdash-agent")]
    spec = daemonset["spec"]["template"]["spec"]
    assert spec["hostNetwork"] is True and spec["hostPID"] is False
    assert spec["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert spec["tolerations"] == [{"operator": "Exists"}]
    agent = spec["containers"][0]
    mounts = {mount["mountPath"]: mount for mount in agent["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    for path, host_path in (("/host/proc", "/proc"), ("/host/root", "/")):
        assert mounts[path]["readOnly"] is True
        assert volumes[mounts[path]["name"]]["hostPath"] == {"path": host_path}
    assert agent["args"][:4] == ["--procfs", "/host/proc", "--rootfs", "/host/root"]
    assert agent["resources"]["limits"]["memory"] == "64Mi"
    secrets = {item["valueFrom"]["secretKeyRef"]["key"] for item in agent["env"]
               if "secretKeyRef" in item.get("valueFrom", {})}
    assert secrets == {"tenant", "mqtt-username", "mqtt-password", "mqtt-topic-prefix"}
    assert {item["valueFrom"]["secretKeyRef"]["name"] for item in agent["env"]
            if "secretKeyRef" in item.get("valueFrom", {})} == {"nodes-microdash-token"}


def test_the_agent_understands_every_variable_and_flag_it_is_given():
    from microdash_agent.config import parse_config

    docs = render(SCENARIOS["default"])
    agent = by_kind_and_name(docs)[("DaemonSet", f"{RELEASE}-microdash-agent")]["spec"]["template"]["spec"]["containers"][0]
    environ = {item["name"]: "value-from-secret" for item in agent["env"]}
    environ.update({item["name"]: item["value"] for item in agent["env"] if "value" in item})
    environ["MICRODASH_AGENT_MQTT_URL"] = "mqtt://broker:1883"  # the Service's name
    environ["MICRODASH_AGENT_MQTT_TOPIC_PREFIX"] = "microdash/nodes/"  # as the operator writes it
    known = {f"MICRODASH_AGENT_{name.upper()}" for name in parse_config(["--stdout"], environ={})._fields}
    assert set(environ) <= known, set(environ) - known
    config = parse_config(agent["args"], environ=environ)
    assert (str(config.procfs), str(config.rootfs), config.interval) == ("/host/proc", "/host/root", 15.0)
    assert config.mqtt_username == config.mqtt_password == config.tenant == "value-from-secret"
    assert config.mqtt_topic_prefix == "microdash/nodes/"


def _microdash_env_names(docs) -> set[str]:
    names = set(by_kind_and_name(docs)[("ConfigMap", f"{RELEASE}-microdash-config")]["data"])
    for doc in docs:
        if component(doc) in DATASTORES | {"agent"}:
            continue
        for container in containers(doc):
            names |= {item["name"] for item in container.get("env", [])}
    return names


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_microdash_variable_is_a_setting(scenario):
    from microdash_core.settings import Settings

    settings = {f"MICRODASH_{name.upper()}" for name in Settings.model_fields}
    # inputs of the URLs (Kubernetes expands $(VAR)), and the helm test's own variables
    helpers = {"MICRODASH_DATABASE_PASSWORD", "MICRODASH_REDIS_PASSWORD", "MICRODASH_API_URL", "MICRODASH_TOKEN"}
    unknown = _microdash_env_names(render(SCENARIOS[scenario])) - settings - helpers
    assert unknown == set()


def test_the_rendered_urls_are_understood_by_the_settings():
    from microdash_core.db import DatabaseAddress

    docs = render(SCENARIOS["default"])
    api = by_kind_and_name(docs)[("Deployment", f"{RELEASE}-microdash-api")]["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item.get("value") for item in api["env"]}
    url = env["MICRODASH_DATABASE_URL"].replace("$(MICRODASH_DATABASE_PASSWORD)", "s3cret")
    address = DatabaseAddress.from_url(url)
    assert (address.user, address.password, address.host, address.port, address.database) == (
        "microdash", "s3cret", f"{RELEASE}-microdash-mariadb", 3306, "microdash")


def _server_commands(scenario) -> set[tuple[str, ...]]:
    commands = set()
    for doc in render(SCENARIOS[scenario]):
        if component(doc) in DATASTORES | {"agent"}:
            continue
        for container in containers(doc):
            if "command" not in container:  # the image's entry point: microdash
                commands.add(tuple(container["args"]))
    return commands


def test_every_server_container_runs_a_real_microdash_subcommand():
    from microdash_cli.main import app

    commands = set().union(*(_server_commands(scenario) for scenario in SCENARIOS))
    assert {("worker",), ("scheduler",), ("bridge",), ("broker", "sync"), ("migrate", "--schema-only", "--wait", "300"),
            ("operator", "--liveness", "http://0.0.0.0:8081/healthz")} <= commands
    runner = CliRunner()
    for args in commands:
        subcommand = list(itertools.takewhile(lambda arg: not arg.startswith("--"), args))
        options = [arg for arg in args if arg.startswith("--")]
        result = runner.invoke(app, [*subcommand, "--help"])
        assert result.exit_code == 0, (args, result.output)
        for option in options:
            assert option in result.output, (args, option)


def test_the_mosquitto_configuration_mirrors_make_run(tmp_path):
    from microdash_cli import localstack

    (tmp_path / "dynamic-security.json").write_text("{}")  # skips `dynsec init`
    localstack.mosquitto_argv(tmp_path, 1883, admin_password="unused")
    local = _directives((tmp_path / "mosquitto.conf").read_text())
    chart = _directives((CHART / "files" / "mosquitto.conf").read_text())
    paths = {"plugin", "plugin_opt_config_file", "persistence_location", "listener", "user", "log_dest"}
    assert {key: value for key, value in chart.items() if key not in paths} == \
           {key: value for key, value in local.items() if key not in paths}
    assert chart["listener"] == "1883" and chart["plugin"].endswith("mosquitto_dynamic_security.so")
    assert chart["plugin_opt_config_file"] == "/mosquitto/data/dynamic-security.json"


def _directives(text: str) -> dict[str, str]:
    lines = [line.split(None, 1) for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return {key: value.strip() for key, value in lines}


def test_the_broker_init_script_creates_the_admin_once(tmp_path):
    script = (CHART / "files" / "mosquitto-init.sh").read_text().replace("/mosquitto/data", str(tmp_path))
    (tmp_path / "init.sh").write_text(script)
    env = {**os.environ, "MICRODASH_MQTT_ADMIN_PASSWORD": "first"}
    subprocess.run(["sh", str(tmp_path / "init.sh")], env=env, check=True, capture_output=True)
    state = (tmp_path / "dynamic-security.json").read_text()
    assert '"username":\t"microdash-admin"' in state or '"username": "microdash-admin"' in state
    subprocess.run(["sh", str(tmp_path / "init.sh")], env={**env, "MICRODASH_MQTT_ADMIN_PASSWORD": "second"},
                   check=True, capture_output=True)
    assert (tmp_path / "dynamic-security.json").read_text() == state


def test_the_helm_test_script_ingests_a_sample_and_reads_it_back(stack):
    _, token = stack.new_tenant("helmtest")
    script = CHART / "files" / "smoke-test.py"
    env = {**os.environ, "MICRODASH_API_URL": stack.api_url, "MICRODASH_TOKEN": token}
    passed = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=90)
    assert passed.returncode == 0, passed.stderr
    assert re.search(r"microdash\.helm_test\{run=[0-9a-f]+\} ingested and read back", passed.stdout)
    refused = subprocess.run([sys.executable, str(script)], env={**env, "MICRODASH_TOKEN": "mdt_wrong"},
                             capture_output=True, text=True, timeout=90)
    assert refused.returncode == 1 and "ingest answered 401" in refused.stderr
