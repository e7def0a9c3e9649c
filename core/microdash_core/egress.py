"""Where tenant-configured notifications may connect: never to an internal address (loopback,
private, link-local, CGNAT, unique-local, multicast, unspecified, reserved), unless the operator
allowed its network (MICRODASH_NOTIFY_ALLOWED_CIDRS). Checked when a channel is saved and again
at every send, on every address a name resolves to, and the connection then goes to one of
those checked addresses, so DNS cannot answer differently between the check and the connect."""

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import MicrodashError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_SHARED_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_IETF_PROTOCOL = ipaddress.ip_network("192.0.0.0/24")  # Python counts parts of it as global
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class EgressRefused(MicrodashError):
    """The target is, or resolves to, an internal address the operator did not allow."""

    def __init__(self, host: str, address: IPAddress, category: str):
        super().__init__(f"{host} is an internal address ({category})")
        self.host, self.address, self.category = host, address, category


@dataclass(frozen=True)
class EgressPolicy:
    allowed: tuple[IPNetwork, ...] = ()

    def refusal(self, address: IPAddress) -> str | None:
        """Why connecting to `address` is refused (its category), or None when it may be reached."""
        if address.version == 6 and address.ipv4_mapped:  # the IPv4 address itself, on a dual-stack socket
            address = address.ipv4_mapped
        if self._allowed(address):
            return None
        for embedded in _embedded_ipv4(address):
            if self._allowed(embedded):
                return None
            if category := _internal_category(embedded):
                return category
        return _internal_category(address)

    def check(self, host: str, addresses: Iterable[IPAddress]) -> None:
        for address in addresses:
            if category := self.refusal(address):
                raise EgressRefused(host, address, category)

    def _allowed(self, address: IPAddress) -> bool:
        return any(address.version == network.version and address in network for network in self.allowed)


def _embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 address an IPv6 one leads to (6to4, Teredo client, NAT64), if any."""
    if address.version == 4:
        return []
    embedded = [address.sixtofour, address.teredo[1] if address.teredo else None]
    if any(address in network for network in _NAT64):
        embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [one for one in embedded if one is not None]


def _internal_category(address: IPAddress) -> str | None:
    checks = (
        ("unspecified", address.is_unspecified), ("loopback", address.is_loopback),
        ("link-local", address.is_link_local), ("multicast", address.is_multicast),
        ("shared address space (CGNAT)", address in _SHARED_CGNAT), ("unique local", address in _UNIQUE_LOCAL),
        ("site-local", address.version == 6 and address.is_site_local), ("private", address.is_private),
        ("reserved", address.is_reserved or address in _IETF_PROTOCOL), ("not globally routable", not address.is_global),
    )
    return next((category for category, matches in checks if matches), None)


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def resolve(host: str, port: int) -> list[tuple[int, IPAddress]]:
    """Every (address family, address) `host` resolves to for TCP; socket.gaierror when none."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[IPAddress, int] = {}
    for family, _type, _proto, _name, sockaddr in infos:
        seen.setdefault(ipaddress.ip_address(sockaddr[0].split("%")[0]), family)
    return [(family, address) for address, family in seen.items()]


def connect(host: str, port: int, *, policy: EgressPolicy, timeout: float) -> socket.socket:
    """A TCP connection to `host`, made only after every address it resolves to passed the policy.
    Raises EgressRefused, socket.gaierror, or the OSError of the last address tried."""
    addresses = resolve(host, port)
    policy.check(host, (address for _family, address in addresses))
    last_error: OSError | None = None
    for family, address in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect((str(address), port))
            return sock
        except OSError as exc:
            sock.close()
            last_error = exc
    raise last_error or OSError(f"no address for {host}")


def policy_from(settings) -> EgressPolicy:
    return EgressPolicy(allowed=tuple(settings.notify_allowed_cidrs))


def check_target(host: str, port: int, policy: EgressPolicy) -> None:
    """The check when a channel is saved: a literal address, or every address a name resolves to
    now. A name that does not resolve passes; the send-time check in `connect` is the one that
    counts, since DNS may answer differently later."""
    literal = literal_address(host)
    if literal is not None:
        policy.check(host, [literal])
        return
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError, ValueError):
        return
    policy.check(host, (address for _family, address in addresses))
