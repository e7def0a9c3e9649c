"""Sending one notification over one channel: signed JSON webhook, Slack-compatible webhook, email.
Each returns an Attempt and never raises for a receiver's failure; every connection passes the
egress policy (microdash_core.egress) first."""

import time

import orjson

from microdash_core.alerting import payloads, signing
from microdash_core.egress import EgressPolicy

from . import http_sender
from .email_sender import send_email
from .notification_store import Attempt, Channel

USER_AGENT = "microdash-notifier/1"


def send(channel: Channel, payload: bytes, *, timeout: float, policy: EgressPolicy) -> Attempt:
    document = orjson.loads(payload)
    config = channel.config
    if channel.kind == "webhook":
        body = _webhook_body(config, document, payload)
        headers = _headers(body, secret=channel.secret, content_type=config.get("content_type", "application/json"))
        return http_sender.post(config["url"], body, headers=headers, timeout=timeout, policy=policy, config=config)
    if channel.kind == "slack":
        body = orjson.dumps(payloads.slack_message(document))
        return http_sender.post(config["url"], body, headers=_headers(body, secret=None), timeout=timeout,
                                policy=policy, config={})
    if channel.kind == "email":
        return send_email(channel, document, timeout=timeout, policy=policy)
    return Attempt(ok=False, latency_ms=0, error=f"unknown channel kind {channel.kind!r}")


def _webhook_body(config: dict, document: dict, payload: bytes) -> bytes:
    """The stored JSON payload, or the channel's own template rendered from it."""
    template = config.get("template")
    if not template:
        return payload
    json_body = config.get("content_type", "application/json").endswith("json")
    return payloads.render_body(template, document, json_escape=json_body)


def _headers(body: bytes, *, secret: str | None, content_type: str = "application/json") -> dict[str, str]:
    headers = {"Content-Type": content_type, "User-Agent": USER_AGENT}
    if secret:
        timestamp = str(int(time.time()))
        headers[signing.TIMESTAMP_HEADER] = timestamp
        headers[signing.SIGNATURE_HEADER] = signing.signature(secret, timestamp, body)
    return headers
