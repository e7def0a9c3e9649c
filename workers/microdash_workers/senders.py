"""Sending one notification over one channel: signed JSON webhook, Slack-compatible webhook, email.
Each returns an Attempt and never raises for a receiver's failure."""

import asyncio
import time
import urllib.error
import urllib.request
from email.message import EmailMessage

import aiosmtplib
import orjson

from microdash_core.alerting import payloads, signing

from .notification_store import Attempt, Channel

USER_AGENT = "microdash-notifier/1"


def send(channel: Channel, payload: bytes, *, timeout: float) -> Attempt:
    document = orjson.loads(payload)
    if channel.kind == "webhook":
        return post(channel.config["url"], _webhook_body(channel.config, document, payload), secret=channel.secret,
                    timeout=timeout, content_type=channel.config.get("content_type", "application/json"))
    if channel.kind == "slack":
        return post(channel.config["url"], orjson.dumps(payloads.slack_message(document)), secret=None,
                    timeout=timeout)
    if channel.kind == "email":
        return send_email(channel, document, timeout=timeout)
    return Attempt(ok=False, latency_ms=0, error=f"unknown channel kind {channel.kind!r}")


def _webhook_body(config: dict, document: dict, payload: bytes) -> bytes:
    """The stored JSON payload, or the channel's own template rendered from it."""
    template = config.get("template")
    if not template:
        return payload
    json_body = config.get("content_type", "application/json").endswith("json")
    return payloads.render_body(template, document, json_escape=json_body)


def post(url: str, body: bytes, *, secret: str | None, timeout: float,
         content_type: str = "application/json") -> Attempt:
    headers = {"Content-Type": content_type, "User-Agent": USER_AGENT}
    if secret:
        timestamp = str(int(time.time()))
        headers[signing.TIMESTAMP_HEADER] = timestamp
        headers[signing.SIGNATURE_HEADER] = signing.signature(secret, timestamp, body)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Attempt(ok=True, latency_ms=_since(started), http_status=response.status)
    except urllib.error.HTTPError as exc:
        return Attempt(ok=False, latency_ms=_since(started), http_status=exc.code, error=f"HTTP {exc.code}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return Attempt(ok=False, latency_ms=_since(started), error=repr(getattr(exc, "reason", exc)))


def send_email(channel: Channel, document: dict, *, timeout: float) -> Attempt:
    """config: host, port, sender, recipients, username (optional), tls: none|starttls|tls,
    cert_bundle (optional CA file for a private SMTP server's certificate)."""
    config = channel.config
    subject, body = payloads.email_text(document)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = config["sender"], ", ".join(config["recipients"]), subject
    message.set_content(body)
    tls = config.get("tls", "starttls")
    username = config.get("username") or None
    started = time.monotonic()
    try:
        asyncio.run(aiosmtplib.send(
            message, hostname=config["host"], port=int(config.get("port", 587)), timeout=timeout,
            use_tls=tls == "tls", start_tls=tls == "starttls", username=username,
            password=channel.secret if username else None, cert_bundle=config.get("cert_bundle") or None,
        ))
    except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
        return Attempt(ok=False, latency_ms=_since(started), error=repr(exc))
    return Attempt(ok=True, latency_ms=_since(started))


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
