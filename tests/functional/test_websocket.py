"""WebSocket client against real servers: the websockets library and aiohttp.web.

Both servers run on 127.0.0.1:0 (aiohttp also on a Unix socket, websockets also over TLS
with a trustme CA, and through a CONNECT proxy). Misbehaving servers live in
``tests/hostile/test_websocket_hostile.py``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import ssl
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import WSMsgType as AioMsgType
from aiohttp import web
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

import hyperclient
from hyperclient import ClientSession, ClientWebSocketResponse, WSCloseCode, WSMsgType, ws_frames
from hyperclient import websocket as websocket_module
from hyperclient.ws_frames import MessageTooBig

from ..conftest import MS, cyclic_garbage

# -- servers ---------------------------------------------------------------------------------


async def websockets_handler(ws: ServerConnection) -> None:
    """Routes by path; records what it saw on ``ws.seen`` (a list on the server)."""
    assert ws.request is not None
    path = ws.request.path
    seen: list[Any] = ws.server.seen  # type: ignore[attr-defined]
    try:
        if path.startswith("/close/"):
            code = int(path.rsplit("/", 1)[1])
            await ws.close(code, "server says bye")
        elif path == "/ping":
            await asyncio.wait_for(await ws.ping(b"hello"), 1)
            await ws.send("pong received")
            await ws.wait_closed()
        elif path.startswith("/size/"):
            size = int(path.rsplit("/", 1)[1])
            await ws.send(b"x" * size)
            await ws.wait_closed()
        elif path == "/fragments":
            await ws.send(["frag", "men", "ted ", "tëxt"])
            await ws.send([b"\x00" * 10, b"\x01" * 70000, b"\x02"])
            await ws.wait_closed()
        elif path == "/flood":
            for i in range(300):
                await ws.send(i.to_bytes(4, "big") + b"f" * 16380)
            await ws.wait_closed()
        elif path == "/extensions":
            await ws.send(json.dumps([type(e).__name__ for e in ws.protocol.extensions]))
            async for message in ws:
                await ws.send(message)
        else:
            async for message in ws:
                await ws.send(message)
    except ConnectionClosed:
        pass
    finally:
        rcvd = ws.protocol.close_rcvd
        seen.append((path, rcvd.code if rcvd is not None else None))


async def start_websockets(**kwargs: Any) -> Any:
    server = await serve(websockets_handler, "127.0.0.1", 0, **kwargs)
    server.seen = []  # type: ignore[attr-defined]
    return server


@pytest.fixture
async def ws_server() -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """Start websockets servers; returns ``start(**serve_kwargs) -> (server, base_url)``."""
    servers: list[Any] = []

    async def start(*, scheme: str = "ws", **kwargs: Any) -> tuple[Any, str]:
        server = await start_websockets(**kwargs)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return server, f"{scheme}://127.0.0.1:{port}"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


SEEN = web.AppKey("seen", list)


def make_aiohttp_app(*, compress: bool = True) -> web.Application:
    app = web.Application()
    app[SEEN] = []

    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("chat", "superchat"), compress=compress)
        await ws.prepare(request)
        app[SEEN].append(("compress", ws.compress))
        async for msg in ws:
            if msg.type == AioMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type == AioMsgType.BINARY:
                await ws.send_bytes(msg.data)
        app[SEEN].append(("close", ws.close_code))
        return ws

    async def close(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str("before close")
        await ws.close(code=4002, message=b"done")
        app[SEEN].append(("close", ws.close_code))
        return ws

    async def ping(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        await ws.ping(b"from aiohttp")
        msg = await ws.receive()
        await ws.send_str(f"{msg.type.name} {msg.data.decode()}")
        await ws.receive()
        return ws

    async def request_info(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json(
            {
                "headers": dict(request.headers),
                "cookies": dict(request.cookies),
                "query": dict(request.query),
                "method": request.method,
            }
        )
        await ws.receive()
        return ws

    app.router.add_get("/echo", echo)
    app.router.add_get("/close", close)
    app.router.add_get("/ping", ping)
    app.router.add_get("/request", request_info)
    return app


def pick_subprotocol(connection: Any, offered: list[str]) -> str | None:
    """The server's preference among chat/superchat; unlike the default, none is fine."""
    return next((p for p in ("chat", "superchat") if p in offered), None)


