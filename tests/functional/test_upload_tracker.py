"""``UploadTracker`` and ``upload_tracker=`` (aiohttp 3.14), over real sockets.

Most scenarios run twice, on aiohttp's client and on ours, against the same server: the
two must agree on ``attempts``, on how ``upload_complete`` settles and on
``bytes_written``. Where they differ on purpose (we stop sending on an early answer), the
test says so.

Loopback sockets buffer megabytes in the kernel, which would swallow a whole body at
once; the client sockets here get a 64 KiB send buffer (``socket_factory=``) and the
servers read slowly, so progress can be watched while the body is still leaving.
"""

from __future__ import annotations

import asyncio
import gc
import io
import os
import socket
import ssl
import struct
import time
import types
import weakref
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme
from aiohttp import test_utils, web
from yarl import URL

import hyperclient
from hyperclient import ClientRequest, UploadAbortedError, UploadTracker

from ..conftest import MS, OK, RawServer, answer_ok, open_fds, read_request
from .test_dns import free_port

Start = Callable[..., Awaitable[Any]]
LIBS = (aiohttp, hyperclient)
BIG = 8 * 2**20
#: aiohttp warns about bytes bodies over 1 MiB; the same bytes are what we compare.
LARGE_BYTES_OK = pytest.mark.filterwarnings("ignore:Sending a large body:ResourceWarning")


def small_send_buffer(addr_info: Any) -> socket.socket:
    """A client socket with a 64 KiB send buffer (``socket_factory=``, both libraries)."""
    family, type_, proto, _, _ = addr_info
    sock = socket.socket(family, type_, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 2**16)
    return sock


def session(lib: types.ModuleType, **kwargs: Any) -> Any:
    connector = lib.TCPConnector(socket_factory=small_send_buffer)
    return lib.ClientSession(connector=connector, **kwargs)


async def outcome(tracker: Any) -> Any:
    """How ``upload_complete`` settled: None, or the exception's class name."""
    try:
        return await asyncio.wait_for(tracker.upload_complete, 5000 * MS)
    except Exception as exc:
        return type(exc).__name__


class Sampler:
    """Reads ``tracker.bytes_written`` every couple of ms while a request runs."""

    def __init__(self, tracker: Any) -> None:
        self.tracker = tracker
        self.samples: list[int] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.samples.append(self.tracker.bytes_written)
            await asyncio.sleep(2 * MS)

    async def __aenter__(self) -> Sampler:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    def assert_grew_to(self, size: int, *, monotonic: bool = True) -> None:
        samples = self.samples
        if monotonic:
            assert samples == sorted(samples), f"bytes_written went backwards: {self.tracker}"
        assert all(0 <= s <= size for s in samples), (max(samples), size)
        # Counted as the transport's buffer empties, not at once when handed to it.
        between = {s for s in samples if 0 < s < size}
        assert len(between) >= 3, samples


def sink_app(seen: list[int]) -> web.Application:
    """``/sink`` reads the body slowly and reports its size; ``/307`` and ``/303`` read
    it, then redirect there. Each body's size is appended to *seen*."""
    app = web.Application(client_max_size=64 * 2**20)

    async def sink(request: web.Request) -> web.Response:
        total = 0
        while chunk := await request.content.read(2**16):
            total += len(chunk)
            await asyncio.sleep(MS)
        seen.append(total)
        return web.json_response({"received": total})

    async def redirect(request: web.Request) -> web.Response:
        seen.append(len(await request.read()))
        status = int(request.match_info["status"])
        return web.Response(status=status, headers={"Location": "/sink"})

    app.router.add_route("*", "/sink", sink)
    app.router.add_post("/{status:30[37]}", redirect)
    return app


@pytest.fixture
async def sink(aiohttp_server: Start) -> tuple[str, list[int]]:
    seen: list[int] = []
    server = await aiohttp_server(sink_app(seen))
    return f"http://127.0.0.1:{server.port}", seen


async def upload(lib: types.ModuleType, url: str, data: Any, **kwargs: Any) -> tuple[Any, Any]:
    """POST *data* with a tracker sampled all along; (tracker, sampler)."""
    tracker = lib.UploadTracker()
    async with session(lib) as s, Sampler(tracker) as sampler:
        async with s.post(url, data=data, upload_tracker=tracker, **kwargs) as resp:
            assert resp.status == 200
            await resp.read()
    return tracker, sampler


# -- progress --------------------------------------------------------------------------------


@LARGE_BYTES_OK
async def test_a_large_bytes_body_is_counted_as_it_leaves(sink: tuple[str, list[int]]) -> None:
    base, seen = sink
    for lib in LIBS:
        tracker, sampler = await upload(lib, f"{base}/sink", b"x" * BIG)
        sampler.assert_grew_to(BIG)
        assert tracker.bytes_written == BIG, lib
        assert tracker.attempts == 1
        assert await outcome(tracker) is None
    assert seen == [BIG, BIG]


async def test_a_file_body_is_counted_as_it_leaves(
    sink: tuple[str, list[int]], tmp_path: Path
) -> None:
    base, seen = sink
    path = tmp_path / "upload.bin"
    path.write_bytes(os.urandom(4 * 2**20))
    for lib in LIBS:
        with path.open("rb") as f:
            tracker, sampler = await upload(lib, f"{base}/sink", f)
        sampler.assert_grew_to(4 * 2**20)
        assert tracker.bytes_written == 4 * 2**20, lib
        assert (tracker.attempts, await outcome(tracker)) == (1, None)
    assert seen == [4 * 2**20] * 2


