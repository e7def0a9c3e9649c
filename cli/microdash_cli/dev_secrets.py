"""Secrets for a local stack, generated once on its first start instead of public defaults.

With the default secret key every MQTT password could be computed from a token's public id, and the
broker's admin password would be known to anyone who read the docs.
"""

import os
import secrets
from pathlib import Path

GENERATED = ("MICRODASH_SECRET_KEY", "MICRODASH_MQTT_ADMIN_PASSWORD", "MICRODASH_MQTT_BRIDGE_PASSWORD")


def ensure_secrets_file(path: Path) -> bool:
    """Write `path` (mode 0600) with a random value for each secret, unless it exists. True if written."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{name}={secrets.token_urlsafe(32)}" for name in GENERATED]
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write("# generated on the first `make run`; the real environment overrides these\n")
        file.write("\n".join(lines) + "\n")
    return True