@pytest.fixture(params=["websockets", "aiohttp"])
async def echo_url(
    request: pytest.FixtureRequest,
    ws_server: Callable[..., Awaitable[Any]],
    aiohttp_server: Callable[..., Awaitable[Any]],
) -> str:
    """An echo endpoint offering subprotocols chat/superchat, on either server."""
    if request.param == "websockets":
        _, base = await ws_server(select_subprotocol=pick_subprotocol, max_size=None)
        return f"{base}/echo"
    server = await aiohttp_server(make_aiohttp_app())
    return f"ws://127.0.0.1:{server.port}/echo"


# -- echo ------------------------------------------------------------------------------------


async def test_echo_text_bytes_json(echo_url: str) -> None:
    async with ClientSession() as session:
        async with session.ws_connect(echo_url) as ws:
            assert isinstance(ws, ClientWebSocketResponse)
            await ws.send_str("héllo wörld")
            msg = await ws.receive()
            assert (msg.type, msg.data) == (WSMsgType.TEXT, "héllo wörld")
            await ws.send_bytes(b"\x00\xff" * 10)
            assert await ws.receive_bytes() == b"\x00\xff" * 10
            await ws.send_json({"a": [1, 2, None]})
            assert await ws.receive_json() == {"a": [1, 2, None]}
            await ws.send_bytes(bytearray(b"ba"))
            await ws.send_bytes(memoryview(b"mv"))
            assert await ws.receive_bytes() == b"ba"
            assert await ws.receive_bytes() == b"mv"
            assert ws.protocol is None
            assert ws.compress == 0
            assert not ws.closed
        assert ws.closed
        assert ws.close_code == WSCloseCode.OK


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000, 2**20])
async def test_echo_sizes(echo_url: str, size: int) -> None:
    payload = os.urandom(size)
    async with ClientSession() as session, session.ws_connect(echo_url) as ws:
        for _ in range(3):
            await ws.send_bytes(payload)
            assert await ws.receive_bytes() == payload
        await ws.send_str("é" * size)
        assert await ws.receive_str() == "é" * size


async def test_await_form_and_async_for(echo_url: str) -> None:
    async with ClientSession() as session:
        ws = await session.ws_connect(echo_url)
        for i in range(5):
            await ws.send_str(str(i))
        got = []
        async for msg in ws:
            got.append(msg.data)
            if len(got) == 5:
                await ws.close()
        assert got == ["0", "1", "2", "3", "4"]
        assert await ws.close() is False
        assert (await ws.receive()).type is WSMsgType.CLOSED
        with pytest.raises(hyperclient.ClientConnectionResetError):
            await ws.send_str("closed")


async def test_ws_connect_as_a_task(echo_url: str) -> None:
    """What ws_connect() returns is a Coroutine, as aiohttp's: create_task and gather take it."""
    async with ClientSession() as session:
        connecting = session.ws_connect(echo_url)
        assert asyncio.iscoroutine(connecting)
        ws = await asyncio.create_task(connecting)
        await ws.send_str("task")
        assert await ws.receive_str() == "task"
        await ws.close()
        pair = await asyncio.gather(session.ws_connect(echo_url), session.ws_connect(echo_url))
        for ws in pair:
            await ws.send_str("gathered")
            assert await ws.receive_str() == "gathered"
            await ws.close()


async def test_subprotocol_negotiation(echo_url: str) -> None:
    async with ClientSession() as session:
        async with session.ws_connect(echo_url, protocols=("v2", "superchat", "chat")) as ws:
            # websockets picks the server's preference, aiohttp the client's.
            assert ws.protocol in ("chat", "superchat")
        async with session.ws_connect(echo_url, protocols=["unknown"]) as ws:
            assert ws.protocol is None