async def test_over_tls_a_file_body_is_counted_piece_by_piece(tmp_path: Path) -> None:
    """asyncio's TLS transport encrypts each write at once into a socket transport whose
    buffer it does not report, so over TLS the count moves about a piece (64 KiB) at a
    time, as in aiohttp."""
    ca = trustme.CA()
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    seen: list[int] = []
    server = test_utils.TestServer(
        sink_app(seen), host="127.0.0.1", port=0, socket_factory=small_receive_buffer
    )
    await server.start_server(ssl=server_ctx)
    path = tmp_path / "upload.bin"
    path.write_bytes(os.urandom(4 * 2**20))
    try:
        await tls_uploads(server.port, client_ctx, path)
    finally:
        await server.close()
    assert seen == [4 * 2**20] * 2


def small_receive_buffer(host: str, port: int, family: socket.AddressFamily) -> socket.socket:
    """A listening socket whose connections keep a 64 KiB receive buffer: the kernel's
    autotuning would otherwise let megabytes of the upload land at once, and the count
    jump with them, however slowly the server reads."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2**16)  # inherited on accept
    sock.bind((host, port))
    return sock


async def tls_uploads(port: int, client_ctx: ssl.SSLContext, path: Path) -> None:
    for lib in LIBS:
        tracker = lib.UploadTracker()
        connector = lib.TCPConnector(socket_factory=small_send_buffer, ssl=client_ctx)
        async with lib.ClientSession(connector=connector) as s, Sampler(tracker) as sampler:
            with path.open("rb") as f:
                url = f"https://127.0.0.1:{port}/sink"
                async with s.post(url, data=f, upload_tracker=tracker) as resp:
                    assert await resp.json() == {"received": 4 * 2**20}
        # aiohttp's count can step back by a few hundred bytes here; ours never does.
        sampler.assert_grew_to(4 * 2**20, monotonic=lib is hyperclient)
        assert tracker.bytes_written == 4 * 2**20
        assert (tracker.attempts, await outcome(tracker)) == (1, None)


def pieces(count: int, size: int) -> Callable[[], AsyncIterator[bytes]]:
    data = os.urandom(size)

    async def gen() -> AsyncIterator[bytes]:
        for _ in range(count):
            yield data

    return gen


@pytest.mark.parametrize(
    "kwargs", [{"chunked": True}, {"compress": "deflate"}], ids=["chunked", "deflate"]
)
async def test_chunked_and_compressed_bodies_count_payload_bytes_not_wire_bytes(
    sink: tuple[str, list[int]], kwargs: dict[str, Any]
) -> None:
    """Chunk framing and deflate (random bytes grow a little) add bytes on the wire;
    bytes_written counts the caller's bytes, never more."""
    base, seen = sink
    size = 64 * 2**16
    for lib in LIBS:
        tracker, sampler = await upload(lib, f"{base}/sink", pieces(64, 2**16)(), **kwargs)
        sampler.assert_grew_to(size)
        assert tracker.bytes_written == size, lib
        assert (tracker.attempts, await outcome(tracker)) == (1, None)
    assert seen == [size, size]


class Counted:
    """An async iterable body of *count* pieces that records how much was taken from it."""

    def __init__(self, piece: bytes, count: int) -> None:
        self.piece = piece
        self.count = count
        self.taken = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.count):
            self.taken += len(self.piece)
            yield self.piece


async def steady(tracker: Any, body: Counted) -> int:
    """``bytes_written`` once neither it nor the body moves any more (a stalled server)."""
    last = None
    for _ in range(250):
        await asyncio.sleep(20 * MS)
        now = (body.taken, tracker.bytes_written)
        if now == last:
            break
        last = now
    return int(tracker.bytes_written)


def compressible(size: int) -> bytes:
    """Bytes deflate shrinks about 3.5 times (two bits of entropy per byte)."""
    return os.urandom(size).translate(bytes(b"abcd"[i % 4] for i in range(256)))


@pytest.mark.parametrize(
    ("kwargs", "piece"),
    [({"chunked": True}, os.urandom(2**16)), ({"compress": "deflate"}, compressible(2**16))],
    ids=["chunked", "deflate"],
)
async def test_what_waits_in_the_transport_buffer_is_not_counted(
    raw_server: Any, kwargs: dict[str, Any], piece: bytes
) -> None:
    """The server stops reading: the writer waits with more than the transport's
    high-water mark (64 KiB) buffered. Those bytes were taken from the body and handed
    to the transport, but have not left it."""
    stall = Stall()
    srv: RawServer = await raw_server(stall)
    for lib in LIBS:
        tracker = lib.UploadTracker()
        body = Counted(piece, 1000)
        async with session(lib) as s:
            task = asyncio.create_task(s.post(srv.url, data=body, upload_tracker=tracker, **kwargs))
            written = await steady(tracker, body)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert 0 < written < body.taken - 2**15, (lib, written, body.taken)
    stall.release()


