"""aiohttp 3 parameters beyond the reference's API, each checked against a real server."""

from __future__ import annotations

import asyncio
import errno
import functools
import socket
import ssl
import sys
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import trustme

import hyperclient
from hyperclient import ClientSession
from hyperclient.resolver import StaticResolver

from ..conftest import RawServer, Script, read_request
from .test_dns import CountingResolver, free_port


def _head_with(fields: int) -> bytes:
    lines = b"".join(b"X-%d: v\r\n" % i for i in range(fields))
    return b"HTTP/1.1 200 OK\r\n" + lines + b"Content-Length: 2\r\n\r\nok"


async def _serve_fields(raw_server: Any, fields: int) -> RawServer:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(_head_with(fields))
            await writer.drain()

    server: RawServer = await raw_server(script)
    return server


async def test_session_max_headers_caps_the_field_count(raw_server: Any) -> None:
    srv = await _serve_fields(raw_server, 20)  # 21 fields with Content-Length
    async with ClientSession(max_headers=21) as session:
        async with session.get(srv.url) as resp:
            assert await resp.read() == b"ok"
    async with ClientSession(max_headers=20) as session:
        with pytest.raises(hyperclient.ClientResponseError) as info:
            await session.get(srv.url)
    assert info.value.status == 400
    assert info.value.message == "too many header fields: more than 20"


async def test_default_header_field_cap_is_aiohttps_128(raw_server: Any) -> None:
    fits = await _serve_fields(raw_server, 127)  # 128 fields with Content-Length
    too_many = await _serve_fields(raw_server, 128)
    async with ClientSession() as session:
        async with session.get(fits.url) as resp:
            assert await resp.read() == b"ok"
        with pytest.raises(hyperclient.ClientResponseError, match="more than 128"):
            await session.get(too_many.url)


async def test_request_limits_override_the_session_ones(raw_server: Any) -> None:
    srv = await _serve_fields(raw_server, 20)
    async with ClientSession(max_headers=5, max_field_size=4) as session:
        # Each limit given per request replaces the session's; the others stay.
        async with session.get(srv.url, max_headers=50, max_field_size=100) as resp:
            assert await resp.read() == b"ok"
        with pytest.raises(hyperclient.ClientResponseError, match="more than 5"):
            await session.get(srv.url, max_field_size=100)
        # "Content-Length: 2" is the longest line.
        async with session.get(srv.url, max_headers=50, max_field_size=17) as resp:
            assert await resp.read() == b"ok"
        with pytest.raises(hyperclient.ClientResponseError, match="more than 16 bytes"):
            await session.get(srv.url, max_headers=50, max_field_size=16)
    # Without session limits, a request's own apply to that request only, on the same
    # pooled connection.
    connector = hyperclient.TCPConnector(limit=1)
    async with ClientSession(connector=connector) as session:
        with pytest.raises(hyperclient.ClientResponseError, match="more than 3"):
            await session.get(srv.url, max_headers=3)
        async with session.get(srv.url) as resp:
            assert await resp.read() == b"ok"
        async with session.get(srv.url, max_line_size=len("HTTP/1.1 200 OK")) as resp:
            assert await resp.read() == b"ok"
        with pytest.raises(hyperclient.ClientResponseError, match="more than 14 bytes"):
            await session.get(srv.url, max_line_size=len("HTTP/1.1 200 OK") - 1)


# -- TCPConnector(socket_factory=, dns_cache_max_size=) ------------------------------------


class RecordingFactory:
    """A ``socket_factory`` that records each address info and sets a receive buffer size."""

    def __init__(self, rcvbuf: int = 32768, fail: bool = False) -> None:
        self.rcvbuf = rcvbuf
        self.fail = fail
        self.calls: list[hyperclient.AddrInfoType] = []

    def __call__(self, addr_info: hyperclient.AddrInfoType) -> socket.socket:
        self.calls.append(addr_info)
        if self.fail:
            raise OSError(errno.EMFILE, "no sockets left")
        family, type_, proto, _, _ = addr_info
        sock = socket.socket(family, type_, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        return sock


def _rcvbuf(resp: hyperclient.ClientResponse) -> int:
    assert resp.connection is not None
    assert resp.connection.transport is not None
    sock = resp.connection.transport.get_extra_info("socket")
    return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))


async def keepalive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()


def held_body() -> tuple[Script, asyncio.Event]:
    """A server whose each response body ends only once the event is set (and cleared):
    the connection stays with the response meanwhile."""
    go_on = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\no")
            await go_on.wait()
            go_on.clear()
            writer.write(b"k")
            await writer.drain()

    return script, go_on