@pytest.mark.parametrize("server_name", ["websockets", "aiohttp"])
async def test_permessage_deflate(
    ws_server: Callable[..., Awaitable[Any]],
    aiohttp_server: Callable[..., Awaitable[Any]],
    server_name: str,
) -> None:
    if server_name == "websockets":
        server, base = await ws_server(compression="deflate")
        url = f"{base}/extensions"
    else:
        app = make_aiohttp_app()
        server = await aiohttp_server(app)
        url = f"ws://127.0.0.1:{server.port}/echo"
    text = "compressible text " * 2000
    async with ClientSession() as session, session.ws_connect(url, compress=15) as ws:
        # websockets' server asks for a 12-bit window of its own; aiohttp keeps 15.
        assert ws.compress == (12 if server_name == "websockets" else 15)
        if server_name == "websockets":
            assert await ws.receive_json() == ["PerMessageDeflate"]
        for i in range(20):  # context takeover across messages, both ways
            await ws.send_str(f"{i} {text}")
            assert await ws.receive_str() == f"{i} {text}"
        random = os.urandom(100_000)
        await ws.send_bytes(random)
        assert await ws.receive_bytes() == random
        await ws.send_str("sent uncompressed", compress=0)
        assert await ws.receive_str() == "sent uncompressed"
    if server_name == "aiohttp":
        await asyncio.sleep(10 * MS)
        assert ("compress", 15) in app[SEEN]


async def test_permessage_deflate_smaller_window(ws_server: Callable[..., Awaitable[Any]]) -> None:
    _, base = await ws_server(compression="deflate")
    async with ClientSession() as session:
        async with session.ws_connect(f"{base}/echo", compress=10) as ws:
            assert ws.compress == 10
            await ws.send_str("abc" * 10000)
            assert await ws.receive_str() == "abc" * 10000


async def test_compression_declined(ws_server: Callable[..., Awaitable[Any]]) -> None:
    _, base = await ws_server(compression=None)
    async with ClientSession() as session:
        async with session.ws_connect(f"{base}/echo", compress=15) as ws:
            assert ws.compress == 0
            await ws.send_str("plain")
            assert await ws.receive_str() == "plain"


# -- closing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("autoclose", [True, False])
async def test_websockets_server_closes(
    ws_server: Callable[..., Awaitable[Any]], autoclose: bool
) -> None:
    server, base = await ws_server()
    async with ClientSession() as session:
        ws = await session.ws_connect(f"{base}/close/4005", autoclose=autoclose)
        msg = await ws.receive()
        assert (msg.type, msg.data, msg.extra) == (WSMsgType.CLOSE, 4005, "server says bye")
        assert ws.close_code == 4005
        assert ws.closed is autoclose
        if not autoclose:
            assert await ws.close(code=4006)
        assert (await ws.receive()).type is WSMsgType.CLOSED
        assert ws.closed
    await asyncio.sleep(20 * MS)
    assert server.seen == [("/close/4005", 4005 if autoclose else 4006)]


async def test_aiohttp_server_closes(aiohttp_server: Callable[..., Awaitable[Any]]) -> None:
    app = make_aiohttp_app()
    server = await aiohttp_server(app)
    async with ClientSession() as session:
        ws = await session.ws_connect(f"ws://127.0.0.1:{server.port}/close")
        assert [msg async for msg in ws] == [(WSMsgType.TEXT, "before close", "")]
        assert ws.close_code == 4002
        assert ws.closed
    await asyncio.sleep(20 * MS)
    assert app[SEEN] == [("close", 4002)]


async def test_client_close_code_reaches_the_server(
    ws_server: Callable[..., Awaitable[Any]],
) -> None:
    server, base = await ws_server()
    async with ClientSession() as session:
        ws = await session.ws_connect(f"{base}/echo")
        assert await ws.close(code=WSCloseCode.GOING_AWAY, message=b"leaving")
        assert ws.close_code == WSCloseCode.GOING_AWAY  # the server echoed it
        async with session.ws_connect(f"{base}/echo") as ws:
            with pytest.raises(ValueError, match="invalid close code: 1006"):
                await ws.close(code=1006)
            assert not ws.closed
    await asyncio.sleep(20 * MS)
    assert ("/echo", 1001) in server.seen


# -- pings -----------------------------------------------------------------------------------


async def test_autoping_answers_websockets_ping(ws_server: Callable[..., Awaitable[Any]]) -> None:
    _, base = await ws_server()
    async with ClientSession() as session, session.ws_connect(f"{base}/ping") as ws:
        assert await ws.receive_str() == "pong received"


