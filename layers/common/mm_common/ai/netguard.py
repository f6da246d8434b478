"""Which network addresses the platform's calls to AI providers may reach (the SSRF guard).

An administrator decides where a provider is called, and the worker sends the provider key and
the user's code there, from inside our network. So one rule, :func:`address_refusal`, says
which addresses are never called (link-local, cloud metadata, unspecified, multicast, reserved,
documentation and other non-routable ranges) and which only when the operator allows private
networks (``AI_ALLOW_PRIVATE_NETWORKS``: loopback, RFC 1918, CGNAT and unique-local addresses,
for a model server on the same network). The rule is applied twice:

* when a base URL is saved, to what the URL itself names (:func:`host_refusal`: IP literals in
  any notation a resolver accepts, ``localhost`` names, metadata host names), so an administrator
  learns at once;
* at every call, to every address the host RESOLVES to, and the connection goes to the address
  that was checked (:func:`guarded_client`), so a name that later resolves elsewhere (DNS
  rebinding) is refused too. TLS still verifies, and SNI still names, the URL's host.

The rule itself needs no HTTP library; httpx (and the guarded transport built on it, in
:mod:`mm_common.ai.guarded_http`) is imported by the first :func:`guarded_client`, so functions
that only check URLs (saving a provider) do not load it at every cold start.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import TYPE_CHECKING, Any, Final

from mm_common.config import get_settings

if TYPE_CHECKING:
    import ssl

    import httpx

__all__ = [
    "AddressRefused",
    "IPAddress",
    "address_refusal",
    "guarded_client",
    "host_refusal",
    "vetted_addresses",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

PRIVATE: Final = "a private or loopback address"

# Cloud metadata endpoints are refused by name too, since a name might resolve anywhere later.
METADATA_HOSTS: Final = frozenset(
    {"metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal"}
)


def _v4(*specs: tuple[str, str]) -> tuple[tuple[ipaddress.IPv4Network, str], ...]:
    return tuple((ipaddress.IPv4Network(net), reason) for net, reason in specs)


def _v6(*specs: tuple[str, str]) -> tuple[tuple[ipaddress.IPv6Network, str], ...]:
    return tuple((ipaddress.IPv6Network(net), reason) for net, reason in specs)


# Refused whatever the settings say. Order matters only for the reason given.
_ALWAYS_REFUSED_V4: Final = _v4(
    ("169.254.169.254/32", "a cloud metadata address"),
    ("169.254.170.2/32", "a cloud metadata address"),  # ECS task metadata
    ("100.100.100.200/32", "a cloud metadata address"),  # Alibaba Cloud (inside CGNAT space)
    ("192.0.0.192/32", "a cloud metadata address"),  # Oracle Cloud
    ("0.0.0.0/8", "an unspecified address"),
    ("169.254.0.0/16", "a link-local address"),
    ("224.0.0.0/4", "a multicast address"),
    ("240.0.0.0/4", "a reserved address"),  # includes the broadcast address
    ("192.0.0.0/24", "a reserved address"),
    ("192.0.2.0/24", "a documentation address"),
    ("198.51.100.0/24", "a documentation address"),
    ("203.0.113.0/24", "a documentation address"),
    ("198.18.0.0/15", "a reserved address"),  # benchmarking
)
_ALWAYS_REFUSED_V6: Final = _v6(
    ("fd00:ec2::/64", "a cloud metadata address"),  # AWS instance metadata, DNS and time over IPv6
    ("::/128", "an unspecified address"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a site-local address"),  # deprecated
    ("ff00::/8", "a multicast address"),
    ("100::/64", "a reserved address"),  # discard-only
    ("2001::/32", "a reserved address"),  # Teredo tunnels
    ("2001:db8::/32", "a documentation address"),
    ("::/96", "a reserved address"),  # deprecated IPv4-compatible addresses
)
# Refused unless the operator allows private networks.
_PRIVATE_V4: Final = _v4(
    ("127.0.0.0/8", PRIVATE),
    ("10.0.0.0/8", PRIVATE),
    ("172.16.0.0/12", PRIVATE),
    ("192.168.0.0/16", PRIVATE),
    ("100.64.0.0/10", PRIVATE),  # carrier-grade NAT, used inside some VPCs
)
_PRIVATE_V6: Final = _v6(("fc00::/7", PRIVATE))
_LOOPBACK_V6: Final = ipaddress.IPv6Address("::1")

_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")

# A host name as a URL may carry it: ASCII labels (internationalized names in their xn-- form).
_HOST_NAME: Final = re.compile(
    r"(?=.{1,253}\.?$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.?"
)
# The legacy IPv4 notations resolvers still accept: 2130706433, 0x7f.1, 0177.0.0.1, 127.1.
_LEGACY_IPV4: Final = re.compile(r"(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?")


class AddressRefused(Exception):
    """A provider host that names or resolves to an address the platform does not call."""

    def __init__(self, host: str, reason: str, address: IPAddress | None = None) -> None:
        self.host = host
        self.reason = reason
        self.address = address
        shown = f"{host} ({address})" if address is not None and str(address) != host else host
        super().__init__(f"{shown} is {reason}")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64 or 6to4), which decides."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def _allowed_private() -> bool:
    return get_settings().ai_allow_private_networks


def address_refusal(address: IPAddress, *, allow_private: bool | None = None) -> str | None:
    """Why the platform must not call ``address`` (e.g. "a link-local address"), or None when it may.

    ``allow_private`` defaults to the ``ai_allow_private_networks`` setting.
    """
    allow = _allowed_private() if allow_private is None else allow_private
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return address_refusal(embedded, allow_private=allow)
        if address == _LOOPBACK_V6:  # inside ::/96, refused below
            return None if allow else PRIVATE
        # fd00:ec2::/64 lies inside fc00::/7: always-refused ranges are checked first.
        for network6, reason in _ALWAYS_REFUSED_V6:
            if address in network6:
                return reason
        if any(address in network6 for network6, _ in _PRIVATE_V6):
            return None if allow else PRIVATE
    else:
        for network4, reason in _ALWAYS_REFUSED_V4:
            if address in network4:
                return reason
        if any(address in network4 for network4, _ in _PRIVATE_V4):
            return None if allow else PRIVATE
    if not address.is_global:
        return "an address that is not publicly routable"
    return None


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
    except ValueError:
        pass
    if _LEGACY_IPV4.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
        except OSError:
            return None
    return None


def host_refusal(host: str, *, allow_private: bool | None = None) -> str | None:
    """Why a URL naming ``host`` must not be called, judged from the name alone (no DNS), or None.

    IP literals (also in legacy IPv4 notations) are judged by :func:`address_refusal`;
    ``localhost`` and ``*.localhost`` always mean loopback (RFC 6761); metadata names are refused.
    """
    name = host.strip().lower()
    literal = _literal_address(name)
    if literal is not None:
        return address_refusal(literal, allow_private=allow_private)
    name = name.rstrip(".")
    if name in METADATA_HOSTS:
        return "a cloud metadata address"
    if name == "localhost" or name.endswith(".localhost"):
        return address_refusal(ipaddress.IPv4Address("127.0.0.1"), allow_private=allow_private)
    return None


def is_host_name(host: str) -> bool:
    """Whether ``host`` is a syntactically valid DNS name or IP literal (lower-cased ASCII)."""
    return _literal_address(host) is not None or bool(_HOST_NAME.fullmatch(host))


def vetted_addresses(host: str, port: int, *, allow_private: bool | None = None) -> list[IPAddress]:
    """Every address ``host`` resolves to, in the resolver's order, once each.

    Raises:
        AddressRefused: when the name, or ANY address it resolves to, is refused (one bad answer
            among good ones is how a rebinding attack looks).
        OSError: when the name does not resolve.
    """
    allow = _allowed_private() if allow_private is None else allow_private
    reason = host_refusal(host, allow_private=allow)
    if reason is not None:
        raise AddressRefused(host, reason)
    addresses: list[IPAddress] = []
    for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    for address in addresses:
        reason = address_refusal(address, allow_private=allow)
        if reason is not None:
            raise AddressRefused(host, reason, address)
    return addresses


def guarded_client(*, verify: ssl.SSLContext | None = None, **kwargs: Any) -> httpx.Client:
    """An ``httpx.Client`` that connects only to allowed addresses (see the module's rule).

    ``verify``: the TLS context (default: httpx's, with the certifi roots). Raises
    :class:`AddressRefused` from a request whose host is refused.
    """
    import httpx

    from mm_common.ai.guarded_http import GuardedTransport

    return httpx.Client(transport=GuardedTransport(verify), trust_env=False, **kwargs)
