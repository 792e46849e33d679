"""HTTPS against real TLS servers with certificates from a trustme CA.

Each server is aiohttp.web behind a server ``SSLContext`` that records the SNI name it
was sent and offers ALPN ``h2`` and ``http/1.1``; handlers report the peer port, so a
test can tell which client connection carried a request.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import test_utils, web

import hyperclient
from hyperclient import ClientSession, Fingerprint, TCPConnector
from hyperclient import tls as tls_module

from ..conftest import RawServer


@dataclass
class HTTPSServer:
    """A running HTTPS server and what it saw."""

    host: str
    port: int
    sni: list[str | None] = field(default_factory=list)
    peers: list[int] = field(default_factory=list)

    def url(self, path: str = "/", host: str | None = None) -> str:
        host = host or self.host
        if ":" in host:
            host = f"[{host}]"
        return f"https://{host}:{self.port}{path}"


StartHTTPS = Callable[..., Awaitable[HTTPSServer]]
#: Large enough for full-buffer reads (the switch to copied reads, see protocol.py).
BIG_BODY = bytes(range(256)) * 12288  # 3 MiB


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def good_cert(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("localhost", "127.0.0.1", "::1")


@pytest.fixture
def trusting(ca: trustme.CA) -> ssl.SSLContext:
    """A client context that trusts the test CA (and checks host names)."""
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


def der_of(cert: trustme.LeafCert) -> bytes:
    return ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode())


@pytest.fixture
async def https_server() -> AsyncIterator[StartHTTPS]:
    """Start aiohttp.web over TLS with *cert*; optionally require a client certificate."""
    servers: list[test_utils.TestServer] = []

    async def start(
        cert: trustme.LeafCert, *, host: str = "127.0.0.1", client_ca: trustme.CA | None = None
    ) -> HTTPSServer:
        # Not create_default_context(): it would log keys to SSLKEYLOGFILE (see keylog).
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(ctx)
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        if client_ca is not None:
            ctx.verify_mode = ssl.CERT_REQUIRED
            client_ca.configure_trust(ctx)
        info = HTTPSServer(host, 0)

        def on_sni(obj: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
            info.sni.append(name)

        ctx.sni_callback = on_sni

        async def handler(request: web.Request) -> web.Response:
            transport = request.transport
            assert transport is not None
            peer = transport.get_extra_info("peername")
            sslobj = transport.get_extra_info("ssl_object")
            info.peers.append(peer[1])
            return web.json_response(
                {
                    "peer": peer[1],
                    "alpn": sslobj.selected_alpn_protocol(),
                    "host": request.headers.get("Host"),
                    "client_cert": bool(sslobj.getpeercert()),
                }
            )

        async def big(request: web.Request) -> web.Response:
            return web.Response(body=BIG_BODY)

        async def upload(request: web.Request) -> web.Response:
            body = await request.read()
            return web.Response(text=hashlib.sha256(body).hexdigest())

        app = web.Application(client_max_size=8 * 2**20)
        app.router.add_get("/", handler)
        app.router.add_get("/big", big)
        app.router.add_post("/upload", upload)
        server = test_utils.TestServer(app, host=host, port=0)
        await server.start_server(ssl=ctx)
        servers.append(server)
        assert server.port is not None
        info.port = server.port
        return info

    yield start
    for server in servers:
        await server.close()


async def get_json(session: ClientSession, url: str, **kwargs: Any) -> dict[str, Any]:
    async with session.get(url, **kwargs) as resp:
        assert resp.status == 200
        data: dict[str, Any] = await resp.json()
        return data


# -- verification -------------------------------------------------------------------------


async def test_verified_https_sends_sni_and_leaves_the_callers_context_alone(
    https_server: StartHTTPS, good_cert: trustme.LeafCert, trusting: ssl.SSLContext
) -> None:
    srv = await https_server(good_cert)
    async with ClientSession(connector=TCPConnector(ssl=trusting)) as session:
        data = await get_json(session, srv.url(host="localhost"))
    # RFC 6066 §3: the host name goes in SNI. The caller's context is used unchanged, so
    # no ALPN was offered (our own contexts offer http/1.1: see the verification-off test).
    assert srv.sni == ["localhost"]
    assert data["alpn"] is None
    assert trusting.get_ca_certs()  # not replaced by a copy
    assert data["host"] == f"localhost:{srv.port}"


async def test_ip_literal_is_checked_against_the_ip_san_and_sends_no_sni(
    https_server: StartHTTPS, good_cert: trustme.LeafCert, trusting: ssl.SSLContext
) -> None:
    srv = await https_server(good_cert)
    async with ClientSession() as session:
        await get_json(session, srv.url(), ssl=trusting)
    # RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted in HostName".
    assert srv.sni == [None]


async def test_system_trust_store_rejects_an_unknown_ca(
    https_server: StartHTTPS, good_cert: trustme.LeafCert
) -> None:
    srv = await https_server(good_cert)
    async with ClientSession() as session:
        with pytest.raises(hyperclient.ClientConnectorCertificateError) as info:
            await session.get(srv.url())
    err = info.value
    assert isinstance(err, hyperclient.ClientSSLError)
    assert isinstance(err, ssl.CertificateError)
    assert isinstance(err.__cause__, ssl.SSLCertVerificationError)
    assert err.certificate_error is err.__cause__
    assert (err.host, err.port) == ("127.0.0.1", srv.port)
    assert f"127.0.0.1:{srv.port}" in str(err)
    assert "unable to get local issuer certificate" in str(err)


async def test_the_system_trust_store_is_loaded_off_the_event_loop(
    https_server: StartHTTPS, good_cert: trustme.LeafCert, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Parsing the system CA bundle takes milliseconds: not in the loop's thread.
    srv = await https_server(good_cert)
    monkeypatch.setattr(tls_module, "_built", {})  # as a fresh process: none built yet
    builders: list[threading.Thread] = []
    real = tls_module._build

    def build(verified: bool, keylog: str | None) -> ssl.SSLContext:
        builders.append(threading.current_thread())
        return real(verified, keylog)

    monkeypatch.setattr(tls_module, "_build", build)
    async with ClientSession() as session:
        for _ in range(2):  # built once, then shared
            with pytest.raises(hyperclient.ClientConnectorCertificateError):
                await session.get(srv.url())
        await get_json(session, srv.url(), ssl=False)
    assert len(builders) == 2  # the verifying context, then the unverified one
    assert threading.current_thread() not in builders
    assert set(tls_module._built) == {(True, None), (False, None)}


async def test_wrong_host_name_is_a_certificate_error(
    https_server: StartHTTPS, ca: trustme.CA, trusting: ssl.SSLContext
) -> None:
    srv = await https_server(ca.issue_cert("wrong.example"))
    async with ClientSession(connector=TCPConnector(ssl_context=trusting)) as session:
        with pytest.raises(hyperclient.ClientConnectorCertificateError) as info:
            await session.get(srv.url(host="localhost"))
    cause = info.value.__cause__
    assert isinstance(cause, ssl.SSLCertVerificationError)
    assert "Hostname mismatch" in cause.verify_message


@pytest.mark.parametrize("name", [".", ".."])
async def test_a_name_of_dots_never_turns_the_host_name_check_off(
    https_server: StartHTTPS, ca: trustme.CA, trusting: ssl.SSLContext, name: str
) -> None:
    """Without its trailing dots nothing was left, and asyncio reads an empty server name
    as "check no name": a valid certificate for any other name was accepted."""
    srv = await https_server(ca.issue_cert("attacker.example"))
    resolver = hyperclient.StaticResolver({name: "127.0.0.1", "localhost": "127.0.0.1"})
    connector = TCPConnector(ssl_context=trusting, resolver=resolver)
    async with ClientSession(connector=connector) as session:
        with pytest.raises(ValueError, match="invalid TLS server name"):
            await session.get(srv.url(host="localhost"), server_hostname=name)
        with pytest.raises(hyperclient.InvalidUrlClientError, match="invalid TLS server name"):
            await session.get(f"https://{name}:{srv.port}/")
    assert srv.peers == []


@pytest.mark.parametrize("name", ["a..b", "x" * 64 + ".example", "bad\x00host"])
async def test_a_server_hostname_that_cannot_be_encoded_is_a_value_error(
    https_server: StartHTTPS, good_cert: trustme.LeafCert, trusting: ssl.SSLContext, name: str
) -> None:
    srv = await https_server(good_cert)
    async with ClientSession(connector=TCPConnector(ssl_context=trusting)) as session:
        with pytest.raises(ValueError, match=r"^invalid TLS server name"):  # was UnicodeError
            await session.get(srv.url(host="localhost"), server_hostname=name)


async def test_closing_waits_a_bounded_time_for_a_silent_servers_close_notify(
    good_cert: trustme.LeafCert, trusting: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The closing handshake is kept, but a pooled TLS server gone silent made closing
    the session wait asyncio's 30 s for its close_notify."""
    monkeypatch.setattr("hyperclient.connector.TLS_SHUTDOWN_TIMEOUT", 0.2)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    good_cert.configure_cert(server_ctx)
    writers: list[asyncio.StreamWriter] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.transport.pause_reading()  # silent from now on: no close_notify comes back

    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    try:
        session = ClientSession(connector=TCPConnector(ssl_context=trusting))
        async with session.get(f"https://localhost:{port}/") as resp:
            assert await resp.read() == b"ok"
        started = asyncio.get_running_loop().time()
        await session.close()
        assert asyncio.get_running_loop().time() - started < 2  # was 30 s
    finally:
        for writer in writers:
            writer.transport.abort()
        server.close()
        await server.wait_closed()