async def test_manual_pong_without_autoping(ws_server: Callable[..., Awaitable[Any]]) -> None:
    _, base = await ws_server()
    async with ClientSession() as session:
        async with session.ws_connect(f"{base}/ping", autoping=False) as ws:
            msg = await ws.receive()
            assert (msg.type, msg.data) == (WSMsgType.PING, b"hello")
            await ws.pong(msg.data)
            assert await ws.receive_str() == "pong received"


async def test_aiohttp_server_sees_our_pong(aiohttp_server: Callable[..., Awaitable[Any]]) -> None:
    server = await aiohttp_server(make_aiohttp_app())
    async with ClientSession() as session:
        async with session.ws_connect(f"ws://127.0.0.1:{server.port}/ping") as ws:
            assert await ws.receive_str() == "PONG from aiohttp"


@pytest.mark.parametrize("autoping", [True, False])
async def test_client_ping(echo_url: str, autoping: bool) -> None:
    async with ClientSession() as session:
        async with session.ws_connect(echo_url, autoping=autoping) as ws:
            await ws.ping(b"are you alive")
            await ws.send_str("after ping")
            msg = await ws.receive()
            if not autoping:
                assert (msg.type, msg.data) == (WSMsgType.PONG, b"are you alive")
                msg = await ws.receive()
            assert msg.data == "after ping"
            with pytest.raises(ValueError, match="ping payload too long: 126 bytes"):
                await ws.ping(b"x" * 126)


async def test_heartbeat_with_a_live_server(echo_url: str) -> None:
    async with ClientSession() as session:
        async with session.ws_connect(echo_url, heartbeat=15 * MS) as ws:
            await asyncio.sleep(120 * MS)
            assert not ws.closed
            await ws.send_str("alive")
            assert await ws.receive_str() == "alive"
        assert ws.close_code == 1000


# -- sizes, fragments, flow control ---------------------------------------------------------


async def test_max_msg_size(ws_server: Callable[..., Awaitable[Any]]) -> None:
    server, base = await ws_server(max_size=None)
    limit = 256 * 1024
    async with ClientSession() as session:
        async with session.ws_connect(f"{base}/size/{limit}", max_msg_size=limit) as ws:
            assert len(await ws.receive_bytes()) == limit
        ws = await session.ws_connect(f"{base}/size/{limit + 1}", max_msg_size=limit)
        msg = await ws.receive()
        assert msg.type is WSMsgType.ERROR
        assert isinstance(msg.data, MessageTooBig)
        assert ws.close_code == WSCloseCode.MESSAGE_TOO_BIG
        assert (await ws.receive()).type is WSMsgType.CLOSED
        # 0 means no limit.
        async with session.ws_connect(f"{base}/size/{2**23}", max_msg_size=0) as ws:
            assert len(await ws.receive_bytes()) == 2**23
    await asyncio.sleep(20 * MS)
    assert (f"/size/{limit + 1}", 1009) in server.seen


async def test_fragmented_messages(ws_server: Callable[..., Awaitable[Any]]) -> None:
    _, base = await ws_server()
    async with ClientSession() as session, session.ws_connect(f"{base}/fragments") as ws:
        assert await ws.receive_str() == "fragmented tëxt"
        assert await ws.receive_bytes() == b"\x00" * 10 + b"\x01" * 70000 + b"\x02"


async def test_reading_pauses_while_the_application_is_slow(
    ws_server: Callable[..., Awaitable[Any]],
) -> None:
    _, base = await ws_server()
    async with ClientSession() as session, session.ws_connect(f"{base}/flood") as ws:
        await asyncio.sleep(100 * MS)
        conn = ws._conn
        # About 64 KiB wait in the client; the rest stays in socket buffers.
        assert conn._reading_paused
        assert len(conn.messages) < 16
        for i in range(300):
            data = await ws.receive_bytes()
            assert data[:4] == i.to_bytes(4, "big")
            assert len(data) == 16384
        assert not conn._reading_paused