async def test_inside_a_compressed_piece_the_count_is_in_payload_bytes(raw_server: Any) -> None:
    """One 8 MiB piece deflates to about 2.3 MiB on the wire. The server reads 1 MiB of it
    and stalls: the bytes out of the transport (that MiB and what the kernels buffer) stand
    for about 3.5 times as many payload bytes, and are counted as those. (aiohttp deflates
    a piece this large in an executor and reports nothing until it has been written.)"""
    release = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A fixed receive buffer: Linux would grow it to megabytes while we read.
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2**16)
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(2**20)
        await release.wait()

    srv: RawServer = await raw_server(script)
    tracker = UploadTracker()
    body = Counted(compressible(8 * 2**20), 1)
    async with session(hyperclient) as s:
        post = s.post(srv.url, data=body, compress="deflate", upload_tracker=tracker)
        task = asyncio.create_task(post)
        written = await steady(tracker, body)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    release.set()
    assert 2 * 2**20 < written < 8 * 2**20


async def test_a_small_body_sent_with_the_head_and_no_body_at_all(raw_server: Any) -> None:
    got: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            _, body = await read_request(reader)
            got.append(body)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone")
            await writer.drain()

    srv: RawServer = await raw_server(script)
    for lib in LIBS:
        async with lib.ClientSession() as s:
            small, empty = lib.UploadTracker(), lib.UploadTracker()
            async with s.post(srv.url, data=b"hello", upload_tracker=small) as resp:
                # Settled when the request returned, before its body is read.
                assert small.upload_complete.done()
                await resp.read()
            async with s.get(srv.url, upload_tracker=empty) as resp:
                assert empty.upload_complete.done()
                await resp.read()
        assert (small.attempts, small.bytes_written, await outcome(small)) == (1, 5, None)
        # No body: the request went out whole, zero bytes of it (aiohttp's rule).
        assert (empty.attempts, empty.bytes_written, await outcome(empty)) == (1, 0, None)
    assert got == [b"hello", b"", b"hello", b""]


async def test_expect_100_continue_sent_or_refused(aiohttp_server: Start) -> None:
    """Told to go on, the body goes; refused (417), it never leaves: aborted, zero bytes."""

    async def sink(request: web.Request) -> web.Response:
        return web.json_response({"received": len(await request.read())})

    async def expect_handler(request: web.Request) -> None:
        if request.path == "/refuse":
            raise web.HTTPExpectationFailed()
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    app = web.Application()
    for path in ("/go", "/refuse"):
        app.router.add_post(path, sink, expect_handler=expect_handler)
    server = await aiohttp_server(app)
    for lib in LIBS:
        results = []
        for path, status in (("/go", 200), ("/refuse", 417)):
            tracker = lib.UploadTracker()
            async with lib.ClientSession() as s:
                url = f"http://127.0.0.1:{server.port}{path}"
                async with s.post(
                    url, data=b"abc" * 1000, expect100=True, upload_tracker=tracker
                ) as r:
                    assert r.status == status
            results.append((tracker.attempts, tracker.bytes_written, await outcome(tracker)))
        assert results == [(1, 3000, None), (1, 0, "UploadAbortedError")], lib


async def test_a_cancelled_upload_complete_is_left_alone(raw_server: Any) -> None:
    """Cancelling the future is the caller's business: the request still runs and the
    counts are kept, nothing raises when the tracker would settle it."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(OK)
        await writer.drain()

    srv: RawServer = await raw_server(script)
    for lib in LIBS:
        tracker = lib.UploadTracker()
        tracker.upload_complete.cancel()
        async with lib.ClientSession() as s:
            async with s.post(srv.url, data=b"hello", upload_tracker=tracker) as resp:
                assert await resp.read() == b"ok"
        assert (tracker.attempts, tracker.bytes_written) == (1, 5)
        assert tracker.upload_complete.cancelled()
    assert repr(tracker) == "<UploadTracker attempts=1 bytes_written=5 sent>"


# -- cut short, failed, never sent ----------------------------------------------------------


@LARGE_BYTES_OK
async def test_an_early_413_cuts_the_upload_short(raw_server: Any) -> None:
    """The server reads 100 kB of a 16 MiB body, answers 413 and closes. We stop sending
    at the answer (RFC 9112 §9.6): the upload was cut short. aiohttp keeps writing until
    the connection fails, so its tracker may hold that error instead."""
    size = 16 * 2**20

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2**16)
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(100_000)
        writer.write(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n")
        writer.write(b"Connection: close\r\n\r\n")
        await writer.drain()

    srv: RawServer = await raw_server(script)
    for lib in LIBS:
        tracker = lib.UploadTracker()
        async with session(lib) as s:
            async with s.post(srv.url, data=b"x" * size, upload_tracker=tracker) as resp:
                assert resp.status == 413
        assert tracker.attempts == 1
        assert tracker.bytes_written < size
        settled = await outcome(tracker)
        if lib is hyperclient:
            assert settled == "UploadAbortedError"
            assert tracker.bytes_written > 0, "counted while the connection was open"
        else:
            assert settled in ("UploadAbortedError", "ClientOSError")


@LARGE_BYTES_OK
async def test_a_reset_while_sending_is_the_uploads_error(raw_server: Any) -> None:
    """The server reads 100 kB and resets the connection: our upload failed with the
    connection's error, which the tracker holds (the request raises the response's error,
    chained to it). aiohttp's tracker holds that error or UploadAbortedError, by race."""
    size = 16 * 2**20

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(100_000)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # RST

    srv: RawServer = await raw_server(script)
    for lib in LIBS:
        tracker = lib.UploadTracker()
        async with session(lib) as s:
            with pytest.raises(lib.ClientConnectionError) as info:
                await s.post(srv.url, data=b"x" * size, upload_tracker=tracker)
        assert tracker.attempts == 1
        assert tracker.bytes_written < size
        error = tracker.upload_complete.exception()
        if lib is hyperclient:
            assert isinstance(error, hyperclient.ClientConnectionResetError), error
            assert str(error).startswith("connection lost while sending")
            assert error is info.value.__cause__
            assert tracker.bytes_written > 0  # aiohttp counts only when polled
        else:  # its writer task is cancelled or fails, whichever comes first
            assert isinstance(error, lib.UploadAbortedError | lib.ClientConnectionError)


