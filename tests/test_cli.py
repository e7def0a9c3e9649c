"""The `microdash` command against the real database."""

import os
import subprocess
import uuid

import httpx

from microdash_core import chunks, db
from support import insert_chunk, recent_ms


def run(stack, *args, input=None, check=True, env=None):
    result = subprocess.run(["microdash", *args], env={**os.environ, **stack.env, **(env or {})}, capture_output=True,
                            text=True, input=input, timeout=60)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def _field(output: str, name: str) -> str:
    return next(line.split(": ", 1)[1] for line in output.splitlines() if line.startswith(name + ": "))


def test_tenant_lifecycle(stack):
    name = f"cli-{uuid.uuid4().hex[:8]}"
    created = run(stack, "tenant", "create", name, "--display-name", "CLI tenant", "--rate-limit", "500",
                  "--max-series", "1")
    token = _field(created.stdout, "token")
    assert name in run(stack, "tenant", "list").stdout
    assert run(stack, "tenant", "create", name, check=False).returncode == 1  # already exists, clear error

    with httpx.Client(base_url=stack.api_url, headers={"Authorization": f"Bearer {token}"}) as client:
        assert client.post("/api/v1/metrics", json={"metric": "m", "value": 1}).status_code == 202
        assert client.post("/api/v1/metrics", json={"metric": "second", "value": 1}).status_code == 422
        rotated = _field(run(stack, "tenant", "rotate-token", name).stdout, "token")
        assert rotated != token
        assert client.get("/api/v1/series", headers={"Authorization": f"Bearer {rotated}"}).status_code == 200

    (tenant_id, rate_limit, max_series), = stack.sql(
        "SELECT id, ingest_rate_limit, max_series FROM tenants WHERE name = %s", (name,))
    assert (rate_limit, max_series) == (500, 1)
    stack.wait_for_samples(tenant_id, 1)
    (series_id,), = stack.sql("SELECT id FROM series WHERE tenant_id = %s", (tenant_id,))
    sealed_window = chunks.window_of(recent_ms()) - chunks.WINDOW_MS
    with db.transaction(stack.settings) as cursor:  # as if the sealer had sealed two earlier samples
        insert_chunk(cursor, tenant_id=tenant_id, series_id=series_id, timestamps=[sealed_window, sealed_window + 1],
                     values=[1.0, 2.0])
    deleted = run(stack, "tenant", "delete", name, "--yes")
    assert "3 samples" in deleted.stdout
    assert stack.sql("SELECT COUNT(*) FROM series WHERE tenant_id = %s", (tenant_id,)) == [(0,)]
    assert stack.count_samples(tenant_id) == 0
    assert run(stack, "tenant", "delete", "no-such-tenant", "--yes", check=False).returncode == 1


def test_invalid_tenant_name_is_refused(stack):
    result = run(stack, "tenant", "create", "Not_Valid", check=False)
    assert result.returncode == 1 and "DNS label" in result.stderr


def test_user_create_and_login(stack):
    tenant, _ = stack.new_tenant()
    email = f"{tenant.name}@example.com"
    run(stack, "user", "create", email, "--tenant", tenant.name, "--role", "admin", "--password", "s3cret-pass")
    (stored,), = stack.sql("SELECT password_hash FROM users WHERE email = %s", (email,))
    assert stored.startswith("$argon2id$")
    response = httpx.post(stack.api_url + "/api/v1/auth/login", json={"email": email, "password": "s3cret-pass"})
    assert response.status_code == 200
    assert {key: response.json()[key] for key in ("email", "tenant", "role")} == {
        "email": email, "tenant": tenant.name, "role": "admin"}


def test_user_roles_listing_removal_and_deletion(stack):
    first, _ = stack.new_tenant("ucli")
    second, _ = stack.new_tenant("ucli")
    email = stack.new_user([(first, "viewer")])
    run(stack, "user", "set-role", email, "--tenant", first.name, "--role", "admin")
    run(stack, "user", "set-role", email, "--tenant", second.name, "--role", "viewer")  # adds the membership
    assert f"{email}\t{first.name}\tadmin" in run(stack, "user", "list", "--tenant", first.name).stdout
    listed = [line for line in run(stack, "user", "list").stdout.splitlines() if line.startswith(email)]
    assert listed == sorted([f"{email}\t{first.name}\tadmin", f"{email}\t{second.name}\tviewer"])
    assert run(stack, "user", "set-role", email, "--tenant", first.name, "--role", "owner", check=False).returncode == 2
    assert run(stack, "user", "set-role", "nobody@example.test", "--tenant", first.name, "--role", "admin",
               check=False).returncode == 1

    run(stack, "user", "delete", email, "--tenant", second.name)
    assert email not in run(stack, "user", "list", "--tenant", second.name).stdout
    assert run(stack, "user", "delete", email, "--tenant", second.name, check=False).returncode == 1  # not a member
    run(stack, "user", "delete", email)
    assert email not in run(stack, "user", "list").stdout
    assert stack.sql("SELECT COUNT(*) FROM users WHERE email = %s", (email,)) == [(0,)]
    assert run(stack, "user", "delete", email, check=False).returncode == 1


