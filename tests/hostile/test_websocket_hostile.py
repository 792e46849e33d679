"""WebSocket servers that break RFC 6455, scripted byte by byte.

Each script does the opening handshake by hand, then misbehaves. The tests check what
the application saw and the close code the server received in the client's (masked)
close frame.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import hashlib
import os
import socket
import ssl
import struct
import time
import warnings
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trustme

import hyperclient
from hyperclient import WSMsgType
from hyperclient.ws_frames import MessageTooBig, WebSocketError
from hyperclient.ws_handshake import HandshakeError
from tests.conftest import MS, RawServer, Script, open_fds

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

StartServer = Callable[[Script], Awaitable[RawServer]]


def accept(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


async def handshake(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    extra: bytes = b"",
    *,
    send: bool = True,
) -> dict[bytes, bytes]:
    """Read the upgrade request and (if *send*) answer 101; returns the request headers."""
    head = await reader.readuntil(b"\r\n\r\n")
    headers: dict[bytes, bytes] = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name:
            headers[name.strip().lower()] = value.strip()
    if send:
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
            + accept(headers[b"sec-websocket-key"])
            + b"\r\n"
            + extra
            + b"\r\n"
        )
    return headers


def frame(
    opcode: int, payload: bytes = b"", *, fin: bool = True, first: int | None = None
) -> bytes:
    """An unmasked server frame; *first* overrides the first byte."""
    b0 = first if first is not None else (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        return bytes([b0, n]) + payload
    if n <= 0xFFFF:
        return bytes([b0, 126]) + struct.pack("!H", n) + payload
    return bytes([b0, 127]) + struct.pack("!Q", n) + payload


def masked_frame(opcode: int, payload: bytes) -> bytes:
    key = os.urandom(4)
    data = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + key + data


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One frame from the client: (opcode, unmasked payload); asserts it is masked."""
    b0, b1 = await reader.readexactly(2)
    assert b1 & 0x80, "client frames must be masked"
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", await reader.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", await reader.readexactly(8))[0]
    key = await reader.readexactly(4)
    data = await reader.readexactly(n)
    return b0 & 0x0F, bytes(b ^ key[i % 4] for i, b in enumerate(data))


async def read_close(reader: asyncio.StreamReader) -> int | None:
    """Skip frames up to the client's close frame; its code (None if empty)."""
    while True:
        opcode, payload = await read_frame(reader)
        if opcode == 0x8:
            return struct.unpack("!H", payload[:2])[0] if payload else None


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


def ws_url(server: RawServer) -> str:
    return f"ws://{server.host}:{server.port}/"


async def violation(
    raw_server: StartServer, bad: bytes, **connect: Any
) -> tuple[hyperclient.ClientWebSocketResponse, list[WSMsgType], Any, dict[str, Any]]:
    """Send *bad* after the handshake; return the ws, message types seen, and the close."""
    got: dict[str, Any] = {}
    done = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        writer.write(bad)
        got["code"] = await read_close(reader)
        got["eof"] = await reader.read() == b""
        done.set()

    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        ws = await session.ws_connect(ws_url(server), **connect)
        first = await ws.receive()
        second = await ws.receive()
        third = await ws.receive()
        await asyncio.wait_for(done.wait(), 1000 * MS)
        assert ws.closed
        assert not await ws.close()
    return ws, [first.type, second.type, third.type], first.data, got


# -- protocol violations ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "code", "message"),
    [
        pytest.param(masked_frame(0x1, b"hi"), 1002, "masked frame from server", id="masked"),
        pytest.param(frame(0x1, b"hi", first=0xC1), 1002, "reserved bits set: 0x40", id="rsv1"),
        pytest.param(frame(0x3, b"x"), 1002, "invalid opcode: 0x3", id="opcode-3"),
        pytest.param(frame(0xB, b"x"), 1002, "invalid opcode: 0xb", id="opcode-b"),
        pytest.param(frame(0x9, b"p", fin=False), 1002, "fragmented control", id="frag-ping"),
        pytest.param(frame(0x9, b"p" * 126), 1002, "control frame too long", id="ping-126"),
        pytest.param(frame(0x0, b"x"), 1002, "continuation frame without", id="orphan-cont"),
        pytest.param(frame(0x1, b"\xff\xfe"), 1007, "invalid utf-8", id="bad-utf8"),
        pytest.param(
            frame(0x1, b"ok", fin=False) + frame(0x0, b"\xed\xa0\x80"),
            1007,
            "invalid utf-8",
            id="bad-utf8-fragment",
        ),
        pytest.param(frame(0x8, close_payload(1005)), 1002, "invalid close code: 1005", id="1005"),
        pytest.param(frame(0x8, close_payload(999)), 1002, "invalid close code: 999", id="999"),
        pytest.param(frame(0x8, b"\x03"), 1002, "close frame payload of 1 byte", id="close-1b"),
        pytest.param(
            frame(0x8, close_payload(1000, b"\xff")), 1007, "invalid utf-8", id="close-reason"
        ),
        pytest.param(
            bytes([0x82, 126, 0, 10]) + b"x" * 10, 1002, "non-minimal", id="non-minimal-len"
        ),
    ],
)
async def test_protocol_violation_fails_the_connection(
    raw_server: StartServer, bad: bytes, code: int, message: str
) -> None:
    ws, types, error, got = await violation(raw_server, bad)
    assert types == [WSMsgType.ERROR, WSMsgType.CLOSED, WSMsgType.CLOSED]
    assert isinstance(error, WebSocketError)
    assert error.code == code
    assert message in str(error)
    assert ws.exception() is error
    assert ws.close_code == code
    assert got == {"code": code, "eof": True}