async def test_receive_type_errors(echo_url: str) -> None:
    async with ClientSession() as session, session.ws_connect(echo_url) as ws:
        await ws.send_bytes(b"binary")
        with pytest.raises(hyperclient.WSMessageTypeError, match="received BINARY message"):
            await ws.receive_str()
        await ws.send_str("text")
        with pytest.raises(TypeError, match="expected BINARY"):
            await ws.receive_bytes()
        with pytest.raises(TypeError, match="data argument must be str, got bytes"):
            await ws.send_str(b"x")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="must be bytes-like, got str"):
            await ws.send_bytes("x")  # type: ignore[arg-type]
        await ws.send_str("not json")
        with pytest.raises(json.JSONDecodeError):
            await ws.receive_json()


async def test_receive_timeouts_leave_no_cyclic_garbage(echo_url: str) -> None:
    """Polling with receive(timeout=) on an open WebSocket: each timeout is freed by
    reference counting (it kept the future and itself in a cycle through its frame)."""
    async with ClientSession() as session:
        async with session.ws_connect(echo_url) as ws:
            with cyclic_garbage() as found:
                for _ in range(3):
                    try:
                        await ws.receive(timeout=5 * MS)
                    except hyperclient.ServerTimeoutError:
                        pass
            await ws.send_str("still open")
            assert await ws.receive_str() == "still open"
    assert found == []


async def test_receive_timeout_options(echo_url: str) -> None:
    timeout = hyperclient.ClientWSTimeout(ws_receive=20 * MS, ws_close=1.0)
    async with ClientSession() as session:
        async with session.ws_connect(echo_url, timeout=timeout) as ws:
            assert ws.timeout == timeout
            with pytest.raises(hyperclient.ServerTimeoutError):
                await ws.receive()
            await ws.send_str("x")
            assert await ws.receive_str() == "x"
        async with session.ws_connect(echo_url, timeout=2.5, receive_timeout=20 * MS) as ws:
            assert ws.timeout == hyperclient.ClientWSTimeout(ws_receive=20 * MS, ws_close=2.5)
            with pytest.raises(asyncio.TimeoutError):
                await ws.receive_str()
            # receive(timeout=0) means the WebSocket's own timeout, as in aiohttp.
            with pytest.raises(asyncio.TimeoutError):
                await ws.receive(timeout=0)
        # ws_receive=0 is no limit (aiohttp), not "give up at once".
        zero = hyperclient.ClientWSTimeout(ws_receive=0, ws_close=1.0)
        async with session.ws_connect(echo_url, timeout=zero) as ws:
            receiving = asyncio.ensure_future(ws.receive(timeout=0))
            await asyncio.sleep(20 * MS)
            assert not receiving.done()
            await ws.send_str("late")
            assert (await receiving).data == "late"


# -- the handshake through the session ----------------------------------------------------------


async def test_session_settings_reach_the_handshake(
    aiohttp_server: Callable[..., Awaitable[Any]],
) -> None:
    server = await aiohttp_server(make_aiohttp_app())
    async with ClientSession(
        headers={"X-Session": "yes"},
        cookies={"sid": "c00kie"},
        auth=hyperclient.BasicAuth("u", "p"),
    ) as session:
        url = f"ws://127.0.0.1:{server.port}/request"
        async with session.ws_connect(
            url, params={"q": "1"}, headers={"X-Call": "call"}, origin="https://example.org"
        ) as ws:
            info = await ws.receive_json()
    headers = info["headers"]
    assert info["method"] == "GET"
    assert info["query"] == {"q": "1"}
    assert info["cookies"] == {"sid": "c00kie"}
    assert headers["X-Session"] == "yes"
    assert headers["X-Call"] == "call"
    assert headers["Origin"] == "https://example.org"
    assert headers["Authorization"] == "Basic dTpw"
    assert headers["Upgrade"] == "websocket"
    assert headers["Sec-WebSocket-Version"] == "13"


async def test_handshake_refused_by_aiohttp(aiohttp_server: Callable[..., Awaitable[Any]]) -> None:
    server = await aiohttp_server(make_aiohttp_app())
    async with ClientSession(raise_for_status=True) as session:
        with pytest.raises(hyperclient.WSServerHandshakeError) as info:
            await session.ws_connect(f"ws://127.0.0.1:{server.port}/missing")
    err = info.value
    assert err.status == 404
    assert err.message == "invalid response status: 404"
    assert err.headers is not None
    assert err.headers["Content-Type"].startswith("text/plain")
    assert str(err.request_info.url) == f"ws://127.0.0.1:{server.port}/missing"


