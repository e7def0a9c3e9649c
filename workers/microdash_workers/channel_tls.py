"""The TLS trust of a channel: the system's CAs, or only the channel's own for a private receiver.
A tenant gives certificates as PEM text (config ca_pem), never as a path: a path would let a
tenant make the worker read any file it can."""

import ssl


def tls_context(config: dict) -> ssl.SSLContext:
    pem = config.get("ca_pem")
    return ssl.create_default_context(cadata=pem) if pem else ssl.create_default_context()
