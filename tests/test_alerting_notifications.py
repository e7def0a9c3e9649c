"""Notification delivery to real receivers: a local HTTP server that checks the signature, and a
local SMTP server (aiosmtpd) that captures the message."""

import email
import email.policy
import time

import orjson
import pytest

from alerting_support import (Receiver, create_channel, create_rule, firing_notification,
                              self_signed_certificate, smtp_server, store_samples)
from microdash_core.alerting.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from microdash_core.settings import Settings
from microdash_cli.localstack import free_port
from microdash_workers.alert_eval import evaluate_tenant
from microdash_workers.notify import DeliveryFailed, deliver
from support import recent_ms

S = 1000
SECRET = "s3cret-hmac-key"


def deliveries(stack, notification_id: int) -> list[tuple]:
    return stack.sql("SELECT attempt, status, http_status, error IS NOT NULL, next_retry_at IS NOT NULL,"
                     " permanently_failed FROM deliveries WHERE notification_id = %s ORDER BY id", (notification_id,))


def notification_status(stack, notification_id: int) -> str:
    return stack.sql("SELECT status FROM notifications WHERE id = %s", (notification_id,))[0][0]


def test_the_worker_delivers_a_signed_webhook(stack):
    tenant, _ = stack.new_tenant()
    with Receiver() as receiver:
        create_channel(stack, tenant.id, config={"url": receiver.url}, secret=SECRET)
        now = recent_ms(-60 * S)
        store_samples(stack, tenant.id, [("cpu", {"host": "n1"}, now - 5 * S, 97.5)])
        rule = create_rule(stack, tenant.id)
        assert evaluate_tenant(tenant.id, now_ms=now, settings=stack.settings)["notifications"] == 1
        deadline = time.monotonic() + 30
        while not receiver.requests:  # delivered by the stack's worker from the notify queue
            assert time.monotonic() < deadline, "no webhook arrived"
            time.sleep(0.05)
    headers, body = receiver.requests[0]
    assert verify(SECRET, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    assert not verify("wrong", headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    assert abs(int(headers[TIMESTAMP_HEADER]) - time.time()) < 60
    payload = orjson.loads(body)
    assert payload["status"] == "firing" and payload["rule"]["name"] == rule.name
    (alert,) = payload["alerts"]
    assert alert["labels"] == {"host": "n1", "alertname": "cpu-high", "severity": "warning"}
    assert alert["annotations"] == {"summary": "n1 at 97.5"} and alert["value"] == 97.5
    deadline = time.monotonic() + 10
    while not stack.sql("SELECT 1 FROM deliveries WHERE tenant_id = %s AND status = 'sent'", (tenant.id,)):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_failing_receiver_is_retried_until_it_answers(stack):
    tenant, _ = stack.new_tenant()
    with Receiver(statuses=[500, 502, 200]) as receiver:
        notification_id = firing_notification(stack, tenant.id, config={"url": receiver.url}, secret=SECRET)
        for _ in range(2):
            with pytest.raises(DeliveryFailed):  # RQ retries the job with backoff on this
                deliver(notification_id, stack.settings)
        assert deliver(notification_id, stack.settings) == "sent"
        assert deliver(notification_id, stack.settings) == "skipped"  # a duplicate job sends nothing
    assert len(receiver.requests) == 3
    assert deliveries(stack, notification_id) == [(1, "error", 500, 1, 1, 0), (2, "error", 502, 1, 1, 0),
                                                  (3, "sent", 200, 0, 0, 0)]
    assert notification_status(stack, notification_id) == "sent"


def test_a_dead_receiver_fails_permanently_and_is_kept(stack):
    tenant, _ = stack.new_tenant()
    settings = Settings(**{**stack.settings.model_dump(), "notify_max_attempts": 2, "notify_timeout_seconds": 2})
    notification_id = firing_notification(stack, tenant.id, config={"url": f"http://127.0.0.1:{free_port()}/x"})
    with pytest.raises(DeliveryFailed):
        deliver(notification_id, settings)
    assert deliver(notification_id, settings) == "failed"
    assert deliver(notification_id, settings) == "skipped"
    assert deliveries(stack, notification_id) == [(1, "error", None, 1, 1, 0), (2, "error", None, 1, 0, 1)]
    assert notification_status(stack, notification_id) == "failed"


def test_slack_channels_get_a_text_message(stack):
    tenant, _ = stack.new_tenant()
    with Receiver() as receiver:
        notification_id = firing_notification(stack, tenant.id, kind="slack", config={"url": receiver.url})
        assert deliver(notification_id, stack.settings) == "sent"
    headers, body = receiver.requests[0]
    message = orjson.loads(body)
    assert list(message) == ["text"] and SIGNATURE_HEADER not in headers
    assert message["text"].startswith("[FIRING] cpu-high (warning): 1 firing") and "n1 at 97.5" in message["text"]


def test_email_reaches_a_real_smtp_server(stack):
    tenant, _ = stack.new_tenant()
    with smtp_server() as (handler, port):
        notification_id = firing_notification(stack, tenant.id, kind="email", config={
            "host": "127.0.0.1", "port": port, "tls": "none", "sender": "alerts@microdash.test",
            "recipients": ["ops@example.test", "dev@example.test"]})
        assert deliver(notification_id, stack.settings) == "sent"
    (envelope,) = handler.messages
    assert envelope.rcpt_tos == ["ops@example.test", "dev@example.test"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["Subject"] == "[FIRING] cpu-high (warning): 1 firing"
    assert "n1 at 97.5" in message.get_content()


def test_email_to_a_server_without_starttls_is_an_error_attempt(stack):
    tenant, _ = stack.new_tenant()
    with smtp_server() as (_, port):
        notification_id = firing_notification(stack, tenant.id, kind="email", config={
            "host": "127.0.0.1", "port": port, "tls": "starttls", "sender": "a@microdash.test",
            "recipients": ["ops@example.test"]})
        with pytest.raises(DeliveryFailed):
            deliver(notification_id, stack.settings)
    (row,) = stack.sql("SELECT status, error FROM deliveries WHERE notification_id = %s", (notification_id,))
    assert row == ("error", "tls error: server offers no STARTTLS")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1; the channel trusts it through ca_pem."""
    return self_signed_certificate(tmp_path_factory.mktemp("tls"), "IP:127.0.0.1")


@pytest.mark.parametrize("tls", ["starttls", "tls"])
def test_email_over_starttls_and_implicit_tls(stack, certificate, tls):
    cert_path, context = certificate
    tenant, _ = stack.new_tenant()
    server_tls = {"tls_context": context, "require_starttls": True} if tls == "starttls" else {"ssl_context": context}
    with smtp_server(**server_tls) as (handler, port):
        notification_id = firing_notification(stack, tenant.id, kind="email", config={
            "host": "127.0.0.1", "port": port, "tls": tls, "ca_pem": cert_path.read_text(),
            "sender": "alerts@microdash.test", "recipients": ["ops@example.test"]})
        assert deliver(notification_id, stack.settings) == "sent"
    (envelope,) = handler.messages
    assert envelope.rcpt_tos == ["ops@example.test"]


def test_the_worker_retries_a_failed_delivery_with_backoff(stack):
    tenant, _ = stack.new_tenant()
    with Receiver(statuses=[503, 200]) as receiver:
        create_channel(stack, tenant.id, config={"url": receiver.url}, secret=SECRET)
        now = recent_ms(-60 * S)
        store_samples(stack, tenant.id, [("cpu", {"host": "n1"}, now - 5 * S, 97.5)])
        create_rule(stack, tenant.id)
        evaluate_tenant(tenant.id, now_ms=now, settings=stack.settings)
        deadline = time.monotonic() + 60
        while len(receiver.requests) < 2:  # RQ re-runs the job after notify_retry_base_seconds
            assert time.monotonic() < deadline, f"{len(receiver.requests)} attempts arrived"
            time.sleep(0.1)
    assert receiver.requests[0][1] == receiver.requests[1][1]  # the same body on every attempt
    deadline = time.monotonic() + 10
    while [row[1] for row in stack.sql("SELECT attempt, status FROM deliveries WHERE tenant_id = %s ORDER BY id",
                                       (tenant.id,))] != ["error", "sent"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_webhook_template_shapes_the_body_and_is_signed(stack):
    tenant, _ = stack.new_tenant()
    template = '{"msg": "{{ $text }}", "state": "{{ $status }}", "who": "{{ $tenant }}/{{ $rule }}"}'
    with Receiver() as receiver:
        notification_id = firing_notification(stack, tenant.id, config={"url": receiver.url, "template": template},
                                              secret=SECRET)
        assert deliver(notification_id, stack.settings) == "sent"
    headers, body = receiver.requests[0]
    assert verify(SECRET, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    message = orjson.loads(body)  # still valid JSON: the multi-line text was escaped
    assert message["state"] == "firing" and message["who"] == f"{tenant.name}/cpu-high"
    assert message["msg"].splitlines()[0] == "[FIRING] cpu-high (warning): 1 firing" and "n1 at 97.5" in message["msg"]