async def test_expired_certificate_is_a_certificate_error(
    https_server: StartHTTPS, ca: trustme.CA, trusting: ssl.SSLContext
) -> None:
    now = datetime.datetime.now(datetime.UTC)
    expired = ca.issue_cert(
        "localhost",
        "127.0.0.1",
        not_before=now - datetime.timedelta(days=10),
        not_after=now - datetime.timedelta(days=1),
    )
    srv = await https_server(expired)
    async with ClientSession() as session:
        with pytest.raises(hyperclient.ClientConnectorCertificateError) as info:
            await session.get(srv.url(), ssl=trusting)
    cause = info.value.__cause__
    assert isinstance(cause, ssl.SSLCertVerificationError)
    assert "expired" in cause.verify_message


@pytest.mark.parametrize("how", ["verify_ssl", "ssl_false", "request"])
async def test_verification_off_accepts_an_untrusted_wrong_host_certificate(
    https_server: StartHTTPS, ca: trustme.CA, how: str
) -> None:
    srv = await https_server(ca.issue_cert("wrong.example"))
    kwargs: dict[str, Any] = {}
    # RFC 7301: our contexts offer only http/1.1, so an h2-capable server must pick it.
    if how == "verify_ssl":
        connector = TCPConnector(verify_ssl=False)
    elif how == "ssl_false":
        connector = TCPConnector(ssl=False)
    else:
        connector = TCPConnector()
        kwargs["ssl"] = False
    assert connector.verify_ssl is (how != "verify_ssl")
    async with ClientSession(connector=connector) as session:
        data = await get_json(session, srv.url(host="localhost"), **kwargs)
    assert data["alpn"] == "http/1.1"


async def test_non_tls_peer_is_an_ssl_error(raw_server: Any) -> None:
    async def plain_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()

    srv: RawServer = await raw_server(plain_http)
    async with ClientSession() as session:
        with pytest.raises(hyperclient.ClientConnectorSSLError) as info:
            await session.get(f"https://127.0.0.1:{srv.port}/")
    assert isinstance(info.value, hyperclient.ClientSSLError)
    assert isinstance(info.value, ssl.SSLError)
    assert isinstance(info.value.__cause__, ssl.SSLError)
    assert f"127.0.0.1:{srv.port}" in str(info.value)


async def test_client_certificate_from_the_ssl_context(
    https_server: StartHTTPS, ca: trustme.CA, good_cert: trustme.LeafCert
) -> None:
    srv = await https_server(good_cert, client_ca=ca)
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    ca.issue_cert("client@example.org").configure_cert(ctx)
    async with ClientSession(connector=TCPConnector(ssl_context=ctx)) as session:
        data = await get_json(session, srv.url())
    assert data["client_cert"] is True


# -- pinning -------------------------------------------------------------------------------


async def test_sha256_fingerprint_pins_a_self_signed_certificate(
    https_server: StartHTTPS, good_cert: trustme.LeafCert
) -> None:
    srv = await https_server(good_cert)
    pin = Fingerprint(hashlib.sha256(der_of(good_cert)).digest())
    async with ClientSession() as session:
        await get_json(session, srv.url(), ssl=pin)
    connector = TCPConnector(fingerprint=pin.fingerprint)
    assert connector.fingerprint == pin.fingerprint
    async with ClientSession(connector=connector) as session:
        await get_json(session, srv.url())