async def test_handshake_refused_by_websockets(ws_server: Callable[..., Awaitable[Any]]) -> None:
    def reject(connection: Any, request: Any) -> Any:
        return connection.respond(403, "no entry\n")

    _, base = await ws_server(process_request=reject)
    async with ClientSession() as session:
        with pytest.raises(hyperclient.WSServerHandshakeError) as info:
            await session.ws_connect(f"{base}/echo")
    assert info.value.status == 403


async def test_http_scheme_and_base_url(echo_url: str) -> None:
    http_url = echo_url.replace("ws://", "http://")
    base, _, path = http_url.rpartition("/")
    async with ClientSession(base_url=base) as session:
        async with session.ws_connect(f"/{path}") as ws:
            await ws.send_str("via base_url")
            assert await ws.receive_str() == "via base_url"
            peer = ws.get_extra_info("peername")
            assert peer[0] == "127.0.0.1"
        assert ws.get_extra_info("peername", "gone") == "gone"


async def test_custom_ws_response_class(echo_url: str) -> None:
    class MyWS(ClientWebSocketResponse):
        pass

    async with ClientSession(ws_response_class=MyWS) as session:
        async with session.ws_connect(echo_url) as ws:
            assert type(ws) is MyWS


async def test_invalid_arguments(echo_url: str) -> None:
    async with ClientSession() as session:
        with pytest.raises(ValueError, match="invalid heartbeat: 0"):
            await session.ws_connect(echo_url, heartbeat=0)
        with pytest.raises(TypeError, match="timeout must be a float or a ClientWSTimeout"):
            await session.ws_connect(echo_url, timeout="10")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="invalid subprotocol"):
            await session.ws_connect(echo_url, protocols=["bad protocol"])
        with pytest.raises(ValueError, match="invalid compress: 8"):
            await session.ws_connect(echo_url, compress=8)
    with pytest.raises(ValueError, match="ws_close must be None or >= 0"):
        hyperclient.ClientWSTimeout(ws_close=-1)


async def test_exports() -> None:
    assert hyperclient.WSMsgType is ws_frames.WSMsgType
    assert hyperclient.WSMessage is ws_frames.WSMessage
    assert hyperclient.WSCloseCode is ws_frames.WSCloseCode
    assert hyperclient.ClientWebSocketResponse is websocket_module.ClientWebSocketResponse
    assert hyperclient.ClientWSTimeout is websocket_module.ClientWSTimeout
    assert WSMsgType.closed is WSMsgType.CLOSED


async def test_unclosed_websocket_warns_and_closes(
    ws_server: Callable[..., Awaitable[Any]],
) -> None:
    server, base = await ws_server()
    async with ClientSession() as session:
        ws = await session.ws_connect(f"{base}/echo")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del ws  # freed here, or by the collection when a cycle holds it
            gc.collect()
        assert [w.category for w in caught] == [ResourceWarning]
        assert "Unclosed websocket" in str(caught[0].message)
    for _ in range(100):
        if server.seen:
            break
        await asyncio.sleep(5 * MS)
    assert server.seen == [("/echo", None)]  # dropped without a close frame


# -- transports: TLS, Unix socket, proxy ---------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def test_wss_with_trustme(ws_server: Callable[..., Awaitable[Any]], ca: trustme.CA) -> None:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    _, base = await ws_server(scheme="wss", ssl=server_ctx, compression="deflate")
    async with ClientSession() as session:
        async with session.ws_connect(f"{base}/echo", ssl=client_ctx, compress=15) as ws:
            assert ws.get_extra_info("ssl_object") is not None
            assert ws.get_extra_info("peercert")["subjectAltName"]
            payload = os.urandom(300_000)
            await ws.send_bytes(payload)
            assert await ws.receive_bytes() == payload
            await ws.send_str("secure")
            assert await ws.receive_str() == "secure"
        assert ws.close_code == 1000
        # Without trusting the CA the handshake never starts.
        with pytest.raises(hyperclient.ClientConnectorCertificateError):
            await session.ws_connect(f"{base}/echo")


