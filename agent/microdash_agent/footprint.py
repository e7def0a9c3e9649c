"""Keep the agent's resident memory small: it runs on every host, next to the real workloads."""

import sys
import types


def skip_openssl() -> None:
    """Keep OpenSSL (about 4 MB resident) out of a process that will not use TLS.

    paho imports ssl, and hashlib loads OpenSSL's libcrypto, at import time even for a plain
    mqtt:// connection. Marked absent before their first import, paho runs without TLS support
    and hashlib falls back to Python's built-in hashes. Call it only when no TLS is configured.
    """
    for name in ("ssl", "_hashlib"):
        if name not in sys.modules:
            sys.modules[name] = None


def skip_urllib_request() -> None:
    """Keep urllib.request, and the http.client and email packages it imports (about 2 MB), out of
    an agent that ships over MQTT.

    paho imports urllib.request at import time, but only calls it to look up a proxy, and only when
    PySocks is installed. Without PySocks an empty module stands in for it. Call it only when the
    transport is MQTT: the HTTP transport needs the real module.
    """
    try:
        import socks  # noqa: F401 - PySocks; paho imports it too when it is there
    except ImportError:
        sys.modules.setdefault("urllib.request", types.ModuleType("urllib.request"))


def release_free_memory() -> None:
    """Give freed heap pages back to the OS (glibc's malloc_trim): imports leave megabytes behind.

    psutil.heap_trim() calls it, and spares the agent the half megabyte of loading ctypes.
    """
    import psutil

    heap_trim = getattr(psutil, "heap_trim", None)  # absent when the C library is not glibc
    if heap_trim is not None:
        heap_trim()