async def test_a_refused_connection_is_one_attempt_never_sent() -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    for lib in LIBS:
        tracker = lib.UploadTracker()
        async with lib.ClientSession() as s:
            with pytest.raises(lib.ClientConnectorError):
                await s.post(url, data=b"abc", upload_tracker=tracker)
        assert (tracker.attempts, tracker.bytes_written) == (1, 0)
        assert await outcome(tracker) == "UploadAbortedError"
    with pytest.raises(UploadAbortedError, match="the request body was not fully sent"):
        await tracker.upload_complete


async def test_a_closed_session_settles_the_tracker_without_an_attempt() -> None:
    for lib in LIBS:
        s = lib.ClientSession()
        await s.close()
        tracker = lib.UploadTracker()
        with pytest.raises(RuntimeError, match=r"(?i)session is closed"):
            await s.post("http://127.0.0.1:1/", data=b"x", upload_tracker=tracker)
        assert (tracker.attempts, await outcome(tracker)) == (0, "UploadAbortedError")


async def test_a_failing_body_source_is_the_uploads_error(sink: tuple[str, list[int]]) -> None:
    """The tracker holds what the request raised: aiohttp wraps the source's error in a
    ClientConnectionError, we raise it as is."""

    async def failing() -> AsyncIterator[bytes]:
        yield b"a" * 1000
        raise ValueError("disk gone")

    base, _ = sink
    for lib in LIBS:
        tracker = lib.UploadTracker()
        async with lib.ClientSession() as s:
            with pytest.raises(Exception) as info:
                async with s.post(f"{base}/sink", data=failing(), upload_tracker=tracker):
                    pass
        assert (tracker.attempts, tracker.bytes_written) == (1, 1000)
        exc = tracker.upload_complete.exception()
        assert type(exc) is type(info.value)
        if lib is hyperclient:
            assert exc is info.value
            assert isinstance(exc, ValueError)


class Stall:
    """A server script: reads a request head, never the body, until ``release()``."""

    def __init__(self) -> None:
        self._released = asyncio.Event()

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await self._released.wait()

    def release(self) -> None:
        self._released.set()


@LARGE_BYTES_OK
async def test_cancelling_settles_the_tracker_and_logs_nothing(raw_server: Any) -> None:
    size = 16 * 2**20

    stall = Stall()
    srv: RawServer = await raw_server(stall)
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: errors.append(context))
    try:
        for lib in LIBS:
            tracker = lib.UploadTracker()
            async with session(lib) as s:
                task = asyncio.create_task(
                    s.post(srv.url, data=b"x" * size, upload_tracker=tracker)
                )
                for _ in range(5000):  # until the body is on its way
                    if tracker.bytes_written:
                        break
                    await asyncio.sleep(MS)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                assert tracker.upload_complete.done()
            assert tracker.attempts == 1
            assert 0 < tracker.bytes_written < size  # polled until it moved
            assert isinstance(tracker.upload_complete.exception(), lib.UploadAbortedError)
        # A tracker nobody awaits: its exception is marked retrieved, nothing is logged.
        tracker = hyperclient.UploadTracker()
        async with session(hyperclient) as s:
            task = asyncio.create_task(s.post(srv.url, data=b"x" * size, upload_tracker=tracker))
            await asyncio.sleep(20 * MS)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        ref = weakref.ref(tracker)
        del tracker, task
        for _ in range(100):  # until the closed connection lets go of it
            gc.collect()
            if ref() is None:
                break
            await asyncio.sleep(MS)
        assert ref() is None
        assert errors == []
    finally:
        loop.set_exception_handler(None)
        stall.release()


async def test_the_total_timeout_settles_the_tracker(raw_server: Any) -> None:
    stall = Stall()
    srv: RawServer = await raw_server(stall)
    for lib in LIBS:
        tracker = lib.UploadTracker()
        async with session(lib, timeout=lib.ClientTimeout(total=100 * MS)) as s:
            with pytest.raises(asyncio.TimeoutError):
                await s.put(srv.url, data=io.BytesIO(b"x" * BIG), upload_tracker=tracker)
        assert tracker.attempts == 1
        assert tracker.bytes_written < BIG
        if lib is hyperclient:  # never polled: aiohttp has no count from an open connection
            assert tracker.bytes_written > 0
        assert await outcome(tracker) == "UploadAbortedError"
    stall.release()


# -- early answers to streamed bodies (RFC 9112 §9.6) -----------------------------------------

PIECE = os.urandom(2**16)
#: A refusal that would keep the connection: only the unfinished upload ends it.
TOO_LARGE = b"HTTP/1.1 413 Too Large\r\nContent-Length: 3\r\n\r\nbig"
TOO_LARGE_CLOSING = b"HTTP/1.1 413 Too Large\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbig"


def unchunked(data: bytes) -> bytes:
    """The payload of a chunked body, as far as it arrived."""
    payload = bytearray()
    while True:
        line, found, rest = data.partition(b"\r\n")
        size = int(line.split(b";")[0], 16) if found else 0
        if not size:
            return bytes(payload)
        payload += rest[:size]
        data = rest[size + 2 :]


