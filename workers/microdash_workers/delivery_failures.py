"""What a tenant may learn about a failed delivery: a coarse class, never the exception's text.
Raw errors (addresses, ports, server banners) would make the delivery log an oracle for probing
the network behind the worker; the full detail goes to the worker's log for the operator."""

import http.client
import socket
import ssl
import time

import aiosmtplib

from microdash_core.egress import EgressRefused

from .notification_store import Attempt

REFUSED = "refused: internal address"
DNS_FAILED = "dns failed"
CONNECT_FAILED = "connect failed"
TIMEOUT = "timeout"
TLS_ERROR = "tls error"
NO_STARTTLS = "tls error: server offers no STARTTLS"
BAD_RESPONSE = "bad response"
INVALID_CHANNEL = "invalid channel config"
OTHER = "delivery error"


def failed_attempt(started: float, exc: BaseException) -> Attempt:
    return Attempt(ok=False, latency_ms=elapsed_ms(started), error=classify(exc), detail=repr(exc))


def elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def http_status_class(status: int) -> str:
    if 300 <= status < 400:
        return "http 3xx (redirects are not followed)"
    return f"http {status // 100}xx"


def classify(exc: BaseException) -> str:
    chain = _chain(exc)
    for kinds, name in _BY_TYPE:
        if any(isinstance(one, kinds) for one in chain):
            return name
    return _smtp_class(exc) or (CONNECT_FAILED if isinstance(exc, OSError) else OTHER)


# First match wins, looking through the whole cause chain: aiosmtplib wraps a TLS handshake
# failure in SMTPConnectError, for one.
_BY_TYPE = (
    (EgressRefused, REFUSED),
    (socket.gaierror, DNS_FAILED),
    (ssl.SSLError, TLS_ERROR),
    (ssl.CertificateError, TLS_ERROR),
    (TimeoutError, TIMEOUT),
    (http.client.HTTPException, BAD_RESPONSE),
    (ValueError, INVALID_CHANNEL),
)


def _smtp_class(exc: BaseException) -> str | None:
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return "smtp authentication failed"
    if isinstance(exc, (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPRecipientRefused)):
        return "smtp recipients refused"
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        return "smtp sender refused"
    if isinstance(exc, (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected)):
        return CONNECT_FAILED
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"smtp error {exc.code}"
    if isinstance(exc, aiosmtplib.SMTPException):
        return NO_STARTTLS if "STARTTLS" in str(exc) else "smtp error"
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain
