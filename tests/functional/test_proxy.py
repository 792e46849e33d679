"""Proxies for real: proxy.py and tinyproxy in subprocesses, our recording CONNECT and
SOCKS servers (tests/socks_server.py), and origins that record every request head.

Each test asserts on the wire: what the proxy got, and what the origin got (never a
Proxy-Authorization).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import hashlib
import shutil
import socket
import ssl
import subprocess
import sys
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from yarl import URL

import hyperclient
from hyperclient import BasicAuth, ClientSession, ProxyConnector, TCPConnector
from hyperclient.resolver import StaticResolver

from ..conftest import OK, read_request, recording
from ..socks_server import ConnectProxy, SocksServer

# -- origins -----------------------------------------------------------------------------------


class Origin:
    """A keep-alive origin answering "ok" and recording each request head."""

    def __init__(self) -> None:
        self.heads: list[bytes] = []
        self.connections = 0
        self.port = 0
        self.scheme = "http"
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> Origin:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]
        self.scheme = "https" if ssl_context is not None else "http"
        return self

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                head, _ = await read_request(reader)
                self.heads.append(head)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def has_header(head: bytes, name: bytes) -> bool:
    return any(line.lower().startswith(name.lower() + b":") for line in head.split(b"\r\n"))


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def cert(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("localhost", "127.0.0.1", "origin.test")


@pytest.fixture
def trusting(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


Closeable = Origin | SocksServer | ConnectProxy


@pytest.fixture
async def started() -> AsyncIterator[Callable[[Closeable], Awaitable[Any]]]:
    """Start test servers; all are closed at the end."""
    servers: list[Closeable] = []

    async def start(server: Closeable, **kwargs: Any) -> Any:
        servers.append(server)
        await server.start(**kwargs)
        return server

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def origin(started: Any) -> Origin:
    result: Origin = await started(Origin())
    return result


@pytest.fixture
async def tls_origin(started: Any, cert: trustme.LeafCert) -> Origin:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(ctx)
    result: Origin = await started(Origin(), ssl_context=ctx)
    return result


async def get_ok(session: ClientSession, url: str, **kwargs: Any) -> None:
    async with session.get(url, **kwargs) as resp:
        assert resp.status == 200
        assert await resp.read() == b"ok"


# -- real proxies in subprocesses -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def run_proxy(argv: list[str], port: int) -> Iterator[str]:
    """Run a proxy process until its port accepts connections; yield its URL."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"proxy did not start: {argv}")
                time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(0.3)
        except subprocess.TimeoutExpired:  # proxy.py takes seconds to stop politely
            proc.kill()
            proc.wait()


