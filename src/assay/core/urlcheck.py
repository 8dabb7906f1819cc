"""Where Assay may send outbound requests: URLs checked against the webhook allow/deny lists.

Entries of `ASSAY_WEBHOOK_ALLOW` / `ASSAY_WEBHOOK_DENY` are CIDRs (`10.0.0.0/8`, a single
address) or hostnames: `example.com` matches that host only, `*.example.com` or `.example.com`
match the domain and every subdomain. The host is resolved and every address it resolves to
is checked, so a hostname cannot smuggle a request to a denied network. Call this when a URL is
saved and again right before sending: DNS answers change.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from assay.core.errors import Invalid

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class HostNotResolved(Invalid):
    """The host has no address now; at delivery time this is worth a retry (DNS recovers)."""


@dataclass(frozen=True)
class Rules:
    hosts: tuple[str, ...]
    networks: tuple[IPNetwork, ...]

    def __bool__(self) -> bool:
        return bool(self.hosts or self.networks)

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
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.append(entry.rstrip("."))
    return Rules(tuple(hosts), tuple(networks))


def _plain(address: IPAddress) -> IPAddress:
    """`::ffff:127.0.0.1` is 127.0.0.1 on the wire; check it as such."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    try:
        return [_plain(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise HostNotResolved(
            f"the host {host!r} could not be resolved: {exc}", field="url"
        ) from exc
    addresses: list[IPAddress] = []
    for info in infos:
        sockaddr: Any = info[4]
        address = _plain(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise HostNotResolved(f"the host {host!r} has no addresses", field="url")
    return addresses


def check_url(url: str, settings: Any) -> list[IPAddress]:
    """Raise `Invalid(field="url")` unless `url` may receive webhooks; returns its addresses."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise Invalid(f"not a valid URL: {exc}", field="url") from exc
    if parts.scheme not in ("http", "https"):
        raise Invalid("webhook URLs must start with http:// or https://", field="url")
    if "@" in parts.netloc:
        raise Invalid(
            "webhook URLs may not carry credentials (user:password@); the "
            "Assay-Signature header authenticates deliveries",
            field="url",
        )
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise Invalid("the URL has no host", field="url")
    deny = parse_rules(settings.webhook_deny)
    if deny.matches_host(host):
        raise Invalid(
            f"{host} is refused by the server's webhook deny list (ASSAY_WEBHOOK_DENY)", field="url"
        )
    addresses = resolve(host, port or (443 if parts.scheme == "https" else 80))
    refused = next((a for a in addresses if deny.matches_address(a)), None)
    if refused is not None:
        raise Invalid(
            f"{host} ({refused}) is refused by the server's webhook deny list (ASSAY_WEBHOOK_DENY)",
            field="url",
        )
    allow = parse_rules(settings.webhook_allow)
    if allow and not (allow.matches_host(host) or all(allow.matches_address(a) for a in addresses)):
        raise Invalid(
            f"{host} is not on the server's webhook allow list (ASSAY_WEBHOOK_ALLOW)", field="url"
        )
    return addresses
