"""Connection reuse, limits and keep-alive, observed from the server side."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

import hyperclient
from hyperclient import ClientSession, TCPConnector
from hyperclient.request import make_url

from ..conftest import MS, OK, RawServer, closing_when_asked, open_fds, read_request

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]


def serve_forever(response: bytes = OK, delay: float = 0.0) -> Script:
    """A keep-alive server script answering every request with *response*."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            if delay:
                await asyncio.sleep(delay)
            writer.write(response)
            await writer.drain()

    return script


class Concurrency:
    """Counts simultaneous connections that are serving a request."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0

    def script(self, delay: float) -> Script:
        async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                await read_request(reader)
                self.now += 1
                self.peak = max(self.peak, self.now)
                await asyncio.sleep(delay)
                self.now -= 1
                writer.write(OK)
                await writer.drain()

        return script


async def get_ok(session: ClientSession, url: str) -> None:
    async with session.get(url) as resp:
        assert await resp.read() == b"ok"


async def test_sequential_requests_reuse_one_connection(raw_server: Any) -> None:
    srv: RawServer = await raw_server(serve_forever())
    async with ClientSession() as session:
        for _ in range(5):
            await get_ok(session, srv.url)
        stats = list(session.connector.stats().values())  # type: ignore[union-attr]
    assert srv.connections == 1
    assert (stats[0].created, stats[0].reused, stats[0].idle) == (1, 4, 1)


async def test_limit_caps_connections_per_endpoint(raw_server: Any) -> None:
    load = Concurrency()
    srv: RawServer = await raw_server(load.script(20 * MS))
    async with ClientSession(connector=TCPConnector(limit=2)) as session:
        await asyncio.gather(*(get_ok(session, srv.url) for _ in range(10)))
    assert load.peak == 2
    assert srv.connections == 2


async def test_no_limit_by_default(raw_server: Any) -> None:
    load = Concurrency()
    srv: RawServer = await raw_server(load.script(50 * MS))
    async with ClientSession() as session:
        await asyncio.gather(*(get_ok(session, srv.url) for _ in range(30)))
    assert load.peak == 30


async def test_limit_per_host_makes_limit_a_total_cap(raw_server: Any) -> None:
    load_a, load_b = Concurrency(), Concurrency()
    a: RawServer = await raw_server(load_a.script(30 * MS))
    b: RawServer = await raw_server(load_b.script(30 * MS))
    connector = TCPConnector(limit=3, limit_per_host=2)
    assert connector.limit == 3
    assert connector.limit_per_host == 2
    async with ClientSession(connector=connector) as session:
        await asyncio.gather(
            *(get_ok(session, a.url) for _ in range(6)),
            *(get_ok(session, b.url) for _ in range(6)),
        )
    assert load_a.peak <= 2
    assert load_b.peak <= 2
    assert load_a.peak + load_b.peak >= 3
    assert a.connections + b.connections <= 4


async def test_waiters_are_served_in_order(raw_server: Any) -> None:
    srv: RawServer = await raw_server(serve_forever(delay=5 * MS))
    order: list[int] = []

    async def one(i: int, session: ClientSession) -> None:
        async with session.get(srv.url) as resp:
            await resp.read()
            order.append(i)

    async with ClientSession(connector=TCPConnector(limit=1)) as session:
        tasks = []
        for i in range(6):
            tasks.append(asyncio.ensure_future(one(i, session)))
            await asyncio.sleep(0)  # queue them in this order
        await asyncio.gather(*tasks)
    assert order == list(range(6))


async def test_cancelled_waiter_does_not_leak_a_slot(raw_server: Any) -> None:
    srv: RawServer = await raw_server(serve_forever(delay=30 * MS))
    async with ClientSession(connector=TCPConnector(limit=1)) as session:
        first = asyncio.ensure_future(get_ok(session, srv.url))
        await asyncio.sleep(5 * MS)
        waiting = asyncio.ensure_future(get_ok(session, srv.url))
        await asyncio.sleep(5 * MS)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await first
        # The only slot is free again: this completes instead of hanging.
        await asyncio.wait_for(get_ok(session, srv.url), 1)
        stats = next(iter(session.connector.stats().values()))  # type: ignore[union-attr]
        assert (stats.in_use, stats.waiting) == (0, 0)


async def test_pool_timeout(raw_server: Any) -> None:
    srv: RawServer = await raw_server(serve_forever(delay=200 * MS))
    timeout = hyperclient.ClientTimeout(pool=20 * MS)
    async with ClientSession(connector=TCPConnector(limit=1), timeout=timeout) as session:
        first = asyncio.ensure_future(get_ok(session, srv.url))
        await asyncio.sleep(5 * MS)
        with pytest.raises(hyperclient.ConnectionTimeoutError, match="connection timeout"):
            await get_ok(session, srv.url)
        await first


async def test_keepalive_timeout_expires_idle_connections(raw_server: Any) -> None:
    srv: RawServer = await raw_server(serve_forever())
    connector = TCPConnector(keepalive_timeout=30 * MS)
    async with ClientSession(connector=connector) as session:
        await get_ok(session, srv.url)
        await asyncio.sleep(60 * MS)
        stats = next(iter(connector.stats().values()))
        assert stats.idle == 0  # closed by the cleanup timer, not on next use
        await get_ok(session, srv.url)
    assert srv.connections == 2


async def test_server_keep_alive_hint_shortens_expiry(raw_server: Any) -> None:
    response = b"HTTP/1.1 200 OK\r\nKeep-Alive: timeout=0.03\r\nContent-Length: 2\r\n\r\nok"
    srv: RawServer = await raw_server(serve_forever(response))
    async with ClientSession() as session:  # the connector alone would keep it 30 s
        await get_ok(session, srv.url)
        await get_ok(session, srv.url)
        assert srv.connections == 1
        await asyncio.sleep(60 * MS)
        await get_ok(session, srv.url)
    assert srv.connections == 2


async def test_force_close_opens_a_connection_per_request(raw_server: Any) -> None:
    heads: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head, _ = await read_request(reader)
        heads.append(head)
        writer.write(OK)
        await writer.drain()

    srv: RawServer = await raw_server(script)
    connector = TCPConnector(force_close=True)
    assert connector.force_close
    async with ClientSession(connector=connector) as session:
        for _ in range(3):
            await get_ok(session, srv.url)
    assert srv.connections == 3
    assert all(b"\r\nConnection: close\r\n" in h for h in heads)


async def test_keepalive_expiry_when_the_release_also_woke_a_waiter(raw_server: Any) -> None:
    """With limit=1, A's release hands the slot to a request queued for B: the expiry
    timer was armed only for releases that woke nobody, so A's idle socket stayed open
    until some later release."""
    closed_after: list[float] = []
    loop = asyncio.get_running_loop()

    async def slow_a(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(30 * MS)
        writer.write(OK)
        answered = loop.time()
        await reader.read()  # EOF: the client closed the idle connection
        closed_after.append(loop.time() - answered)

    async def closing_b(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")

    a = await raw_server(slow_a)
    b = await raw_server(closing_b)
    connector = TCPConnector(limit=1, limit_per_host=1, keepalive_timeout=50 * MS)
    async with ClientSession(connector=connector) as session:

        async def get(url: str) -> bytes:
            async with session.get(url) as resp:
                return await resp.read()

        first = asyncio.ensure_future(get(a.url))
        await asyncio.sleep(10 * MS)  # A's request holds the only slot
        assert await asyncio.gather(first, get(b.url)) == [b"ok", b"ok"]
        await asyncio.sleep(300 * MS)
        assert len(closed_after) == 1  # expired while the session was still open
    assert closed_after[0] < 250 * MS


async def test_connection_close_from_server_is_honoured(raw_server: Any) -> None:
    response = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    srv: RawServer = await raw_server(serve_forever(response))
    async with ClientSession() as session:
        await get_ok(session, srv.url)
        await get_ok(session, srv.url)
    assert srv.connections == 2


async def test_connection_close_asked_by_the_request_is_honoured(raw_server: Any) -> None:
    """RFC 9112 §9.6: a client that sends "close" sends nothing more on the connection.
    The server answers without "close" (it may only act on it a moment later): the next
    POST went out on the dying connection and failed (POSTs are not retried)."""
    lines: list[tuple[int, bytes]] = []
    srv: RawServer = await raw_server(closing_when_asked(lines))
    async with ClientSession() as session:
        for connection in ("close", "Keep-Alive, Close"):
            async with session.get(srv.url + "/bye", headers={"Connection": connection}) as r:
                assert await r.read() == b"ok"
            await asyncio.sleep(10 * MS)  # the answer was read; the server has not closed yet
            async with session.post(srv.url + "/next", data=b"x") as resp:
                assert await resp.read() == b"ok"
    assert [number for number, _ in lines] == [1, 2, 2, 3]


async def test_http10_response_is_not_kept_alive(raw_server: Any) -> None:
    response = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
    srv: RawServer = await raw_server(serve_forever(response))
    async with ClientSession() as session:
        await get_ok(session, srv.url)
        await get_ok(session, srv.url)
    assert srv.connections == 2


async def test_stale_pooled_connection_is_retried_once(raw_server: Any) -> None:
    """The server takes the second request on a kept-alive connection, then closes."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(OK)
        await writer.drain()
        await read_request(reader)  # ...and hang up without a byte of response
        writer.close()

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        await get_ok(session, srv.url)
        async with session.put(srv.url, data=b"replayable") as resp:
            assert await resp.read() == b"ok"
    assert srv.connections == 2


