"""Where outbound requests may go: URL syntax, the deny and allow rules, one resolution.

See the package docstring for the rules; `fetching` sends the requests.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from assay.core.errors import Invalid, TooLarge

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[IPAddress]]

REFUSED = "is not an allowed destination"
MAX_URL_LENGTH = 4096


def _networks(*cidrs: str) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(cidr) for cidr in cidrs)


# Never a legitimate target, whatever the operator allows: 0.0.0.0 and :: connect to the
# local host on Linux; multicast and the reserved 240/4 (broadcast included) are not servers.
NEVER = _networks("0.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4", "::/128", "ff00::/8")

DEFAULT_DENY = NEVER + _networks(
    "10.0.0.0/8",  # private
    "100.64.0.0/10",  # carrier-grade NAT
    "127.0.0.0/8",  # loopback
    "169.254.0.0/16",  # link-local: cloud metadata services live here
    "172.16.0.0/12",  # private
    "192.0.0.0/24",  # IETF protocol assignments
    "192.0.2.0/24",  # documentation
    "192.88.99.0/24",  # 6to4 relay anycast
    "192.168.0.0/16",  # private
    "198.18.0.0/15",  # benchmarking
    "198.51.100.0/24",  # documentation
    "203.0.113.0/24",  # documentation
    "::1/128",  # loopback
    "64:ff9b:1::/48",  # local-use NAT64
    "100::/64",  # discard-only
    "2001:db8::/32",  # documentation
    "fc00::/7",  # unique-local
    "fe80::/10",  # link-local
    "fec0::/10",  # site-local (deprecated, still routed by some stacks)
)


# --- errors ------------------------------------------------------------------------------


class DestinationRefused(Invalid):
    """The policy refuses the destination; nothing was sent."""


class FetchFailed(Invalid):
    """The destination was allowed but the fetch did not complete."""


class HostNotResolved(FetchFailed):
    """The host has no address now; worth a retry later (DNS recovers)."""


class ResponseTooLarge(TooLarge):
    """The answer is larger than the caller's `max_bytes`."""


# --- the policy --------------------------------------------------------------------------


@dataclass(frozen=True)
class Rules:
    hosts: tuple[str, ...] = ()
    networks: tuple[IPNetwork, ...] = ()

    def matches_host(self, host: str) -> bool:
        for pattern in self.hosts:
            if pattern.startswith(("*.", ".")):
                domain = pattern.lstrip("*.")
                if host == domain or host.endswith("." + domain):
                    return True
            elif host == pattern:
                return True
        return False

    def matches_address(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)


def parse_rules(entries: Iterable[str]) -> Rules:
    hosts: list[str] = []
    networks: list[IPNetwork] = []
    for raw in entries:
        entry = raw.strip().lower()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            hosts.append(entry.rstrip("."))
    return Rules(tuple(hosts), tuple(networks))


def _embedded(address: IPAddress) -> list[IPAddress]:
    """The address, plus any IPv4 address an IPv6 form carries (mapped, compatible, 6to4,
    NAT64, Teredo): `::ffff:127.0.0.1` reaches 127.0.0.1 and is judged as such."""
    found: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        value = int(address)
        if address.ipv4_mapped is not None:
            found.append(address.ipv4_mapped)
        elif value >> 32 == 0 and value > 1:  # IPv4-compatible ::a.b.c.d
            found.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
        if address.sixtofour is not None:
            found.append(address.sixtofour)
        if address.teredo is not None:
            found.extend(address.teredo)
        if address in ipaddress.ip_network("64:ff9b::/96"):
            found.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    return found


@dataclass(frozen=True)
class Policy:
    """Where outbound requests may go: see the module docstring."""

    allow: Rules = Rules()
    deny: Rules = Rules()

    @classmethod
    def from_settings(cls, settings: Any) -> Policy:
        return cls(parse_rules(settings.outbound_allow), parse_rules(settings.outbound_deny))

    def permits_host(self, host: str) -> bool | None:
        """False if a deny rule names the host, True if an allow rule does, else undecided."""
        if self.deny.matches_host(host):
            return False
        return True if self.allow.matches_host(host) else None

    def permits_address(self, address: IPAddress, *, host_allowed: bool = False) -> bool:
        candidates = _embedded(address)
        if any(a in net for a in candidates for net in NEVER):
            return False
        if any(self.deny.matches_address(a) for a in candidates):
            return False
        if host_allowed:
            return True
        return all(
            self.allow.matches_address(a)
            for a in candidates
            if any(a in net for net in DEFAULT_DENY)
        )