async def test_oversize_message_is_refused_before_buffering(raw_server: StartServer) -> None:
    # Only the header of the 1 MiB frame is sent: the limit is checked on the length field.
    bad = bytes([0x82, 127]) + struct.pack("!Q", 2**20)
    ws, types, error, got = await violation(raw_server, bad, max_msg_size=1024)
    assert types == [WSMsgType.ERROR, WSMsgType.CLOSED, WSMsgType.CLOSED]
    assert isinstance(error, MessageTooBig)
    assert str(error) == "message size 1048576 exceeds limit 1024"
    assert ws.close_code == got["code"] == 1009


async def test_oversize_fragmented_message(raw_server: StartServer) -> None:
    bad = frame(0x2, b"a" * 600, fin=False) + frame(0x0, b"b" * 600)
    _, types, error, got = await violation(raw_server, bad, max_msg_size=1000)
    assert types[0] is WSMsgType.ERROR
    assert isinstance(error, MessageTooBig)
    assert got["code"] == 1009


async def test_message_exactly_at_the_limit_passes(raw_server: StartServer) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        writer.write(frame(0x2, b"z" * 1000))
        await read_close(reader)

    server = await raw_server(script)
    async with (
        hyperclient.ClientSession() as session,
        session.ws_connect(ws_url(server), max_msg_size=1000) as ws,
    ):
        assert await ws.receive_bytes() == b"z" * 1000


async def test_messages_before_the_violation_are_delivered(raw_server: StartServer) -> None:
    bad = frame(0x1, b"one") + frame(0x2, b"two") + frame(0x1, b"\xc3")
    _, types, _, got = await violation(raw_server, bad)
    assert types == [WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.ERROR]
    assert got["code"] == 1007


# -- closing -------------------------------------------------------------------------------


async def test_tcp_close_without_close_frame_is_1006(raw_server: StartServer) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        writer.write(frame(0x1, b"last words"))
        await writer.drain()
        writer.close()

    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        ws = await session.ws_connect(ws_url(server))
        assert (await ws.receive()).data == "last words"
        msg = await asyncio.wait_for(ws.receive(), 1000 * MS)
        assert msg.type is WSMsgType.CLOSED
        assert ws.closed
        assert ws.close_code == 1006
        assert ws.exception() is None
        assert not await ws.close()
        with pytest.raises(hyperclient.ClientConnectionResetError, match="closing transport"):
            await ws.send_str("too late")


async def test_server_never_answers_close(raw_server: StartServer) -> None:
    got: list[int | None] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        got.append(await read_close(reader))
        await reader.read()  # ignore the close, wait for the client to give up

    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        ws = await session.ws_connect(ws_url(server), timeout=100 * MS)
        started = time.monotonic()
        assert await ws.close(code=4000, message=b"bye")
        elapsed = time.monotonic() - started
        assert 90 * MS <= elapsed < 2000 * MS
        assert ws.closed
        assert ws.close_code == 1006
        assert (await ws.receive()).type is WSMsgType.CLOSED
    await asyncio.sleep(10 * MS)
    assert got == [4000]


async def test_close_with_client_wsTimeout(raw_server: StartServer) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        await reader.read()

    server = await raw_server(script)
    timeout = hyperclient.ClientWSTimeout(ws_close=50 * MS)
    async with hyperclient.ClientSession() as session:
        ws = await session.ws_connect(ws_url(server), timeout=timeout)
        assert ws.timeout == timeout
        started = time.monotonic()
        assert await ws.close()
        assert time.monotonic() - started < 2000 * MS
        assert ws.close_code == 1006


@pytest.mark.parametrize("autoclose", [True, False])
async def test_server_close_frame(raw_server: StartServer, autoclose: bool) -> None:
    got: list[Any] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        writer.write(frame(0x8, close_payload(4001, b"going")))
        # Anything after the close frame is ignored (RFC 6455 §5.5.1).
        writer.write(frame(0x1, b"after close"))
        got.append(await read_close(reader))
        # The client leaves closing the TCP connection to the server (RFC 6455 §7.1.1).
        await asyncio.sleep(30 * MS)
        got.append(reader.at_eof())

    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        ws = await session.ws_connect(ws_url(server), autoclose=autoclose)
        msg = await ws.receive()
        assert msg.type is WSMsgType.CLOSE
        assert (msg.data, msg.extra) == (4001, "going")
        assert ws.close_code == 4001
        if autoclose:
            assert ws.closed
            assert not await ws.close()  # returns once the server has closed the socket
        else:
            assert not ws.closed
            with pytest.raises(hyperclient.ClientConnectionResetError):
                await ws.send_str("no")
            assert await ws.close(code=1000)
        assert ws.closed
        assert (await ws.receive()).type is WSMsgType.CLOSED
        assert ws.close_code == 4001
    # autoclose echoes the server's code; the application chose 1000.
    assert got == [4001 if autoclose else 1000, False]


