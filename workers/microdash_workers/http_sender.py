"""One HTTP POST to a tenant's URL, through a connection pinned to a checked address: the name
is resolved, every address passes the egress policy, the socket goes to one of them, and the
Host header and TLS (SNI and certificate check) still use the name. Redirects are not followed,
and no proxy from the environment is used."""

import http.client
import ssl
import time
from urllib.parse import urlsplit

from microdash_core import egress

from . import delivery_failures
from .channel_tls import tls_context
from .notification_store import Attempt


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int | None, *, policy: egress.EgressPolicy, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._policy = policy

    def connect(self) -> None:
        self.sock = egress.connect(self.host, self.port, policy=self._policy, timeout=self.timeout)


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    default_port = http.client.HTTPS_PORT

    def __init__(self, host: str, port: int | None, *, policy: egress.EgressPolicy, timeout: float,
                 tls: ssl.SSLContext):
        super().__init__(host, port, policy=policy, timeout=timeout)
        self._tls = tls

    def connect(self) -> None:
        super().connect()
        self.sock = self._tls.wrap_socket(self.sock, server_hostname=self.host)


def post(url: str, body: bytes, *, headers: dict[str, str], timeout: float, policy: egress.EgressPolicy,
         config: dict) -> Attempt:
    started = time.monotonic()
    try:
        status = _post(url, body, headers=headers, timeout=timeout, policy=policy, config=config)
    except (OSError, ValueError, http.client.HTTPException, egress.EgressRefused) as exc:
        return delivery_failures.failed_attempt(started, exc)
    if 200 <= status < 300:
        return Attempt(ok=True, latency_ms=delivery_failures.elapsed_ms(started), http_status=status)
    return Attempt(ok=False, latency_ms=delivery_failures.elapsed_ms(started), http_status=status,
                   error=delivery_failures.http_status_class(status))


def _post(url: str, body: bytes, *, headers: dict[str, str], timeout: float, policy: egress.EgressPolicy,
          config: dict) -> int:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL")
    if parts.scheme == "https":
        connection = _PinnedHTTPSConnection(parts.hostname, parts.port, policy=policy, timeout=timeout,
                                            tls=tls_context(config))
    else:
        connection = _PinnedHTTPConnection(parts.hostname, parts.port, policy=policy, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()
