"""Channels cannot reach the platform's own network: internal targets are refused when a channel
is saved and again at every send, redirects are not followed, and the delivery log says only a
coarse class of what went wrong. The test stack allows 127.0.0.1/32 (its receivers listen there);
the tests that need the default policy use settings, or an api, without that allow-list."""

import socket
from urllib.parse import urlsplit

import httpx
import pytest

from alerting_support import Receiver, firing_notification, self_signed_certificate, smtp_server
from microdash_cli.localstack import free_port
from microdash_core.settings import Settings
from microdash_workers.notify import deliver
from support import extra_api

REFUSED = "refused: internal address"
COARSE_CLASSES = {REFUSED, "dns failed", "connect failed", "timeout", "tls error", "http 5xx",
                  "http 3xx (redirects are not followed)"}


@pytest.fixture(scope="module")
def strict_api(stack, tmp_path_factory):
    """An api with the default policy: no network allowed beyond the public internet."""
    with extra_api(stack, tmp_path_factory.mktemp("strict-api"), MICRODASH_NOTIFY_ALLOWED_CIDRS="") as url:
        yield url


def strict_settings(stack, **overrides) -> Settings:
    return Settings(**{**stack.settings.model_dump(), "notify_allowed_cidrs": [], "notify_max_attempts": 1,
                       **overrides})


def internal_targets(redis_port: int) -> list[tuple[str, dict]]:
    urls = [f"http://127.0.0.1:{redis_port}/", "http://[::1]/hook", "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/", "http://172.16.5.4/", "http://192.168.0.1/", "http://100.64.0.1/",
            "http://[fc00::1]/", "http://[fe80::1]/", "http://224.0.0.1/", "http://0.0.0.0/", "http://[::]/",
            "http://240.0.0.1/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:169.254.169.254]/",
            "http://[64:ff9b::a9fe:a9fe]/", f"http://localhost:{redis_port}/", "http://2130706433/",
            "https://127.1/"]
    email = {"sender": "a@microdash.test", "recipients": ["ops@example.test"], "tls": "none"}
    return ([("webhook", {"url": url}) for url in urls] + [("slack", {"url": "http://127.0.0.1:8080/"})]
            + [("email", {**email, "host": host, "port": port}) for host, port in
               (("127.0.0.1", redis_port), ("::1", 25), ("169.254.169.254", 25), ("localhost", 25))])


def test_saving_a_channel_aimed_at_an_internal_target_is_refused(stack, strict_api):
    _, token = stack.new_tenant()
    redis_port = urlsplit(stack.env["MICRODASH_REDIS_URL"]).port
    with httpx.Client(base_url=strict_api, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        for index, (kind, config) in enumerate(internal_targets(redis_port)):
            response = client.post("/api/v1/alerts/channels", json={"name": f"c{index}", "kind": kind, "config": config})
            assert response.status_code == 422, (config, response.text)
            assert "internal address" in response.json()["detail"], response.text
        created = client.post("/api/v1/alerts/channels", json={"name": "ok", "kind": "webhook",
                                                                "config": {"url": "https://93.184.215.14/hook"}})
        assert created.status_code == 201, created.text
        # a name that does not resolve now is taken: the check at every send is the one that counts
        later = client.post("/api/v1/alerts/channels", json={"name": "later", "kind": "webhook",
                                                              "config": {"url": "https://hooks.invalid/x"}})
        assert later.status_code == 201, later.text
        changed = client.put(f"/api/v1/alerts/channels/{created.json()['id']}",
                             json={"name": "ok", "kind": "webhook", "config": {"url": "http://10.1.1.1/"}})
        assert changed.status_code == 422


def test_the_allow_list_admits_exactly_its_networks(stack):
    _, token = stack.new_tenant()  # the stack's api allows 127.0.0.1/32
    with stack.client(token) as client:
        allowed = client.post("/api/v1/alerts/channels", json={"name": "a", "kind": "webhook",
                                                                "config": {"url": "http://127.0.0.1:9/hook"}})
        assert allowed.status_code == 201, allowed.text
        for url in ("http://127.0.0.2:9/hook", "http://[::1]:9/hook", "http://169.254.169.254/"):
            response = client.post("/api/v1/alerts/channels", json={"name": "b", "kind": "webhook",
                                                                     "config": {"url": url}})
            assert response.status_code == 422, url


def test_no_tenant_chosen_file_paths(stack):
    _, token = stack.new_tenant()
    email = {"host": "smtp.example.org", "sender": "a@example.org", "recipients": ["ops@example.org"], "tls": "tls"}
    with stack.client(token) as client:
        path = client.post("/api/v1/alerts/channels", json={"name": "m", "kind": "email",
                                                             "config": {**email, "cert_bundle": "/etc/shadow"}})
        assert path.status_code == 422 and "ca_pem" in path.text
        junk = client.post("/api/v1/alerts/channels", json={"name": "m", "kind": "email",
                                                             "config": {**email, "ca_pem": "/etc/ssl/ca.pem"}})
        assert junk.status_code == 422 and "no valid PEM" in junk.text


def test_a_name_resolving_to_loopback_is_refused_at_send_time(stack):
    tenant, _ = stack.new_tenant()
    with Receiver() as receiver:
        notification_id = firing_notification(stack, tenant.id, config={"url": f"http://localhost:{receiver.port}/x"})
        assert deliver(notification_id, strict_settings(stack)) == "failed"
    assert receiver.requests == []
    assert stack.sql("SELECT status, error FROM deliveries WHERE notification_id = %s",
                     (notification_id,)) == [("error", REFUSED)]


def test_the_connection_is_pinned_but_keeps_the_name_for_host_and_tls(stack, localhost_certificate):
    """Through the allow-list, https://localhost:port reaches 127.0.0.1 and checks the certificate
    against the name; the same receiver by address fails, its certificate not being for the address."""
    cert_pem, server_context = localhost_certificate
    tenant, _ = stack.new_tenant()
    with Receiver(tls=server_context) as receiver:
        named = firing_notification(stack, tenant.id, config={"url": f"https://localhost:{receiver.port}/x",
                                                              "ca_pem": cert_pem})
        assert deliver(named, stack.settings) == "sent"
        other, _ = stack.new_tenant()
        by_address = firing_notification(stack, other.id, config={"url": f"https://127.0.0.1:{receiver.port}/x",
                                                                   "ca_pem": cert_pem})
        assert deliver(by_address, strict_settings(stack, notify_allowed_cidrs=["127.0.0.1/32"])) == "failed"
    (headers, _body), = receiver.requests
    assert headers["Host"] == f"localhost:{receiver.port}"
    assert stack.sql("SELECT error FROM deliveries WHERE notification_id = %s", (by_address,)) == [("tls error",)]


def test_redirects_are_not_followed(stack):
    tenant, _ = stack.new_tenant()
    with Receiver() as elsewhere, Receiver(statuses=[302], location=None) as first:
        first.location = f"http://127.0.0.1:{elsewhere.port}/internal"
        notification_id = firing_notification(stack, tenant.id, config={"url": first.url})
        assert deliver(notification_id, strict_settings(stack, notify_allowed_cidrs=["127.0.0.1/32"])) == "failed"
    assert len(first.requests) == 1 and elsewhere.requests == []
    assert stack.sql("SELECT http_status, error FROM deliveries WHERE notification_id = %s",
                     (notification_id,)) == [(302, "http 3xx (redirects are not followed)")]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_email_to_an_internal_address_is_refused(stack, host):
    tenant, _ = stack.new_tenant()
    with smtp_server() as (handler, port):
        notification_id = firing_notification(stack, tenant.id, kind="email", config={
            "host": host, "port": port, "tls": "none", "sender": "a@microdash.test",
            "recipients": ["ops@example.test"]})
        assert deliver(notification_id, strict_settings(stack)) == "failed"
    assert handler.messages == []
    assert stack.sql("SELECT error FROM deliveries WHERE notification_id = %s", (notification_id,)) == [(REFUSED,)]


def test_the_delivery_log_shows_only_coarse_classes(stack):
    """Each failure a prober would learn from (refused port, silent port, plain HTTP behind https,
    unknown name, internal address, server error) reads as a class, with no address, port or
    library message in it."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    closed_port, silent_port = free_port(), silent.getsockname()[1]
    logged = []
    with Receiver() as plain, Receiver(statuses=[503]) as failing:
        urls = {f"http://127.0.0.1:{closed_port}/x": "connect failed", f"http://127.0.0.1:{silent_port}/x": "timeout",
                f"https://127.0.0.1:{plain.port}/x": "tls error", "http://no-such-host.invalid/x": "dns failed",
                "http://169.254.169.254/latest/meta-data/": REFUSED, failing.url: "http 5xx"}
        settings = strict_settings(stack, notify_allowed_cidrs=["127.0.0.1/32"], notify_timeout_seconds=1)
        for url in urls:
            tenant, token = stack.new_tenant()
            assert deliver(firing_notification(stack, tenant.id, config={"url": url}), settings) == "failed"
            with stack.client(token) as client:
                logged += client.get("/api/v1/alerts/deliveries").json()
    silent.close()
    errors = sorted(row["error"] for row in logged)
    assert errors == sorted(urls.values())
    assert set(errors) <= COARSE_CLASSES
    text = " ".join(errors)
    for leak in (str(closed_port), str(silent_port), str(plain.port), "Errno", "127.0.0.1", "169.254", "SSL", "("):
        assert leak not in text


@pytest.fixture(scope="module")
def localhost_certificate(tmp_path_factory):
    """A self-signed certificate for the name localhost only (no IP address in it)."""
    path, context = self_signed_certificate(tmp_path_factory.mktemp("tls-localhost"), "DNS:localhost")
    return path.read_text(), context



def test_the_migration_drops_file_paths_and_raw_errors(stack):
    """Run again by hand on rows written the old way (the stack migrated before they existed)."""
    from microdash_core.migrate import MIGRATIONS_DIR

    tenant, _ = stack.new_tenant()
    notification_id = firing_notification(stack, tenant.id, kind="email", config={
        "host": "smtp.example.org", "sender": "a@example.org", "recipients": ["o@example.org"], "tls": "tls",
        "cert_bundle": "/etc/shadow"})
    stack.sql("INSERT INTO deliveries (tenant_id, notification_id, channel_id, attempt, status, http_status, latency_ms,"
              " error, at) SELECT tenant_id, id, channel_id, 1, 'error', h, 5, e, 0 FROM notifications,"
              " (SELECT NULL h, 'ConnectionRefusedError(111, \"Connection refused\")' e UNION SELECT 502, 'HTTP 502') x"
              " WHERE id = %s", (notification_id,))
    script = (MIGRATIONS_DIR / "0007_no_tenant_file_paths.sql").read_text()
    code = "\n".join(line for line in script.splitlines() if not line.startswith("--"))
    for statement in filter(str.strip, code.split(";")):
        stack.sql(statement)
    (config,), = stack.sql("SELECT config FROM notification_channels WHERE tenant_id = %s", (tenant.id,))
    assert "cert_bundle" not in config and "smtp.example.org" in config
    assert sorted(stack.sql("SELECT error FROM deliveries WHERE notification_id = %s", (notification_id,))) == [
        ("delivery error",), ("http 5xx",)]
