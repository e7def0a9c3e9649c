"""The address a request came from, for login throttling.

Behind `trusted_proxy_hops` proxies, each of which appends the address it saw to X-Forwarded-For,
the client is that many entries from the right: anything further left was written by the client
and may be forged. With no hops configured, the socket peer decides (as rewritten by uvicorn for
the proxies in forwarded_allow_ips)."""

import ipaddress

from fastapi import Request

UNKNOWN = "unknown"


def client_address(request: Request, trusted_proxy_hops: int) -> str:
    peer = request.client.host if request.client else UNKNOWN
    if trusted_proxy_hops == 0:
        return _normalized(peer)
    forwarded = [entry.strip() for value in request.headers.getlist("x-forwarded-for")
                 for entry in value.split(",") if entry.strip()]
    if not forwarded:
        return _normalized(peer)
    # Fewer entries than proxies: the leftmost was still written by the outermost of ours.
    return _normalized(forwarded[-min(trusted_proxy_hops, len(forwarded))])


def _normalized(address: str) -> str:
    """An IP in canonical form; anything else shares one bucket (it cannot come from a proxy of ours)."""
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return UNKNOWN
