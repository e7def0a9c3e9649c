"""The demo tenant and admin that `make run` creates when absent."""

import os
import secrets
from pathlib import Path

from microdash_core import db
from microdash_core.errors import NotFound
from microdash_core.settings import Settings
from microdash_core.tenants import api_tokens, directory, memberships

DEMO_TENANT = "demo"
DEMO_ADMIN = "admin@example.com"


def seed_demo(settings: Settings, credentials_file: Path) -> dict[str, str]:
    """Create the demo tenant, its admin and a token if missing. Credentials are kept in a local,
    git-ignored file because a token cannot be shown again once only its hash is stored."""
    saved = _read(credentials_file)
    with db.transaction(settings) as cursor:
        try:
            tenant = directory.get_tenant(cursor, name=DEMO_TENANT)
        except NotFound:
            tenant = directory.create_tenant(cursor, name=DEMO_TENANT, display_name="Demo")
            saved.pop("token", None)
        if memberships.find_user(cursor, email=DEMO_ADMIN) is None:
            saved["password"] = secrets.token_urlsafe(12)
            user = memberships.create_user(cursor, email=DEMO_ADMIN, password=saved["password"])
            memberships.grant(cursor, user=user, tenant=tenant, role="admin")
        if "token" not in saved:
            saved["token"] = api_tokens.issue_token(cursor, tenant=tenant, name="demo")
    saved.setdefault("password", "(set before; see the first run's output)")
    saved["login"] = DEMO_ADMIN
    credentials_file.parent.mkdir(parents=True, exist_ok=True)
    # replaced whole: a reader (the compose agent, a second prestart) never sees half a file
    partial = credentials_file.with_name(f".{credentials_file.name}.{os.getpid()}")
    partial.write_text("".join(f"{key}={value}\n" for key, value in saved.items()))
    partial.chmod(0o600)
    os.replace(partial, credentials_file)
    return saved


def _read(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key: value for key, value in pairs}
