"""Every request the server sends to a URL someone gave it: one way out, one set of checks.

File imports, webhook deliveries and callbacks (and later model endpoints and connectors)
fetch through `stream` or `fetch`, which:

1. parse the URL strictly: http or https only, no `user:password@`, no IPv6 zone ids, a real
   port, a host name made of DNS characters (numeric hosts such as `2130706433` or `0x7f.1`
   are read the way the C library reads them, as the IPv4 address they mean);
2. resolve the host once and refuse it unless EVERY address it resolves to passes the policy;
3. connect to the address that was checked (the TCP connection goes to that IP; the Host
   header, TLS SNI and certificate check use the host name), so a second, different DNS
   answer (rebinding) is never asked for;
4. follow redirects themselves, each hop checked again from step 1;
5. stop after `max_bytes` of body and after `timeout` seconds in all, whatever the remote does;
6. report failures in their own words: a refused destination is refused before any
   connection, so an open internal port and a closed one look the same, and the remote's
   answer is never quoted in an error.

The policy (`Policy.from_settings`): the built-in deny list `DEFAULT_DENY` (loopback, private,
link-local, unique-local, carrier-grade NAT, documentation, multicast, reserved, broadcast and
unspecified networks, IPv4 addresses embedded in IPv6 included) plus the operator's
`ASSAY_OUTBOUND_DENY` entries; `ASSAY_OUTBOUND_ALLOW` entries let internal targets through
(an operator's own model server on 10.0.0.5, say). Operator deny entries win over allow
entries; the `NEVER` networks (unspecified, multicast, reserved) cannot be allowed at all.
Entries are CIDRs (`10.0.0.0/8`, a single address) or host names: `example.com` matches that
host only, `*.example.com` or `.example.com` the domain and every subdomain.
"""

from assay.core.outbound.fetching import Fetched, Response, fetch, fetch_file, stream
from assay.core.outbound.policy import (
    DEFAULT_DENY,
    NEVER,
    Destination,
    DestinationRefused,
    FetchFailed,
    HostNotResolved,
    IPAddress,
    Policy,
    Resolver,
    ResponseTooLarge,
    Rules,
    check_url,
    parse,
    parse_rules,
    system_resolver,
    validate_url,
)

__all__ = [
    "DEFAULT_DENY",
    "NEVER",
    "Destination",
    "DestinationRefused",
    "FetchFailed",
    "Fetched",
    "HostNotResolved",
    "IPAddress",
    "Policy",
    "Resolver",
    "Response",
    "ResponseTooLarge",
    "Rules",
    "check_url",
    "fetch",
    "fetch_file",
    "parse",
    "parse_rules",
    "stream",
    "system_resolver",
    "validate_url",
]
