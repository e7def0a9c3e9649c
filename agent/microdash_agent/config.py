"""Command-line flags, each with a MICRODASH_AGENT_<FLAG> environment variable as its default."""

import argparse
import os
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

ENV_PREFIX = "MICRODASH_AGENT_"


class AgentConfig(NamedTuple):
    interval: float
    jitter: bool
    host: str
    tenant: str
    transport: str
    stdout: bool
    once: bool
    mqtt_url: str
    mqtt_username: str | None
    mqtt_password: str | None
    mqtt_ca_file: str | None
    mqtt_client_id: str | None
    mqtt_topic_prefix: str | None
    http_url: str | None
    token: str | None
    timeout: float
    buffer_samples: int
    spool_dir: Path | None
    procfs: Path
    rootfs: Path
    include_loopback: bool
    collectors: list[str] | None
    log_level: str


def _comma_list(text: str) -> list[str] | None:
    names = [name.strip() for name in text.split(",") if name.strip()]
    return names or None


def _truthy(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="microdash-agent", description="Collect host metrics and ship them to microdash.",
        epilog=f"Every flag can also be set as an environment variable: --mqtt-url as {ENV_PREFIX}MQTT_URL.")

    def option(flag: str, default: str | None = None, **kwargs) -> None:
        env_name = ENV_PREFIX + flag.lstrip("-").replace("-", "_").upper()
        kwargs["help"] = f"{kwargs.get('help', '')} (env {env_name})".strip()
        if kwargs.get("action") in ("store_true", argparse.BooleanOptionalAction):
            parser.add_argument(flag, default=_truthy(environ.get(env_name, default or "")), **kwargs)
        else:
            # argparse runs `type` on string defaults too, so the variable is parsed like the flag.
            parser.add_argument(flag, default=environ.get(env_name, default), **kwargs)

    option("--interval", "10", type=float, help="seconds between collections")
    option("--jitter", "true", action=argparse.BooleanOptionalAction,
           help="wait a random part of one interval before the first collection")
    option("--host", socket.gethostname(), help="value of the host label")
    option("--tenant", "default", help="tenant name, used in the MQTT topic")
    option("--transport", "mqtt", choices=("mqtt", "http"), help="how samples are shipped")
    option("--stdout", action="store_true", help="print samples as JSON instead of shipping them")
    option("--once", action="store_true", help="collect once (two readings 1 s apart, for rates), ship, exit")
    option("--mqtt-url", "mqtt://127.0.0.1:1883", help="mqtt://host:port, or mqtts://host:port for TLS")
    option("--mqtt-username", help="MQTT user name")
    option("--mqtt-password", help="MQTT password")
    option("--mqtt-ca-file", help="CA bundle that signed the broker's certificate (mqtts)")
    option("--mqtt-client-id", help="MQTT client id (default: microdash-agent-<host>-<random>)")
    option("--mqtt-topic-prefix", help="the tenant's topic prefix, as in its credentials (default: microdash/<tenant>/)")
    option("--http-url", help="base URL of the microdash API, for --transport http")
    option("--token", help="tenant API token, for --transport http")
    option("--timeout", "10", type=float, help="seconds to wait for a connection or an acknowledgement")
    option("--buffer-samples", "100000", type=int, help="samples kept while the broker/API is unreachable")
    option("--spool-dir", type=Path, help="keep the unsent buffer on disk here, across restarts")
    option("--procfs", "/proc", type=Path, help="where the host's /proc is mounted")
    option("--rootfs", "/", type=Path, help="where the host's / is mounted")
    option("--include-loopback", action="store_true", help="report the loopback interface too")
    option("--collectors", "", type=_comma_list, help="comma-separated collectors to run (default: all)")
    option("--log-level", "INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"), type=str.upper)
    return parser


def parse_config(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> AgentConfig:
    parser = build_parser(os.environ if environ is None else environ)
    config = AgentConfig(**vars(parser.parse_args(argv)))
    problem = _problem(config)
    if problem:
        parser.error(problem)
    return config


def _problem(config: AgentConfig) -> str | None:
    if config.interval <= 0:
        return "--interval must be positive"
    if config.buffer_samples < 1:
        return "--buffer-samples must be at least 1"
    for flag, value in (("--host", config.host), ("--tenant", config.tenant)):
        if not value or any(char in value for char in "/+#"):
            return f"{flag} must be non-empty and hold no '/', '+' or '#' (it is part of the MQTT topic)"
    prefix = config.mqtt_topic_prefix
    if prefix is not None and (not prefix.endswith("/") or any(char in prefix for char in "+#")):
        return "--mqtt-topic-prefix must end with '/' and hold no '+' or '#'"
    if config.stdout:
        return None
    if config.transport == "http" and not (config.http_url and config.token):
        return "--transport http needs --http-url and --token"
    if config.transport == "mqtt" and not config.mqtt_url.startswith(("mqtt://", "mqtts://")):
        return "--mqtt-url must start with mqtt:// or mqtts://"
    return None