async def test_unix_socket(tmp_path: Path) -> None:
    app = make_aiohttp_app()
    runner = web.AppRunner(app)
    await runner.setup()
    path = str(tmp_path / "ws.sock")
    site = web.UnixSite(runner, path)
    await site.start()
    try:
        connector = hyperclient.UnixConnector(path=path)
        async with ClientSession(connector=connector) as session:
            async with session.ws_connect("ws://localhost/echo", protocols=["chat"]) as ws:
                assert ws.protocol == "chat"
                await ws.send_str("over a unix socket")
                assert await ws.receive_str() == "over a unix socket"
            assert ws.close_code == 1000
    finally:
        await runner.cleanup()


async def test_through_a_connect_proxy(ws_server: Callable[..., Awaitable[Any]]) -> None:
    _, base = await ws_server()
    requests: list[bytes] = []
    pipes: set[asyncio.Task[None]] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        requests.append(head.split(b"\r\n")[0])
        host, _, port = head.split(b" ")[1].decode().rpartition(":")
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        for task in (
            asyncio.ensure_future(pipe(reader, up_writer)),
            asyncio.ensure_future(pipe(up_reader, writer)),
        ):
            pipes.add(task)
            task.add_done_callback(pipes.discard)

    proxy_server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    proxy_url = f"http://127.0.0.1:{proxy_server.sockets[0].getsockname()[1]}"
    try:
        async with ClientSession() as session:
            async with session.ws_connect(f"{base}/echo", proxy=proxy_url) as ws:
                await ws.send_str("tunnelled")
                assert await ws.receive_str() == "tunnelled"
            assert ws.close_code == 1000
    finally:
        for task in list(pipes):
            task.cancel()
        proxy_server.close()
        await proxy_server.wait_closed()
    assert requests == [f"CONNECT {base.removeprefix('ws://')} HTTP/1.1".encode()]


def test_uvloop_transports() -> None:
    """uvloop's transports do not subclass asyncio.Transport; the swap must still work."""
    uvloop = pytest.importorskip("uvloop")

    async def main() -> list[Any]:
        server = await start_websockets(compression="deflate")
        port = server.sockets[0].getsockname()[1]
        try:
            async with ClientSession() as session:
                url = f"ws://127.0.0.1:{port}/echo"
                async with session.ws_connect(url, compress=15, heartbeat=1.0) as ws:
                    await ws.send_str("on uvloop")
                    text = await ws.receive_str()
                    await ws.send_bytes(b"b" * 100_000)
                    data = await ws.receive_bytes()
                return [text, len(data), ws.close_code]
        finally:
            server.close()
            await server.wait_closed()

    loop = uvloop.new_event_loop()
    try:
        assert loop.run_until_complete(main()) == ["on uvloop", 100_000, 1000]
    finally:
        loop.close()


async def test_session_close_closes_open_websockets(aiohttp_server: Any) -> None:
    from aiohttp import web

    closes: list[int | None] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for _ in ws:
            pass
        closes.append(ws.close_code)
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    server = await aiohttp_server(app)
    session = hyperclient.ClientSession()
    ws = await session.ws_connect(f"http://127.0.0.1:{server.port}/ws")
    await session.close()
    assert ws.closed
    for _ in range(50):
        if closes:
            break
        await asyncio.sleep(0.01)
    assert closes == [1001]  # going away, sent by the session on close


async def test_frames_right_after_the_101_are_kept(raw_server: Any) -> None:
    import base64
    import hashlib

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        accept = base64.b64encode(
            hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
        )
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        await writer.drain()
        # Separate segments, arriving before the client has swapped protocols or not.
        for text in (b"one", b"two"):
            writer.write(b"\x81" + bytes([len(text)]) + text)
            await writer.drain()
        await asyncio.sleep(0.5)

    srv = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        async with session.ws_connect(srv.url) as ws:
            assert (await ws.receive_str(timeout=1)) == "one"
            assert (await ws.receive_str(timeout=1)) == "two"