async def test_stale_connection_never_resends_a_post(raw_server: Any) -> None:
    """The server read the whole POST (and may have acted on it), then hung up without
    answering: re-sending it could charge a card twice (RFC 9112 §9.3.1)."""
    seen: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, _ = await read_request(reader)
            seen.append(head.split(b"\r\n", 1)[0])
            if head.startswith(b"POST"):
                return  # processed, then the connection dies
            writer.write(OK)
            await writer.drain()

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        await get_ok(session, srv.url)
        # Worded as aiohttp's, for code that matches on it.
        with pytest.raises(hyperclient.ServerDisconnectedError, match=r"^Server disconnected"):
            await session.post(srv.url + "/pay", data=b"amount=100")
    assert seen == [b"GET / HTTP/1.1", b"POST /pay HTTP/1.1"]
    assert srv.connections == 1


async def test_stale_connection_with_unreplayable_body_raises(raw_server: Any) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(OK)
        await writer.drain()
        await reader.read(10)
        writer.close()

    async def stream() -> AsyncIterator[bytes]:
        yield b"once"

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        await get_ok(session, srv.url)
        with pytest.raises(hyperclient.ServerDisconnectedError):
            await session.post(srv.url, data=stream())
    assert srv.connections == 1


async def test_server_closing_idle_connection_is_not_an_error(raw_server: Any) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(OK)
        await writer.drain()
        writer.close()  # closes the idle keep-alive connection right away

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        await get_ok(session, srv.url)
        await asyncio.sleep(20 * MS)  # the EOF arrives while the connection is idle
        await get_ok(session, srv.url)
        stats = next(iter(session.connector.stats().values()))  # type: ignore[union-attr]
        assert stats.created == 2
        assert stats.reused == 0