def test_user_delete_and_revoke_sessions_end_open_sessions(stack):
    tenant, _ = stack.new_tenant("ucli")
    revoked, deleted = stack.new_user([(tenant, "admin")]), stack.new_user([(tenant, "admin")])
    with stack.session_client(revoked) as revoked_client, stack.session_client(deleted) as deleted_client:
        assert revoked_client.get("/api/v1/auth/me").status_code == 200
        assert deleted_client.get("/api/v1/auth/me").status_code == 200
        run(stack, "user", "revoke-sessions", revoked)
        run(stack, "user", "delete", deleted)
        assert revoked_client.get("/api/v1/auth/me").status_code == 401  # at once: no cache in between
        assert deleted_client.get("/api/v1/series").status_code == 401
    with stack.session_client(revoked) as again:
        assert again.get("/api/v1/auth/me").status_code == 200
    assert run(stack, "user", "revoke-sessions", "nobody@example.test", check=False).returncode == 1


def test_prestart_generates_the_secret_key_on_the_first_start(stack, tmp_path):
    """compose.yaml's prestart: every MQTT password derives from the generated key, not the public one."""
    import re

    from microdash_core.broker import mqtt_password
    from microdash_core.settings import Settings

    secrets = tmp_path / "secrets.env"
    keep_the_bridge = {"MICRODASH_MQTT_BRIDGE_PASSWORD": Settings().mqtt_bridge_password}  # the shared stack's
    output = run(stack, "prestart", "--credentials", str(tmp_path / "demo-credentials"), "--secrets", str(secrets),
                 env=keep_the_bridge).stderr  # the banner
    generated = dict(line.split("=", 1) for line in secrets.read_text().splitlines() if not line.startswith("#"))
    username, password = re.search(r"username (\S+)\s+password (\S+)", output).groups()
    assert password == mqtt_password(Settings(secret_key=generated["MICRODASH_SECRET_KEY"]), username)
    assert password != mqtt_password(Settings(), username)


def test_samples_export_prints_a_tenants_samples_from_the_head_and_sealed_chunks(stack):
    import json

    tenant, token = stack.new_tenant("export")
    other, other_token = stack.new_tenant("export-other")
    now = recent_ms()
    samples = [{"metric": "export.m", "value": float(i), "ts": now - 1000 + i, "labels": {"host": "a"}} for i in range(3)]
    for client_token, body in ((token, samples), (other_token, [{**samples[0], "value": 99.0}])):
        with stack.client(client_token) as client:
            assert client.post("/api/v1/metrics/bulk", json=body).status_code == 202
    stack.wait_for_samples(tenant.id, 3)
    stack.wait_for_samples(other.id, 1)
    (series_id,), = stack.sql("SELECT id FROM series WHERE tenant_id = %s", (tenant.id,))
    sealed_window = chunks.window_of(now) - chunks.WINDOW_MS
    with db.transaction(stack.settings) as cursor:  # as if the sealer had sealed an earlier sample
        insert_chunk(cursor, tenant_id=tenant.id, series_id=series_id, timestamps=[sealed_window], values=[-1.0])

    exported = [json.loads(line) for line in run(stack, "samples", "export", tenant.name, "export.m").stdout.splitlines()]
    sealed = {"metric": "export.m", "value": -1.0, "ts": sealed_window, "labels": {"host": "a"}}
    assert exported == [sealed, *samples]  # the other tenant's sample of the same metric is not there
    since = run(stack, "samples", "export", tenant.name, "export.m", "--start", str(now - 999)).stdout.splitlines()
    assert [json.loads(line)["value"] for line in since] == [1.0, 2.0]

    too_many = run(stack, "samples", "export", tenant.name, "export.m", "--limit", "2", check=False)
    assert too_many.returncode == 1 and "exceed --limit 2" in too_many.stderr and not too_many.stdout
    for args, reason in (((tenant.name, "no such metric!"), "metric must match"),
                         (("no-such-tenant", "export.m"), "does not exist")):
        refused = run(stack, "samples", "export", *args, check=False)
        assert refused.returncode == 1 and reason in refused.stderr, refused.stderr
    assert run(stack, "samples", "export", tenant.name, "unknown.metric").stdout == ""