async def test_autoclose_off_receive_again_closes(raw_server: StartServer) -> None:
    got: list[Any] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        writer.write(frame(0x8, close_payload(1001)))
        got.append(await read_close(reader))

    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        ws = await session.ws_connect(ws_url(server), autoclose=False)
        assert (await ws.receive()).type is WSMsgType.CLOSE
        assert (await ws.receive()).type is WSMsgType.CLOSED
        assert ws.closed
    await asyncio.sleep(10 * MS)
    assert got == [1000]


async def test_empty_close_frame(raw_server: StartServer) -> None:
    got: list[Any] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        writer.write(frame(0x8))
        got.append(await read_close(reader))

    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        ws = await session.ws_connect(ws_url(server))
        msg = await ws.receive()
        assert (msg.type, msg.data) == (WSMsgType.CLOSE, 0)
        # RFC 6455 §7.1.5: a close frame without a code is reported as 1005.
        assert ws.close_code == 1005
    await asyncio.sleep(10 * MS)
    assert got == [None]  # and answered with an empty close frame


async def test_data_after_our_close_is_dropped(raw_server: StartServer) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        code = await read_close(reader)
        assert code == 1000
        writer.write(frame(0x1, b"late") + frame(0x8, close_payload(1000)))

    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        ws = await session.ws_connect(ws_url(server))
        assert await ws.close()
        assert ws.close_code == 1000
        assert (await ws.receive()).type is WSMsgType.CLOSED


@pytest.mark.parametrize("first", ["client", "server"])
async def test_the_server_closes_the_tcp_connection_first(
    raw_server: StartServer, first: str
) -> None:
    # RFC 6455 §7.1.1: after the closing handshake the server closes first, so that the
    # server, not the client, holds TIME_WAIT; the client waits for that (§5.5.1).
    seen: list[Any] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        if first == "server":
            writer.write(frame(0x8, close_payload(1000)))
        seen.append(await read_close(reader))
        if first == "client":
            writer.write(frame(0x8, close_payload(1000)))
        await asyncio.sleep(100 * MS)
        seen.append(reader.at_eof())  # the client has not closed: False
        writer.close()

    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        ws = await session.ws_connect(ws_url(server))
        if first == "server":
            assert (await ws.receive()).type is WSMsgType.CLOSE
            assert ws.closed
        before = open_fds()
        started = time.monotonic()
        assert await ws.close() is (first == "client")
        assert time.monotonic() - started > 50 * MS  # close() waited for the server's FIN
        # Both sockets are gone when it returns (the server runs in this process too).
        assert open_fds() == before - 2
        assert ws.close_code == 1000
    assert seen == [1000, False]


async def test_a_server_that_never_closes_is_closed_by_the_close_timeout(
    raw_server: StartServer,
) -> None:
    ended: list[float] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        await read_close(reader)
        writer.write(frame(0x8, close_payload(1000)))
        sent = time.monotonic()
        assert await reader.read() == b""  # waits for the client's FIN
        ended.append(time.monotonic() - sent)

    server = await raw_server(script)
    timeout = hyperclient.ClientWSTimeout(ws_close=200 * MS)
    async with hyperclient.ClientSession() as session:
        ws = await session.ws_connect(ws_url(server), timeout=timeout)
        assert await ws.close()
        assert ws.close_code == 1000  # the handshake completed: not 1006
        await asyncio.sleep(20 * MS)
    assert len(ended) == 1
    assert 100 * MS < ended[0] < 2000 * MS


