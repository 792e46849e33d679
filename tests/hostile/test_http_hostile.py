"""Hostile and broken HTTP servers: each case names the exception, the message, and checks
that no broken connection stays in the pool afterwards (the next request must work)."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Callable
from typing import Any

import pytest

import hyperclient
from hyperclient import ClientSession, ClientTimeout

from ..conftest import MS, RawServer, assert_pool_empty, read_request

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def first_then_ok(first: bytes, *, close: bool = True) -> Callable[..., Any]:
    """Answer the first request with *first* (then close), later ones normally."""
    state = {"n": 0}

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            state["n"] += 1
            if state["n"] == 1:
                writer.write(first)
                await writer.drain()
                if close:
                    return
                continue
            writer.write(OK)
            await writer.drain()

    return script


async def assert_pool_clean(session: ClientSession, srv: RawServer) -> None:
    for stats in session.connector.stats().values():  # type: ignore[union-attr]
        assert stats.in_use == 0
    async with session.get(srv.url) as resp:
        assert await resp.read() == b"ok"


HEAD_CASES = [
    (b"HTTP/1.1 2OO OK\r\n\r\n", "status"),
    (b"ICY 200 OK\r\n\r\n", "ICY"),
    (b"HTTP/2.0 200 OK\r\n\r\n", "HTTP/2.0"),
    (b"HTTP/1.1 200 OK\r\nNoColonHere\r\n\r\n", "NoColonHere"),
    (b"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n", "obs-fold"),
    (b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\n\r\n", "a\\x00b"),
    (b"HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n", "bare CR"),
    (b"HTTP/1.1 200 OK\nContent-Length: 0\n\n", "bare LF"),
    (b"HTTP/1.1 200 OK\r\nBad Name: v\r\n\r\n", "Bad Name"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", "Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok", "Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\nok", "Content-Length"),
    (
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
        "Transfer-Encoding",
    ),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", "chunked"),
    # The gzip transfer coding was dropped silently: the coded bytes became the content.
    (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
        + hex(len(gzip.compress(b"hello", mtime=0)))[2:].encode()
        + b"\r\n"
        + gzip.compress(b"hello", mtime=0)
        + b"\r\n0\r\n\r\n",
        "unsupported transfer coding b'gzip'",
    ),
]


@pytest.mark.parametrize(("response", "fragment"), HEAD_CASES)
async def test_malformed_heads(response: bytes, fragment: str, raw_server: Any) -> None:
    srv: RawServer = await raw_server(first_then_ok(response))
    async with ClientSession() as session:
        with pytest.raises(hyperclient.ClientResponseError) as info:
            async with session.get(srv.url) as resp:
                await resp.read()
        assert fragment.lower() in info.value.message.lower()
        assert isinstance(info.value.__cause__, hyperclient.errors.RemoteProtocolError)
        await assert_pool_clean(session, srv)


async def test_head_limits_are_enforced_and_configurable(raw_server: Any) -> None:
    long_line = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 9000 + b"\r\nContent-Length: 0\r\n\r\n"
    srv: RawServer = await raw_server(first_then_ok(long_line))
    async with ClientSession() as session:
        with pytest.raises(hyperclient.ClientResponseError, match="8190"):
            await session.get(srv.url)
        await assert_pool_clean(session, srv)
    many = b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(129)) + b"\r\n"
    srv2: RawServer = await raw_server(first_then_ok(many))
    async with ClientSession() as session:
        with pytest.raises(hyperclient.ClientResponseError, match="more than 128"):
            await session.get(srv2.url)
    srv3: RawServer = await raw_server(first_then_ok(many + b"Content-Length: 0\r\n\r\n"))
    connector = hyperclient.TCPConnector(max_headers=200, max_field_size=10_000)
    async with ClientSession(connector=connector) as session:
        async with session.get(srv3.url) as resp:
            assert resp.headers["X-128"] == "v"


BODY_CASES = [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "10"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", "chunk"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", "b'z'"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", "b'-'"),
    (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"10000000000000005\r\nhello\r\n0\r\n\r\n",
        "10000000000000005",
    ),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", "CRLF"),
]


@pytest.mark.parametrize(("response", "fragment"), BODY_CASES)
async def test_broken_bodies_are_payload_errors(
    response: bytes, fragment: str, raw_server: Any
) -> None:
    srv: RawServer = await raw_server(first_then_ok(response))
    async with ClientSession() as session:
        async with session.get(srv.url) as resp:
            with pytest.raises(hyperclient.ClientPayloadError) as info:
                await resp.read()
        assert fragment.lower() in str(info.value).lower()
        await assert_pool_clean(session, srv)


async def test_close_right_after_accept(raw_server: Any) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        # A FIN before our request lands gives a clean disconnect; our bytes arriving after
        # the close give a reset. Both are connection errors saying so.
        with pytest.raises(hyperclient.ClientConnectionError, match=r"disconnected|reset"):
            await session.get(srv.url)


async def test_close_in_the_middle_of_the_head(raw_server: Any) -> None:
    srv: RawServer = await raw_server(first_then_ok(b"HTTP/1.1 200 OK\r\nContent-Le"))
    async with ClientSession() as session:
        with pytest.raises(hyperclient.ServerDisconnectedError, match="middle"):
            await session.get(srv.url)
        await assert_pool_clean(session, srv)


async def test_reset_mid_body(raw_server: Any) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
        await writer.drain()
        await asyncio.sleep(10 * MS)
        sock = writer.get_extra_info("socket")
        import socket as socket_mod
        import struct

        # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
        sock.setsockopt(socket_mod.SOL_SOCKET, socket_mod.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        async with session.get(srv.url) as resp:
            with pytest.raises(hyperclient.ClientPayloadError, match="not completed"):
                await resp.read()


async def test_server_that_never_answers_hits_the_timeout(raw_server: Any) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    srv: RawServer = await raw_server(script)
    async with ClientSession(timeout=ClientTimeout(total=50 * MS)) as session:
        with pytest.raises(hyperclient.ServerTimeoutError):
            await session.get(srv.url)


async def test_one_byte_trickle_under_total_timeout(raw_server: Any) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello":
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(100 * MS)

    srv: RawServer = await raw_server(script)
    async with ClientSession(timeout=ClientTimeout(total=300 * MS)) as session:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(hyperclient.ServerTimeoutError):
            await session.get(srv.url)
        assert loop.time() - start < 1.0


async def test_unsolicited_second_response_is_dropped(raw_server: Any) -> None:
    srv: RawServer = await raw_server(
        first_then_ok(OK + b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil", close=False)
    )
    async with ClientSession() as session:
        async with session.get(srv.url) as resp:
            assert await resp.read() == b"ok"
        async with session.get(srv.url) as resp:
            assert await resp.read() == b"ok"  # a fresh connection, never "evil"
    assert srv.connections == 2


@pytest.mark.parametrize("coding", ["gzip"])
async def test_decompression_bomb_with_read_cap(coding: str, raw_server: Any) -> None:
    bomb = gzip.compress(bytes(64 * 2**20), compresslevel=9)
    srv: RawServer = await raw_server(
        first_then_ok(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb)
            + bomb,
            close=False,
        )
    )
    async with ClientSession() as session:
        async with session.get(srv.url) as resp:
            with pytest.raises(hyperclient.ClientPayloadError, match="max_size"):
                await resp.read(max_size=2**20)
        await assert_pool_clean(session, srv)


@pytest.mark.parametrize(
    ("kind", "exc"),
    [
        ("refused", hyperclient.ClientConnectorError),
        ("garbage", hyperclient.ClientResponseError),
        ("short", hyperclient.ClientPayloadError),
        ("hangup", hyperclient.ServerDisconnectedError),
    ],
)
async def test_no_fd_leak_after_many_failures(
    kind: str, exc: type[Exception], raw_server: Any
) -> None:
    from ..conftest import open_fds

    responses = {
        "garbage": b"garbage\r\n\r\n",
        "short": b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
        "hangup": b"",
    }

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(responses[kind])
        await writer.drain()

    import socket

    # Refused: a port bound and not listening, kept bound so no other test can take it.
    reserved = socket.socket()
    reserved.bind(("127.0.0.1", 0))
    if kind == "refused":
        url = f"http://127.0.0.1:{reserved.getsockname()[1]}/"
    else:
        srv: RawServer = await raw_server(script)
        url = srv.url
    try:
        async with ClientSession() as session:
            before = open_fds()
            for _ in range(1000):
                with pytest.raises(exc):
                    async with session.get(url) as resp:
                        await resp.read()
            await asyncio.sleep(20 * MS)
            assert open_fds() <= before + 2
            assert_pool_empty(session)
    finally:
        reserved.close()


@pytest.mark.parametrize("phase", ["pool", "connect", "send", "head", "body"])
async def test_cancellation_at_every_phase_leaves_the_pool_consistent(
    phase: str, raw_server: Any
) -> None:
    gate = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, _ = await read_request(reader)
            if b"/head" in head:
                await asyncio.sleep(5)
            elif b"/body" in head:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
                await writer.drain()
                await asyncio.sleep(5)
            elif b"/hold" in head:
                await gate.wait()
            writer.write(OK)
            await writer.drain()

    srv: RawServer = await raw_server(script)
    connector = hyperclient.TCPConnector(limit=1)
    async with ClientSession(connector=connector) as session:
        holder = None
        if phase == "pool":  # the only slot is busy: the victim waits in the pool
            holder = asyncio.ensure_future(session.get(srv.url + "/hold"))
            await asyncio.sleep(10 * MS)
        path = {"pool": "/", "connect": "/", "send": "/", "head": "/head", "body": "/body"}[phase]

        async def victim() -> None:
            if phase == "send":

                async def body():  # type: ignore[no-untyped-def]
                    yield b"x"
                    await asyncio.sleep(5)
                    yield b"y"

                await session.post(srv.url + path, data=body())
            else:
                async with session.get(srv.url + path) as resp:
                    await resp.read()

        task = asyncio.ensure_future(victim())
        await asyncio.sleep(0 if phase == "connect" else 20 * MS)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        gate.set()
        if holder is not None:
            (await holder).release()
        for _ in range(2):
            async with asyncio.timeout(1):
                async with session.get(srv.url) as resp:
                    assert await resp.read() == b"ok"
        stats = connector.stats()
        assert all(s.in_use == 0 and s.waiting == 0 for s in stats.values())


async def test_cancelled_at_any_step_of_a_new_connection_leaks_nothing(raw_server: Any) -> None:
    """Cancel a first request after 0, 1, 2, ... loop iterations: every step of opening a
    connection (connect, putting the transport on the socket, writing, reading) gives
    its socket back, and the pool stays consistent."""
    from ..conftest import open_fds

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(OK)
            await writer.drain()

    srv: RawServer = await raw_server(script)
    connector = hyperclient.TCPConnector(force_close=True)
    async with ClientSession(connector=connector) as session:
        before = open_fds()
        cancelled = 0
        for steps in range(16):

            async def victim() -> bytes:
                async with session.get(srv.url) as resp:
                    return await resp.read()

            task = asyncio.ensure_future(victim())
            for _ in range(steps):
                await asyncio.sleep(0)
            if task.cancel():
                cancelled += 1
            try:
                assert await task == b"ok"
            except asyncio.CancelledError:
                pass
            await asyncio.sleep(5 * MS)  # a transport closes its socket a step later
            assert open_fds() <= before, f"a socket left open when cancelled after {steps} steps"
        assert cancelled >= 8  # the early steps really were cut short
        stats = connector.stats()
        assert all(s.in_use == 0 and s.waiting == 0 for s in stats.values())


async def test_session_line_limits_apply_per_request(raw_server: Any) -> None:
    big_header = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 9000 + b"\r\nContent-Length: 2\r\n\r\nok"

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, _ = await read_request(reader)
            writer.write(big_header if b"/big" in head else OK)
            await writer.drain()

    srv: RawServer = await raw_server(script)
    connector = hyperclient.TCPConnector()
    roomy = ClientSession(connector=connector, connector_owner=False, max_field_size=10_000)
    strict = ClientSession(connector=connector, connector_owner=False, max_field_size=10)
    plain = ClientSession(connector=connector, connector_owner=False)
    async with roomy, strict, plain:
        async with roomy.get(srv.url + "/big") as resp:
            assert resp.headers["X-Big"] == "a" * 9000
        # The same pooled connection, a stricter session: "Content-Length: 2" is too long.
        with pytest.raises(hyperclient.ClientResponseError, match="10"):
            await strict.get(srv.url + "/")
        # And the connector's own limits are back for a session that sets none.
        async with plain.get(srv.url + "/") as resp:
            assert await resp.read() == b"ok"
        with pytest.raises(hyperclient.ClientResponseError, match="8190"):
            await plain.get(srv.url + "/big")
    await connector.close()


@pytest.mark.parametrize(
    ("sent", "error", "message"),
    [
        (b"SSH-2.0-OpenSSH_9.6", hyperclient.ClientResponseError, "it starts with b'SSH-2'"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5",
            hyperclient.ClientPayloadError,
            "invalid chunk size: b'-'",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX",
            hyperclient.ClientPayloadError,
            "not followed by CRLF: b'X'",
        ),
    ],
)
async def test_wrong_bytes_from_a_server_that_then_waits_fail_at_once(
    raw_server: Any, sent: bytes, error: type[Exception], message: str
) -> None:
    # The server sends what cannot be right and waits: the request failed only when a
    # timeout (default total 5 minutes) ran out.
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(sent)
        await reader.read()

    srv: RawServer = await raw_server(script)
    async with ClientSession(timeout=ClientTimeout(total=2)) as session:
        with pytest.raises(error, match=message):
            async with session.get(srv.url) as resp:
                await resp.read()
        for stats in session.connector.stats().values():  # type: ignore[union-attr]
            assert (stats.in_use, stats.idle) == (0, 0)