# --- URLs --------------------------------------------------------------------------------

_HOSTNAME = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*\.?$")
_NUMERIC_HOST = re.compile(r"^[0-9a-fx.]+$")
_LOOPBACK_NAMES = (ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1"))


@dataclass(frozen=True)
class Destination:
    """A parsed URL: `host` is lower-case without a trailing dot, `literal` its address when
    the host is written as one (or is a `localhost` name, which is loopback by definition)."""

    url: httpx.URL
    host: str
    port: int
    literal: tuple[IPAddress, ...]


def _invalid(message: str, field: str) -> Invalid:
    return Invalid(message, field=field)


def _literal(host: str) -> tuple[IPAddress, ...]:
    if host == "localhost" or host.endswith(".localhost"):
        return _LOOPBACK_NAMES
    try:
        return (ipaddress.ip_address(host),)
    except ValueError:
        pass
    if _NUMERIC_HOST.match(host) and host[0].isdigit():
        # inet_aton reads 127.1, 0x7f.1, 017700000001 and 2130706433 as 127.0.0.1, as the
        # system resolver would: judge the address the connection would really go to.
        try:
            return (ipaddress.IPv4Address(socket.inet_aton(host)),)
        except OSError:
            pass
    return ()


def parse(url: str, *, field: str = "url") -> Destination:
    """Check that `url` is a well-formed http(s) URL without credentials; no DNS."""
    if not isinstance(url, str) or not url.strip():
        raise _invalid("the URL is empty", field)
    text = url.strip()
    if len(text) > MAX_URL_LENGTH:
        raise _invalid(f"the URL is longer than {MAX_URL_LENGTH} characters", field)
    try:
        parsed = httpx.URL(text)
        port = parsed.port
        raw_host = parsed.raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        raise _invalid(f"not a valid URL ({exc})", field) from None
    if parsed.scheme not in ("http", "https"):
        raise _invalid("only http:// and https:// URLs are accepted", field)
    if parsed.userinfo:
        raise _invalid("the URL may not carry a user name or password (user:password@)", field)
    host = raw_host.lower().rstrip(".")
    if not host:
        raise _invalid("the URL has no host", field)
    if "%" in host:
        raise _invalid(
            f"the URL's host {host!r} is not a valid host name (no escapes or IPv6 zone ids)",
            field,
        )
    if port is not None and not 0 < port < 65536:
        raise _invalid(f"the URL's port {port} is out of range", field)
    literal = _literal(host)
    if not literal and not _HOSTNAME.match(host):
        raise _invalid(f"the URL's host {host!r} is not a valid host name", field)
    default_port = 443 if parsed.scheme == "https" else 80
    return Destination(parsed, host, port or default_port, literal)


def validate_url(url: str, *, field: str = "url") -> str:
    """The stripped URL if it is a well-formed http(s) URL; `Invalid(field=field)` if not.

    Syntax only, no DNS and no policy: for URLs accepted now and fetched later (callbacks),
    which `stream` checks in full when it sends."""
    parse(url, field=field)
    return url.strip()


def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver gives for `host`, in its order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    addresses: list[IPAddress] = []
    for info in infos:
        sockaddr: Any = info[4]
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def _refused(destination: Destination, field: str) -> DestinationRefused:
    return DestinationRefused(
        f"{destination.host} {REFUSED}: the server does not send requests to loopback, "
        "private, link-local or other internal addresses unless its operator allows them "
        "(ASSAY_OUTBOUND_ALLOW)",
        field=field,
    )


def check_url(
    url: str,
    *,
    policy: Policy,
    resolve: bool = True,
    resolver: Resolver | None = None,
    field: str = "url",
) -> tuple[Destination, tuple[IPAddress, ...]]:
    """Parse `url` and judge it; returns it with the addresses a connection may use.

    `resolve=False` judges what can be judged without DNS (the syntax, host-name rules,
    addresses written in the URL, `localhost`): for URLs saved now and fetched later."""
    destination = parse(url, field=field)
    by_host = policy.permits_host(destination.host)
    if by_host is False:
        raise _refused(destination, field)
    addresses = destination.literal
    if not addresses and resolve:
        addresses = tuple((resolver or system_resolver)(destination.host, destination.port))
        if not addresses:
            raise HostNotResolved(f"the host {destination.host} could not be resolved", field=field)
    for address in addresses:
        if not policy.permits_address(address, host_allowed=bool(by_host)):
            raise _refused(destination, field)
    return destination, addresses