def proxy_py_argv(port: int, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "proxy", "--hostname", "127.0.0.1", "--port", str(port),
        "--num-workers", "1", "--num-acceptors", "1", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def proxy_py() -> Iterator[str]:
    port = free_port()
    with run_proxy(proxy_py_argv(port), port) as url:
        yield url


@pytest.fixture(scope="module")
def proxy_py_auth() -> Iterator[str]:
    port = free_port()
    with run_proxy(proxy_py_argv(port, "--basic-auth", "user:pass"), port) as url:
        yield url


@pytest.fixture(scope="module")
def proxy_py_tls(cert: trustme.LeafCert, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """proxy.py serving its clients over TLS: an https:// proxy."""
    folder = tmp_path_factory.mktemp("proxy-tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    port = free_port()
    argv = proxy_py_argv(port, "--cert-file", str(cert_file), "--key-file", str(key_file))
    with run_proxy(argv, port) as url:
        yield url.replace("http://", "https://")


def tinyproxy_conf(folder: Path, port: int, auth: bool) -> Path:
    conf = folder / f"tinyproxy-{port}.conf"
    lines = [
        f"Port {port}", "Listen 127.0.0.1", "Timeout 60", "MaxClients 20",
        "Allow 127.0.0.1", "LogLevel Critical", f"PidFile \"{folder}/tinyproxy-{port}.pid\"",
    ]  # fmt: skip
    if auth:
        lines.append("BasicAuth user pass")
    conf.write_text("\n".join(lines) + "\n")
    return conf


@contextlib.contextmanager
def run_tinyproxy(folder: Path, auth: bool) -> Iterator[str]:
    binary = shutil.which("tinyproxy")
    if binary is None:
        pytest.skip("tinyproxy is not installed (make test-deps installs it)")
    port = free_port()
    conf = tinyproxy_conf(folder, port, auth)
    with run_proxy([binary, "-d", "-c", str(conf)], port) as url:
        yield url


@pytest.fixture(scope="module")
def tinyproxy_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with run_tinyproxy(tmp_path_factory.mktemp("tinyproxy"), True) as url:
        yield url


@pytest.fixture(scope="module", params=[False, True], ids=["open", "auth"])
def tinyproxy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Debian's tinyproxy (answers HTTP/1.0); `make test-deps` installs it."""
    with run_tinyproxy(tmp_path_factory.mktemp("tinyproxy"), request.param) as url:
        yield url.replace("://", "://user:pass@") if request.param else url


# -- plain http: absolute form (RFC 9112 §3.2.2) --------------------------------------------------


async def test_plain_http_reaches_the_proxy_in_absolute_form(raw_server: Any) -> None:
    heads: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head, _ = await read_request(reader)
        heads.append(head)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()

    srv = await raw_server(proxy)
    auth = BasicAuth("user", "pass")
    async with ClientSession() as session:
        await get_ok(
            session,
            "http://origin.test:8080/path?q=1",
            proxy=srv.url,
            proxy_auth=auth,
            proxy_headers={"X-For-Proxy": "1"},
        )
    head = heads[0]
    assert head.startswith(b"GET http://origin.test:8080/path?q=1 HTTP/1.1\r\n")
    assert b"\r\nHost: origin.test:8080\r\n" in head
    assert b"\r\nX-For-Proxy: 1\r\n" in head
    assert b"\r\nProxy-Authorization: Basic dXNlcjpwYXNz\r\n" in head


async def test_plain_http_through_proxy_py(proxy_py: str, origin: Origin) -> None:
    async with ClientSession() as session:
        for _ in range(2):
            await get_ok(session, origin.url("/a?b=c"), proxy=proxy_py)
    # proxy.py forwards in origin form: the origin never sees the absolute URI.
    assert all(head.startswith(b"GET /a?b=c HTTP/1.1\r\n") for head in origin.heads)
    assert len(origin.heads) == 2


async def test_proxy_auth_from_argument_or_url(proxy_py_auth: str, origin: Origin) -> None:
    async with ClientSession() as session:
        await get_ok(
            session, origin.url(), proxy=proxy_py_auth, proxy_auth=BasicAuth("user", "pass")
        )
        with_creds = str(URL(proxy_py_auth).with_user("user").with_password("pass"))
        await get_ok(session, origin.url(), proxy=with_creds)
        async with session.get(origin.url(), proxy=proxy_py_auth) as resp:
            # Plain http: the proxy's 407 is the response (there is no tunnel to fail).
            assert resp.status == 407
    # What reaches the origin is proxy.py's choice: it relays Proxy-Authorization on plain
    # http (RFC 9110 §11.7.2 lets proxies do so). Tunnels never carry it: see below.
    assert len(origin.heads) == 2


async def test_proxy_connector_of_the_reference(proxy_py_auth: str, origin: Origin) -> None:
    with_creds = proxy_py_auth.replace("://", "://user:pass@")
    connector = ProxyConnector(with_creds)
    assert connector.proxy == with_creds
    assert connector.proxy_auth == BasicAuth("user", "pass")
    assert connector.proxy_url == URL(proxy_py_auth)
    assert connector.force_close is True
    async with ClientSession(connector=connector) as session:
        await get_ok(session, origin.url())
        await get_ok(session, origin.url())
    assert origin.connections == 2  # force_close: one request per connection
    connector = ProxyConnector(proxy_py_auth, proxy_auth=BasicAuth("user", "pass"))
    assert connector.proxy == proxy_py_auth
    async with ClientSession(connector=connector) as session:
        await get_ok(session, origin.url())


async def test_password_only_userinfo_is_credentials(raw_server: Any) -> None:
    """``http://:TOKEN@host``: yarl reports no user, yet it is user "" with password TOKEN.

    Used for the proxy and for an origin alike, and never left in a URL or a message.
    """
    token = "TOKEN-s3cr3t"
    heads: list[bytes] = []

    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head, _ = await read_request(reader)
        heads.append(head)
        if head.startswith(b"CONNECT "):
            writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()

    srv = await raw_server(server)
    proxy = f"http://:{token}@127.0.0.1:{srv.port}"
    expected = f"Basic {base64.b64encode(f':{token}'.encode()).decode()}".encode()
    # The session's auth is there to lose: credentials in a URL win over it.
    session_auth = BasicAuth("session", "other")
    async with asyncio.timeout(10), ClientSession(auth=session_auth) as session:
        await get_ok(session, "http://origin.test/plain", proxy=proxy)
        with pytest.raises(hyperclient.ClientHttpProxyError) as info:
            await session.get("https://origin.test/", proxy=proxy)
        async with session.get(f"http://:pw@127.0.0.1:{srv.port}/origin") as resp:
            assert resp.status == 200
            assert "pw" not in str(resp.url)
    plain, connect, direct = heads
    assert plain.startswith(b"GET http://origin.test/plain HTTP/1.1\r\n")
    assert b"\r\nProxy-Authorization: " + expected + b"\r\n" in plain
    assert b"\r\nProxy-Authorization: " + expected + b"\r\n" in connect
    assert token not in str(info.value)
    assert direct.startswith(b"GET /origin HTTP/1.1\r\n")
    assert b"\r\nAuthorization: Basic OnB3\r\n" in direct  # ":pw"
    req = hyperclient.ClientRequest("GET", URL("http://:pw@origin.test/"))
    assert (req.url, req.auth) == (URL("http://origin.test/"), BasicAuth("", "pw"))
    connector = ProxyConnector(proxy)
    assert connector.proxy_url == URL(f"http://127.0.0.1:{srv.port}")
    assert connector.proxy_auth == BasicAuth("", token)
    await connector.close()


def test_proxy_connector_refuses_an_unknown_scheme() -> None:
    with pytest.raises(hyperclient.InvalidURL, match="unsupported proxy scheme 'ftp'"):
        ProxyConnector("ftp://proxy.test:21")


# -- CONNECT tunnels (RFC 9110 §9.3.6) -------------------------------------------------------------


async def test_https_goes_through_a_connect_tunnel(
    started: Any, tls_origin: Origin, trusting: ssl.SSLContext
) -> None:
    proxy: ConnectProxy = await started(ConnectProxy(hosts={"origin.test": "127.0.0.1"}))
    url = tls_origin.url("/secret?x=1", host="origin.test")
    async with ClientSession(connector=TCPConnector(ssl=trusting)) as session:
        await get_ok(
            session,
            url,
            proxy=f"http://user:pass@127.0.0.1:{proxy.port}",
            proxy_headers={"X-For-Proxy": "1"},
        )
    assert proxy.heads == [
        f"CONNECT origin.test:{tls_origin.port} HTTP/1.1\r\n"
        f"Host: origin.test:{tls_origin.port}\r\n"
        "X-For-Proxy: 1\r\n"
        "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n".encode()
    ]
    head = tls_origin.heads[0]
    assert head.startswith(b"GET /secret?x=1 HTTP/1.1\r\n")
    assert b"\r\nHost: origin.test:" in head
    assert not has_header(head, b"Proxy-Authorization")
    assert not has_header(head, b"X-For-Proxy")


async def test_a_proxy_authorization_header_goes_to_the_proxy_only(
    started: Any, origin: Origin, tls_origin: Origin, trusting: ssl.SSLContext
) -> None:
    """Given with the request's headers, it went inside the tunnel to the origin (as in
    aiohttp) and the proxy never saw it; beside proxy_auth= it was sent twice."""
    proxy: ConnectProxy = await started(ConnectProxy())
    proxy_url = f"http://127.0.0.1:{proxy.port}"
    mine = {"Proxy-Authorization": "Basic bWluZTpwdw=="}
    async with asyncio.timeout(10), ClientSession(connector=TCPConnector(ssl=trusting)) as session:
        await get_ok(session, tls_origin.url(), proxy=proxy_url, headers=mine)
        # proxy_auth= wins, as proxy_headers= does: one field.
        auth = BasicAuth("user", "pass")
        async with session.get(origin.url(), proxy=proxy_url, headers=mine, proxy_auth=auth):
            pass
        with_own = {"Proxy-Authorization": "Basic b3duOnB3"}
        async with session.get(origin.url(), proxy=proxy_url, headers=mine, proxy_headers=with_own):
            pass
        # Without a proxy it is an ordinary header the caller chose to send.
        await get_ok(session, origin.url(), headers=mine)
    connect, plain_auth, plain_own = proxy.heads
    assert connect.startswith(b"CONNECT ")
    assert b"\r\nProxy-Authorization: Basic bWluZTpwdw==\r\n" in connect
    assert not has_header(tls_origin.heads[0], b"Proxy-Authorization")
    assert plain_auth.count(b"Proxy-Authorization") == 1
    assert b"\r\nProxy-Authorization: Basic dXNlcjpwYXNz\r\n" in plain_auth
    assert plain_own.count(b"Proxy-Authorization") == 1
    assert b"\r\nProxy-Authorization: Basic b3duOnB3\r\n" in plain_own
    assert b"\r\nProxy-Authorization: Basic bWluZTpwdw==\r\n" in origin.heads[-1]


async def test_a_proxy_authorization_header_survives_a_redirect_through_the_proxy(
    raw_server: Any,
) -> None:
    """Cross-origin redirects drop the origin's credentials; this header is the proxy's,
    and the next hop through the same proxy went without it (407)."""
    heads: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, _ = await read_request(reader)
            heads.append(head)
            if b"proxy-authorization: basic dtpw" not in head.lower():
                writer.write(b"HTTP/1.1 407 Who\r\nContent-Length: 0\r\n\r\n")
            elif head.startswith(b"GET http://a.test/"):
                writer.write(b"HTTP/1.1 302 Found\r\nLocation: http://b.test/\r\n")
                writer.write(b"Content-Length: 0\r\n\r\n")
            else:
                writer.write(OK)
            await writer.drain()

    srv = await raw_server(proxy)
    async with ClientSession() as session:
        async with session.get(
            "http://a.test/", proxy=srv.url, headers={"Proxy-Authorization": "Basic dTpw"}
        ) as resp:
            assert (resp.status, [r.status for r in resp.history]) == (200, [302])
    assert [head.split(b" ")[1] for head in heads] == [b"http://a.test/", b"http://b.test/"]


async def test_proxy_headers_as_a_list_of_pairs(
    started: Any, origin: Origin, tls_origin: Origin, trusting: ssl.SSLContext
) -> None:
    """aiohttp takes any LooseHeaders for proxy_headers=, pairs included."""
    proxy: ConnectProxy = await started(ConnectProxy())
    pairs = [("X-For-Proxy", "1"), ("X-For-Proxy", "2")]
    async with asyncio.timeout(10), ClientSession(connector=TCPConnector(ssl=trusting)) as session:
        await get_ok(
            session, tls_origin.url(), proxy=f"http://127.0.0.1:{proxy.port}", proxy_headers=pairs
        )
        async with session.get(
            origin.url(), proxy=f"http://127.0.0.1:{proxy.port}", proxy_headers=pairs
        ) as resp:
            assert resp.status == 200  # the proxy's own answer to a plain request
    connect, plain = proxy.heads
    for head in (connect, plain):
        assert b"\r\nX-For-Proxy: 1\r\nX-For-Proxy: 2\r\n" in head
    assert connect.startswith(b"CONNECT ")
    assert not has_header(tls_origin.heads[0], b"X-For-Proxy")


async def test_tunnels_are_pooled_per_origin_never_shared(
    started: Any, cert: trustme.LeafCert, trusting: ssl.SSLContext
) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(ctx)
    first: Origin = await started(Origin(), ssl_context=ctx)
    second: Origin = await started(Origin(), ssl_context=ctx)
    proxy: ConnectProxy = await started(ConnectProxy())
    proxy_url = f"http://127.0.0.1:{proxy.port}"
    connector = TCPConnector(ssl=trusting)
    async with ClientSession(connector=connector, proxy=proxy_url) as session:
        for server in (first, second, first, second):
            await get_ok(session, server.url())
    assert len(proxy.heads) == 2
    assert (first.connections, len(first.heads)) == (1, 2)
    assert (second.connections, len(second.heads)) == (1, 2)
    assert {key.proxy for key in connector.stats()} == {URL(proxy_url)}


async def test_https_through_proxy_py(
    proxy_py_auth: str, tls_origin: Origin, trusting: ssl.SSLContext
) -> None:
    connector = TCPConnector(ssl=trusting)
    async with ClientSession(connector=connector) as session:
        await get_ok(
            session, tls_origin.url(), proxy=proxy_py_auth, proxy_auth=BasicAuth("user", "pass")
        )
    assert not has_header(tls_origin.heads[0], b"Proxy-Authorization")


async def test_https_through_an_https_proxy_is_tls_inside_tls(
    proxy_py_tls: str, origin: Origin, tls_origin: Origin, trusting: ssl.SSLContext
) -> None:
    async with ClientSession(connector=TCPConnector(ssl=trusting)) as session:
        await get_ok(session, tls_origin.url(), proxy=proxy_py_tls)
        # Plain http through the https proxy: absolute form, inside TLS to the proxy.
        await get_ok(session, origin.url(), proxy=proxy_py_tls)
    assert len(tls_origin.heads) == 1
    assert len(origin.heads) == 1


class TlsConnectProxy(ConnectProxy):
    """``ConnectProxy`` behind TLS: an https:// proxy."""

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]


async def test_a_pin_is_checked_on_the_origin_not_on_an_https_proxy(
    started: Any,
    tls_origin: Origin,
    cert: trustme.LeafCert,
    ca: trustme.CA,
    trusting: ssl.SSLContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(proxy_ctx)  # not the origin's certificate
    proxy: TlsConnectProxy = await started(TlsConnectProxy(), ssl_context=proxy_ctx)
    # A pinning connector verifies an https proxy with the default context: make that one
    # trust the test CA (there is no other way to have the proxy verified meanwhile).
    monkeypatch.setattr(hyperclient.tls, "_built", {(True, None): trusting})
    der = ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode())
    pin = hyperclient.Fingerprint(hashlib.sha256(der).digest())
    wrong = hyperclient.Fingerprint(hashlib.sha256(b"another certificate").digest())
    proxy_url = f"https://127.0.0.1:{proxy.port}"
    async with asyncio.timeout(10):
        for connector in (TCPConnector(ssl=pin), TCPConnector(fingerprint=pin.fingerprint)):
            async with ClientSession(connector=connector) as session:
                await get_ok(session, tls_origin.url(), proxy=proxy_url)
        # The pin is still checked, against the origin.
        async with ClientSession(connector=TCPConnector(ssl=wrong)) as session:
            with pytest.raises(hyperclient.ServerFingerprintMismatch) as info:
                await session.get(tls_origin.url(), proxy=proxy_url)
    assert (info.value.host, info.value.port) == ("127.0.0.1", tls_origin.port)
    assert info.value.got == hashlib.sha256(der).digest()
    assert len(tls_origin.heads) == 2


async def test_407_on_connect_names_the_proxy(
    proxy_py_auth: str, tls_origin: Origin, trusting: ssl.SSLContext
) -> None:
    async with ClientSession(connector=TCPConnector(ssl=trusting)) as session:
        with pytest.raises(hyperclient.ClientHttpProxyError) as info:
            await session.get(tls_origin.url(), proxy=proxy_py_auth)
    err = info.value
    assert err.status == 407
    assert "proxy authentication required" in err.message
    assert proxy_py_auth in err.message
    assert tls_origin.heads == []


async def test_other_connect_refusals_keep_the_proxys_status(
    started: Any, tls_origin: Origin
) -> None:
    proxy: ConnectProxy = await started(ConnectProxy(status=403))
    async with ClientSession() as session:
        with pytest.raises(hyperclient.ClientHttpProxyError) as info:
            await session.get(tls_origin.url(), proxy=f"http://127.0.0.1:{proxy.port}")
    err = info.value
    assert err.status == 403
    assert f"refused to open a tunnel to 127.0.0.1:{tls_origin.port}" in err.message
    assert err.headers is not None
    assert err.headers["X-Proxy"] == "fake"
    assert isinstance(err, hyperclient.ClientResponseError)
    # As aiohttp: the CONNECT request's, addressed to the proxy.
    info = err.request_info
    assert (info.method, info.url) == ("CONNECT", URL(f"http://127.0.0.1:{proxy.port}"))
    assert info.headers["Host"] == f"127.0.0.1:{tls_origin.port}"


@pytest.mark.parametrize("scheme", ["http", "socks5"])
async def test_a_silent_proxy_runs_out_of_sock_connect_and_the_error_says_so(
    raw_server: Any, scheme: str
) -> None:
    """A proxy that accepts and never answers the CONNECT or the SOCKS greeting: the
    handshake is bounded by sock_connect, and the error names the proxy and the budget."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    srv = await raw_server(silent)
    timeout = hyperclient.ClientTimeout(sock_connect=0.05)
    async with ClientSession(timeout=timeout) as session:
        with pytest.raises(hyperclient.ConnectionTimeoutError) as info:
            await session.get("https://127.0.0.1:1/", proxy=f"{scheme}://127.0.0.1:{srv.port}")
    where = "through proxy" if scheme == "http" else "to socks proxy"
    assert f"{where} 127.0.0.1:{srv.port} after 0.05s (sock_connect)" in str(info.value)


async def test_unreachable_proxy_is_a_proxy_connection_error(origin: Origin) -> None:
    port = free_port()
    async with ClientSession() as session:
        with pytest.raises(hyperclient.ClientProxyConnectionError) as info:
            await session.get(origin.url(), proxy=f"http://127.0.0.1:{port}")
    err = info.value
    assert (err.host, err.port) == ("127.0.0.1", port)
    assert err.errno == errno.ECONNREFUSED
    assert f"127.0.0.1:{port}" in str(err)
    assert origin.heads == []


@pytest.mark.parametrize("where", ["url", "proxy_auth"])
async def test_origin_errors_through_a_proxy_never_show_its_password(
    started: Any, tls_origin: Origin, where: str
) -> None:
    """The errors keep the connection key in their args, and the key the proxy's auth."""
    secret = "hunter2-SECRET"
    proxy: ConnectProxy = await started(ConnectProxy())
    socks: SocksServer = await started(SocksServer())
    auth = {"proxy_auth": BasicAuth("alice", secret)} if where == "proxy_auth" else {}
    userinfo = f"alice:{secret}@" if where == "url" else ""
    errors: list[BaseException] = []
    # The origin's certificate is not trusted, and origin.test resolves nowhere.
    connector = TCPConnector(resolver=StaticResolver({}))
    async with asyncio.timeout(10), ClientSession(connector=connector) as session:
        with pytest.raises(hyperclient.ClientConnectorCertificateError) as tls:
            await session.get(
                tls_origin.url(), proxy=f"http://{userinfo}127.0.0.1:{proxy.port}", **auth
            )
        errors.append(tls.value)
        with pytest.raises(hyperclient.ClientConnectorDNSError) as dns:
            await session.get(
                "http://origin.test/", proxy=f"socks5://{userinfo}127.0.0.1:{socks.port}", **auth
            )
        errors.append(dns.value)
    for err in errors:
        for text in (str(err), repr(err), repr(err.args), "".join(traceback.format_exception(err))):
            assert secret not in text
        assert isinstance(err, hyperclient.ClientConnectorError)
        assert err.args[0].proxy_auth == BasicAuth("alice", secret)  # still there, unshown


# -- choosing the proxy ----------------------------------------------------------------------------


async def test_session_proxy_and_per_request_override(
    started: Any, origin: Origin, proxy_py: str
) -> None:
    other: ConnectProxy = await started(ConnectProxy(status=403))
    async with ClientSession(proxy=proxy_py) as session:
        await get_ok(session, origin.url())
        async with session.get(origin.url(), proxy=f"http://127.0.0.1:{other.port}") as resp:
            assert resp.status == 403
    assert len(origin.heads) == 1
    assert other.heads[0].startswith(f"GET {origin.url()} HTTP/1.1".encode())


async def test_trust_env_reads_the_proxy_and_no_proxy(
    started: Any, origin: Origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy: ConnectProxy = await started(ConnectProxy(status=403))
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{proxy.port}")
    monkeypatch.setenv("no_proxy", "")
    async with ClientSession(trust_env=True) as session:
        async with session.get(origin.url()) as resp:
            assert resp.status == 403  # the proxy answered
        monkeypatch.setenv("no_proxy", "localhost, 127.0.0.0/8")
        await get_ok(session, origin.url())
    async with ClientSession() as session:  # trust_env=False: the environment is ignored
        monkeypatch.setenv("no_proxy", "")
        await get_ok(session, origin.url())
    assert len(proxy.heads) == 1
    assert len(origin.heads) == 2


# -- tinyproxy, a second implementation (HTTP/1.0)


async def test_tinyproxy_plain_and_tunnel(
    tinyproxy: str, origin: Origin, tls_origin: Origin, trusting: ssl.SSLContext
) -> None:
    async with ClientSession(connector=TCPConnector(ssl=trusting), proxy=tinyproxy) as session:
        await get_ok(session, origin.url("/plain"))
        await get_ok(session, tls_origin.url("/tunnel"))
    assert origin.heads[0].startswith(b"GET /plain HTTP/1.")
    assert tls_origin.heads[0].startswith(b"GET /tunnel HTTP/1.1")
    for head in (*origin.heads, *tls_origin.heads):
        assert not has_header(head, b"Proxy-Authorization")


async def test_tinyproxy_407(tinyproxy_auth: str, tls_origin: Origin) -> None:
    async with ClientSession() as session:
        with pytest.raises(hyperclient.ClientHttpProxyError) as info:
            await session.get(tls_origin.url(), proxy=tinyproxy_auth)
    assert info.value.status == 407
    assert tinyproxy_auth in info.value.message


# -- SOCKS

NAMES = {"origin.test": "127.0.0.1"}


@pytest.mark.parametrize(
    ("scheme", "version", "address_type", "sent_host"),
    [
        ("socks5", 5, "ipv4", "127.0.0.1"),
        ("socks5h", 5, "domain", "origin.test"),
        ("socks4", 4, "ipv4", "127.0.0.1"),
        ("socks4a", 4, "domain", "origin.test"),
    ],
)
async def test_socks_resolves_locally_or_at_the_proxy(
    started: Any,
    origin: Origin,
    scheme: str,
    version: int,
    address_type: str,
    sent_host: str,
) -> None:
    socks: SocksServer = await started(SocksServer(hosts=NAMES))
    connector = TCPConnector(resolver=StaticResolver(NAMES))
    async with ClientSession(connector=connector) as session:
        url = origin.url("/via-socks", host="origin.test")
        await get_ok(session, url, proxy=f"{scheme}://127.0.0.1:{socks.port}")
        await get_ok(session, url, proxy=f"{scheme}://127.0.0.1:{socks.port}")
    assert [(r.version, r.address_type, r.host, r.port) for r in socks.requests] == [
        (version, address_type, sent_host, origin.port)
    ]
    # Through SOCKS the origin gets an ordinary origin-form request.
    assert origin.heads[0].startswith(b"GET /via-socks HTTP/1.1\r\nHost: origin.test:")


async def test_socks5_credentials_and_https_inside(
    started: Any, tls_origin: Origin, trusting: ssl.SSLContext
) -> None:
    socks: SocksServer = await started(SocksServer(hosts=NAMES, credentials=("user", "pass")))
    async with ClientSession(connector=TCPConnector(ssl=trusting)) as session:
        url = tls_origin.url(host="origin.test")
        await get_ok(session, url, proxy=f"socks5h://user:pass@127.0.0.1:{socks.port}")
        with pytest.raises(hyperclient.ClientProxyConnectionError) as info:
            await session.get(url, proxy=f"socks5h://user:bad@127.0.0.1:{socks.port}")
        assert "rejected the username and password" in str(info.value)
        with pytest.raises(hyperclient.ClientProxyConnectionError) as info:
            await session.get(url, proxy=f"socks5h://127.0.0.1:{socks.port}")
        assert "need credentials" in str(info.value)
    assert socks.requests[0].username == "user"
    assert len(tls_origin.heads) == 1


@pytest.mark.parametrize(
    ("url", "proxy", "message"),
    [
        ("http://[::1]:1/", "socks4://", "socks4 cannot carry an IPv6 address: '::1'"),
        ("http://origin.test/", f"socks5h://{'a' * 300}:x@", "username must be 1 to 255 bytes"),
        ("http://origin.test/", "socks5h://:x@", "username must be 1 to 255 bytes, got 0"),
    ],
)
async def test_what_socks_cannot_carry_is_a_proxy_connection_error(
    started: Any, url: str, proxy: str, message: str
) -> None:
    socks: SocksServer = await started(SocksServer(hosts=NAMES))
    async with asyncio.timeout(10), ClientSession() as session:
        with pytest.raises(hyperclient.ClientProxyConnectionError) as info:
            await session.get(url, proxy=f"{proxy}127.0.0.1:{socks.port}")
    assert message in str(info.value)
    assert (info.value.host, info.value.port) == ("127.0.0.1", socks.port)
    assert isinstance(info.value.__cause__, hyperclient.errors.LocalProtocolError)
    assert socks.requests == []  # refused before connecting: the proxy got no CONNECT


async def test_socks5_user_without_password_sends_an_empty_one(
    started: Any, origin: Origin
) -> None:
    socks: SocksServer = await started(SocksServer(hosts=NAMES, credentials=("alice", "")))
    async with asyncio.timeout(10), ClientSession() as session:
        await get_ok(
            session, origin.url(host="origin.test"), proxy=f"socks5h://alice@127.0.0.1:{socks.port}"
        )
    assert socks.requests[0].username == "alice"


async def test_socks_refusal_keeps_the_reason_and_errno(started: Any) -> None:
    socks: SocksServer = await started(SocksServer(refuse=0x05))
    async with ClientSession() as session:
        with pytest.raises(hyperclient.ClientProxyConnectionError) as info:
            await session.get("http://127.0.0.1:1/", proxy=f"socks5://127.0.0.1:{socks.port}")
    err = info.value
    assert err.errno == errno.ECONNREFUSED
    assert (err.host, err.port) == ("127.0.0.1", socks.port)
    assert "socks5 proxy could not connect: connection refused" in str(err)
    assert isinstance(err.__cause__, hyperclient.errors.RemoteProtocolError)


async def test_socks_proxy_that_is_not_one(raw_server: Any) -> None:
    async def http_only(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(3)
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()

    srv = await raw_server(http_only)
    async with ClientSession() as session:
        with pytest.raises(hyperclient.ClientProxyConnectionError, match="is this a SOCKS proxy"):
            await session.get("http://127.0.0.1:1/", proxy=f"socks5://127.0.0.1:{srv.port}")


# -- closing mid-way, bad proxy URLs, proxy fields in absolute form, .netrc ---------------


async def test_closing_during_tls_inside_a_tunnel_or_a_socks_handshake(
    raw_server: Any, trusting: ssl.SSLContext
) -> None:
    """The tunnel's transport belongs to the loop's TLS protocol during the handshake:
    close() waited for ever for a close the tunnel's protocol never heard, and the request
    died with an AssertionError. A SOCKS handshake went on past close() likewise."""

    async def opens_then_stalls(reader: asyncio.StreamReader, writer: Any) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await asyncio.sleep(30)  # the ClientHello goes nowhere

    async def silent(reader: asyncio.StreamReader, writer: Any) -> None:
        await asyncio.sleep(30)

    tunnel = await raw_server(opens_then_stalls)
    socks = await raw_server(silent)
    for url, proxy in (
        ("https://origin.test/", tunnel.url),
        ("http://origin.test/", f"socks5h://127.0.0.1:{socks.port}"),
    ):
        session = ClientSession(connector=TCPConnector(ssl=trusting))
        request = asyncio.ensure_future(session.get(url, proxy=proxy))
        await asyncio.sleep(0.1)
        async with asyncio.timeout(5):
            await session.close()
            with pytest.raises(hyperclient.ClientConnectionError, match="closed while"):
                await request


async def test_bad_proxy_urls_are_invalid_url_errors_without_the_password() -> None:
    async with ClientSession() as session:
        for proxy in ("ftp://alice:s3cr3t@127.0.0.1", "http://alice:s3cr3t@127.0.0.1:99999"):
            with pytest.raises(hyperclient.InvalidURL) as info:
                await session.get("http://origin.test/", proxy=proxy)
            assert isinstance(info.value, hyperclient.ClientError)
            assert "s3cr3t" not in str(info.value)
            assert "***@127.0.0.1" in str(info.value)
    with pytest.raises(hyperclient.InvalidURL) as bad:
        ProxyConnector("socks6://alice:s3cr3t@127.0.0.1:1080")
    assert "s3cr3t" not in str(bad.value)


async def test_an_empty_proxy_is_no_proxy(origin: Origin) -> None:
    """proxy=os.environ.get("HTTP_PROXY", ""): aiohttp goes direct; it was InvalidURL."""
    async with ClientSession(proxy="") as session:
        await get_ok(session, origin.url(), proxy="")
        await get_ok(session, origin.url())
    assert len(origin.heads) == 2
    assert all(head.startswith(b"GET / ") for head in origin.heads)


async def test_proxy_headers_replace_the_requests_own_in_absolute_form(raw_server: Any) -> None:
    """Appended, they made a second Host (RFC 9112 §3.2: a server answers 400)."""
    heads: list[bytes] = []
    srv = await raw_server(recording(heads))
    extra = {"Host": "proxy.example", "User-Agent": "px", "X-Px": "1"}
    async with ClientSession() as session:
        async with session.get("http://origin.test/", proxy=srv.url, proxy_headers=extra) as r:
            assert await r.read() == b"ok"
    lines = heads[0].split(b"\r\n")
    assert [line.split(b":")[0].lower() for line in lines[1:-2]].count(b"host") == 1
    assert lines[1] == b"Host: proxy.example"  # where the request's stood
    assert b"User-Agent: px" in lines
    assert b"X-Px: 1" in lines
    assert sum(line.lower().startswith(b"user-agent:") for line in lines) == 1


async def test_an_environment_proxy_takes_its_netrc_credentials(
    raw_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As aiohttp: HTTP_PROXY without userinfo, and a .netrc entry for the proxy host."""
    heads: list[bytes] = []
    srv = await raw_server(recording(heads))
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login px password pw\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HTTP_PROXY", srv.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with ClientSession(trust_env=True) as session:
        async with session.get("http://origin.test/") as resp:
            assert await resp.read() == b"ok"
    assert b"\r\nProxy-Authorization: " + BasicAuth("px", "pw").encode().encode() in heads[0]
    assert b"\r\nAuthorization:" not in heads[0]  # the origin has no entry


async def test_a_cancellation_beside_close_stays_a_cancellation(raw_server: Any) -> None:
    """Cancelled by its caller and stopped by close() in the same tick (a shutdown):
    the caller's CancelledError stands, not a ClientConnectionError."""

    async def silent(reader: asyncio.StreamReader, writer: Any) -> None:
        await asyncio.sleep(30)

    socks = await raw_server(silent)
    session = ClientSession()
    request = asyncio.ensure_future(
        session.get("http://origin.test/", proxy=f"socks5h://127.0.0.1:{socks.port}")
    )
    await asyncio.sleep(0.1)  # in the SOCKS handshake
    request.cancel()
    closing = session.close()
    with pytest.raises(asyncio.CancelledError):
        await request
    await closing
