"""Flags, and MICRODASH_AGENT_* environment variables as their defaults."""

from pathlib import Path

import pytest

from microdash_agent.config import parse_config


def test_defaults():
    config = parse_config([], environ={})
    assert (config.interval, config.transport, config.mqtt_url, config.buffer_samples) == (
        10.0, "mqtt", "mqtt://127.0.0.1:1883", 100_000)
    assert config.jitter and not config.include_loopback and not config.once and not config.stdout
    assert config.procfs == Path("/proc") and config.rootfs == Path("/") and config.collectors is None


def test_environment_variables_set_defaults_and_flags_win():
    environ = {"MICRODASH_AGENT_INTERVAL": "2.5", "MICRODASH_AGENT_MQTT_PASSWORD": "s3cret",
               "MICRODASH_AGENT_TENANT": "acme", "MICRODASH_AGENT_JITTER": "false",
               "MICRODASH_AGENT_INCLUDE_LOOPBACK": "1", "MICRODASH_AGENT_COLLECTORS": "cpu, memory",
               "MICRODASH_AGENT_SPOOL_DIR": "/var/spool/agent"}
    config = parse_config(["--tenant", "globex"], environ=environ)
    assert config.interval == 2.5 and config.mqtt_password == "s3cret" and config.tenant == "globex"
    assert not config.jitter and config.include_loopback and config.collectors == ["cpu", "memory"]
    assert config.spool_dir == Path("/var/spool/agent")
    assert parse_config(["--jitter"], environ=environ).jitter


@pytest.mark.parametrize("argv", [
    ["--transport", "http"],
    ["--transport", "http", "--http-url", "http://api"],
    ["--interval", "0"],
    ["--buffer-samples", "0"],
    ["--mqtt-url", "tcp://broker:1883"],
    ["--transport", "carrier-pigeon"],
    ["--tenant", "acme/eu"],
    ["--host", "web+1"],
    ["--host", ""],
])
def test_invalid_settings_are_refused(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_config(argv, environ={})
    assert exit_info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_http_with_url_and_token_from_the_environment():
    config = parse_config(["--transport", "http"], environ={
        "MICRODASH_AGENT_HTTP_URL": "http://api:8000", "MICRODASH_AGENT_TOKEN": "t0ken"})
    assert (config.http_url, config.token) == ("http://api:8000", "t0ken")