@pytest.mark.parametrize("algorithm", ["md5", "sha1"])
async def test_legacy_fingerprint_warns_but_works(
    https_server: StartHTTPS, good_cert: trustme.LeafCert, algorithm: str
) -> None:
    srv = await https_server(good_cert)
    digest = hashlib.new(algorithm, der_of(good_cert)).digest()
    with pytest.warns(DeprecationWarning, match="insecure"):
        connector = TCPConnector(fingerprint=digest)
    async with ClientSession(connector=connector) as session:
        await get_json(session, srv.url())
    with pytest.raises(ValueError, match="insecure"):
        Fingerprint(digest)


async def test_fingerprint_mismatch_closes_and_never_pools_the_connection(
    https_server: StartHTTPS, good_cert: trustme.LeafCert
) -> None:
    srv = await https_server(good_cert)
    wrong = hashlib.sha256(b"not the certificate").digest()
    connector = TCPConnector(ssl=Fingerprint(wrong))
    async with ClientSession(connector=connector) as session:
        for _ in range(2):
            with pytest.raises(hyperclient.ServerFingerprintMismatch) as info:
                await session.get(srv.url())
            err = info.value
            assert err.expected == wrong
            assert err.got == hashlib.sha256(der_of(good_cert)).digest()
            assert (err.host, err.port) == ("127.0.0.1", srv.port)
            assert wrong.hex() in str(err)
        stats = list(connector.stats().values())
        assert all(s.idle == 0 and s.in_use == 0 and s.created == 0 for s in stats)
    # Both handshakes completed (the pin is checked after), and no request was ever sent.
    assert len(srv.sni) == 2
    assert srv.peers == []


# -- pool keys -------------------------------------------------------------------------------


async def test_unverified_and_verified_connections_are_never_shared(
    https_server: StartHTTPS, good_cert: trustme.LeafCert, trusting: ssl.SSLContext
) -> None:
    srv = await https_server(good_cert)
    connector = TCPConnector(ssl=trusting)
    async with ClientSession(connector=connector) as session:
        verified = (await get_json(session, srv.url()))["peer"]
        unverified = (await get_json(session, srv.url(), ssl=False))["peer"]
        assert unverified != verified
        assert (await get_json(session, srv.url()))["peer"] == verified
        assert (await get_json(session, srv.url(), ssl=False))["peer"] == unverified
        assert sorted(str(k.ssl) for k in connector.stats()) == sorted(["True", "False"])
        assert all(s.created == 1 and s.reused == 1 for s in connector.stats().values())


async def test_server_hostname_is_part_of_the_pool_key(
    https_server: StartHTTPS, good_cert: trustme.LeafCert, trusting: ssl.SSLContext
) -> None:
    srv = await https_server(good_cert)
    async with ClientSession(connector=TCPConnector(ssl=trusting)) as session:
        plain = (await get_json(session, srv.url()))["peer"]
        named = (await get_json(session, srv.url(), server_hostname="localhost"))["peer"]
        again = (await get_json(session, srv.url(), server_hostname="localhost"))["peer"]
        # The name changes what was verified (and sent as SNI): a different connection.
        assert named != plain
        assert again == named
        # A name the certificate does not cover fails, whatever the URL's host.
        with pytest.raises(hyperclient.ClientConnectorCertificateError):
            await session.get(srv.url(), server_hostname="wrong.example")
    assert srv.sni == [None, "localhost", "wrong.example"]


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6 support")
async def test_https_to_an_ipv6_literal_whatever_the_family(
    https_server: StartHTTPS, good_cert: trustme.LeafCert, trusting: ssl.SSLContext
) -> None:
    try:
        srv = await https_server(good_cert, host="::1")
    except OSError as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"no IPv6 loopback: {exc}")
    connector = TCPConnector(ssl=trusting, family=socket.AF_INET)
    async with ClientSession(connector=connector) as session:
        await get_json(session, srv.url())