async def test_bytes_after_a_response_are_never_read_as_the_next(raw_server: Any) -> None:
    stray = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!"

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(OK + stray)  # an unsolicited second response
            await writer.drain()

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        for _ in range(3):
            async with session.get(srv.url) as resp:
                assert await resp.read() == b"ok"
    assert srv.connections == 3


async def test_bytes_on_an_idle_connection_close_it(raw_server: Any) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(OK)
        await writer.drain()
        await asyncio.sleep(10 * MS)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!")
        await writer.drain()
        while True:
            await read_request(reader)
            writer.write(OK)
            await writer.drain()

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        await get_ok(session, srv.url)
        await asyncio.sleep(40 * MS)
        await get_ok(session, srv.url)
    assert srv.connections == 2


async def test_releasing_a_partly_read_response_closes_its_connection(
    raw_server: Any,
) -> None:
    big = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 1_000_000
    srv: RawServer = await raw_server(serve_forever(big))
    async with ClientSession() as session:
        async with session.get(srv.url) as resp:
            assert len(await resp.content.read(10)) == 10
        async with session.get(srv.url) as resp:
            assert len(await resp.read()) == 1_000_000
        async with session.get(srv.url) as resp:
            assert len(await resp.read()) == 1_000_000
    assert srv.connections == 2  # the dirty one was closed; the clean one was reused