@pytest.mark.parametrize("how", ["server closes", "bad frame"])
async def test_wss_close_is_bounded_when_the_server_never_closes(how: str) -> None:
    """Over TLS a graceful close waits for the server's close_notify (asyncio allows it
    30 s): close() must not wait for that beyond its own timeout."""
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)

    handlers: list[asyncio.Task[Any]] = []
    writers: list[asyncio.StreamWriter] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.append(asyncio.current_task())  # type: ignore[arg-type]
        writers.append(writer)
        await handshake(reader, writer)
        if how == "server closes":
            writer.write(frame(0x8, close_payload(1000)))
        else:
            writer.write(bytes([0x83, 0]))  # reserved opcode 3: the client fails it
        await read_close(reader)
        writer.transport.pause_reading()  # the client's close_notify goes unanswered
        await asyncio.sleep(5)  # and neither FIN nor close_notify comes

    server = await asyncio.start_server(script, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    timeout = hyperclient.ClientWSTimeout(ws_close=200 * MS)
    try:
        async with hyperclient.ClientSession() as session:
            ws = await session.ws_connect(
                f"wss://127.0.0.1:{port}/", ssl=client_ctx, timeout=timeout
            )
            assert (await ws.receive()).type is (
                WSMsgType.CLOSE if how == "server closes" else WSMsgType.ERROR
            )
            started = time.monotonic()
            await ws.close()
            assert time.monotonic() - started < 2  # was 30 s
            assert ws.close_code == (1000 if how == "server closes" else 1002)
    finally:
        server.close()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        for writer in writers:
            writer.transport.abort()
        await server.wait_closed()


async def test_closing_the_session_does_not_wait_for_the_servers_fin(
    raw_server: StartServer,
) -> None:
    ended = asyncio.get_running_loop().create_future()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        writer.write(frame(0x8, close_payload(1001)))
        await read_close(reader)
        ended.set_result(await reader.read())

    server = await raw_server(script)
    session = hyperclient.ClientSession()
    ws = await session.ws_connect(ws_url(server))
    assert (await ws.receive()).type is WSMsgType.CLOSE  # the socket now waits for a FIN
    await session.close()
    assert await asyncio.wait_for(ended, 1) == b""


# -- write flow control ----------------------------------------------------------------------

#: Far more than the kernel takes at once, so the transport's write buffer stays full.
BIG = 8 * 1024 * 1024
#: A client frame of BIG bytes on the wire: 2 + 8 (length) + 4 (mask key) + payload.
BIG_FRAME = 14 + BIG


async def blocked_senders(
    ws: hyperclient.ClientWebSocketResponse, count: int
) -> list[asyncio.Task[None]]:
    """*count* tasks each sending BIG bytes, all blocked on the full write buffer."""
    senders = []
    for _ in range(count):
        senders.append(asyncio.create_task(ws.send_bytes(b"x" * BIG)))
        for _ in range(3):
            await asyncio.sleep(0)
    assert not any(task.done() for task in senders), "the write buffer never filled"
    return senders


async def test_concurrent_senders_all_wake_when_the_buffer_drains(
    raw_server: StartServer,
) -> None:
    reading = asyncio.Event()
    got: list[Any] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        await reading.wait()  # the client's buffer fills meanwhile
        await reader.readexactly(3 * BIG_FRAME)
        got.append(await read_close(reader))
        writer.write(frame(0x8, close_payload(1000)))

    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        ws = await session.ws_connect(ws_url(server))
        first, second, third = await blocked_senders(ws, 3)
        # A sender giving up must not cancel the wait of the others.
        third.cancel()
        await asyncio.sleep(0)
        assert third.cancelled()
        reading.set()
        # Each sender waited on its own future, and resume_writing woke only the last.
        await asyncio.wait_for(asyncio.gather(first, second), 5000 * MS)
        assert await ws.close()
        assert ws.close_code == 1000
    assert got == [1000]


async def test_blocked_senders_fail_when_the_connection_is_lost(raw_server: StartServer) -> None:
    reset = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        await reset.wait()
        writer.transport.abort()

    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        ws = await session.ws_connect(ws_url(server))
        senders = await blocked_senders(ws, 2)
        reset.set()
        done, _ = await asyncio.wait(senders, timeout=5000 * MS)
        assert done == set(senders), "a sender is still blocked in drain()"
        for task in senders:
            with pytest.raises(hyperclient.ClientConnectionResetError):
                task.result()
        assert ws.closed
        assert ws.close_code == 1006


@pytest.mark.parametrize("trigger", ["server-close", "session-close", "ws-close"])
async def test_closing_with_a_full_buffer_releases_the_socket(
    raw_server: StartServer, trigger: str
) -> None:
    stalled = asyncio.Event()
    finished = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        await stalled.wait()
        if trigger == "server-close":
            writer.write(frame(0x8, close_payload(1000)))
        await finished.wait()  # never reads what the client sent

    server = await raw_server(script)
    session = hyperclient.ClientSession()
    try:
        ws = await session.ws_connect(ws_url(server), timeout=100 * MS)
        sock = ws.get_extra_info("socket")
        connected = open_fds()  # the server's end is in this process too and stays open
        (sender,) = await blocked_senders(ws, 1)
        stalled.set()
        if trigger == "session-close":
            await session.close()
        elif trigger == "ws-close":
            assert await ws.close()
        # The WebSocket ends, but a graceful transport.close() would wait forever for a
        # buffer nobody drains: the sender must fail and the socket must be released.
        with pytest.raises(hyperclient.ClientConnectionResetError):
            await asyncio.wait_for(sender, 2000 * MS)
        assert ws.closed
        for _ in range(200):
            if sock.fileno() == -1:
                break
            await asyncio.sleep(10 * MS)
        assert sock.fileno() == -1, "the socket is still open"
        assert open_fds() <= connected - 1
        assert ws.close_code == {"server-close": 1000, "session-close": 1001}.get(trigger, 1006)
    finally:
        await session.close()
        finished.set()
        await asyncio.sleep(0)


# -- heartbeat, pings, timeouts ------------------------------------------------------------


async def test_heartbeat_closes_while_the_app_is_not_receiving(raw_server: StartServer) -> None:
    pings: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        while True:  # read pings and never answer them
            opcode, payload = await read_frame(reader)
            if opcode == 0x9:
                pings.append(payload)

    server = await raw_server(script)
    heartbeat = 40 * MS
    async with hyperclient.ClientSession() as session:
        ws = await session.ws_connect(ws_url(server), heartbeat=heartbeat)
        assert ws.heartbeat == heartbeat
        # The application is busy elsewhere: nobody awaits receive(). The ping goes out
        # after 40 ms, the missing pong is noticed 20 ms later.
        await asyncio.sleep(300 * MS)
        assert ws.closed
        assert ws.close_code == 1006
        assert len(pings) == 1
        msg = await asyncio.wait_for(ws.receive(), 100 * MS)
        assert msg.type is WSMsgType.ERROR
        assert isinstance(msg.data, hyperclient.ServerTimeoutError)
        assert isinstance(msg.data, asyncio.TimeoutError)
        assert "no pong received" in str(msg.data)
        assert ws.exception() is msg.data
        assert (await ws.receive()).type is WSMsgType.CLOSED


async def test_heartbeat_wakes_a_waiting_receive(raw_server: StartServer) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        await reader.read()

    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        ws = await session.ws_connect(ws_url(server), heartbeat=30 * MS)
        msg = await asyncio.wait_for(ws.receive(), 2000 * MS)
        assert msg.type is WSMsgType.ERROR
        assert ws.close_code == 1006


async def test_heartbeat_pong_keeps_the_connection(raw_server: StartServer) -> None:
    pings: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        while True:
            opcode, payload = await read_frame(reader)
            if opcode == 0x9:
                pings.append(payload)
                writer.write(frame(0xA, payload))
            elif opcode == 0x8:
                writer.write(frame(0x8, payload))
                return

    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        async with session.ws_connect(ws_url(server), heartbeat=20 * MS) as ws:
            await asyncio.sleep(150 * MS)
            assert not ws.closed
        assert ws.close_code == 1000
    assert len(pings) >= 3


async def test_any_data_counts_as_alive(raw_server: StartServer) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        # Never answers pings, but keeps talking: the server is alive.
        for _ in range(15):
            writer.write(frame(0x1, b"tick"))
            await asyncio.sleep(10 * MS)
        await reader.read()

    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        ws = await session.ws_connect(ws_url(server), heartbeat=40 * MS, timeout=50 * MS)
        for _ in range(15):
            assert await ws.receive_str() == "tick"
        assert not ws.closed
        await ws.close()


async def test_autoping_answers_with_the_payload(raw_server: StartServer) -> None:
    got: list[tuple[int, bytes]] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        writer.write(frame(0x9, b"are you there") + frame(0x1, b"after ping"))
        got.append(await read_frame(reader))
        await read_close(reader)

    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        async with session.ws_connect(ws_url(server)) as ws:
            assert await ws.receive_str() == "after ping"
    assert got == [(0xA, b"are you there")]


async def test_ping_in_the_middle_of_a_fragmented_message(raw_server: StartServer) -> None:
    got: list[tuple[int, bytes]] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        writer.write(
            frame(0x1, "héllo ".encode()[:2], fin=False)
            + frame(0x9, b"mid")
            + frame(0x0, "héllo ".encode()[2:], fin=False)
            + frame(0x0, b"world")
        )
        got.append(await read_frame(reader))
        await read_close(reader)

    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        async with session.ws_connect(ws_url(server), autoping=False) as ws:
            ping = await ws.receive()
            assert (ping.type, ping.data) == (WSMsgType.PING, b"mid")
            await ws.pong(ping.data)
            assert await ws.receive_str() == "héllo world"
    assert got == [(0xA, b"mid")]


async def test_one_byte_trickle(raw_server: StartServer) -> None:
    data = frame(0x1, b"slowly") + frame(0x2, b"x" * 300)

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        for i in range(len(data)):
            writer.write(data[i : i + 1])
            await writer.drain()
            if i % 50 == 0:
                await asyncio.sleep(MS)
        await read_close(reader)

    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        async with session.ws_connect(ws_url(server)) as ws:
            assert await ws.receive_str(timeout=2000 * MS) == "slowly"
            assert await ws.receive_bytes(timeout=2000 * MS) == b"x" * 300


async def test_receive_timeout_keeps_the_connection(raw_server: StartServer) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        opcode, payload = await read_frame(reader)
        writer.write(frame(opcode, payload))
        await read_close(reader)
        writer.write(frame(0x8, close_payload(1000)))

    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        ws = await session.ws_connect(ws_url(server), receive_timeout=30 * MS)
        with pytest.raises(hyperclient.ServerTimeoutError, match=r"no message received within"):
            await ws.receive()
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive(timeout=10 * MS)
        assert not ws.closed
        await ws.send_str("still here")
        assert await ws.receive_str() == "still here"
        assert await ws.close()
        assert ws.close_code == 1000


async def test_cancelled_receive_leaves_the_connection_usable(raw_server: StartServer) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        opcode, payload = await read_frame(reader)
        writer.write(frame(opcode, payload))
        await read_close(reader)

    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        async with session.ws_connect(ws_url(server)) as ws:
            task = asyncio.ensure_future(ws.receive())
            await asyncio.sleep(5 * MS)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await ws.send_bytes(b"again")
            assert await ws.receive_bytes() == b"again"


async def test_concurrent_receive_is_refused(raw_server: StartServer) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        await read_close(reader)

    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        ws = await session.ws_connect(ws_url(server), timeout=50 * MS)
        first = asyncio.ensure_future(ws.receive())
        await asyncio.sleep(MS)
        with pytest.raises(RuntimeError, match="concurrent call to receive"):
            await ws.receive()
        await ws.close()
        assert (await first).type is WSMsgType.CLOSED


# -- the handshake -----------------------------------------------------------------------


async def handshake_error(raw_server: StartServer, response: bytes, **connect: Any) -> Any:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        headers = await handshake(reader, writer, send=False)
        key = headers[b"sec-websocket-key"]
        writer.write(response.replace(b"{accept}", accept(key)))
        await writer.drain()
        await reader.read()

    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        with pytest.raises(hyperclient.WSServerHandshakeError) as info:
            await session.ws_connect(ws_url(server), **connect)
    return info.value


async def test_handshake_200_instead_of_101(raw_server: StartServer) -> None:
    err = await handshake_error(
        raw_server,
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Why: no upgrade here\r\n\r\nhello",
    )
    assert err.status == 200
    assert err.message == "invalid response status: 200"
    assert err.headers["X-Why"] == "no upgrade here"
    assert err.request_info.url.scheme == "ws"
    assert isinstance(err.__cause__, HandshakeError)
    assert isinstance(err, hyperclient.ClientResponseError)


async def test_handshake_wrong_accept(raw_server: StartServer) -> None:
    err = await handshake_error(
        raw_server,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    assert err.status == 101
    assert err.message.startswith("invalid sec-websocket-accept: 'dGhlIHNhbXBsZSBub25jZQ=='")


async def test_handshake_missing_upgrade(raw_server: StartServer) -> None:
    err = await handshake_error(
        raw_server,
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: {accept}\r\n\r\n",
    )
    assert (err.status, err.message) == (101, "missing upgrade header")


async def test_handshake_extensions_of_empty_elements(raw_server: StartServer) -> None:
    # RFC 9110 §5.6.1: "," names no extension; ws_connect raised IndexError and left the
    # upgraded socket open.
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer, b"Sec-WebSocket-Extensions: , ,\r\n")
        opcode, payload = await read_frame(reader)
        writer.write(frame(opcode, payload))
        await read_close(reader)
        writer.write(frame(0x8, close_payload(1000)))
        writer.close()

    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        async with session.ws_connect(ws_url(server)) as ws:
            assert ws.compress == 0
            await ws.send_str("plain")
            assert (await ws.receive()).data == "plain"


async def test_handshake_unexpected_failure_closes_the_socket(
    raw_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Any exception from the response check (a bug, simulated here) must not leave the
    # upgraded connection open.
    eof = asyncio.get_running_loop().create_future()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        eof.set_result(await reader.read())

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug in check_response")

    monkeypatch.setattr("hyperclient.websocket.check_response", broken)
    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        with pytest.raises(RuntimeError, match="bug in check_response"):
            await session.ws_connect(ws_url(server))
        assert await asyncio.wait_for(eof, 2) == b""


async def test_handshake_unexpected_extension(raw_server: StartServer) -> None:
    err = await handshake_error(
        raw_server,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
    )
    assert err.message == "unexpected extension: 'permessage-deflate'"


async def test_handshake_subprotocol_not_offered(raw_server: StartServer) -> None:
    err = await handshake_error(
        raw_server,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
        protocols=("chat",),
    )
    assert err.message == "unexpected subprotocol: 'mqtt'"


async def test_handshake_redirect_is_not_followed(raw_server: StartServer) -> None:
    err = await handshake_error(
        raw_server, b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n"
    )
    assert err.status == 302
    assert err.headers["Location"] == "/elsewhere"


async def test_server_disconnects_during_handshake(raw_server: StartServer) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 101 Switching")

    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        with pytest.raises(hyperclient.ServerDisconnectedError):
            await session.ws_connect(ws_url(server))


async def test_handshake_that_never_comes_is_bounded_by_the_timeout(
    raw_server: StartServer,
) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        with pytest.raises(hyperclient.ServerTimeoutError):
            await session.ws_connect(ws_url(server), timeout=50 * MS)


@pytest.mark.parametrize("split", [False, True])
async def test_frames_right_after_the_101(raw_server: StartServer, split: bool) -> None:
    greeting = frame(0x1, b"welcome") + frame(0x2, b"\x00\x01")

    async def two_writes(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        await writer.drain()
        writer.write(greeting)
        await read_close(reader)

    async def one_write(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # The head and the first frames in one segment: the HTTP parser's trailing data.
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key")
        )
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept(key) + b"\r\n\r\n" + greeting
        )
        await read_close(reader)

    server = await raw_server(two_writes if split else one_write)
    async with hyperclient.ClientSession() as session:
        async with session.ws_connect(ws_url(server)) as ws:
            assert await ws.receive_str() == "welcome"
            assert await ws.receive_bytes() == b"\x00\x01"


async def test_101_with_close_and_eof_in_the_same_segment(raw_server: StartServer) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key")
        )
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: "
            + accept(key)
            + b"\r\n\r\n"
            + frame(0x1, b"hi and bye")
            + frame(0x8, close_payload(1001))
        )
        writer.write_eof()
        await reader.read()

    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        ws = await session.ws_connect(ws_url(server))
        assert await ws.receive_str() == "hi and bye"
        assert (await ws.receive()).type is WSMsgType.CLOSE
        assert (await ws.receive()).type is WSMsgType.CLOSED
        assert ws.close_code == 1001