class EarlyAnswer:
    """A raw server script: ``/upload`` reads what the client sends at once (until a
    quiet moment, or the first bytes with *at_once*), answers 413 and then either
    reads on until the client closes (*reads_on*) or closes; the payload received is
    then in ``received``. Other paths are answered ``OK``. ``paths`` records
    ``(connection, path)``."""

    def __init__(self, *, reads_on: bool, at_once: bool = False) -> None:
        self.reads_on = reads_on
        self.at_once = at_once
        self.paths: list[tuple[int, bytes]] = []
        self.received: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._connections = 0

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections += 1
        number = self._connections
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ")[1]
            self.paths.append((number, path))
            if path == b"/feed":  # a response that streams one piece, then nothing more
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                writer.write(b"%x\r\n%s\r\n" % (len(PIECE), PIECE))
                await writer.drain()
                await reader.read()  # until the client closes
                return
            if path != b"/upload":
                await read_request_body(reader, head)
                writer.write(OK)
                await writer.drain()
                continue
            body = await reader.read(1)
            while not self.at_once:  # what the source gave before it waits: one burst
                try:
                    data = await asyncio.wait_for(reader.read(2**16), 50 * MS)
                except TimeoutError:
                    break
                if not data:
                    break
                body += data
            writer.write(TOO_LARGE if self.reads_on else TOO_LARGE_CLOSING)
            await writer.drain()
            if self.reads_on:
                body += await reader.read()  # until the client closes
            chunked = b"transfer-encoding: chunked" in head.lower()
            self.received.set_result(unchunked(body) if chunked else body)
            return


async def read_request_body(reader: asyncio.StreamReader, head: bytes) -> None:
    """Read (and drop) the body of a request with this *head* (Content-Length only)."""
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)


class Waiting:
    """A body source that gives one piece (or *pieces*), then waits for more that never
    comes (a live feed gone quiet); ``ended`` tells whether that wait was cut short and
    the generator closed."""

    def __init__(self) -> None:
        self.ended = False

    async def gen(self, pieces: int = 1) -> AsyncIterator[bytes]:
        try:
            for _ in range(pieces):
                yield PIECE
            await asyncio.get_running_loop().create_future()
        finally:
            self.ended = True


class WaitingIterator(Waiting):
    """The same as an async iterator that is not a generator (nothing to close)."""

    def __init__(self) -> None:
        super().__init__()
        self.given = False

    def __aiter__(self) -> WaitingIterator:
        return self

    async def __anext__(self) -> bytes:
        if not self.given:
            self.given = True
            return PIECE
        never: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        try:
            return await never
        finally:
            self.ended = True


def streamed_body(kind: str, source: Waiting, feed: Any) -> tuple[Any, dict[str, Any]]:
    """``data=`` and other arguments for each kind of streamed body."""
    if kind == "iterator":
        return source, {}
    if kind == "payload":
        return hyperclient.payload.AsyncIterablePayload(source.gen()), {}
    if kind == "stream":  # read with readany()
        return feed.content, {}
    if kind == "stream-payload":
        return hyperclient.payload.AsyncIterablePayload(feed.content), {}
    if kind == "form":
        form = hyperclient.FormData()
        form.add_field("note", "hello")
        form.add_field("stream", source.gen(), filename="stream.bin")
        return form, {}
    if kind == "multipart":
        writer = hyperclient.MultipartWriter()
        writer.append("hello")
        writer.append_payload(hyperclient.payload.AsyncIterablePayload(source.gen()))
        return writer, {}
    if kind == "deflate":
        return source.gen(), {"compress": "deflate"}
    if kind == "content-length":
        return source.gen(), {"headers": {"Content-Length": str(10 * len(PIECE))}}
    return source.gen(), {}


@pytest.mark.parametrize("server", ["reads-on", "closes"])
@pytest.mark.parametrize(
    "kind",
    [
        "generator",
        "iterator",
        "payload",
        "stream",
        "stream-payload",
        "form",
        "multipart",
        "deflate",
        "content-length",
    ],
)
async def test_an_early_answer_cuts_a_streamed_upload_short(
    raw_server: Any, kind: str, server: str
) -> None:
    """The source gives a piece, then waits; the server answers 413 (and keeps the
    connection, or closes it). The caller gets the answer at once, the tracker holds
    UploadAbortedError and the payload bytes that reached the server, the source's wait
    is cut short (a generator is closed), and the connection, whose request stream the
    server could not follow any more, is not reused (RFC 9112 §9.6). The upload used to
    write its next piece to the connection closed under it (the tracker held
    ServerDisconnectedError and 0 bytes), or, with a source slow to give one, to wait
    for it past the answer."""
    script = EarlyAnswer(reads_on=server == "reads-on")
    srv: RawServer = await raw_server(script)
    before = open_fds()
    source = WaitingIterator() if kind == "iterator" else Waiting()
    tracker = UploadTracker()
    async with hyperclient.ClientSession() as s:
        feed = await s.get(srv.url + "/feed") if kind.startswith("stream") else None
        data, kwargs = streamed_body(kind, source, feed)
        async with asyncio.timeout(2):
            post = s.post(srv.url + "/upload", data=data, upload_tracker=tracker, **kwargs)
            async with post as resp:
                assert (resp.status, await resp.read()) == (413, b"big")
        if feed is None:
            assert source.ended
        else:
            feed.close()
        assert await outcome(tracker) == "UploadAbortedError"
        received = await asyncio.wait_for(script.received, 1)
        assert len(received) > 0
        # Payload bytes: compressed on the wire, the piece left whole.
        assert tracker.bytes_written == (len(PIECE) if kind == "deflate" else len(received))
        assert tracker.attempts == 1
        async with s.post(srv.url + "/next", data=b"after") as resp:
            assert await resp.read() == b"ok"
    upload = next(n for n, path in script.paths if path == b"/upload")
    assert script.paths[-1] == (upload + 1, b"/next")
    assert open_fds() <= before + 1  # the server's socket for /next may be open still