async def test_connector_close_closes_idle_sockets(raw_server: Any) -> None:
    eofs: list[bool] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(OK)
        await writer.drain()
        eofs.append(await reader.read(1) == b"")

    srv: RawServer = await raw_server(script)
    connector = TCPConnector()
    session = ClientSession(connector=connector)
    await get_ok(session, srv.url)
    await session.close()
    assert connector.closed
    await asyncio.sleep(20 * MS)
    assert eofs == [True]


def _eof_server(eof: asyncio.Event) -> Script:
    """Answers one request, then sets *eof* when the client closes the connection."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(OK)
        await writer.drain()
        if await reader.read(1) == b"":
            eof.set()

    return script


@pytest.mark.parametrize("closer", ["session", "connector"])
async def test_close_runs_in_a_task(raw_server: Any, closer: str) -> None:
    """close() is a Coroutine, as aiohttp's ``async def close()``: create_task() takes
    it (it raised TypeError), and the task ends once the pooled socket is closed."""
    eof = asyncio.Event()
    srv: RawServer = await raw_server(_eof_server(eof))
    connector = TCPConnector()
    session = ClientSession(connector=connector)
    await get_ok(session, srv.url)
    [(proto, _)] = [idle for conns in connector._conns.values() for idle in conns]
    target = session if closer == "session" else connector
    task = asyncio.create_task(target.close())
    assert connector.closed  # the closing itself is done before the task runs
    assert await task is None
    assert proto.closed_future.done()
    await asyncio.wait_for(eof.wait(), 1)
    await session.close()


async def test_close_is_taken_by_gather_ensure_future_and_wait_for(raw_server: Any) -> None:
    eof = asyncio.Event()
    srv: RawServer = await raw_server(_eof_server(eof))
    connector = TCPConnector()
    session = ClientSession(connector=connector)
    await get_ok(session, srv.url)
    assert await asyncio.gather(session.close(), connector.close()) == [None, None]
    await asyncio.wait_for(eof.wait(), 1)
    await asyncio.ensure_future(session.close())  # closed already: nothing to wait for
    await asyncio.wait_for(connector.close(), 1)


async def test_a_close_task_can_be_cancelled(raw_server: Any) -> None:
    """Cancelling a task waiting in close() stops the wait; the sockets are closed anyway."""
    eof = asyncio.Event()
    srv: RawServer = await raw_server(_eof_server(eof))
    session = ClientSession()
    await get_ok(session, srv.url)
    task = asyncio.create_task(session.close())
    await asyncio.sleep(0)  # in the wait now
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(eof.wait(), 1)


async def test_connector_connect_and_connection_api(raw_server: Any) -> None:
    srv: RawServer = await raw_server(serve_forever())
    async with TCPConnector() as connector:
        req = hyperclient.ClientRequest("GET", make_url(srv.url))
        conn = await connector.connect(req)
        assert not conn.closed
        assert conn.loop is asyncio.get_running_loop()
        conn.release()
        assert conn.closed
        conn2 = await connector.connect(req)
        assert conn2.reused
        conn2.detach()
        assert conn2.closed
        stats = next(iter(connector.stats().values()))
        assert stats.in_use == 0
        assert stats.idle == 0
        conn3 = await connector.connect(req)
        conn3.close()
        assert conn3.closed


async def test_no_fd_leak_after_many_failed_requests() -> None:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    async with ClientSession() as session:
        before = open_fds()
        for _ in range(200):
            with pytest.raises(hyperclient.ClientConnectorError):
                await session.get(f"http://127.0.0.1:{port}/")
        assert open_fds() <= before + 1


async def test_abandoned_response_warns_and_frees_its_connection(raw_server: Any) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, _ = await read_request(reader)
            if b"/partial" in head:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
            else:
                writer.write(OK)
            await writer.drain()

    srv: RawServer = await raw_server(script)
    async with ClientSession(connector=TCPConnector(limit=1)) as session:

        async def abandon() -> None:
            await session.get(srv.url + "/partial")  # never read, never released

        with pytest.warns(ResourceWarning, match="Unclosed response"):
            await abandon()
        # The slot came back (limit=1: a leak would hang here) on a new connection.
        await asyncio.wait_for(get_ok(session, srv.url), 1)
    assert srv.connections == 2


def _nodelay(resp: hyperclient.ClientResponse) -> int:
    assert resp.connection is not None
    sock = resp.connection.transport.get_extra_info("socket")  # type: ignore[union-attr]
    return int(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


async def test_connections_disable_nagle(raw_server: Any) -> None:
    # Request heads are written whole: Nagle's algorithm would only delay them. On the
    # selector loop asyncio's transport sets TCP_NODELAY, for a socket made with an
    # explicit IPPROTO_TCP; a resolver answering proto 0 must not lose it.

    async def body_later(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
            await asyncio.sleep(20 * MS)  # the response holds its connection meanwhile
            writer.write(b"ok")

    srv: RawServer = await raw_server(body_later)
    for resolver in (None, StaticProtoZero()):
        connector = TCPConnector(resolver=resolver) if resolver else TCPConnector()
        async with ClientSession(connector=connector) as session:
            async with session.get(srv.url) as resp:
                assert _nodelay(resp) == 1
                assert await resp.read() == b"ok"


class StaticProtoZero(hyperclient.AbstractResolver):
    """Resolves every name to 127.0.0.1 with ``proto`` 0, as some resolvers answer."""

    async def resolve(self, host: str, port: int = 0, family: int = 0) -> list[Any]:
        return [
            {"hostname": host, "host": "127.0.0.1", "port": port, "family": socket.AF_INET,
             "proto": 0, "flags": 0}
        ]  # fmt: skip

    async def close(self) -> None:
        return None


@pytest.mark.parametrize("sock_connect", [30, None])
async def test_closing_while_a_tls_handshake_stalls_does_not_hang(
    raw_server: Any, sock_connect: float | None
) -> None:
    # The server accepts TCP and never answers the TLS ClientHello: the protocol is never
    # connected, so nothing would ever resolve the future connector.close() waits on.
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    srv: RawServer = await raw_server(silent)
    # sock_connect is long or unset: close() must stop the handshake itself, not wait for
    # it, whether or not a connect timer runs.
    session = ClientSession(timeout=hyperclient.ClientTimeout(sock_connect=sock_connect))
    fds = open_fds()
    request = asyncio.ensure_future(session.get(f"https://127.0.0.1:{srv.port}/"))
    await asyncio.sleep(100 * MS)
    await asyncio.wait_for(session.close(), 1)
    with pytest.raises(hyperclient.ClientConnectionError, match="closed while connecting"):
        await asyncio.wait_for(request, 1)
    assert not request.cancelled()
    assert open_fds() <= fds


@pytest.mark.parametrize("in_cleanup", [False, True])
async def test_closing_during_a_name_lookup_fails_the_request_not_cancels_it(
    in_cleanup: bool,
) -> None:
    """close() stops the shared lookup task; the requests waiting on it get a client
    error, not a CancelledError nobody asked for (which would confuse TaskGroups). So
    does a request made by cleanup code, in a task already being cancelled."""

    class SlowResolver(hyperclient.AbstractResolver):
        async def resolve(self, host: str, port: int = 0, family: int = 0) -> list[Any]:
            await asyncio.sleep(30)
            raise AssertionError("never resolved")

        async def close(self) -> None:
            return None

    session = ClientSession(connector=TCPConnector(resolver=SlowResolver()))
    if not in_cleanup:
        request = asyncio.ensure_future(session.get("http://slow.test/"))
        await asyncio.sleep(50 * MS)
        await asyncio.wait_for(session.close(), 1)
        with pytest.raises(hyperclient.ClientConnectionError, match=r"resolving 'slow\.test'"):
            await asyncio.wait_for(request, 1)
        assert not request.cancelled()
        return
    seen: list[BaseException] = []

    async def worker() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            try:
                await session.get("http://slow.test/")
            except hyperclient.ClientConnectionError as exc:
                seen.append(exc)
            raise

    task = asyncio.ensure_future(worker())
    await asyncio.sleep(10 * MS)
    task.cancel()
    await asyncio.sleep(50 * MS)
    await asyncio.wait_for(session.close(), 1)
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [str(exc) for exc in seen] == ["the connector was closed while resolving 'slow.test'"]


@pytest.mark.parametrize(
    "signal",
    [
        "on_connection_queued_start",
        "on_connection_queued_end",
        "on_connection_create_start",
        "on_connection_create_end",
        "on_connection_reuseconn",
    ],
)
async def test_cancelled_in_a_connection_trace_gives_the_slot_back(
    url: Callable[[str], str], signal: str
) -> None:
    """A request cancelled while an async trace callback runs holds a slot, a grant or a
    connection at that moment: all must go back, or limit=1 would block every request."""
    entered = asyncio.Event()
    blocking = False

    async def callback(session: Any, ctx: Any, params: Any) -> None:
        if blocking:
            entered.set()
            await asyncio.Event().wait()  # until cancelled

    config = hyperclient.TraceConfig()
    getattr(config, signal).append(callback)
    connector = TCPConnector(limit=1)
    async with ClientSession(connector=connector, trace_configs=[config]) as session:
        if signal == "on_connection_reuseconn":
            async with session.get(url("/json")) as resp:
                await resp.read()  # an idle connection to reuse
        holder = None
        if signal.startswith("on_connection_queued"):
            # The only slot, held while its 8 MiB body is unread.
            holder = await session.get(url("/big?size=8388608"))
        blocking = True
        victim = asyncio.ensure_future(session.get(url("/json")))
        if holder is not None and signal == "on_connection_queued_end":
            await asyncio.sleep(20 * MS)  # the victim queues...
            await holder.read()  # ...and is granted the slot once this is done
            holder = None
        await asyncio.wait_for(entered.wait(), 2)
        victim.cancel()
        with pytest.raises(asyncio.CancelledError):
            await victim
        blocking = False
        if holder is not None:
            await holder.read()
        async with asyncio.timeout(2):
            async with session.get(url("/json")) as resp:
                assert resp.status == 200
        assert [s.in_use for s in connector.stats().values()] == [0]


async def test_idle_connections_are_capped_over_all_endpoints(
    aiohttp_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client meeting ever new endpoints keeps no more idle sockets than the cap (a
    quarter of RLIMIT_NOFILE by default; 2 here): the one closest to expiry is closed."""
    monkeypatch.setattr(hyperclient.connector, "default_max_idle", lambda: 2)

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    apps = []
    for _ in range(4):
        app = web.Application()
        app.router.add_get("/", hello)
        apps.append(await aiohttp_server(app))
    before = open_fds()
    async with hyperclient.ClientSession() as session:
        for server in apps:
            async with session.get(f"http://127.0.0.1:{server.port}/") as resp:
                assert await resp.text() == "hi"
        assert session.connector is not None
        stats = session.connector.stats()
        assert sum(s.idle for s in stats.values()) == 2
        assert sum(s.created for s in stats.values()) == 4
        # Two idle sockets each side (the servers live here too); without the cap, four.
        for _ in range(100):
            if open_fds() <= before + 4:
                break
            await asyncio.sleep(0.01)
        assert open_fds() == before + 4