async def test_socket_factory_makes_the_connection_socket(raw_server: Any) -> None:
    script, go_on = held_body()
    srv = await raw_server(script)
    async with ClientSession() as session, session.get(srv.url) as resp:
        default = _rcvbuf(resp)
        go_on.set()
        assert await resp.read() == b"ok"
    rcvbuf = 8192 if default != 2 * 8192 else 16384  # Linux reports twice the value set
    factory = RecordingFactory(rcvbuf)
    connector = hyperclient.TCPConnector(socket_factory=factory)
    async with ClientSession(connector=connector) as session:
        for _ in range(2):  # the second request reuses the connection
            async with session.get(srv.url) as resp:
                assert _rcvbuf(resp) in (rcvbuf, 2 * rcvbuf)
                assert _rcvbuf(resp) != default
                go_on.set()
                assert await resp.read() == b"ok"
    assert factory.calls == [
        (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", srv.port))
    ]
    assert srv.connections == 2  # one for the default session above, one here


async def test_socket_factory_serves_every_raced_attempt(raw_server: Any) -> None:
    srv = await raw_server(keepalive)
    refused = free_port()
    factory = RecordingFactory()
    resolver = StaticResolver({"svc.test": [("127.0.0.1", refused), ("127.0.0.1", srv.port)]})
    connector = hyperclient.TCPConnector(resolver=resolver, socket_factory=factory)
    async with ClientSession(connector=connector) as session:
        async with session.get(f"http://svc.test:{srv.port}/") as resp:
            assert await resp.read() == b"ok"
    assert [info[4] for info in factory.calls] == [
        ("127.0.0.1", refused),
        ("127.0.0.1", srv.port),
    ]


async def test_socket_factory_error_is_a_connector_error(raw_server: Any) -> None:
    srv = await raw_server(keepalive)
    factory = RecordingFactory(fail=True)
    connector = hyperclient.TCPConnector(socket_factory=factory)
    async with ClientSession(connector=connector) as session:
        with pytest.raises(hyperclient.ClientConnectorError) as info:
            await session.get(srv.url)
    assert isinstance(info.value.__cause__, OSError)
    assert info.value.__cause__.errno == errno.EMFILE
    assert len(factory.calls) == 1
    assert srv.connections == 0


def _factory_on_uvloop(url: str, go_on: Callable[[], None]) -> list[object]:
    uvloop = pytest.importorskip("uvloop")

    async def main() -> list[object]:
        factory = RecordingFactory(16384)
        connector = hyperclient.TCPConnector(socket_factory=factory)
        async with ClientSession(connector=connector) as session, session.get(url) as resp:
            rcvbuf = _rcvbuf(resp)
            go_on()
            return [await resp.read(), len(factory.calls), rcvbuf]

    return uvloop.run(main())  # type: ignore[no-any-return]


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop does not run on Windows")
async def test_socket_factory_on_uvloop(raw_server: Any) -> None:
    """uvloop opens single plain addresses itself; not when there is a factory."""
    pytest.importorskip("uvloop")
    script, go_on = held_body()
    srv = await raw_server(script)
    loop = asyncio.get_running_loop()
    release = functools.partial(loop.call_soon_threadsafe, go_on.set)
    body, calls, rcvbuf = await asyncio.to_thread(_factory_on_uvloop, srv.url, release)
    assert (body, calls) == (b"ok", 1)
    assert rcvbuf in (16384, 32768)


async def test_dns_cache_keeps_the_most_recently_used_entries(raw_server: Any) -> None:
    srv = await raw_server(keepalive)
    names = ("a.test", "b.test", "c.test")
    resolver = CountingResolver({name: "127.0.0.1" for name in names})
    connector = hyperclient.TCPConnector(
        resolver=resolver, use_dns_cache=True, dns_cache_max_size=2, force_close=True
    )
    async with ClientSession(connector=connector) as session:

        async def get(name: str) -> None:
            async with session.get(f"http://{name}:{srv.port}/") as resp:
                assert await resp.read() == b"ok"

        await get("a.test")
        await get("b.test")
        await get("a.test")  # a cache hit: a.test is now the most recently used
        assert len(resolver.calls) == 2
        await get("c.test")  # evicts b.test, the least recently used
        assert list(connector.cached_hosts) == [("a.test", srv.port), ("c.test", srv.port)]
        await get("a.test")
        assert len(resolver.calls) == 3
        await get("b.test")  # looked up again
        assert [call[0] for call in resolver.calls] == ["a.test", "b.test", "c.test", "b.test"]
        assert list(connector.cached_hosts) == [("a.test", srv.port), ("b.test", srv.port)]


# -- ClientSession(json_serialize_bytes=) ----------------------------------------------------


async def test_json_serialize_bytes_makes_json_bodies(aiohttp_server: Any) -> None:
    from aiohttp import web

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response({"type": request.content_type, "body": body.decode()})

    app = web.Application()
    app.router.add_post("/", echo)
    server = await aiohttp_server(app)
    url = f"http://127.0.0.1:{server.port}/"
    used: list[object] = []

    def dumps(value: object) -> bytes:
        used.append(value)
        return b'{"compact":' + str(len(str(value))).encode() + b"}"

    def text_dumps(value: object) -> str:
        raise AssertionError("the bytes serialiser wins")

    async with ClientSession(json_serialize=text_dumps, json_serialize_bytes=dumps) as session:
        async with session.post(url, json={"a": 1}) as resp:
            assert await resp.json() == {"type": "application/json", "body": '{"compact":8}'}
    assert used == [{"a": 1}]


# -- TCPConnector(ssl_shutdown_timeout=), close(abort_ssl=) ------------------------------------


class SilentTLSServer:
    """A TLS server (a thread, blocking sockets) that answers one request per connection,
    then reads until the client goes and never sends a ``close_notify`` of its own.

    ``endings`` says how each client left: "close_notify" (the TLS closing handshake) or
    "dropped" (the TCP connection ended without it).
    """

    def __init__(self, cert: Any, hold: float) -> None:
        self.hold = hold
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(self.context)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.endings: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with self.listener:
            raw, _ = self.listener.accept()
        # A ragged end raises instead of reading as b"": the two endings differ.
        with self.context.wrap_socket(raw, server_side=True, suppress_ragged_eofs=False) as conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(4096)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            try:
                while conn.recv(4096):
                    pass
                self.endings.append("close_notify")
            except (ssl.SSLError, OSError):
                self.endings.append("dropped")
            time.sleep(self.hold)  # keep the socket open, the close_notify unanswered

    def close(self) -> None:
        self.thread.join(5)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def _close_after_a_request(
    ca: trustme.CA, hold: float = 0.1, **connector_args: Any
) -> tuple[float, list[str], hyperclient.TCPConnector]:
    server = SilentTLSServer(ca.issue_cert("127.0.0.1"), hold)
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    abort_ssl = connector_args.pop("abort_ssl", False)
    connector = hyperclient.TCPConnector(ssl=trusting, **connector_args)
    async with ClientSession(connector=connector, connector_owner=False) as session:
        async with session.get(f"https://127.0.0.1:{server.port}/") as resp:
            assert await resp.read() == b"ok"
    started = time.monotonic()
    await connector.close(abort_ssl=abort_ssl)
    elapsed = time.monotonic() - started
    await asyncio.to_thread(server.close)
    return elapsed, server.endings, connector


async def test_close_abort_ssl_skips_the_tls_closing_handshake(ca: trustme.CA) -> None:
    elapsed, endings, _ = await _close_after_a_request(ca, abort_ssl=True)
    assert endings == ["dropped"]
    assert elapsed < 0.5


async def test_ssl_shutdown_timeout_is_deprecated_and_bounds_the_closing_handshake(
    ca: trustme.CA,
) -> None:
    with pytest.warns(DeprecationWarning, match="ssl_shutdown_timeout parameter is deprecated"):
        elapsed, endings, _ = await _close_after_a_request(ca, hold=1.5, ssl_shutdown_timeout=0.3)
    # The server got our close_notify, never answered; we gave up after the timeout.
    assert endings == ["close_notify"]
    assert 0.25 < elapsed < 0.9
    with pytest.warns(DeprecationWarning, match="ssl_shutdown_timeout"):
        elapsed, endings, _ = await _close_after_a_request(ca, ssl_shutdown_timeout=0)
    assert endings == ["dropped"]  # 0: connections are aborted on close()
    assert elapsed < 0.5


async def test_session_ssl_shutdown_timeout_warns_and_reaches_its_connector() -> None:
    with pytest.warns(DeprecationWarning, match="ssl_shutdown_timeout") as record:
        session = ClientSession(ssl_shutdown_timeout=0)
    # The session's warning, then the connector's it made, as aiohttp does.
    assert len(record) == 2
    assert record[0].filename == __file__
    connector = session.connector
    assert isinstance(connector, hyperclient.TCPConnector)
    assert connector._ssl_shutdown_timeout == 0
    await session.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        await ClientSession().close()


# -- module-level names ----------------------------------------------------------------------


async def test_encode_basic_auth_as_a_header(aiohttp_server: Any) -> None:
    import aiohttp
    from aiohttp import web

    async def whoami(request: web.Request) -> web.Response:
        auth = hyperclient.BasicAuth.decode(request.headers["Authorization"], encoding="utf-8")
        return web.Response(text=f"{auth.login}/{auth.password}")

    app = web.Application()
    app.router.add_get("/", whoami)
    server = await aiohttp_server(app)
    value = hyperclient.encode_basic_auth("usér", "pässword")
    assert value == aiohttp.encode_basic_auth("usér", "pässword")
    async with ClientSession(headers={"Authorization": value}) as session:
        async with session.get(f"http://127.0.0.1:{server.port}/") as resp:
            assert await resp.text() == "usér/pässword"
    assert hyperclient.encode_basic_auth("u") == "Basic dTo="
    with pytest.raises(ValueError, match="colon is not allowed in the login"):
        hyperclient.encode_basic_auth("a:b")


def test_websocket_error_is_the_one_receive_reports() -> None:
    from hyperclient.ws_frames import MessageTooBig

    assert issubclass(MessageTooBig, hyperclient.WebSocketError)
    err = hyperclient.WebSocketError(1002, "bad frame")
    assert (err.code, err.args, str(err)) == (1002, (1002, "bad frame"), "bad frame")
