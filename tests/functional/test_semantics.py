"""Timeouts, 100-continue, cancellation, tracing, timings, Digest and .netrc."""

from __future__ import annotations

import asyncio
import gzip
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from multidict import CIMultiDict

import hyperclient
from hyperclient import ClientSession, ClientTimeout, DummyCookieJar, TCPConnector

from ..conftest import (
    MS,
    TOO_BIG,
    RawServer,
    assert_pool_empty,
    open_fds,
    read_request,
    recording,
    stall,
)
from .conftest import checked_digest

Start = Callable[..., Awaitable[Any]]
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def keepalive(response: bytes = OK, delay: float = 0) -> Callable[..., Awaitable[None]]:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            if delay:
                await asyncio.sleep(delay)
            writer.write(response)
            await writer.drain()

    return script


async def assert_pool_healthy(session: ClientSession, url: str) -> None:
    async with session.get(url) as resp:
        assert await resp.read() == b"ok"
    for stats in session.connector.stats().values():  # type: ignore[union-attr]
        assert stats.in_use == 0


# -- timeouts ----------------------------------------------------------------------------------


async def test_sock_read_timeout_before_head(raw_server: Any) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head, _ = await read_request(reader)
        if b"/stall" in head:
            await asyncio.sleep(1)
        writer.write(OK)
        await writer.drain()
        await keepalive()(reader, writer)

    srv: RawServer = await raw_server(script)
    async with ClientSession(timeout=ClientTimeout(sock_read=30 * MS)) as session:
        with pytest.raises(hyperclient.SocketTimeoutError, match="reading") as info:
            await session.get(srv.url + "/stall")
        assert isinstance(info.value, hyperclient.ServerTimeoutError)
        assert isinstance(info.value, asyncio.TimeoutError)
        await assert_pool_healthy(session, srv.url)


async def test_sock_read_timeout_is_the_gap_between_reads(raw_server: Any) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
        for _ in range(5):  # 5 x 20 ms: longer than the 50 ms gap in total, never per gap
            await asyncio.sleep(20 * MS)
            writer.write(b"x")
            await writer.drain()
        await asyncio.sleep(1)

    srv: RawServer = await raw_server(script)
    async with ClientSession(timeout=ClientTimeout(sock_read=60 * MS)) as session:
        async with session.get(srv.url) as resp:
            assert await resp.content.readexactly(5) == b"xxxxx"
            with pytest.raises(hyperclient.SocketTimeoutError):
                await resp.read()


async def test_total_timeout_before_head(raw_server: Any) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(1)

    srv: RawServer = await raw_server(script)
    async with ClientSession(timeout=ClientTimeout(total=40 * MS)) as session:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(hyperclient.ServerTimeoutError, match="total timeout"):
            await session.get(srv.url)
        assert loop.time() - start < 0.5
        # The task was not left cancelled: more awaits work.
        await asyncio.sleep(0)


async def test_total_timeout_covers_the_body(raw_server: Any) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(1000):  # a one-byte trickle: never a long gap, but far too slow
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(10 * MS)

    srv: RawServer = await raw_server(script)
    async with ClientSession(timeout=ClientTimeout(total=80 * MS, sock_read=1)) as session:
        async with session.get(srv.url) as resp:
            with pytest.raises(hyperclient.ServerTimeoutError, match="body"):
                await resp.read()
        stats = next(iter(session.connector.stats().values()))  # type: ignore[union-attr]
        assert stats.in_use == 0
        assert stats.idle == 0