@pytest.mark.parametrize("close_frame", [True, False])
async def test_server_gone_before_the_handshake_task_resumes(
    raw_server: StartServer, close_frame: bool
) -> None:
    gone = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        writer.write(frame(0x1, b"hello"))
        if close_frame:
            writer.write(frame(0x8, close_payload(1000)))
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        gone.set()

    async def on_request_end(session: Any, ctx: Any, params: Any) -> None:
        # Holds the handshake task after the 101 until the client has seen the FIN: the
        # HTTP protocol loses its transport while the frames wait in its parser.
        await gone.wait()
        await asyncio.sleep(50 * MS)

    config = hyperclient.TraceConfig()
    config.on_request_end.append(on_request_end)
    server = await raw_server(script)
    async with hyperclient.ClientSession(trace_configs=[config]) as session:
        ws = await asyncio.wait_for(session.ws_connect(ws_url(server)), 2000 * MS)
        assert await asyncio.wait_for(ws.receive_str(), 1000 * MS) == "hello"
        if close_frame:
            msg = await asyncio.wait_for(ws.receive(), 1000 * MS)
            assert (msg.type, msg.data) == (WSMsgType.CLOSE, 1000)
        assert (await asyncio.wait_for(ws.receive(), 1000 * MS)).type is WSMsgType.CLOSED
        assert ws.closed
        assert ws.close_code == (1000 if close_frame else 1006)
        assert ws.exception() is None
        assert not await ws.close()


