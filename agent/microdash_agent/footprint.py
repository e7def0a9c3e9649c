"""Keep the agent's resident memory small: it runs on every host, next to the real workloads."""

import sys


def skip_openssl() -> None:
    """Keep OpenSSL (about 4 MB resident) out of a process that will not use TLS.

    paho imports ssl, and hashlib loads OpenSSL's libcrypto, at import time even for a plain
    mqtt:// connection. Marked absent before their first import, paho runs without TLS support
    and hashlib falls back to Python's built-in hashes. Call it only when no TLS is configured.
    """
    for name in ("ssl", "_hashlib"):
        if name not in sys.modules:
            sys.modules[name] = None


def release_free_memory() -> None:
    """Give freed heap pages back to the OS (glibc's malloc_trim): imports leave megabytes behind."""
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (ImportError, OSError, AttributeError):
        pass  # not glibc, or no ctypes: nothing to trim
