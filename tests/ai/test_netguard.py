"""The address rule for calls to AI providers, and its enforcement on RESOLVED addresses at call
time (no database, no local stack: stream_chat against the fake provider on 127.0.0.1)."""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mm_common.ai.keys import platform_api_key
from mm_common.ai.netguard import AddressRefused, address_refusal, guarded_client, host_refusal
from mm_common.ai.providers import ChatMessage, ProviderError, StreamResult, stream_chat
from tests.support.fake_providers import FakeProviders, ai_settings, private_networks

NAME = "fake-provider.test"  # a name only the patched resolver below knows
PUBLIC = "93.184.215.14"


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders() as server:
        yield server


class Resolver:
    """Answers for NAME (one list of addresses per call, the last one repeating); every other
    name goes to the real resolver. Records how often NAME was resolved."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.calls = 0
        real = socket.getaddrinfo

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if host != NAME:
                return real(host, port, *args, **kwargs)
            addresses = self.answers[min(self.calls, len(self.answers) - 1)]
            self.calls += 1
            return [
                (
                    socket.AF_INET6 if ":" in a else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (a, int(port), 0, 0) if ":" in a else (a, int(port)),
                )
                for a in addresses
            ]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def ask(base_url: str, fake: FakeProviders) -> StreamResult:
    return stream_chat(
        kind="openai_compatible",
        base_url=base_url,
        api_key=fake.api_key,
        model="coder",
        messages=[ChatMessage("user", "hello")],
        max_output_tokens=50,
        on_text=lambda _: None,
        deadline=time.monotonic() + 10,
        sleep=lambda _: None,
    )


def refused(base_url: str, fake: FakeProviders) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        ask(base_url, fake)
    assert caught.value.code == "provider_address_refused" and not caught.value.retryable
    assert fake.requests == []  # nothing left the process
    return caught.value


def port(fake: FakeProviders) -> int:
    return int(fake.url.rsplit(":", 1)[1])


# --- The rule ------------------------------------------------------------------------------------

ALWAYS_REFUSED = [
    "169.254.169.254",  # AWS/GCP/Azure instance metadata
    "169.254.170.2",  # ECS task metadata
    "fd00:ec2::254",  # AWS instance metadata over IPv6
    "100.100.100.200",  # Alibaba metadata
    "169.254.10.1",
    "fe80::1",
    "::ffff:169.254.169.254",  # IPv4-mapped IPv6
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "0.0.0.0",
    "::",
    "224.0.0.1",
    "ff02::1",
    "255.255.255.255",
    "240.0.0.1",
    "192.0.2.1",
    "2001:db8::1",
]
PRIVATE = ["127.0.0.1", "127.8.9.10", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "fd12::1"]
PRIVATE += ["::ffff:127.0.0.1", "::ffff:10.0.0.1", "2002:c0a8:101::"]  # mapped, 6to4 of 192.168.1.1
PUBLIC_ADDRESSES = ["8.8.8.8", "93.184.215.14", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]


@pytest.mark.parametrize("address", ALWAYS_REFUSED)
def test_link_local_metadata_and_unroutable_addresses_are_always_refused(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address), allow_private=True) is not None
    assert address_refusal(ipaddress.ip_address(address), allow_private=False) is not None


@pytest.mark.parametrize("address", PRIVATE)
def test_private_and_loopback_addresses_need_the_operators_switch(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address), allow_private=False) == "a private or loopback address"
    assert address_refusal(ipaddress.ip_address(address), allow_private=True) is None


@pytest.mark.parametrize("address", PUBLIC_ADDRESSES)
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address), allow_private=False) is None


@pytest.mark.parametrize(
    ("host", "private"),
    [
        ("localhost", True),
        ("LocalHost.", True),
        ("api.localhost", True),
        ("2130706433", True),  # 127.0.0.1 in the decimal notation resolvers accept
        ("0x7f.1", True),
        ("0177.0.0.1", True),
        ("127.1", True),
        ("metadata.google.internal", False),
        ("metadata", False),
        ("0", False),  # 0.0.0.0
    ],
)
def test_names_and_legacy_notations_are_judged_by_what_they_mean(host: str, private: bool) -> None:
    assert host_refusal(host, allow_private=False) is not None
    assert (host_refusal(host, allow_private=True) is None) is private
    assert host_refusal("api.openai.com", allow_private=False) is None


def test_the_setting_decides_by_default() -> None:
    loopback = ipaddress.ip_address("127.0.0.1")
    with private_networks(allowed=False):
        assert address_refusal(loopback) is not None
    with private_networks(allowed=True):
        assert address_refusal(loopback) is None


# --- At call time: the resolved address decides, and it is the one connected to -------------------


def test_with_the_switch_off_a_loopback_provider_is_never_called(fake: FakeProviders) -> None:
    with private_networks(allowed=False):
        error = refused(f"http://127.0.0.1:{port(fake)}/v1", fake)
        assert "127.0.0.1 is a private or loopback address" in error.message
        assert "administrator" in error.message
        refused(f"http://localhost:{port(fake)}/v1", fake)
    with private_networks(allowed=True):
        assert ask(f"http://localhost:{port(fake)}/v1", fake).text == "Hello, wörld! ✨"


def test_a_name_resolving_to_loopback_is_refused_at_call_time(
    fake: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolver = Resolver(monkeypatch, ["127.0.0.1"])
    assert host_refusal(NAME, allow_private=False) is None  # the name alone says nothing
    with private_networks(allowed=False):
        error = refused(f"http://{NAME}:{port(fake)}/v1", fake)
    assert resolver.calls == 1
    assert f"its host {NAME} is a private or loopback address" in error.message
    assert "127.0.0.1" not in error.message  # users see the configured host, not internal addresses


def test_the_connection_goes_to_the_checked_address_with_the_providers_name(
    fake: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first answer is checked and used; a later answer (rebinding to the metadata service)
    # is never asked for, because nothing resolves the name a second time.
    resolver = Resolver(monkeypatch, ["127.0.0.1"], ["169.254.169.254"])
    with private_networks(allowed=True):
        result = ask(f"http://{NAME}:{port(fake)}/v1", fake)
    assert result.text == "Hello, wörld! ✨"
    assert resolver.calls == 1
    assert fake.requests[0].header("host") == f"{NAME}:{port(fake)}"


def test_one_refused_answer_among_good_ones_refuses_the_call(
    fake: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    Resolver(monkeypatch, [PUBLIC, "169.254.169.254"])
    with private_networks(allowed=True):
        error = refused(f"http://{NAME}:{port(fake)}/v1", fake)
    assert "cloud metadata address" in error.message


def test_metadata_addresses_are_refused_even_when_private_networks_are_allowed(fake: FakeProviders) -> None:
    with private_networks(allowed=True):
        for url in (
            "http://169.254.169.254/latest/meta-data",
            "http://[fd00:ec2::254]/latest",
            "http://metadata.google.internal/computeMetadata/v1",
            "http://[::ffff:169.254.169.254]/v1",
            "http://0.0.0.0:80/v1",
        ):
            refused(url, fake)


def test_a_name_that_does_not_resolve_is_unreachable_not_refused(fake: FakeProviders) -> None:
    with private_networks(allowed=True), pytest.raises(ProviderError) as caught:
        stream_chat(
            kind="openai",
            base_url="http://no-such-host.invalid/v1",
            api_key="sk-x",
            model="m",
            messages=[ChatMessage("user", "hi")],
            max_output_tokens=5,
            on_text=lambda _: None,
            deadline=time.monotonic() + 10,
            max_attempts=1,
        )
    assert caught.value.code == "provider_unavailable"


# --- Platform keys: only the operator's allow-list ------------------------------------------------


def test_platform_keys_come_only_from_allowed_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-value")
    monkeypatch.setenv("OPENAI_API_KEY", " sk-platform-0123 \n")
    monkeypatch.setenv("MY_GATEWAY_KEY", "gateway-key-0123")
    with ai_settings(AI_PLATFORM_KEY_NAMES="OPENAI_API_KEY,ANTHROPIC_API_KEY"):
        assert platform_api_key("AWS_SECRET_ACCESS_KEY") is None
        assert platform_api_key("MY_GATEWAY_KEY") is None
        assert platform_api_key("OPENAI_API_KEY") == "sk-platform-0123"
        assert platform_api_key(None) is None
    with ai_settings(AI_PLATFORM_KEY_NAMES="MY_GATEWAY_KEY"):
        assert platform_api_key("MY_GATEWAY_KEY") == "gateway-key-0123"
        assert platform_api_key("OPENAI_API_KEY") is None


# --- HTTPS: the checked address is connected to, the provider's name is what TLS verifies --------


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"host": self.headers.get("host")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path, list[str | None]]]:
    """An HTTPS server on 127.0.0.1 with a certificate for NAME only; records the SNI it is sent."""
    cert, key = _certificate(tmp_path, NAME)
    server_names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def record_sni(_socket: Any, name: str | None, _context: Any) -> None:
        server_names.append(name)

    context.sni_callback = record_sni
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield int(server.server_address[1]), cert, server_names
    server.shutdown()
    server.server_close()


def test_https_verifies_and_names_the_provider_while_connecting_to_the_checked_address(
    tls_server: tuple[int, Path, list[str | None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    tls_port, cert, server_names = tls_server
    resolver = Resolver(monkeypatch, ["127.0.0.1"])
    trusting = ssl.create_default_context(cafile=str(cert))
    with private_networks(allowed=True), guarded_client(verify=trusting, timeout=10) as client:
        answer = client.get(f"https://{NAME}:{tls_port}/")
    assert answer.status_code == 200 and answer.json() == {"host": f"{NAME}:{tls_port}"}
    assert server_names == [NAME] and resolver.calls == 1
    # The certificate names the provider, not the address: asking by address fails verification.
    with (
        private_networks(allowed=True),
        guarded_client(verify=trusting, timeout=10) as client,
        pytest.raises(httpx.ConnectError),
    ):
        client.get(f"https://127.0.0.1:{tls_port}/")
    with (
        private_networks(allowed=False),
        guarded_client(verify=trusting, timeout=10) as client,
        pytest.raises(AddressRefused),
    ):
        client.get(f"https://{NAME}:{tls_port}/")