# -- resources -------------------------------------------------------------------------------


async def test_unclosed_websocket_is_closed_when_collected(raw_server: StartServer) -> None:
    gone = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        await reader.read()
        gone.set()

    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        ws = await session.ws_connect(ws_url(server))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del ws  # freed here, or by the collection when a cycle holds it
            gc.collect()
        assert [w.category for w in caught] == [ResourceWarning]
        assert "Unclosed websocket" in str(caught[0].message)
        await asyncio.wait_for(gone.wait(), 1000 * MS)


async def test_pool_slot_is_freed_by_the_upgrade(raw_server: StartServer) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        await read_close(reader)
        writer.write(frame(0x8, close_payload(1000)))

    server = await raw_server(script)
    connector = hyperclient.TCPConnector(limit=1)
    async with hyperclient.ClientSession(connector=connector) as session:
        first = await session.ws_connect(ws_url(server))
        # With limit=1 a second connection would wait forever if the first held the slot.
        second = await asyncio.wait_for(session.ws_connect(ws_url(server)), 1000 * MS)
        assert server.connections == 2
        assert await first.close()
        assert await second.close()


# -- what a server's frames may cost --------------------------------------------------------


def small_send_buffer(addr_info: Any) -> socket.socket:
    """A client socket whose kernel send buffer holds little: what we write stays ours."""
    sock = socket.socket(*addr_info[:3])
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)
    return sock