class Pieces:
    """*count* PIECEs from an async generator, *pause* seconds apart; ``ended`` once the
    generator's ``finally`` ran (it was closed, or ran out)."""

    def __init__(self, count: int, *, pause: float = 0) -> None:
        self.count = count
        self.pause = pause
        self.ended = False

    async def pieces(self) -> AsyncIterator[bytes]:
        try:
            for _ in range(self.count):
                yield PIECE
                if self.pause:
                    await asyncio.sleep(self.pause)
        finally:
            self.ended = True


async def test_an_early_answer_between_pieces_of_a_generator(raw_server: Any) -> None:
    """The audit's case: a generator that sleeps a little between pieces, a server that
    answers 413 after the first bytes and reads on. The answer came between two
    pieces; the next one was written to the closed connection."""
    script = EarlyAnswer(reads_on=True, at_once=True)
    srv: RawServer = await raw_server(script)
    source = Pieces(400, pause=2 * MS)
    tracker = UploadTracker()
    async with hyperclient.ClientSession() as s:
        async with asyncio.timeout(2):
            data = source.pieces()
            async with s.post(srv.url + "/upload", data=data, upload_tracker=tracker) as r:
                assert (r.status, await r.read()) == (413, b"big")
        assert source.ended
        assert await outcome(tracker) == "UploadAbortedError"
        received = await asyncio.wait_for(script.received, 1)
        assert 0 < tracker.bytes_written == len(received) < 400 * len(PIECE)


@pytest.mark.parametrize("kind", ["content-length", "form", "multipart-gzip"])
async def test_an_early_answer_while_the_socket_drains_closes_the_source(
    raw_server: Any, kind: str
) -> None:
    """A source that never waits, a server that reads 100 kB, answers 413 and reads on:
    the answer wakes the writer waiting for the socket to drain. The caller's generator,
    suspended where it yielded, is closed before the request returns (it was left to the
    garbage collector), as are ours around it (a form's, an encoded part's)."""
    received: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2**16)
        await reader.readuntil(b"\r\n\r\n")
        body = b""
        while data := await reader.read(2**14):  # until the client closes
            if len(body) < 100_000 <= len(body) + len(data):
                writer.write(TOO_LARGE)  # reading on meanwhile
            body += data
        received.set_result(body)

    srv: RawServer = await raw_server(script)
    source = Pieces(1000)
    kwargs: dict[str, Any] = {}
    data: Any = source.pieces()
    if kind == "content-length":
        kwargs["headers"] = {"Content-Length": str(1000 * len(PIECE))}
    elif kind == "form":
        data = hyperclient.FormData({"stream": data})
    else:
        data = hyperclient.MultipartWriter()
        data.append(source.pieces(), {"Content-Encoding": "gzip"})
    tracker = UploadTracker()
    async with session(hyperclient) as s:
        async with asyncio.timeout(5):
            async with s.post(srv.url, data=data, upload_tracker=tracker, **kwargs) as resp:
                assert source.ended
                assert (resp.status, await resp.read()) == (413, b"big")
    assert await outcome(tracker) == "UploadAbortedError"
    body = await asyncio.wait_for(received, 1)
    assert 100_000 < tracker.bytes_written <= len(body) < 1000 * len(PIECE)


class SlowFile(io.RawIOBase):
    """An unseekable file (read by a thread, sent chunked) of one piece, or more with
    *endless*, whose reads after the first take 100 ms; ``reading`` counts reads in
    progress."""

    def __init__(self, *, endless: bool) -> None:
        self.endless = endless
        self.reads = 0
        self.reading = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self.reading += 1
        try:
            self.reads += 1
            if self.reads > 1:
                time.sleep(0.1)
                if not self.endless:
                    return 0
            buffer[:] = PIECE[: len(buffer)]
            return len(buffer)
        finally:
            self.reading -= 1


