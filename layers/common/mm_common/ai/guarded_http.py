"""The httpx transport behind :func:`mm_common.ai.netguard.guarded_client`: it connects only to
addresses :func:`mm_common.ai.netguard.vetted_addresses` allows. Imported with the first guarded
client, not with :mod:`mm_common.ai.netguard`, whose rule needs no HTTP library.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from mm_common.ai.netguard import vetted_addresses


class GuardedBackend(httpcore.SyncBackend):
    """Connects only to addresses the rule allows: resolves here, checks every answer, and
    connects to a checked address itself, so nothing resolves the name a second time."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = vetted_addresses(host, port)
        except OSError as exc:  # the name does not resolve: a connection error like any other
            raise httpcore.ConnectError(f"could not resolve {host}") from exc
        failure: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # getaddrinfo answers at least one address or raises
        raise failure


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with the guarded network backend. The URL is unchanged, so the Host
    header, SNI and certificate checks use the provider's name; only the TCP peer is pinned."""

    def __init__(self, verify: ssl.SSLContext | None = None) -> None:
        context = verify or httpx.create_ssl_context()
        # trust_env=False: a proxy from the environment would resolve names where we cannot check.
        super().__init__(verify=context, trust_env=False)
        # httpx does not expose the network backend, so the pool is made again with ours.
        self._pool = httpcore.ConnectionPool(ssl_context=context, network_backend=GuardedBackend())