async def test_a_ping_flood_the_server_does_not_read_cannot_fill_our_buffer(
    raw_server: StartServer,
) -> None:
    """Pongs wait while our write buffer is full; only the latest ping's is sent then
    (RFC 6455 §5.5.3), when the server reads again."""
    flooded = asyncio.Event()
    reading = asyncio.Event()
    pongs: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
        await handshake(reader, writer)
        for i in range(20_000):
            writer.write(frame(0x9, i.to_bytes(4, "big") + b"p" * 121))
            if i % 1000 == 999:
                await writer.drain()
        writer.write(frame(0x9, b"last"))
        await writer.drain()
        flooded.set()
        await reading.wait()
        while True:
            opcode, payload = await read_frame(reader)
            if opcode == 0xA:
                pongs.append(payload)
                if payload == b"last":
                    break
        await read_close(reader)

    server = await raw_server(script)
    connector = hyperclient.TCPConnector(socket_factory=small_send_buffer)
    async with hyperclient.ClientSession(connector=connector) as session:
        async with session.ws_connect(ws_url(server)) as ws:
            await asyncio.wait_for(flooded.wait(), 10)
            await asyncio.sleep(50 * MS)  # the last pings are read and answered (or not)
            transport = ws._conn.transport
            assert transport is not None
            # 20,001 pongs are 2.6 MB; the buffer holds about its high-water mark.
            assert transport.get_write_buffer_size() < 200_000
            reading.set()
            await asyncio.sleep(200 * MS)  # the buffer drains: the latest ping's pong goes
    assert pongs[-1] == b"last"
    assert len(pongs) < 20_001