@pytest.mark.parametrize(
    ("endless", "compress", "then_stream"),
    [(True, None, False), (False, None, False), (False, "deflate", False), (False, None, True)],
    ids=["next-piece", "end", "end-deflate", "end-then-stream"],
)
async def test_an_early_answer_while_a_thread_reads_the_body(
    raw_server: Any, endless: bool, compress: str | None, then_stream: bool
) -> None:
    """The answer arrives while a thread reads the file: the read is waited for
    (abandoned, it would go on behind the caller's back), then nothing more is sent,
    not the piece it read, nor the compressor's tail or the last chunk when the file
    ended, and a form's next part, a stream that gives nothing yet, is not waited for.
    They used to be written to the connection closed under the writer (or waited for)."""
    script = EarlyAnswer(reads_on=True)
    srv: RawServer = await raw_server(script)
    file = SlowFile(endless=endless)
    source = Waiting()
    data: Any = file
    if then_stream:
        data = hyperclient.FormData()
        data.add_field("file", file, filename="file.bin")
        data.add_field("stream", source.gen(pieces=0))
    tracker = UploadTracker()
    async with hyperclient.ClientSession() as s:
        async with asyncio.timeout(2):
            post = s.post(srv.url + "/upload", data=data, compress=compress, upload_tracker=tracker)
            async with post as resp:
                assert file.reading == 0
                assert (resp.status, await resp.read()) == (413, b"big")
    assert file.reads == 2
    assert await outcome(tracker) == "UploadAbortedError"
    received = await asyncio.wait_for(script.received, 1)
    if then_stream:
        assert source.ended
        assert received.endswith(PIECE)  # and the stream's part head, which waits with it
        assert tracker.bytes_written == len(received)
        return
    assert tracker.bytes_written == 2**16
    if compress is None:
        assert received == PIECE
    else:  # all the compressor gave for the piece, not its tail
        assert 0 < len(received) < len(zlib.compress(PIECE))


async def test_a_reset_while_the_source_waits_fails_the_request_at_once(
    raw_server: Any,
) -> None:
    """The server takes a piece and resets the connection while the source waits: the
    request fails with the connection's error at once, not whenever the source gives
    its next piece; the tracker holds that error and the piece."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(len(PIECE))  # most of it: its chunk header comes first
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # RST

    srv: RawServer = await raw_server(script)
    source = Waiting()
    tracker = UploadTracker()
    async with hyperclient.ClientSession() as s:
        with pytest.raises(hyperclient.ClientConnectionError) as info:
            async with asyncio.timeout(2):
                await s.post(srv.url, data=source.gen(), upload_tracker=tracker)
    assert source.ended
    assert tracker.upload_complete.exception() is info.value
    assert tracker.bytes_written == len(PIECE)


# -- attempts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "size", "written"),
    [(307, 10, 10), (307, 300_000, 300_000), (303, 300_000, 0)],
    ids=["307-small", "307-large", "303"],
)
async def test_a_redirect_is_a_new_attempt(
    sink: tuple[str, list[int]], status: int, size: int, written: int
) -> None:
    """307 sends the body again: counting starts over. 303 follows with a GET and no body
    (zero bytes, sent whole)."""
    base, seen = sink
    for lib in LIBS:
        tracker = lib.UploadTracker()
        async with lib.ClientSession() as s:
            async with s.post(f"{base}/{status}", data=b"x" * size, upload_tracker=tracker) as r:
                assert await r.json() == {"received": written}
        assert (tracker.attempts, tracker.bytes_written) == (2, written), lib
        assert await outcome(tracker) is None
    assert seen == [size, written] * 2


async def test_a_retry_on_a_stale_pooled_connection_is_a_new_attempt(raw_server: Any) -> None:
    """The server reads the second request on a kept-alive connection and closes without
    answering: the PUT (idempotent, replayable) is sent again on a new connection."""
    state = {"connections": 0, "answered": 0}

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state["connections"] += 1
        first = state["connections"] == 1
        while True:
            await read_request(reader)
            if first and state["answered"] == 1:
                return  # closed by the fixture: a stale keep-alive connection
            state["answered"] += 1
            writer.write(OK)
            await writer.drain()

    srv: RawServer = await raw_server(script)
    for lib in LIBS:
        state.update(connections=0, answered=0)
        tracker = lib.UploadTracker()
        async with lib.ClientSession() as s:
            async with s.put(srv.url, data=b"abc") as r:
                await r.read()
            async with s.put(srv.url, data=b"abcd", upload_tracker=tracker) as r:
                assert await r.read() == b"ok"
        assert state["connections"] == 2
        assert (tracker.attempts, tracker.bytes_written, await outcome(tracker)) == (2, 4, None)


async def test_a_middleware_sending_twice_makes_two_attempts(sink: tuple[str, list[int]]) -> None:
    async def twice(req: Any, handler: Any) -> Any:
        first = await handler(req)
        first.release()
        return await handler(req)

    base, seen = sink
    for lib in LIBS:
        tracker = lib.UploadTracker()
        async with lib.ClientSession(middlewares=(twice,)) as s:
            async with s.post(f"{base}/sink", data=b"abc", upload_tracker=tracker) as r:
                assert await r.json() == {"received": 3}
        assert (tracker.attempts, tracker.bytes_written, await outcome(tracker)) == (2, 3, None)
    assert seen == [3] * 4


# -- misuse and API surface -----------------------------------------------------------------


async def test_a_tracker_observes_one_request_only(raw_server: Any) -> None:
    srv: RawServer = await raw_server(answer_ok)
    for lib in LIBS:
        tracker = lib.UploadTracker()
        async with lib.ClientSession() as s:
            async with s.post(srv.url, data=b"one", upload_tracker=tracker) as r:
                await r.read()
            with pytest.raises(
                RuntimeError, match=r"^UploadTracker is already bound to a request$"
            ):
                await s.post(srv.url, data=b"second", upload_tracker=tracker)
        # The refused second request leaves the first one's record alone.
        assert (tracker.attempts, tracker.bytes_written, await outcome(tracker)) == (1, 3, None)
    assert srv.connections == 2  # one per library: the second request never connected


@pytest.mark.parametrize("lib", LIBS, ids=lambda m: m.__name__)
def test_a_tracker_needs_a_running_loop(lib: types.ModuleType) -> None:
    with pytest.raises(RuntimeError, match="no running event loop"):
        lib.UploadTracker()


async def test_every_verb_and_module_function_takes_upload_tracker(raw_server: Any) -> None:
    srv: RawServer = await raw_server(answer_ok)
    verbs = ("get", "options", "head", "post", "put", "patch", "delete")
    async with hyperclient.ClientSession() as s:
        calls: list[Callable[..., Any]] = [getattr(s, verb) for verb in verbs]
        calls.append(lambda url, **kw: s.request("POST", url, **kw))
        calls += [getattr(hyperclient, verb) for verb in verbs]
        calls.append(lambda url, **kw: hyperclient.request("PUT", url, **kw))
        for call in calls:
            tracker = UploadTracker()
            async with call(srv.url, upload_tracker=tracker) as resp:
                await resp.read()
            assert (tracker.attempts, await outcome(tracker)) == (1, None), call


def test_the_public_names_are_aiohttps() -> None:
    """Where aiohttp has them: the package, ``client_reqrep``, ``client_exceptions``."""
    for module, name in [
        (hyperclient, "UploadTracker"),
        (hyperclient, "UploadAbortedError"),
        (hyperclient.client_reqrep, "UploadTracker"),
        (hyperclient.client_exceptions, "UploadAbortedError"),
    ]:
        assert name in module.__all__, (module, name)
        assert getattr(module, name) is getattr(hyperclient, name)
    assert issubclass(UploadAbortedError, hyperclient.ClientError)
    assert aiohttp.UploadAbortedError.__mro__[1].__name__ == UploadAbortedError.__mro__[1].__name__


def test_a_request_pays_no_attribute_for_a_tracker_it_has_not() -> None:
    """The tracker is a class default on ClientRequest, set on a request only when one
    is passed: the instance dict stays within CPython 3.11's shared-key size."""
    req = ClientRequest(
        "POST", URL("http://127.0.0.1/"), data=b"x", skip_auto_headers=["Content-Type"]
    )
    assert "_upload_tracker" not in vars(req)
    assert len(vars(req)) <= 29
    assert req._upload_tracker is None


