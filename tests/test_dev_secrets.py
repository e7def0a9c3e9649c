"""A local stack generates its secrets once, and production refuses every public default."""

import os
import stat
import subprocess

import pytest
from pydantic import ValidationError

from microdash_cli.dev_secrets import GENERATED, ensure_secrets_file
from microdash_core.settings import ENV_FILE_VARIABLE, Settings


def test_secrets_are_generated_once_and_private(tmp_path):
    path = tmp_path / "run" / "secrets.env"
    assert ensure_secrets_file(path)
    first = path.read_text()
    assert not ensure_secrets_file(path) and path.read_text() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    values = dict(line.split("=", 1) for line in first.splitlines() if not line.startswith("#"))
    assert set(values) == set(GENERATED) and len(set(values.values())) == 3


def test_settings_read_the_env_file_below_the_real_environment(tmp_path):
    path = tmp_path / "secrets.env"
    ensure_secrets_file(path)
    generated = dict(line.split("=", 1) for line in path.read_text().splitlines() if not line.startswith("#"))
    script = ("from microdash_core.settings import get_settings; s = get_settings();"
              "print(s.secret_key); print(s.mqtt_admin_password)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MICRODASH_")}
    env |= {ENV_FILE_VARIABLE: str(path), "MICRODASH_MQTT_ADMIN_PASSWORD": "from-the-environment"}
    out = subprocess.run(["python", "-c", script], env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out == [generated["MICRODASH_SECRET_KEY"], "from-the-environment"]


@pytest.mark.parametrize("missing", ["secret_key", "mqtt_admin_password", "mqtt_bridge_password"])
def test_production_refuses_each_public_default(missing):
    chosen = {"secret_key": "s" * 32, "mqtt_admin_password": "a" * 20, "mqtt_bridge_password": "b" * 20}
    del chosen[missing]
    with pytest.raises(ValidationError, match=f"MICRODASH_{missing.upper()}"):
        Settings(environment="production", **chosen)
    Settings(environment="production", **chosen, **{missing: "x" * 20})