async def test_empty_messages_count_against_the_queue_limit(raw_server: StartServer) -> None:
    """A server's empty messages (two bytes each) cost more than their data: reading pauses
    on what they cost, and the rest of a read waits unparsed; nothing is lost."""
    count = 20_000

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        writer.write(frame(0x2) * count + frame(0x8, close_payload(1000)))
        await writer.drain()
        await read_close(reader)

    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        async with session.ws_connect(ws_url(server)) as ws:
            await asyncio.sleep(100 * MS)
            conn = ws._conn
            assert conn._reading_paused
            assert len(conn.messages) <= 2**16 // 128 + 1
            for _ in range(count):
                assert await ws.receive_bytes(timeout=1) == b""
            msg = await ws.receive(timeout=1)
            assert (msg.type, msg.data) == (WSMsgType.CLOSE, 1000)


async def test_compressed_messages_are_inflated_as_the_application_takes_them(
    raw_server: StartServer,
) -> None:
    """64 messages of 1 MiB that deflate to about 1 KiB each arrive in one read: they are
    not all inflated and queued at once (64 MiB), only as receive() takes them."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = deflate.compress(b"\0" * 2**20) + deflate.flush(zlib.Z_SYNC_FLUSH)
    assert packed.endswith(b"\x00\x00\xff\xff")
    one = frame(0x2, packed[:-4], first=0xC2)  # FIN, RSV1 (compressed), BINARY
    count = 64

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(
            reader,
            writer,
            b"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n",
        )
        writer.write(one * count)
        await writer.drain()
        await read_close(reader)

    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        async with session.ws_connect(ws_url(server), compress=15) as ws:
            await asyncio.sleep(100 * MS)
            assert len(ws._conn.messages) == 1  # over the limit at once: the rest waits
            for _ in range(count):
                assert await ws.receive_bytes(timeout=1) == b"\0" * 2**20


async def test_frames_streamed_right_after_the_101_all_arrive(raw_server: StartServer) -> None:
    """More than a read buffer's worth after the 101 (while a trace hook holds the task up)
    pauses the HTTP protocol's reading; the WebSocket resumes it once it takes over (here
    it has only the start of a frame: it would never pause or resume reading itself)."""
    payload = os.urandom(2**20)

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        headers = await handshake(reader, writer, send=False)
        writer.write(  # the 101 and the frame in one write: they arrive in one read
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
            + accept(headers[b"sec-websocket-key"])
            + b"\r\n\r\n"
            + frame(0x2, payload)
        )
        await writer.drain()
        await read_close(reader)

    async def slow_hook(*args: Any) -> None:
        await asyncio.sleep(200 * MS)  # the task is held up between the head and takeover

    trace = hyperclient.TraceConfig()
    trace.on_request_end.append(slow_hook)
    server = await raw_server(script)
    async with hyperclient.ClientSession(trace_configs=[trace]) as session:
        async with session.ws_connect(ws_url(server)) as ws:
            assert await ws.receive_bytes(timeout=2) == payload


async def test_frames_held_while_paused_are_delivered_when_the_connection_dies(
    raw_server: StartServer,
) -> None:
    """Frames left unparsed while reading was paused are still delivered, the server's
    close frame among them, when the connection is then reset."""
    count = 2000

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        writer.write(frame(0x2) * count + frame(0x8, close_payload(1001)))
        await writer.drain()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # a reset, not a FIN

    server = await raw_server(script)
    async with hyperclient.ClientSession() as session:
        ws = await session.ws_connect(ws_url(server), autoclose=False)
        await asyncio.sleep(200 * MS)
        assert ws._conn._reading_paused
        for _ in range(20):  # until a write meets the reset
            with contextlib.suppress(hyperclient.ClientConnectionError):
                await ws.send_bytes(b"x")
            await asyncio.sleep(10 * MS)
            if ws._conn.transport is None:
                break
        assert ws._conn.transport is None
        got = 0
        while (msg := await ws.receive(timeout=1)).type is WSMsgType.BINARY:
            got += 1
        assert got == count
        assert (msg.type, msg.data) == (WSMsgType.CLOSE, 1001)
        await ws.close()