async def test_total_timeout_spans_redirects(aiohttp_server: Start) -> None:
    app = web.Application()

    async def hop(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        await asyncio.sleep(20 * MS)
        if n == 0:
            return web.Response(text="done")
        return web.Response(status=302, headers={"Location": f"/hop/{n - 1}"})

    app.router.add_get("/hop/{n}", hop)
    server = await aiohttp_server(app)
    async with ClientSession() as session:
        with pytest.raises(hyperclient.ServerTimeoutError):
            await session.get(
                f"http://127.0.0.1:{server.port}/hop/5", timeout=ClientTimeout(total=70 * MS)
            )
        async with session.get(
            f"http://127.0.0.1:{server.port}/hop/1", timeout=ClientTimeout(total=5)
        ) as resp:
            assert await resp.text() == "done"


class SlowResolver(hyperclient.AbstractResolver):
    """Resolves after a delay: lets a connect budget expire without any network."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[Any]:
        await asyncio.sleep(self.delay)
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]


async def test_connect_timeout(raw_server: Any) -> None:
    srv: RawServer = await raw_server(keepalive())
    connector = TCPConnector(resolver=SlowResolver(1))
    timeout = ClientTimeout(connect=30 * MS)
    async with ClientSession(connector=connector, timeout=timeout) as session:
        with pytest.raises(hyperclient.ConnectionTimeoutError, match=f"localhost:{srv.port}"):
            await session.get(f"http://localhost:{srv.port}/")
        stats = session.connector.stats()  # type: ignore[union-attr]
        assert all(s.in_use == 0 for s in stats.values())


async def test_deprecated_read_timeout_is_the_total_as_in_aiohttp(raw_server: Any) -> None:
    """aiohttp 3 makes ``ClientSession(read_timeout=)`` the total ("cumulative for all
    request operations"): a body trickled in small gaps still runs out of it."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
        for _ in range(10):
            await asyncio.sleep(20 * MS)
            writer.write(b"x")

    srv: RawServer = await raw_server(script)
    with pytest.warns(DeprecationWarning, match="read_timeout"):
        session = ClientSession(read_timeout=100 * MS)
    async with session:
        assert session.timeout.total == 100 * MS
        assert session.timeout.sock_read is None
        with pytest.raises(hyperclient.ServerTimeoutError, match=r"total timeout of 0\.1s"):
            async with session.get(srv.url) as resp:
                await resp.read()


async def test_spec_conn_timeout_maps_to_connect(raw_server: Any) -> None:
    srv: RawServer = await raw_server(keepalive())
    connector = TCPConnector(resolver=SlowResolver(1), conn_timeout=30 * MS)
    assert connector.conn_timeout == 30 * MS
    async with ClientSession(connector=connector) as session:
        with pytest.raises(hyperclient.ConnectionTimeoutError):
            await session.get(f"http://localhost:{srv.port}/")


async def test_pool_timeout_bounds_only_the_wait_for_a_free_connection(raw_server: Any) -> None:
    """ClientTimeout.pool covers waiting for a slot, not the look-up, connect and TLS of a
    new connection (it cut a 0.1 s look-up short at 30 ms, named as a connect timeout)."""
    srv: RawServer = await raw_server(keepalive(delay=150 * MS))
    connector = TCPConnector(resolver=SlowResolver(100 * MS), limit=1)
    timeout = ClientTimeout(pool=30 * MS)
    async with ClientSession(connector=connector, timeout=timeout) as session:
        url = f"http://localhost:{srv.port}/"
        first = asyncio.ensure_future(session.get(url))
        await asyncio.sleep(10 * MS)
        with pytest.raises(hyperclient.ConnectionTimeoutError, match=r"within 0.03s \(pool\)"):
            await session.get(url)
        async with await first as resp:  # its look-up took longer than `pool`: not cut
            assert await resp.read() == b"ok"


async def test_closing_the_connector_fails_requests_waiting_for_a_slot(raw_server: Any) -> None:
    """They got CancelledError, though nobody cancelled them (in a TaskGroup such a
    request vanished without an error)."""
    srv: RawServer = await raw_server(keepalive(delay=300 * MS))
    connector = TCPConnector(limit=1)
    async with ClientSession(connector=connector) as session:
        busy = asyncio.ensure_future(session.get(srv.url))
        await asyncio.sleep(20 * MS)
        waiting = asyncio.ensure_future(session.get(srv.url))
        await asyncio.sleep(20 * MS)
        await connector.close()
        with pytest.raises(hyperclient.ClientConnectionError, match="waiting for a connection"):
            await waiting
        assert not waiting.cancelled()
        with pytest.raises(hyperclient.ClientConnectionError):
            await busy


async def test_closing_the_connector_stops_a_tcp_connect(black_hole: int) -> None:
    """DNS and TLS under way were stopped, a TCP connect was not: the request ran on to
    its sock_connect timeout (or the kernel's, about 2 minutes, without one)."""
    connector = TCPConnector()
    timeout = ClientTimeout(total=10, sock_connect=None)
    async with ClientSession(connector=connector, timeout=timeout) as session:
        request = asyncio.ensure_future(session.get(f"http://127.0.0.1:{black_hole}/"))
        await asyncio.sleep(50 * MS)
        started = asyncio.get_running_loop().time()
        await connector.close()
        with pytest.raises(hyperclient.ClientConnectionError, match="closed while connecting"):
            await request
        assert not request.cancelled()
        assert asyncio.get_running_loop().time() - started < 1
        assert all(s.in_use == 0 for s in connector.stats().values())


async def test_write_timeout_when_the_server_does_not_read(raw_server: Any) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(2)  # never reads the body

    async def body() -> AsyncIterator[bytes]:
        for _ in range(1000):
            yield b"x" * 65536

    srv: RawServer = await raw_server(script)
    async with ClientSession(timeout=ClientTimeout(write=50 * MS)) as session:
        with pytest.raises(hyperclient.SocketTimeoutError, match="writing"):
            await session.post(srv.url, data=body())


async def test_cancellation_mid_body_keeps_the_pool_consistent(raw_server: Any) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, _ = await read_request(reader)
            if b"/slow" in head:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
                await writer.drain()
                await asyncio.sleep(2)
            writer.write(OK)
            await writer.drain()

    srv: RawServer = await raw_server(script)
    async with ClientSession(connector=TCPConnector(limit=1)) as session:

        async def reader() -> None:
            async with session.get(srv.url + "/slow") as resp:
                await resp.read()

        task = asyncio.ensure_future(reader())
        await asyncio.sleep(30 * MS)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(3):  # limit=1: a leaked slot would hang here
            await asyncio.wait_for(assert_pool_healthy(session, srv.url), 1)


async def test_zero_timeouts_mean_no_limit(raw_server: Any) -> None:
    """As in aiohttp, 0 turns a limit off (it is not "fail at once")."""
    srv: RawServer = await raw_server(serve_forever_slowly(30 * MS))
    timeout = ClientTimeout(total=0, connect=0, sock_read=0, sock_connect=0, pool=0, write=0)
    connector = TCPConnector(limit=1)
    async with ClientSession(connector=connector, timeout=timeout) as session:

        async def get() -> bytes:
            async with session.get(srv.url) as resp:
                return await resp.read()

        # The second waits for the only connection (pool=0) while the first waits for a
        # slow answer (sock_read=0).
        assert await asyncio.gather(get(), get()) == [b"ok", b"ok"]


async def test_timeout_none_as_in_aiohttp(raw_server: Any) -> None:
    """Session timeout=None is the default (not "no limit"); a request's timeout=None
    lifts every limit for that request."""
    async with ClientSession(timeout=None) as default:
        assert default.timeout == ClientTimeout(total=300, sock_connect=30)
    srv: RawServer = await raw_server(serve_forever_slowly(150 * MS))
    async with ClientSession(timeout=ClientTimeout(total=50 * MS)) as session:
        with pytest.raises(hyperclient.ServerTimeoutError):
            await session.get(srv.url)
        async with session.get(srv.url, timeout=None) as resp:
            assert await resp.read() == b"ok"


def serve_forever_slowly(delay: float) -> Callable[..., Awaitable[None]]:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            await asyncio.sleep(delay)
            writer.write(OK)
            await writer.drain()

    return script


# -- Expect: 100-continue ----------------------------------------------------------------------


async def test_expect_100_continue_sends_body_after_100(raw_server: Any) -> None:
    seen: dict[str, bytes] = {}

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen["head"] = head
        # Nothing of the body may arrive before we say 100.
        try:
            early = await asyncio.wait_for(reader.read(1), 50 * MS)
        except TimeoutError:
            early = b""
        seen["early"] = early
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()
        seen["body"] = early + await reader.readexactly(5 - len(early))
        writer.write(OK)
        await writer.drain()

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        async with session.post(srv.url, data=b"hello", expect100=True) as resp:
            assert await resp.read() == b"ok"
    assert b"\r\nExpect: 100-continue\r\n" in seen["head"]
    assert seen["early"] == b""
    assert seen["body"] == b"hello"


@pytest.mark.parametrize("steps", range(6))
async def test_a_cancel_just_after_100_continue_is_not_lost(steps: int, raw_server: Any) -> None:
    """A cancel landing 0..5 loop iterations after the 100 arrived. On 3.11 wait_for()
    returned the 100 when the cancel came after it, and the request went on to a 200."""
    loop = asyncio.get_running_loop()
    victim: list[asyncio.Task[Any]] = []

    def cancel_after(n: int) -> None:
        if n:
            loop.call_soon(cancel_after, n - 1)
        else:
            victim[0].cancel()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        cancel_after(steps)
        await reader.read(5)
        writer.write(OK)
        await writer.drain()

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:

        async def post() -> int:
            async with session.post(srv.url, data=b"hello", expect100=True) as resp:
                await resp.read()
                return resp.status

        victim.append(asyncio.ensure_future(post()))
        with pytest.raises(asyncio.CancelledError):
            await victim[0]


@pytest.mark.parametrize("traced", [False, True])
async def test_a_cancel_beside_the_total_timeout_is_not_taken_for_it(
    raw_server: Any, traced: bool
) -> None:
    """The total budget and someone else's cancel fall due in the same loop iteration:
    the cancel stands (as asyncio.timeout decides), and an outer asyncio.timeout that
    expires with the budget raises its own TimeoutError."""
    import time

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await stall(writer)

    srv: RawServer = await raw_server(script)
    loop = asyncio.get_running_loop()
    traces = [hyperclient.TraceConfig()] if traced else None
    async with ClientSession(timeout=ClientTimeout(total=50 * MS), trace_configs=traces) as session:
        task = asyncio.ensure_future(session.get(srv.url))
        await asyncio.sleep(10 * MS)  # waiting for the head
        loop.call_later(20 * MS, task.cancel)
        time.sleep(100 * MS)  # noqa: ASYNC251  # both are due when the loop runs again
        with pytest.raises(asyncio.CancelledError):
            await task

        async def scoped() -> bool:
            async with asyncio.timeout(40 * MS) as scope:
                await asyncio.sleep(0)
                time.sleep(100 * MS)  # noqa: ASYNC251  # the scope and the budget fall due
                try:
                    await session.get(srv.url)
                finally:
                    assert scope.expired()
            return False

        with pytest.raises(TimeoutError) as info:
            await scoped()
        assert type(info.value) is TimeoutError  # the scope's, not ServerTimeoutError
        # The budget alone is still a ServerTimeoutError, and the task is not left
        # with a cancel request pending.
        with pytest.raises(hyperclient.ServerTimeoutError, match=r"total timeout of 0\.05s"):
            await session.get(srv.url)
        current = asyncio.current_task()
        assert current is not None
        assert current.cancelling() == 0


async def test_a_request_from_cleanup_code_is_stopped_by_close_as_any_other(
    black_hole: int,
) -> None:
    """A request made while its task is already being cancelled (in ``except
    CancelledError:``) and stopped by close() mid-connect fails with ClientConnectionError,
    which the cleanup code can catch, not with a CancelledError nobody asked for."""
    connector = TCPConnector()
    session = ClientSession(connector=connector, timeout=ClientTimeout(sock_connect=None))
    seen: list[str] = []

    async def worker() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            try:
                await session.get(f"http://127.0.0.1:{black_hole}/bye")
            except hyperclient.ClientConnectionError as exc:
                seen.append(str(exc))
            raise

    task = asyncio.ensure_future(worker())
    await asyncio.sleep(10 * MS)
    task.cancel()
    await asyncio.sleep(50 * MS)  # the cleanup request is connecting
    await session.close()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == [f"the connector was closed while connecting to 127.0.0.1:{black_hole}"]


async def test_expect_100_final_status_instead_means_no_body(raw_server: Any) -> None:
    got: list[bytes] = []
    done = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        try:
            got.append(await asyncio.wait_for(reader.read(100), 100 * MS))
        except TimeoutError:
            got.append(b"<nothing>")
        done.set()

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        async with session.put(srv.url, data=b"x" * 100, expect100=True) as resp:
            assert resp.status == 413
        await asyncio.wait_for(done.wait(), 1)
    # Not a byte of the body was sent: nothing, or the EOF of our closing the connection.
    assert got in ([b"<nothing>"], [b""])


async def test_expect_100_final_status_never_reuses_the_connection(raw_server: Any) -> None:
    """The server answered without a 100 and may still wait for the announced body: the
    next request must not go down that connection, where it would be read as body."""
    heads: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            heads.append(head.split(b"\r\n", 1)[0])
            if head.startswith(b"POST"):
                writer.write(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
            else:
                writer.write(OK)
            await writer.drain()

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        async with session.post(srv.url + "/up", data=b"x" * 100, expect100=True) as resp:
            assert resp.status == 401
        async with session.get(srv.url + "/next") as resp:
            assert await resp.read() == b"ok"
    assert heads == [b"POST /up HTTP/1.1", b"GET /next HTTP/1.1"]
    assert srv.connections == 2


async def test_expect_100_without_a_body_keeps_the_connection(raw_server: Any) -> None:
    """With no body there is nothing to hold back: no Expect is sent (RFC 9110 §10.1.1),
    nothing is waited for, and the connection stays in the pool, for a request without
    data, with empty data, and for the GET that a 303 turns a POST into."""
    heads: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            heads.append(head)
            if b"\r\nExpect: 100-continue\r\n" in head:
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            length = int(head.partition(b"Content-Length: ")[2].split(b"\r\n")[0] or 0)
            await reader.readexactly(length)
            if head.startswith(b"POST /see-other "):
                writer.write(b"HTTP/1.1 303 See Other\r\nLocation: /next\r\n")
                writer.write(b"Content-Length: 0\r\n\r\n")
            else:
                writer.write(OK)
            await writer.drain()

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        for method, data in (("POST", None), ("GET", None), ("POST", b"")):
            async with session.request(method, srv.url, data=data, expect100=True) as resp:
                assert await resp.read() == b"ok"
        async with session.post(srv.url + "/see-other", data=b"hello", expect100=True) as resp:
            assert await resp.read() == b"ok"
            assert resp.method == "GET"
        await assert_pool_healthy(session, srv.url)
    assert [head.split(b" ", 2)[:2] for head in heads] == [
        [b"POST", b"/"],
        [b"GET", b"/"],
        [b"POST", b"/"],
        [b"POST", b"/see-other"],
        [b"GET", b"/next"],
        [b"GET", b"/"],
    ]
    assert [b"Expect:" in head for head in heads] == [False, False, False, True, False, False]
    assert srv.connections == 1


# -- early responses while uploading (RFC 9112 §9.6) ------------------------------------------


async def endless_body() -> AsyncIterator[bytes]:
    chunk = b"x" * 65536
    for _ in range(100_000):  # ~6.5 GB: far more than the socket buffers hold
        yield chunk


@pytest.mark.parametrize("then", ["stop_reading", "reset"])
async def test_early_error_response_stops_the_upload(raw_server: Any, then: str) -> None:
    """The server refuses the upload at once; it stops reading (so we sit in drain), or
    resets the connection. Either way its answer is what the caller gets, at once."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(TOO_BIG)
        await writer.drain()
        if then == "reset":
            await asyncio.sleep(50 * MS)
            writer.transport.abort()
        else:
            await stall(writer)

    srv: RawServer = await raw_server(script)
    async with ClientSession(timeout=ClientTimeout(total=None, sock_read=5)) as session:
        async with asyncio.timeout(3):
            async with session.post(srv.url + "/upload", data=endless_body()) as resp:
                assert resp.status == 413
                assert await resp.read() == b"too big!"
        assert_pool_empty(session)


async def test_closing_the_session_mid_upload_ends_it_at_once(raw_server: Any) -> None:
    """The server stopped reading, so the upload waits in drain with bytes buffered: the
    session's close aborts the connection, the upload fails at once with the connector's
    error, and close() does not wait for bytes the server will never read."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await stall(writer)

    srv: RawServer = await raw_server(script)
    session = ClientSession()
    task = asyncio.ensure_future(session.post(srv.url, data=endless_body()))
    await asyncio.sleep(100 * MS)
    assert not task.done()
    async with asyncio.timeout(1):
        await session.close()
        with pytest.raises(hyperclient.ClientConnectionError) as info:
            await task
    assert str(info.value) == "the connector was closed while in use"


async def test_early_success_response_lets_the_upload_finish(raw_server: Any) -> None:
    """A 2xx head before the body ended: the server reads on (streaming), so we send on."""
    got: list[int] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n")
        await writer.drain()
        body = await reader.readuntil(b"\r\n0\r\n\r\n")  # the chunked upload, to its end
        got.append(body.count(b"y"))
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async def body() -> AsyncIterator[bytes]:
        for _ in range(4):
            await asyncio.sleep(10 * MS)
            yield b"y" * 1000

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        async with session.post(srv.url, data=body()) as resp:
            assert resp.status == 200
            assert await resp.read() == b"ok"
    assert got == [4000]


async def test_sock_read_does_not_time_the_upload(raw_server: Any) -> None:
    """sock_read times the server's silence, not a slow body source; it starts once the
    body is sent (and then still fires)."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, _ = await read_request(reader)
            if b"/silent" in head:
                await asyncio.sleep(1)
            writer.write(OK)
            await writer.drain()

    async def slow_body() -> AsyncIterator[bytes]:
        for _ in range(6):
            await asyncio.sleep(25 * MS)  # 150 ms in all, sock_read is 60 ms
            yield b"z" * 1000

    srv: RawServer = await raw_server(script)
    async with ClientSession(timeout=ClientTimeout(sock_read=60 * MS)) as session:
        async with session.post(srv.url, data=slow_body(), chunked=True) as resp:
            assert await resp.read() == b"ok"
        with pytest.raises(hyperclient.SocketTimeoutError, match="reading"):
            await session.post(srv.url + "/silent", data=slow_body(), chunked=True)


async def test_sock_read_counts_a_server_taking_our_body_as_activity(raw_server: Any) -> None:
    """A large body sent with the head waits in the transport's buffer and the kernel's
    send queue while the server reads it slowly: sock_read fired mid-upload (aiohttp does
    not). Only the server's acknowledgements count, so it still fires when it stalls."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if b"/stall" in head:
                await asyncio.sleep(2)  # takes nothing more, answers nothing
                return
            left = 8 * 2**20
            while left:
                left -= len(await reader.read(min(left, 2**18)))
                await asyncio.sleep(10 * MS)  # about 0.3 s for the body; sock_read 0.1 s
            writer.write(OK)
            await writer.drain()

    srv: RawServer = await raw_server(script)
    async with ClientSession(timeout=ClientTimeout(total=5, sock_read=100 * MS)) as session:
        async with session.post(srv.url, data=b"x" * 8 * 2**20) as resp:
            assert await resp.read() == b"ok"

        async def streamed() -> AsyncIterator[bytes]:
            for _ in range(128):
                yield b"y" * 2**16

        for body in (b"x" * 8 * 2**20, streamed()):
            started = asyncio.get_running_loop().time()
            with pytest.raises(hyperclient.SocketTimeoutError, match="reading"):
                await session.post(srv.url + "/stall", data=body)
            # At most twice sock_read: the first look has no acknowledgement to compare.
            assert asyncio.get_running_loop().time() - started < 1


async def test_write_timeout_bounds_a_body_sent_with_the_head(raw_server: Any) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(2)  # never reads the body

    srv: RawServer = await raw_server(script)
    async with ClientSession(timeout=ClientTimeout(total=5, write=100 * MS)) as session:
        with pytest.raises(hyperclient.SocketTimeoutError, match="writing"):
            await session.post(srv.url, data=b"x" * 32 * 2**20)
        assert_pool_empty(session)


async def test_an_early_answer_to_a_body_sent_with_the_head(raw_server: Any) -> None:
    """A complete answer while most of a large body still waits to be sent: the
    connection went back to the pool with the rest of the body queued ahead of the next
    request, and closing the session then waited for a server that never reads it."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if b"/upload" in head:
            writer.write(b"HTTP/1.1 413 Too Large\r\nContent-Length: 2\r\n\r\nno")
            await writer.drain()
            await asyncio.sleep(3)  # reads nothing more, keeps the connection open
            return
        await reader.readexactly(5)
        writer.write(OK)
        await writer.drain()

    srv: RawServer = await raw_server(script)
    before = open_fds()
    session = ClientSession(timeout=ClientTimeout(total=5))
    async with session.post(srv.url + "/upload", data=b"x" * 32 * 2**20) as resp:
        assert (resp.status, await resp.read()) == (413, b"no")
    async with session.post(srv.url + "/next", data=b"small") as resp:
        assert await resp.read() == b"ok"
    assert srv.connections == 2  # not queued behind the unsent body
    async with asyncio.timeout(1):
        await session.close()
    await asyncio.sleep(10 * MS)
    # Ours are closed (aborted: the rest of the body is dropped), and the server's
    # socket for /next; the /upload one still sleeps.
    assert open_fds() <= before + 1


# -- tracing and timings ---------------------------------------------------------------------


async def test_trace_events_in_order(raw_server: Any) -> None:
    srv: RawServer = await raw_server(keepalive())
    events: list[str] = []
    config = hyperclient.TraceConfig()

    def record(name: str) -> Callable[..., Awaitable[None]]:
        async def callback(session: Any, ctx: Any, params: Any) -> None:
            assert ctx.trace_request_ctx == {"id": 7}
            events.append(name)

        return callback

    for name in (
        "on_request_start", "on_connection_create_start", "on_connection_create_end",
        "on_connection_reuseconn", "on_request_headers_sent", "on_request_chunk_sent",
        "on_response_chunk_received", "on_request_end", "on_request_exception",
    ):  # fmt: skip
        getattr(config, name).append(record(name))

    async def body() -> AsyncIterator[bytes]:
        yield b"chunk"

    async with ClientSession(trace_configs=[config]) as session:
        async with session.post(srv.url, data=body(), trace_request_ctx={"id": 7}) as resp:
            await resp.read()
        async with session.get(srv.url, trace_request_ctx={"id": 7}) as resp:
            await resp.read()
    assert events == [
        "on_request_start", "on_connection_create_start", "on_connection_create_end",
        "on_request_chunk_sent", "on_request_headers_sent", "on_request_end",
        "on_response_chunk_received",
        "on_request_start", "on_connection_reuseconn", "on_request_headers_sent",
        "on_request_end", "on_response_chunk_received",
    ]  # fmt: skip
    with pytest.raises(RuntimeError, match="frozen"):
        config.on_request_start.append(record("late"))


async def test_trace_chunk_sent_for_every_body_and_end_with_the_final_url(
    url: Callable[[str], str],
) -> None:
    """Upload-progress hooks see bodies written with the head too (once, also with
    Expect: 100-continue), and on_request_end reports the request that got the final
    response, after redirects (both as in aiohttp)."""
    config = hyperclient.TraceConfig()
    chunks: list[bytes] = []
    ends: list[tuple[str, str]] = []

    async def on_chunk(session: Any, ctx: Any, params: Any) -> None:
        chunks.append(params.chunk)

    async def on_end(session: Any, ctx: Any, params: Any) -> None:
        ends.append((params.method, params.url.path))

    config.on_request_chunk_sent.append(on_chunk)
    config.on_request_end.append(on_end)
    async with ClientSession(trace_configs=[config]) as session:
        for kwargs in ({"data": b"x" * 10}, {"data": "text"}, {"json": [1]}):
            async with session.post(url("/echo"), **kwargs) as resp:
                await resp.read()
        async with session.post(url("/echo"), data=b"y" * 5, expect100=True) as resp:
            await resp.read()
        async with session.get(url("/redirect/2")) as resp:
            await resp.read()
    assert chunks == [b"x" * 10, b"text", b"[1]", b"y" * 5]
    assert ends[-1] == ("GET", "/redirect/0")


async def test_trace_exception_event() -> None:
    config = hyperclient.TraceConfig()
    errors: list[BaseException] = []

    async def on_exception(session: Any, ctx: Any, params: Any) -> None:
        errors.append(params.exception)

    config.on_request_exception.append(on_exception)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    async with ClientSession(trace_configs=[config]) as session:
        with pytest.raises(hyperclient.ClientConnectorError):
            await session.get(f"http://127.0.0.1:{port}/")
    assert len(errors) == 1
    assert isinstance(errors[0], hyperclient.ClientConnectorError)


async def test_headers_added_on_request_start_go_with_that_request_only(
    raw_server: Any,
) -> None:
    """The instrumentation pattern (a traceparent added to params.headers): it was lost
    without request headers, and written into the session's defaults, or the caller's
    own multidict, when there were some."""
    heads: list[bytes] = []
    srv: RawServer = await raw_server(recording(heads))
    config = hyperclient.TraceConfig()
    starts: list[str] = []

    async def inject(session: Any, ctx: Any, params: Any) -> None:
        starts.append(str(params.url))
        params.headers["traceparent"] = f"00-{len(starts)}"

    config.on_request_start.append(inject)
    mine = CIMultiDict({"X-Mine": "1"})
    async with ClientSession(trace_configs=[config]) as session:
        await (await session.get(srv.url + "/a", params={"q": "1"})).read()
        await (await session.get(srv.url + "/b", headers=mine)).read()
    async with ClientSession(trace_configs=[config], headers={"X-S": "s"}) as session:
        await (await session.get(srv.url + "/c")).read()
        await (await session.get(srv.url + "/d")).read()
        assert dict(session.headers) == {"X-S": "s"}
    assert dict(mine) == {"X-Mine": "1"}
    assert [h.count(b"\r\ntraceparent: 00-") for h in heads] == [1, 1, 1, 1]
    assert [h.split(b"\r\ntraceparent: ")[1][:4] for h in heads] == [
        b"00-1",
        b"00-2",
        b"00-3",
        b"00-4",
    ]
    assert starts[0] == srv.url + "/a?q=1"  # with the params= query, as in aiohttp


async def test_raise_for_status_and_total_timeout_are_request_exceptions(
    raw_server: Any,
) -> None:
    """As in aiohttp: a refused status is on_request_exception (not on_request_end), and
    a spent total budget is reported as the timeout the caller gets, not a cancel."""
    config = hyperclient.TraceConfig()
    seen: list[tuple[str, Any]] = []

    async def on_end(session: Any, ctx: Any, params: Any) -> None:
        seen.append(("end", params.response.status))

    async def on_exception(session: Any, ctx: Any, params: Any) -> None:
        seen.append(("exception", params.exception))

    config.on_request_end.append(on_end)
    config.on_request_exception.append(on_exception)
    failing: RawServer = await raw_server(
        keepalive(b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n")
    )
    silent: RawServer = await raw_server(lambda reader, writer: stall(writer))
    async with ClientSession(trace_configs=[config], raise_for_status=True) as session:
        with pytest.raises(hyperclient.ClientResponseError) as refused:
            await session.get(failing.url)
        with pytest.raises(hyperclient.ServerTimeoutError) as late:
            await session.get(silent.url, timeout=ClientTimeout(total=50 * MS))
    assert seen == [("exception", refused.value), ("exception", late.value)]
    assert isinstance(late.value, TimeoutError)


async def test_timings(raw_server: Any) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            await asyncio.sleep(20 * MS)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab")
            await writer.drain()
            await asyncio.sleep(20 * MS)
            writer.write(b"cd")
            await writer.drain()

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        async with session.get(srv.url) as resp:
            before = resp.timings
            assert before is not None
            assert before.body_done is None
            await resp.read()
            first = resp.timings
        async with session.get(srv.url) as resp:
            await resp.read()
            second = resp.timings
    assert first is not None
    assert second is not None
    assert not first.reused
    assert second.reused
    assert first.connection is not None
    assert first.request_sent is not None
    assert first.first_byte is not None
    assert first.headers is not None
    assert first.body_done is not None
    assert first.connection <= first.request_sent <= first.first_byte <= first.headers
    assert first.first_byte >= 15 * MS  # the server waited 20 ms before answering
    assert first.body_done - first.headers >= 15 * MS


# -- Digest and .netrc -------------------------------------------------------------------------


SEEN = web.AppKey("seen", list[str])


def digest_app(user: str, password: str) -> web.Application:
    """A server that really checks RFC 7616 digests (MD5 and SHA-256, qop=auth)."""
    realm, nonce = "test@hyperclient", os.urandom(8).hex()
    app = web.Application()

    def challenge() -> web.Response:
        return web.Response(
            status=401,
            headers={
                "WWW-Authenticate": f'Digest realm="{realm}", qop="auth", '
                f'nonce="{nonce}", algorithm=SHA-256, opaque="xyz"'
            },
        )

    async def protected(request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        app[SEEN].append(f"{request.method} {request.path_qs} {header[:6]}")
        if checked_digest(request, user, password, realm) is None:
            return challenge()
        if request.path == "/moved":
            return web.Response(status=303, headers={"Location": "/secret?after=1"})
        return web.Response(text=f"welcome {user} ({request.method})")

    app[SEEN] = []
    app.router.add_route("*", "/secret", protected)
    app.router.add_route("*", "/moved", protected)
    return app


async def test_digest_auth_against_a_checking_server(aiohttp_server: Start) -> None:
    server = await aiohttp_server(digest_app("Mufasa", "Circle of Life"))
    url = f"http://127.0.0.1:{server.port}/secret?x=1"
    async with ClientSession() as session:
        good = hyperclient.DigestAuth("Mufasa", "Circle of Life")
        async with session.get(url, auth=good) as resp:
            assert resp.status == 200
            assert await resp.text() == "welcome Mufasa (GET)"
        async with session.post(url, data=b"body", auth=good) as resp:
            assert resp.status == 200
        # The method as sent (upper case) and the query from params= are what is hashed.
        async with session.request("get", url, params={"q": "x"}, auth=good) as resp:
            assert resp.status == 200
        bad = hyperclient.DigestAuth("Mufasa", "wrong")
        async with session.get(url, auth=bad) as resp:
            assert resp.status == 401  # one answer to the challenge, no loop


async def test_digest_auth_follows_a_method_changing_redirect(aiohttp_server: Start) -> None:
    app = digest_app("Mufasa", "Circle of Life")
    server = await aiohttp_server(app)
    auth = hyperclient.DigestAuth("Mufasa", "Circle of Life")
    async with ClientSession() as session:
        url = f"http://127.0.0.1:{server.port}/moved"
        async with session.post(url, data=b"body", auth=auth) as resp:
            assert await resp.text() == "welcome Mufasa (GET)"
            assert [r.status for r in resp.history] == [303]
    # The 303's target gets a digest made for GET and its own URI at once: no stale
    # credential for the old method and target, no extra 401 round trip.
    assert app[SEEN] == [
        "POST /moved ",
        "POST /moved Digest",
        "GET /secret?after=1 Digest",
    ]


async def test_netrc_used_only_with_trust_env(
    aiohttp_server: Start, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = web.Application()

    async def show(request: web.Request) -> web.Response:
        return web.Response(text=request.headers.get("Authorization", "none"))

    app.router.add_get("/", show)
    server = await aiohttp_server(app)
    netrc = tmp_path / "netrc"
    monkeypatch.setenv("NETRC", str(netrc))
    url = f"http://127.0.0.1:{server.port}/"
    async with ClientSession(trust_env=True) as session:
        # Read by the first request (in a thread), not when the session is made.
        netrc.write_text("machine 127.0.0.1 login alice password s3cret\n")
        netrc.chmod(0o600)
        async with session.get(url) as resp:
            assert await resp.text() == hyperclient.BasicAuth("alice", "s3cret").encode()
        netrc.unlink()  # read once per session, not per request (blocking file I/O)
        async with session.get(url) as resp:
            assert await resp.text() == hyperclient.BasicAuth("alice", "s3cret").encode()
        # An Authorization the caller gives is not replaced by the file's password.
        async with session.get(url, headers={"Authorization": "Bearer t"}) as resp:
            assert await resp.text() == "Bearer t"
    async with ClientSession() as session:
        async with session.get(url) as resp:
            assert await resp.text() == "none"


async def test_share_cookies_keeps_its_deprecated_meaning(aiohttp_server: Start) -> None:
    app = web.Application()

    async def setter(request: web.Request) -> web.Response:
        resp = web.Response(text=request.headers.get("Cookie", "none"))
        resp.set_cookie("shared", "yes")
        return resp

    app.router.add_get("/", setter)
    server = await aiohttp_server(app)
    with pytest.warns(DeprecationWarning, match="share_cookies"):
        connector = TCPConnector(share_cookies=True)
    url = f"http://127.0.0.1:{server.port}/"
    async with ClientSession(connector=connector, connector_owner=False) as first:
        async with first.get(url) as resp:
            await resp.read()
    assert connector.cookies["shared"].value == "yes"
    # A second session on the same connector sends the connector's cookies.
    async with ClientSession(connector=connector) as second:
        async with second.get(url) as resp:
            assert await resp.text() == "shared=yes"


async def test_shared_cookies_are_bounded_as_the_jar_is(aiohttp_server: Start) -> None:
    """A server sending new cookie names for ever cannot grow the connector's deprecated
    shared store past the jar's 3,000 cookies: the oldest names go."""
    sent = 0

    async def setter(request: web.Request) -> web.Response:
        nonlocal sent
        resp = web.Response(text="ok")
        for _ in range(100):
            resp.set_cookie(f"c{sent}", "v")
            sent += 1
        return resp

    # The shared cookies go back in each request: a Cookie header of up to 30 KB.
    app = web.Application(handler_args={"max_field_size": 2**20})
    app.router.add_get("/", setter)
    server = await aiohttp_server(app)
    with pytest.warns(DeprecationWarning, match="share_cookies"):
        connector = TCPConnector(share_cookies=True)
    async with ClientSession(connector=connector, cookie_jar=DummyCookieJar()) as session:
        for _ in range(31):
            async with session.get(f"http://127.0.0.1:{server.port}/") as resp:
                await resp.read()
    assert connector.cookies is not None
    assert len(connector.cookies) == 3000
    assert "c3099" in connector.cookies
    assert "c99" not in connector.cookies


async def test_read_max_size(raw_server: Any) -> None:
    srv: RawServer = await raw_server(
        keepalive(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 100)
    )
    async with ClientSession() as session:
        async with session.get(srv.url) as resp:
            assert len(await resp.read(max_size=100)) == 100
        async with session.get(srv.url) as resp:
            with pytest.raises(hyperclient.ClientPayloadError, match="max_size"):
                await resp.read(max_size=99)
            # The refused read took bytes no later read can see: they fail too, rather
            # than return the rest (here nothing) as if it were the body.
            for again in (resp.read, resp.text, resp.json):
                with pytest.raises(hyperclient.ClientPayloadError, match="max_size"):
                    await again()


async def test_text_and_json_take_max_size_against_a_compression_bomb(
    aiohttp_server: Start,
) -> None:
    """32 MiB of JSON that gzip packs into about 32 KB: text() and json() refuse it past
    max_size, after inflating no more than about that much."""
    packed = gzip.compress(b'{"a": "' + b" " * (32 * 2**20) + b'"}', 9)
    assert len(packed) < 64_000

    async def bomb(request: web.Request) -> web.Response:
        return web.Response(
            body=packed,
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )

    app = web.Application()
    app.router.add_get("/", bomb)
    server = await aiohttp_server(app)
    url = f"http://127.0.0.1:{server.port}/"
    async with ClientSession() as session:
        for take in ("text", "json"):
            async with session.get(url) as resp:
                with pytest.raises(hyperclient.ClientPayloadError, match="max_size"):
                    await getattr(resp, take)(max_size=2**20)
        async with session.get(url) as resp:
            assert (await resp.json(max_size=2**26))["a"] == " " * (32 * 2**20)