async def test_a_refusal_right_after_100_continue_sends_no_body(raw_server: Any) -> None:
    """expect100: 100 Continue and a 413 in one segment. The 413 is parsed before the body
    starts; the body must not start then (it went out whole, or the writer waited on a
    source with nothing to give and held the answer back until the timeout)."""
    received: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        # The 413's body comes later: the answer is under way, not over, when the body
        # would start (over, the response's end alone would stop it).
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + TOO_LARGE[:-2])
        await asyncio.sleep(0.05)
        writer.write(TOO_LARGE[-2:])
        received.set_result(await reader.read())  # until the client closes
        writer.close()

    srv: RawServer = await raw_server(script)
    started = False

    async def feed() -> AsyncIterator[bytes]:
        nonlocal started
        started = True
        await asyncio.Event().wait()  # a live feed with nothing to give yet
        yield PIECE

    tracker = UploadTracker()
    async with hyperclient.ClientSession() as s:
        async with asyncio.timeout(2):
            async with s.post(srv.url, data=feed(), expect100=True, upload_tracker=tracker) as r:
                assert (r.status, await r.read()) == (413, b"big")
        assert await outcome(tracker) == "UploadAbortedError"
        assert tracker.bytes_written == 0
    assert not started
    assert await asyncio.wait_for(received, 1) == b""


async def test_a_source_failing_in_its_cleanup_does_not_hide_the_answer(
    raw_server: Any,
) -> None:
    """Stopped at a yield by an early 413, the caller's generator is closed and raises in
    its finally: the server's answer is still what the request returns (as aiohttp)."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reader.read(1)
        writer.write(TOO_LARGE)
        while await reader.read(2**16):  # until the client closes
            pass
        writer.close()

    srv: RawServer = await raw_server(script)
    cleaned = False

    async def endless() -> AsyncIterator[bytes]:
        nonlocal cleaned
        try:
            while True:
                yield PIECE
        finally:
            cleaned = True
            raise RuntimeError("cleanup failed")

    async with hyperclient.ClientSession() as s:
        async with asyncio.timeout(2):
            async with s.post(srv.url, data=endless()) as r:
                assert (r.status, await r.read()) == (413, b"big")
    assert cleaned


async def test_cutting_a_waiting_source_leaves_no_cancel_behind(raw_server: Any) -> None:
    """The early answer stops a source waiting for its next piece by cancelling that wait,
    then withdraws the cancellation: the task's count is back to where it was, so an
    enclosing asyncio.timeout still ends in TimeoutError, not CancelledError."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reader.read(1)
        await asyncio.sleep(20 * MS)
        writer.write(TOO_LARGE)
        while await reader.read(2**16):  # until the client closes
            pass
        writer.close()

    srv: RawServer = await raw_server(script)

    async def feed() -> AsyncIterator[bytes]:
        yield PIECE
        await asyncio.Event().wait()  # the cut lands here
        yield PIECE

    task = asyncio.current_task()
    assert task is not None
    outcome = "none"
    try:
        async with asyncio.timeout(0.3):  # entered before the request
            async with hyperclient.ClientSession() as s:
                async with s.post(srv.url, data=feed()) as r:
                    assert r.status == 413
                    assert task.cancelling() == 0
            await asyncio.sleep(1)
    except TimeoutError:
        outcome = "TimeoutError"
    assert outcome == "TimeoutError"