# -- key logging ---------------------------------------------------------------------------


@pytest.fixture
def keylog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "keys.log"
    monkeypatch.setenv("SSLKEYLOGFILE", str(path))
    monkeypatch.setattr(tls_module, "_built", {})  # as a fresh process: none built yet
    return path


def test_shared_contexts_ignore_sslkeylogfile(keylog: Path) -> None:
    # ssl.create_default_context() reads SSLKEYLOGFILE on its own: we switch it off.
    assert tls_module.default_context().keylog_filename is None
    assert tls_module.insecure_context().keylog_filename is None
    assert tls_module.context_for(True, trust_env=True).keylog_filename == str(keylog)


@pytest.mark.parametrize("trust_env", [False, True])
async def test_keys_are_logged_only_with_trust_env(
    https_server: StartHTTPS, good_cert: trustme.LeafCert, keylog: Path, trust_env: bool
) -> None:
    srv = await https_server(good_cert)
    async with ClientSession(trust_env=trust_env) as session:
        await get_json(session, srv.url(), ssl=False)
    logged = await asyncio.to_thread(lambda: keylog.read_bytes() if keylog.exists() else None)
    if trust_env:
        assert logged is not None
        assert b"CLIENT_" in logged
    else:
        assert logged is None


async def test_large_bodies_over_tls_and_the_connection_after_them(
    https_server: StartHTTPS, good_cert: trustme.LeafCert, trusting: ssl.SSLContext
) -> None:
    """TLS transports read into our buffer as well, switch to copied reads for a large
    body and back: two large bodies and a small response share one intact connection.
    A large upload (head and body handed over together) arrives intact too."""
    server = await https_server(good_cert)
    async with ClientSession(connector=TCPConnector(ssl=trusting)) as session:
        async with session.post(server.url("/upload"), data=BIG_BODY) as resp:
            assert await resp.text() == hashlib.sha256(BIG_BODY).hexdigest()
        for _ in range(2):
            async with session.get(server.url("/big")) as resp:
                assert await resp.read() == BIG_BODY
            async with session.get(server.url("/big")) as resp:
                total = b"".join([chunk async for chunk in resp.content.iter_chunked(65536)])
                assert total == BIG_BODY
        data = await get_json(session, server.url())
    assert len(set(server.peers)) == 1
    assert data["peer"] == server.peers[0]


async def test_per_request_legacy_tls_arguments(
    https_server: StartHTTPS, ca: trustme.CA, good_cert: trustme.LeafCert
) -> None:
    # aiohttp 3 still takes the reference's connector-level TLS settings per request.
    srv = await https_server(ca.issue_cert("wrong.example"))
    lax = ssl.create_default_context()
    lax.check_hostname = False
    lax.verify_mode = ssl.CERT_NONE
    async with ClientSession() as session:
        with pytest.raises(hyperclient.ClientConnectorCertificateError):
            await session.get(srv.url(host="localhost"))
        data = await get_json(session, srv.url(host="localhost"), verify_ssl=False)
        assert data["alpn"] == "http/1.1"
        # The user's own context is used as given (we never set ALPN on it).
        data = await get_json(session, srv.url(host="localhost"), ssl_context=lax)
        assert data["alpn"] is None
        with pytest.raises(ValueError, match="cannot be combined with verify_ssl"):
            await session.get(srv.url(), ssl=lax, verify_ssl=False)
    pinned = await https_server(good_cert)
    digest = hashlib.sha256(der_of(good_cert)).digest()
    async with ClientSession() as session:
        await get_json(session, pinned.url(), fingerprint=digest)
        with pytest.raises(hyperclient.ServerFingerprintMismatch):
            await session.get(pinned.url(), fingerprint=hashlib.sha256(b"other").digest())
