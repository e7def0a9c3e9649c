"""One notification by email: an SMTP session over a socket pinned to a checked address (see
microdash_core.egress), with TLS verified for the configured host name."""

import asyncio
import time
from email.message import EmailMessage

import aiosmtplib

from microdash_core import egress
from microdash_core.alerting import payloads

from . import delivery_failures
from .channel_tls import tls_context
from .notification_store import Attempt, Channel

DEFAULT_PORT = 587


def send_email(channel: Channel, document: dict, *, timeout: float, policy: egress.EgressPolicy) -> Attempt:
    """config: host, port, sender, recipients, username (optional), tls: none|starttls|tls,
    ca_pem (optional PEM text: the CA of a private SMTP server's certificate)."""
    started = time.monotonic()
    try:
        _send(channel, _message(channel.config, document), timeout=timeout, policy=policy)
    except (aiosmtplib.SMTPException, OSError, ValueError, egress.EgressRefused) as exc:
        return delivery_failures.failed_attempt(started, exc)
    return Attempt(ok=True, latency_ms=delivery_failures.elapsed_ms(started))


def _message(config: dict, document: dict) -> EmailMessage:
    subject, body = payloads.email_text(document)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = config["sender"], ", ".join(config["recipients"]), subject
    message.set_content(body)
    return message


def _send(channel: Channel, message: EmailMessage, *, timeout: float, policy: egress.EgressPolicy) -> None:
    config = channel.config
    host, tls = config["host"], config.get("tls", "starttls")
    username = config.get("username") or None
    context = tls_context(config)
    sock = egress.connect(host, int(config.get("port", DEFAULT_PORT)), policy=policy, timeout=timeout)
    try:
        asyncio.run(aiosmtplib.send(
            message, hostname=host, sock=sock, timeout=timeout, use_tls=tls == "tls", start_tls=tls == "starttls",
            tls_context=context, username=username, password=channel.secret if username else None,
        ))
    finally:
        sock.close()