async def test_decode_text_false_gives_bytes(aiohttp_server: Any) -> None:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str("héllo")
        await ws.send_str('{"a": 1}')
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    server = await aiohttp_server(app)
    async with hyperclient.ClientSession() as session:
        async with session.ws_connect(
            f"http://127.0.0.1:{server.port}/ws", decode_text=False
        ) as ws:
            msg = await ws.receive()
            assert msg.type is WSMsgType.TEXT
            assert msg.data == "héllo".encode()
            assert await ws.receive_json() == {"a": 1}


# -- send_frame, send_json_bytes (aiohttp 3) ---------------------------------------------------


async def test_send_frame_data_frames(echo_url: str) -> None:
    async with ClientSession() as session, session.ws_connect(echo_url) as ws:
        await ws.send_frame("héllo".encode(), WSMsgType.TEXT)
        assert await ws.receive_str() == "héllo"
        await ws.send_frame(b"\x00\xff", WSMsgType.BINARY)
        assert await ws.receive_bytes() == b"\x00\xff"
        await ws.send_frame(bytearray(b"ba"), WSMsgType.BINARY, compress=0)
        assert await ws.receive_bytes() == b"ba"
        await ws.send_json_bytes({"a": [1]}, dumps=lambda v: json.dumps(v).encode())
        msg = await ws.receive()
        assert (msg.type, msg.data) == (WSMsgType.BINARY, b'{"a": [1]}')


async def test_send_frame_compressed(ws_server: Callable[..., Awaitable[Any]]) -> None:
    _, base = await ws_server(compression="deflate")
    text = "compressible " * 1000
    async with ClientSession() as session:
        async with session.ws_connect(f"{base}/extensions", compress=15) as ws:
            assert await ws.receive_json() == ["PerMessageDeflate"]
            for compress in (None, 0, None):
                await ws.send_frame(text.encode(), WSMsgType.TEXT, compress=compress)
                assert await ws.receive_str() == text


async def test_send_frame_ping_and_close(ws_server: Callable[..., Awaitable[Any]]) -> None:
    server, base = await ws_server()
    async with ClientSession() as session:
        ws = await session.ws_connect(f"{base}/echo", autoping=False)
        await ws.send_frame(b"are you there", WSMsgType.PING)
        msg = await ws.receive()
        assert (msg.type, msg.data) == (WSMsgType.PONG, b"are you there")
        await ws.send_frame(b"unasked", WSMsgType.PONG)
        with pytest.raises(ValueError, match="ping payload too long: 126 bytes"):
            await ws.send_frame(b"x" * 126, WSMsgType.PING)
        with pytest.raises(ValueError, match="cannot send a frame with opcode 0"):
            await ws.send_frame(b"more", WSMsgType.CONTINUATION)
        with pytest.raises(ValueError, match="invalid close code: 1005"):
            await ws.send_frame((1005).to_bytes(2, "big"), WSMsgType.CLOSE)
        # A CLOSE frame starts the closing handshake without waiting for the reply.
        await ws.send_frame((4001).to_bytes(2, "big") + b"bye", WSMsgType.CLOSE)
        with pytest.raises(hyperclient.ClientConnectionResetError):
            await ws.send_str("too late")
        assert (await ws.receive()).type is WSMsgType.CLOSED
        assert ws.closed
        assert ws.close_code == 4001  # the server echoed it
        assert not await ws.close()
        with pytest.raises(hyperclient.ClientConnectionResetError):
            await ws.send_frame(b"", WSMsgType.CLOSE)
    await asyncio.sleep(20 * MS)
    assert server.seen == [("/echo", 4001)]


async def test_send_frame_close_replies_to_the_server(
    ws_server: Callable[..., Awaitable[Any]],
) -> None:
    server, base = await ws_server()
    async with ClientSession() as session:
        ws = await session.ws_connect(f"{base}/close/4005", autoclose=False)
        assert (await ws.receive()).type is WSMsgType.CLOSE
        await ws.send_frame((4006).to_bytes(2, "big"), WSMsgType.CLOSE)
        assert ws.closed
    await asyncio.sleep(20 * MS)
    assert server.seen == [("/close/4005", 4006)]
