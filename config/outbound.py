"""Outgoing HTTP to URLs that users give us (journey webhook steps today; a product
feed fetcher later): the guard against server-side request forgery.

A user-given URL must not reach the installation's own network: loopback, private
ranges, link-local (cloud metadata at 169.254.169.254), carrier-grade NAT
(100.64.0.0/10, where some clouds put their metadata service, e.g. 100.100.100.200),
multicast, and IPv6 forms that embed an IPv4 address (IPv4-mapped, 6to4, Teredo,
NAT64). Checking the host name and then letting an HTTP client resolve it again is
not enough: a DNS server under the attacker's control can answer a public address to
the check and a private one to the connection (DNS rebinding). So `request`:

1. resolves the host once (the system resolver, or OUTBOUND_DNS_SERVERS through
   dnspython), and refuses if any address it got is not public;
2. connects to the first checked address itself (urllib3 pools with that IP as the
   host), sending the original name in the Host header and, for https, as the TLS
   server name, with the certificate verified against that name;
3. follows no redirect and no proxy, and bounds the time (a deadline over connect,
   send and read) and the size of the answer.

OUTBOUND_ALLOWED_NETWORKS lists networks that may be reached although they are not
public (tests, local development, an operator's own receiver on a private network)."""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import certifi
import dns.exception
import dns.nameserver
import dns.resolver
import urllib3
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Ranges refused besides what `ipaddress` calls non-global, each with the reason shown
# to the user. `is_global` alone lets multicast, 6to4, NAT64 and IPv4-compatible IPv6
# addresses through, and some Python versions miss newer special-purpose blocks.
_REFUSED: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(cidr), reason)
    for cidr, reason in (
        ("0.0.0.0/8", "'this network'"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "carrier-grade NAT (cloud metadata services live there)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local (cloud metadata)"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "6to4 relay anycast"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::/8", "reserved (IPv4-mapped, IPv4-compatible and NAT64 addresses)"),
        ("100::/64", "discard-only"),
        ("2001::/23", "IETF protocol assignments (Teredo)"),
        ("2001:db8::/32", "documentation"),
        ("2002::/16", "6to4"),
        ("fc00::/7", "unique local (private)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)
USER_AGENT = "Stagecraft/1"


class OutboundRefused(Exception):
    """The URL may not be called: not http(s), does not resolve, or not public."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class OutboundFailed(Exception):
    """The call was allowed but did not complete: connection error, timeout, TLS,
    an answer over the size limit. `reason` is short and safe to store."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class OutboundResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    address: str  # the IP address that was connected to


@cache
def _allowed_networks(spec: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in spec)


def address_refusal(address: IPAddress) -> str:
    """Why this address may not be called ("" if it may)."""
    allowed = _allowed_networks(tuple(settings.OUTBOUND_ALLOWED_NETWORKS))
    if any(address.version == net.version and address in net for net in allowed):
        return ""
    embedded: IPAddress | None = None
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo:
            embedded = address.teredo[1]
    for network, reason in _REFUSED:
        if address.version == network.version and address in network:
            return f"{address} is not a public address ({reason})"
    if embedded is not None:
        return f"{address} embeds the IPv4 address {embedded}"
    if not address.is_global or address.is_multicast or address.is_reserved:
        return f"{address} is not a public address"
    return ""


def _resolver(timeout: float) -> dns.resolver.Resolver:
    resolver = dns.resolver.Resolver(configure=False)
    nameservers: list[str | dns.nameserver.Nameserver] = []
    for server in settings.OUTBOUND_DNS_SERVERS:
        host, _, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
        nameservers.append(dns.nameserver.Do53Nameserver(host or server, int(port or 53)))
    resolver.nameservers = nameservers
    resolver.lifetime = timeout
    resolver.timeout = timeout
    return resolver


def resolve(host: str, *, timeout: float = 5.0) -> list[IPAddress]:
    """Every address of `host` (an IP literal is its own), in the resolver's order.
    Raises OutboundRefused when it does not resolve."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    addresses: list[IPAddress] = []
    if settings.OUTBOUND_DNS_SERVERS:
        resolver = _resolver(timeout)
        for rdtype in ("A", "AAAA"):
            try:
                answer = resolver.resolve(host, rdtype, search=False)
            except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
                continue
            except dns.exception.DNSException:
                raise OutboundRefused("the host name does not resolve") from None
            addresses += [ipaddress.ip_address(record.to_text()) for record in answer]
    else:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise OutboundRefused("the host name does not resolve") from None
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
            if address not in addresses:
                addresses.append(address)
    if not addresses:
        raise OutboundRefused("the host name does not resolve")
    return addresses


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # the name as given (the Host header and TLS server name)
    port: int
    path: str  # path and query
    address: IPAddress  # the checked address the connection goes to

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def _parse(url: Any) -> tuple[str, str, int, str]:
    if not isinstance(url, str) or len(url) > 2000:
        raise OutboundRefused("must be an http(s) URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise OutboundRefused("must be an http(s) URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundRefused("must be an http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise OutboundRefused("must not carry a user name or password")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def check(url: Any, *, timeout: float = 5.0) -> Target:
    """Parse, resolve once and check every address; the Target pins the first one.
    Raises OutboundRefused naming the reason."""
    scheme, host, port, path = _parse(url)
    addresses = resolve(host, timeout=timeout)
    for address in addresses:
        reason = address_refusal(address)
        if reason:
            raise OutboundRefused(f"must not point at a private or internal address: {reason}")
    return Target(scheme, host, port, path, addresses[0])


def url_error(url: Any) -> str:
    """Why this URL may not be called, or "" (for validating it when it is saved;
    `request` checks again at call time, and pins what it checked)."""
    try:
        check(url)
    except OutboundRefused as exc:
        return exc.reason
    return ""


def _pool(target: Target, timeout: urllib3.Timeout) -> urllib3.HTTPConnectionPool:
    address = str(target.address)
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address,
            target.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            ca_certs=settings.OUTBOUND_CA_BUNDLE or certifi.where(),
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    return urllib3.HTTPConnectionPool(
        address, target.port, timeout=timeout, retries=False, maxsize=1
    )


def request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
    max_bytes: int = 1_000_000,
) -> OutboundResponse:
    """Call a user-given URL; see the module docstring. `timeout` bounds the whole call
    (resolution, connect, send and reading the answer); an answer longer than
    `max_bytes` fails the call. Raises OutboundRefused or OutboundFailed."""
    deadline = time.monotonic() + timeout
    target = check(url, timeout=timeout)
    remaining = max(0.1, deadline - time.monotonic())
    pool = _pool(target, urllib3.Timeout(connect=remaining, read=remaining))
    sent = {"User-Agent": USER_AGENT, **(headers or {}), "Host": target.host_header}
    try:
        response = pool.urlopen(
            method,
            target.path,
            body=body,
            headers=sent,
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.stream(65536):
                size += len(chunk)
                if size > max_bytes:
                    raise OutboundFailed(f"the answer is larger than {max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise OutboundFailed(f"no complete answer within {timeout:g} s")
                chunks.append(chunk)
        finally:
            response.release_conn()
    except urllib3.exceptions.SSLError:
        raise OutboundFailed("TLS: the certificate is not valid for this host") from None
    except (urllib3.exceptions.TimeoutError, TimeoutError):
        raise OutboundFailed(f"no complete answer within {timeout:g} s") from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise OutboundFailed(f"connection failed: {type(exc).__name__}") from None
    finally:
        pool.close()
    return OutboundResponse(
        status=response.status,
        headers=dict(response.headers.items()),
        body=b"".join(chunks),
        address=str(target.address),
    )
