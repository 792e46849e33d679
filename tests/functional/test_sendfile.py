"""File bodies copied by the kernel (``loop.sendfile``), and every way back to reading.

Each test that expects the sendfile path checks it was taken by wrapping the running
loop's ``sendfile`` in a counting pass-through (instrumentation: the real call runs).
Servers are real: aiohttp.web for byte-exact uploads, raw scripted servers for early
answers, stalls and resets.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import functools
import hashlib
import importlib
import io
import logging
import os
import select
import socket
import ssl
import struct
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import aiohttp
import pytest
import trustme
from aiohttp import test_utils, web

import hyperclient
from hyperclient import ClientSession, ClientTimeout, TCPConnector, formdata

from ..conftest import (
    MS,
    OK,
    TOO_BIG,
    RawServer,
    answer_ok,
    assert_pool_empty,
    open_fds,
    read_request,
    stall,
)


def tuned_socket(
    addr_info: Any, *, algorithm: bytes = b"cubic", sndbuf: int | None = None
) -> socket.socket:
    """A client socket under *algorithm* (CUBIC by default: sendfile is skipped under BBR,
    this VM's default, see ``ResponseHandler.sendfile_pays``), with a send buffer of
    *sndbuf* bytes when given."""
    sock = socket.socket(*addr_info[:3])
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, algorithm)
    if sndbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    return sock


def cubic() -> TCPConnector:
    return TCPConnector(socket_factory=tuned_socket)


#: Odd-sized, over two 4 MiB segments; sent from START, after a read that filled the
#: BufferedReader's read-ahead (asyncio moves the descriptor's offset behind it).
SIZE = 9 * 2**20 + 12345
START = 1000


@dataclass
class SendfileCalls:
    """What the loop's ``sendfile`` was asked: (offset, count) per call, and what it raised."""

    calls: list[tuple[int, int | None]] = field(default_factory=list)
    errors: list[type[BaseException]] = field(default_factory=list)

    def offsets(self) -> list[int]:
        return [offset for offset, _ in self.calls]


@pytest.fixture
async def sendfile_calls(monkeypatch: pytest.MonkeyPatch) -> SendfileCalls:
    """Count the running loop's ``sendfile`` calls; each still runs for real."""
    loop = asyncio.get_running_loop()
    record = SendfileCalls()
    real = loop.sendfile

    async def counting(
        transport: Any, file: Any, offset: int = 0, count: int | None = None, **kwargs: Any
    ) -> int:
        record.calls.append((offset, count))
        try:
            return await real(transport, file, offset, count, **kwargs)
        except BaseException as exc:
            record.errors.append(type(exc))
            raise

    monkeypatch.setattr(loop, "sendfile", counting)
    return record


@pytest.fixture(scope="module")
def payload() -> bytes:
    return os.urandom(SIZE)


@pytest.fixture
def data_file(tmp_path: Path, payload: bytes) -> Path:
    path = tmp_path / "upload.bin"
    path.write_bytes(payload)
    return path


def opened_at_start(path: Path) -> BinaryIO:
    """*path* opened for reading, positioned at START with a read-ahead buffer filled."""
    fobj = path.open("rb")
    assert fobj.read(START)
    return fobj


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Received:
    """What the upload server got: (path, sha256, length) per request body, and the
    client port each came from."""

    bodies: list[tuple[str, str, int]] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    forms: list[list[list[Any]]] = field(default_factory=list)


def upload_app(received: Received) -> web.Application:
    async def upload(request: web.Request) -> web.Response:
        digest = hashlib.sha256()
        length = 0
        async for chunk in request.content.iter_any():
            digest.update(chunk)
            length += len(chunk)
        received.bodies.append((request.path, digest.hexdigest(), length))
        assert request.transport is not None
        peer = request.transport.get_extra_info("peername")
        received.ports.append(peer[1] if isinstance(peer, tuple) else 0)  # 0: a Unix socket
        return web.json_response({"sha": digest.hexdigest(), "length": length})

    async def moved(request: web.Request) -> web.Response:
        await upload(request)  # the whole body was read, then: try there
        raise web.HTTPTemporaryRedirect("/upload")

    async def form(request: web.Request) -> web.Response:
        """Each part as name, filename, sha256 and length; nested parts flattened."""
        seen: list[list[Any]] = []

        async def walk(reader: Any) -> None:
            while (part := await reader.next()) is not None:
                if isinstance(part, aiohttp.MultipartReader):  # a nested multipart
                    await walk(part)
                    continue
                data = await part.read()
                seen.append([part.name, part.filename, sha(bytes(data)), len(data)])

        await walk(await request.multipart())
        received.forms.append(seen)
        return web.json_response(seen)

    async def form_moved(request: web.Request) -> web.Response:
        await form(request)
        raise web.HTTPTemporaryRedirect("/form")

    app = web.Application(client_max_size=2**30)
    app.router.add_post("/form", form)
    app.router.add_post("/form-moved", form_moved)
    app.router.add_post("/upload", upload)
    app.router.add_put("/upload", upload)
    app.router.add_post("/moved", moved)
    return app


@pytest.fixture
async def upload_server(aiohttp_server: Callable[..., Awaitable[Any]]) -> tuple[str, Received]:
    received = Received()
    server = await aiohttp_server(upload_app(received))
    return f"http://127.0.0.1:{server.port}", received


async def discard_all(reader: asyncio.StreamReader) -> None:
    while await reader.read(2**20):
        pass


def big_sparse_file(tmp_path: Path, size: int = 256 * 2**20) -> Path:
    """A large file that costs no disk: far more than the socket buffers hold."""
    path = tmp_path / "sparse.bin"
    with path.open("wb") as fobj:
        fobj.truncate(size)
    return path


# -- the sendfile path -----------------------------------------------------------------------


async def test_file_is_sent_by_sendfile_byte_exact(
    upload_server: tuple[str, Received],
    data_file: Path,
    payload: bytes,
    sendfile_calls: SendfileCalls,
) -> None:
    base, received = upload_server
    async with ClientSession(connector=cubic()) as session:
        for _ in range(2):
            with opened_at_start(data_file) as fobj:
                async with session.post(base + "/upload", data=fobj) as resp:
                    assert resp.status == 200
                    assert await resp.json() == {
                        "sha": sha(payload[START:]),
                        "length": SIZE - START,
                    }
                # Where reading it would have left it, and the file object agrees with itself.
                assert fobj.tell() == SIZE
                assert fobj.read() == b""
                fobj.seek(START + 5)
                assert fobj.read(7) == payload[START + 5 : START + 12]
    segment = 4 * 2**20
    assert sendfile_calls.calls == 2 * [
        (START, segment),
        (START + segment, segment),
        (START + 2 * segment, SIZE - START - 2 * segment),
    ]
    assert sendfile_calls.errors == []
    assert received.bodies == 2 * [("/upload", sha(payload[START:]), SIZE - START)]
    # The answer to a whole body is no early answer: the connection is kept alive.
    assert len(set(received.ports)) == 1


async def test_a_file_payload_goes_by_sendfile_as_the_file_does(
    upload_server: tuple[str, Received],
    data_file: Path,
    payload: bytes,
    sendfile_calls: SendfileCalls,
) -> None:
    """``data=BufferedReaderPayload(file)`` is the same plain file as ``data=file``: the
    kernel sends it from where it stood, not Python."""
    from hyperclient.payload import BufferedReaderPayload

    base, received = upload_server
    async with ClientSession(connector=cubic()) as session:
        with opened_at_start(data_file) as fobj:
            body = BufferedReaderPayload(fobj)
            async with session.post(base + "/upload", data=body) as resp:
                assert resp.status == 200
    assert sendfile_calls.calls[0] == (START, 4 * 2**20)
    assert sendfile_calls.errors == []
    assert received.bodies == [("/upload", sha(payload[START:]), SIZE - START)]


@pytest.mark.parametrize("algorithm", [b"bbr", b"cubic"])
async def test_sendfile_only_where_it_pays(
    upload_server: tuple[str, Received],
    data_file: Path,
    payload: bytes,
    sendfile_calls: SendfileCalls,
    algorithm: bytes,
) -> None:
    # Under BBR, sendfile(2) costs twice the CPU of writing (see sendfile_pays): the file
    # is read and written instead, byte-exact all the same.
    base, received = upload_server
    connector = TCPConnector(socket_factory=functools.partial(tuned_socket, algorithm=algorithm))
    async with ClientSession(connector=connector) as session:
        with opened_at_start(data_file) as fobj:
            async with session.post(base + "/upload", data=fobj) as resp:
                assert resp.status == 200
    assert received.bodies == [("/upload", sha(payload[START:]), SIZE - START)]
    assert bool(sendfile_calls.calls) is (algorithm == b"cubic")


async def test_unix_socket_upload_goes_by_sendfile(
    tmp_path: Path, data_file: Path, payload: bytes, sendfile_calls: SendfileCalls
) -> None:
    received = Received()
    runner = web.AppRunner(upload_app(received))
    await runner.setup()
    path = str(tmp_path / "upload.sock")
    await web.UnixSite(runner, path).start()
    try:
        with opened_at_start(data_file) as fobj:
            async with ClientSession(connector=hyperclient.UnixConnector(path=path)) as session:
                async with session.post("http://localhost/upload", data=fobj) as resp:
                    assert resp.status == 200
    finally:
        await runner.cleanup()
    assert [body[1:] for body in received.bodies] == [(sha(payload[START:]), SIZE - START)]
    assert sendfile_calls.offsets()[0] == START
    assert sendfile_calls.errors == []


async def test_redirect_307_sends_the_file_again_by_sendfile(
    upload_server: tuple[str, Received],
    data_file: Path,
    payload: bytes,
    sendfile_calls: SendfileCalls,
) -> None:
    base, received = upload_server
    with opened_at_start(data_file) as fobj:
        async with ClientSession(connector=cubic()) as session:
            async with session.post(base + "/moved", data=fobj) as resp:
                assert resp.status == 200
                assert [r.status for r in resp.history] == [307]
                assert await resp.json() == {"sha": sha(payload[START:]), "length": SIZE - START}
        assert fobj.tell() == SIZE
    expected = (sha(payload[START:]), SIZE - START)
    assert received.bodies == [("/moved", *expected), ("/upload", *expected)]
    # Both hops: from the file's start, by the kernel.
    assert sendfile_calls.offsets().count(START) == 2
    assert sendfile_calls.errors == []


async def test_stale_connection_retry_sends_the_file_again(
    raw_server: Callable[..., Awaitable[RawServer]],
    data_file: Path,
    payload: bytes,
    sendfile_calls: SendfileCalls,
) -> None:
    """The server reads the whole PUT on a kept-alive connection, then hangs up without a
    byte of answer: the PUT goes again, on a new connection, from the file's start."""
    bodies: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head, body = await read_request(reader)
        if head.startswith(b"GET"):
            writer.write(OK)
            await writer.drain()
            _, body = await read_request(reader)
            bodies.append(body)
            return  # and the connection closes
        bodies.append(body)
        writer.write(OK)
        await writer.drain()

    srv = await raw_server(script)
    with opened_at_start(data_file) as fobj:
        async with ClientSession(connector=cubic()) as session:
            async with session.get(srv.url) as resp:
                assert await resp.read() == b"ok"
            async with session.put(srv.url, data=fobj) as resp:
                assert await resp.read() == b"ok"
    assert srv.connections == 2
    assert [sha(b) for b in bodies] == [sha(payload[START:])] * 2
    assert sendfile_calls.offsets().count(START) == 2


async def test_expect_100_continue_then_sendfile(
    raw_server: Callable[..., Awaitable[RawServer]],
    data_file: Path,
    payload: bytes,
    sendfile_calls: SendfileCalls,
) -> None:
    """The body waits for 100 Continue (read off the connection first), then goes by
    sendfile."""
    got: list[str] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        assert b"\r\nExpect: 100-continue\r\n" in head
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()
        got.append(sha(await reader.readexactly(SIZE - START)))
        writer.write(OK)
        await writer.drain()

    srv = await raw_server(script)
    with opened_at_start(data_file) as fobj:
        async with ClientSession(connector=cubic()) as session:
            async with session.post(srv.url, data=fobj, expect100=True) as resp:
                assert await resp.read() == b"ok"
    assert got == [sha(payload[START:])]
    assert sendfile_calls.offsets()[0] == START


async def test_early_2xx_answer_lets_the_sendfile_upload_finish(
    raw_server: Callable[..., Awaitable[RawServer]],
    data_file: Path,
    payload: bytes,
    sendfile_calls: SendfileCalls,
) -> None:
    """A streaming server sends its 200 head first and reads the body late: the head sits
    unread while the kernel waits, and must not cut the upload short."""
    got: list[str] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n")
        await writer.drain()
        await asyncio.sleep(300 * MS)  # several answer checks while the kernel waits
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        got.append(sha(await reader.readexactly(length)))
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    srv = await raw_server(script)
    big = data_file.parent / "big.bin"
    big.write_bytes(payload * 4)  # more than the loopback socket buffers hold
    with big.open("rb") as fobj:
        async with ClientSession(connector=cubic()) as session:
            async with session.post(srv.url, data=fobj) as resp:
                assert resp.status == 200
                assert await resp.read() == b"ok"
    assert got == [sha(payload * 4)]
    assert sum(count or 0 for _, count in sendfile_calls.calls) == len(payload) * 4


@pytest.fixture
def instant_server() -> Iterator[tuple[int, list[int]]]:
    """A server in a thread of its own that answers each request the moment its body is
    in: port, and one entry per connection accepted."""
    listener = socket.create_server(("127.0.0.1", 0))
    connections: list[int] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # closed: the test is over
                return
            connections.append(1)
            with conn, conn.makefile("rb") as stream:
                while head := stream.readline():
                    length = 0
                    while head not in (b"\r\n", b""):
                        name, _, value = head.partition(b":")
                        if name.lower() == b"content-length":
                            length = int(value)
                        head = stream.readline()
                    stream.read(length)
                    conn.sendall(OK)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], connections
    listener.close()
    thread.join(5)


async def test_answer_to_the_whole_body_keeps_the_connection(
    instant_server: tuple[int, list[int]],
    data_file: Path,
    sendfile_calls: SendfileCalls,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server answers as soon as the last byte arrives, before sendfile even returns:
    that is the answer to a whole body, not an early one, and the connection is reused."""
    port, connections = instant_server
    loop = asyncio.get_running_loop()
    counting = loop.sendfile

    async def answered_when_done(
        transport: Any, file: Any, offset: int, count: int, **kw: Any
    ) -> int:
        sent = await counting(transport, file, offset, count, **kw)
        if offset + count == SIZE:  # the last segment: wait until the answer is here
            sock = transport.get_extra_info("socket")
            assert select.select([sock], [], [], 5)[0]
        return sent

    monkeypatch.setattr(loop, "sendfile", answered_when_done)
    async with ClientSession(connector=cubic()) as session:
        for _ in range(3):
            with opened_at_start(data_file) as fobj:
                async with session.post(f"http://127.0.0.1:{port}/", data=fobj) as resp:
                    assert await resp.read() == b"ok"
    assert connections == [1]
    assert len(sendfile_calls.calls) == 9


async def test_form_files_go_by_sendfile_byte_exact(
    upload_server: tuple[str, Received],
    data_file: Path,
    payload: bytes,
    tmp_path: Path,
    sendfile_calls: SendfileCalls,
    executor: CountingExecutor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A form's large file goes by sendfile, between the written part heads; a small one
    is read, off the event loop. A 307 sends the form again, the large file by sendfile
    again."""
    real = os.preadv
    nowait_reads: list[int] = []

    def preadv(fd: int, buffers: Any, offset: int, flags: int = 0) -> int:
        nowait_reads.append(offset)  # instrumentation: the real call runs
        return real(fd, buffers, offset, flags)

    base, received = upload_server
    small = tmp_path / "small.txt"
    small.write_bytes(b"s" * 10_000)
    cached = page_cache_reads_work(small)
    monkeypatch.setattr(os, "preadv", preadv)
    with opened_at_start(data_file) as big, small.open("rb") as little:
        form = hyperclient.FormData()
        form.add_field("title", "holiday")
        form.add_field("big", big, filename="big.bin")
        form.add_field("small", little, filename="small.txt")
        form.add_field("raw", b"\x00\x01" * 100)
        async with ClientSession(connector=cubic()) as session:
            async with session.post(base + "/form-moved", data=form) as resp:
                assert resp.status == 200
                assert [r.status for r in resp.history] == [307]
        assert big.tell() == SIZE
    expected = [
        ["title", None, sha(b"holiday"), 7],
        ["big", "big.bin", sha(payload[START:]), SIZE - START],
        ["small", "small.txt", sha(b"s" * 10_000), 10_000],
        ["raw", "raw", sha(b"\x00\x01" * 100), 200],
    ]
    assert received.forms == [expected, expected]
    # The small file, once per send, by the reader that keeps the loop free.
    if cached:
        assert nowait_reads == [0, 0]
        assert executor.reads() == []
    else:  # pragma: no cover  # no RWF_NOWAIT here: a thread reads
        assert executor.reads() == ["pread", "pread"]
    segment = 4 * 2**20
    assert sendfile_calls.calls == 2 * [
        (START, segment),
        (START + segment, segment),
        (START + 2 * segment, SIZE - START - 2 * segment),
    ]


async def test_nested_multipart_writer_files_go_by_sendfile(
    upload_server: tuple[str, Received],
    data_file: Path,
    payload: bytes,
    sendfile_calls: SendfileCalls,
) -> None:
    base, received = upload_server
    with data_file.open("rb") as first, data_file.open("rb") as second:
        second.seek(SIZE - 2**20)
        with hyperclient.MultipartWriter("form-data") as outer:
            outer.append("hello").set_content_disposition("form-data", name="text")
            outer.append(first).set_content_disposition(
                "form-data", name="first", filename="first.bin"
            )
            with hyperclient.MultipartWriter("mixed") as inner:
                inner.append(second).set_content_disposition(
                    "form-data", name="second", filename="second.bin"
                )
            outer.append(inner)
        async with ClientSession(connector=cubic()) as session:
            async with session.post(base + "/form", data=outer) as resp:
                assert resp.status == 200
    assert received.forms == [
        [
            ["text", None, sha(b"hello"), 5],
            ["first", "first.bin", sha(payload), SIZE],
            ["second", "second.bin", sha(payload[-(2**20) :]), 2**20],
        ]
    ]
    assert sendfile_calls.offsets() == [0, 4 * 2**20, 8 * 2**20, SIZE - 2**20]


@pytest.mark.parametrize("case", ["gzip", "stream", "text", "small"])
async def test_forms_that_are_read(
    upload_server: tuple[str, Received],
    data_file: Path,
    payload: bytes,
    tmp_path: Path,
    sendfile_calls: SendfileCalls,
    case: str,
) -> None:
    """A form with a part that needs encoding or streaming, or with no file large enough,
    is read and written as a whole."""
    base, received = upload_server
    (tmp_path / "t.txt").write_text("naïve\n" * 100_000, encoding="utf-8")
    (tmp_path / "s.bin").write_bytes(payload[: 300 * 1024])

    async def stream() -> AsyncIterator[bytes]:
        yield b"streamed"

    with contextlib.ExitStack() as files:
        # "mixed": a form-data part may not carry Content-Encoding (RFC 7578 §4.8).
        form = hyperclient.MultipartWriter("mixed")
        if case == "small":  # two files under the sendfile threshold, 600 KiB in all
            for name in ("one", "two"):
                part = form.append(files.enter_context((tmp_path / "s.bin").open("rb")))
                part.set_content_disposition("form-data", name=name, filename=name)
        else:
            big = files.enter_context(data_file.open("rb"))
            form.append(big).set_content_disposition("form-data", name="big", filename="b")
            if case == "gzip":
                other = form.append(b"zipped", {"Content-Encoding": "gzip"})
            elif case == "stream":
                other = form.append(stream())
            else:
                text = files.enter_context((tmp_path / "t.txt").open(encoding="utf-8"))
                other = form.append(text)
            other.set_content_disposition("form-data", name="other", filename="o")
        async with ClientSession(connector=cubic()) as session:
            async with session.post(base + "/form", data=form) as resp:
                assert resp.status == 200
    assert sendfile_calls.calls == []
    parts = received.forms[0]
    if case == "small":
        assert [p[2:] for p in parts] == [[sha(payload[: 300 * 1024]), 300 * 1024]] * 2
    else:
        assert parts[0] == ["big", "b", sha(payload), SIZE]


@pytest.mark.parametrize("container", ["FormData", "MultipartWriter"])
@pytest.mark.parametrize("size", [10_000, 2**20 + 7], ids=["read", "sendfile"])
async def test_one_file_in_two_parts_is_sent_twice_either_way(
    upload_server: tuple[str, Received],
    payload: bytes,
    tmp_path: Path,
    sendfile_calls: SendfileCalls,
    size: int,
    container: str,
) -> None:
    """The same file object in two parts is sent twice, each time from where it stood
    when it was added: read (a small file) or copied by the kernel by offset (a large
    one), the server gets the same, and what aiohttp's client sends for the same form."""
    base, received = upload_server
    path = tmp_path / "twice.bin"
    path.write_bytes(payload[:size])

    def build(module: Any, file: BinaryIO) -> Any:
        file.seek(START)
        if container == "FormData":
            form = module.FormData()
            form.add_field("one", file, filename="one.bin")
            form.add_field("two", file, filename="two.bin")
            return form
        writer = module.MultipartWriter("form-data")
        for name in ("one", "two"):
            part = writer.append(file)
            part.set_content_disposition("form-data", name=name, filename=f"{name}.bin")
        return writer

    with path.open("rb") as file:
        async with ClientSession(connector=cubic()) as session:
            async with session.post(base + "/form", data=build(hyperclient, file)) as resp:
                assert resp.status == 200
        assert file.tell() == size  # where reading the second part leaves it
    assert sendfile_calls.offsets() == ([] if size < 2**19 else [START, START])
    with path.open("rb") as file:  # aiohttp closes a FormData's files: one of its own
        async with aiohttp.ClientSession() as theirs:
            async with theirs.post(base + "/form", data=build(aiohttp, file)) as resp:
                assert resp.status == 200
    sent = [sha(payload[START:size]), size - START]
    assert received.forms[0] == [["one", "one.bin", *sent], ["two", "two.bin", *sent]]
    assert received.forms[1] == received.forms[0]


# -- early answers, stalls, failures -----------------------------------------------------------


@pytest.mark.parametrize("then", ["close", "stop_reading", "drain"])
async def test_early_413_during_sendfile_is_the_response(
    raw_server: Callable[..., Awaitable[RawServer]],
    tmp_path: Path,
    sendfile_calls: SendfileCalls,
    then: str,
) -> None:
    """The server refuses a large upload at once, then closes (so the kernel resets: the
    send fails), stops reading (so the kernel waits for ever: the answer check cuts the
    segment) or reads on to discard the body while its answer's body is still to come
    (the head is read between two segments): the 413 is the answer, and the rest of the
    file is not sent."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(2**20)  # the upload is under way, by sendfile
        if then == "drain":
            writer.write(TOO_BIG[:-4])  # the head and half the body
            await writer.drain()
            discard = asyncio.ensure_future(discard_all(reader))
            await asyncio.sleep(100 * MS)
            writer.write(TOO_BIG[-4:])
            await writer.drain()
            await discard
            return
        writer.write(TOO_BIG)
        await writer.drain()
        if then == "stop_reading":
            await stall(writer)

    srv = await raw_server(script)
    path = big_sparse_file(tmp_path)
    with path.open("rb") as fobj:
        async with ClientSession(connector=cubic(), timeout=ClientTimeout(total=None)) as session:
            async with asyncio.timeout(5):
                async with session.post(srv.url, data=fobj) as resp:
                    assert resp.status == 413
                    assert await resp.read() == b"too big!"
            assert_pool_empty(session)
    # Stopped within a few 4 MiB segments of the answer (the socket buffers hold some),
    # not once the answer's body completed and the connection closed (35 segments).
    assert 1 <= len(sendfile_calls.calls) <= 4


@pytest.mark.parametrize("then", ["reads_late", "never_reads"])
async def test_bytes_still_buffered_are_flushed_before_sendfile(
    tmp_path: Path,
    payload: bytes,
    sendfile_calls: SendfileCalls,
    caplog: pytest.LogCaptureFixture,
    then: str,
) -> None:
    """Tiny socket buffers: the form's bytes before its file stay partly in the transport's
    buffer (under its high-water mark, so nothing drained them). asyncio's sendfile would
    wait for that buffer itself, where a timeout would break the transport; it is flushed
    first, under the write timeout."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # inherited on accept
    listener.bind(("127.0.0.1", 0))
    got: list[int] = []
    stop = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            if then == "never_reads":
                writer.transport.pause_reading()
                await stop.wait()
                return
            await asyncio.sleep(200 * MS)
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            got.append(len(await reader.readexactly(length)))
            writer.write(OK)
            await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(handle, sock=listener)

    path = tmp_path / "f.bin"
    path.write_bytes(payload[: 2**20])
    try:
        with path.open("rb") as fobj:
            form = hyperclient.FormData()
            form.add_field("pad", b"p" * 60_000)  # one written piece of ~60 KiB
            form.add_field("file", fobj, filename="f.bin")
            connector = TCPConnector(socket_factory=functools.partial(tuned_socket, sndbuf=4096))
            # reads_late: the flush waits for the server, well within its write timeout.
            timeout = ClientTimeout(write=(100 if then == "never_reads" else 2000) * MS)
            async with ClientSession(connector=connector, timeout=timeout) as session:
                url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
                if then == "never_reads":
                    with pytest.raises(hyperclient.SocketTimeoutError, match="writing"):
                        async with asyncio.timeout(5):
                            await session.post(url, data=form)
                else:
                    async with session.post(url, data=form) as resp:
                        assert await resp.read() == b"ok"
    finally:
        stop.set()
        server.close()
        await server.wait_closed()
    if then == "never_reads":
        assert sendfile_calls.calls == []  # the flush timed out first
    else:
        assert got
        assert got[0] > 2**20 + 60_000
        assert sendfile_calls.calls == [(0, 2**20)]
        assert sendfile_calls.errors == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_server_that_stops_reading_hits_the_write_timeout(
    raw_server: Callable[..., Awaitable[RawServer]],
    tmp_path: Path,
    sendfile_calls: SendfileCalls,
) -> None:

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await stall(writer)  # never reads the body, never answers

    srv = await raw_server(script)
    with big_sparse_file(tmp_path).open("rb") as fobj:
        async with ClientSession(
            connector=cubic(), timeout=ClientTimeout(write=100 * MS)
        ) as session:
            started = asyncio.get_running_loop().time()
            with pytest.raises(hyperclient.SocketTimeoutError) as info:
                async with asyncio.timeout(5):
                    await session.post(srv.url, data=fobj)
            elapsed = asyncio.get_running_loop().time() - started
            assert_pool_empty(session)
    assert str(info.value) == "timeout on writing the request body after 0.1s"
    assert isinstance(info.value.__cause__, TimeoutError)
    assert elapsed < 2
    assert sendfile_calls.errors[-1:] == [asyncio.CancelledError]


@pytest.mark.skipif(sys.platform != "linux", reason="progress is read from Linux's TCP_INFO")
async def test_slow_steady_reader_is_no_write_timeout(
    raw_server: Callable[..., Awaitable[RawServer]],
    tmp_path: Path,
    sendfile_calls: SendfileCalls,
) -> None:
    """ClientTimeout.write bounds a stall, not a whole 4 MiB segment: a server that reads
    steadily but slowly (a slow uplink) gets the whole file, as it would by the read path's
    per-drain timeout. Each segment here takes several times the write timeout."""
    size = 8 * 2**20
    received: list[int] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        got = 0
        while got < size:
            piece = await reader.read(64 * 1024)
            if not piece:
                break
            got += len(piece)
            await asyncio.sleep(0.012)  # about 5 MB/s: a segment takes ~0.8 s
        received.append(got)
        writer.write(OK)
        await writer.drain()

    srv = await raw_server(script)
    with big_sparse_file(tmp_path, size).open("rb") as fobj:
        async with ClientSession(
            # A send buffer that cannot hide a slow reader: what sendfile hands the
            # kernel goes out only as fast as the server reads.
            connector=TCPConnector(socket_factory=functools.partial(tuned_socket, sndbuf=2**16)),
            timeout=ClientTimeout(write=300 * MS),
        ) as session:
            started = asyncio.get_running_loop().time()
            async with asyncio.timeout(10):
                async with session.post(srv.url, data=fobj) as resp:
                    assert resp.status == 200
            elapsed = asyncio.get_running_loop().time() - started
    assert received == [size]
    assert sendfile_calls.offsets() == [0, 4 * 2**20]
    assert sendfile_calls.errors == []
    assert elapsed > 2 * 0.300  # the two segments together outlasted two write timeouts


@pytest.mark.parametrize("by_kernel", [True, False])
async def test_reset_mid_upload_raises_the_same_error_either_way(
    raw_server: Callable[..., Awaitable[RawServer]],
    tmp_path: Path,
    sendfile_calls: SendfileCalls,
    monkeypatch: pytest.MonkeyPatch,
    by_kernel: bool,
) -> None:
    """The server resets the connection after part of the body, without a word: the
    error is the one the read/write path raises, and the connection is gone."""
    monkeypatch.setattr(importlib.import_module("hyperclient.request"), "_USE_SENDFILE", by_kernel)

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(2**20)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # RST: linger on, timeout 0

    srv = await raw_server(script)
    with big_sparse_file(tmp_path).open("rb") as fobj:
        async with ClientSession(connector=cubic()) as session:
            # The classes the session retries on (a stale pooled connection); which one
            # depends on whether the reset or the EOF after it was read first, either way.
            with pytest.raises(
                (hyperclient.ServerDisconnectedError, hyperclient.ClientOSError)
            ) as info:
                async with asyncio.timeout(5):
                    await session.post(srv.url, data=fobj)
            assert_pool_empty(session)
    if by_kernel:
        # The sendfile failure, chained as the write path chains a failed drain.
        cause = info.value.__cause__
        assert isinstance(cause, hyperclient.ClientConnectionResetError)
        assert str(cause).startswith("connection lost while sending: [Errno 104]")
    assert bool(sendfile_calls.calls) is by_kernel


async def test_cancelled_mid_sendfile_leaks_nothing(
    raw_server: Callable[..., Awaitable[RawServer]],
    tmp_path: Path,
    sendfile_calls: SendfileCalls,
) -> None:
    stop = asyncio.Event()  # the stalled server connection must close before fds are counted

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if head.startswith(b"POST"):
                writer.transport.pause_reading()  # the upload stalls in sendfile
                await stop.wait()
                return
            writer.write(OK)
            await writer.drain()

    srv = await raw_server(script)
    fds = open_fds()
    try:
        with big_sparse_file(tmp_path).open("rb") as fobj:
            async with ClientSession(connector=cubic()) as session:
                task = asyncio.ensure_future(session.post(srv.url, data=fobj))
                for _ in range(500):
                    await asyncio.sleep(MS)
                    if sendfile_calls.calls:
                        break
                await asyncio.sleep(50 * MS)
                assert not task.done()
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                assert sendfile_calls.errors == [asyncio.CancelledError]
                # That connection is never used again: the next request opens another.
                async with session.get(srv.url) as resp:
                    assert await resp.read() == b"ok"
                assert srv.connections == 2
            # The file is still the caller's, open and usable.
            fobj.seek(0)
            assert fobj.read(4) == b"\0" * 4
    finally:
        stop.set()
    for _ in range(3):
        await asyncio.sleep(0)
    assert open_fds() == fds


@pytest.mark.parametrize("by_kernel", [True, False])
async def test_session_closed_mid_upload_ends_it_at_once(
    raw_server: Callable[..., Awaitable[RawServer]],
    tmp_path: Path,
    sendfile_calls: SendfileCalls,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    by_kernel: bool,
) -> None:
    """Closing the session aborts a connection in use: asyncio's sendfile must let go of
    the transport first (closed under it, the send would wait for ever)."""
    monkeypatch.setattr(importlib.import_module("hyperclient.request"), "_USE_SENDFILE", by_kernel)

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await stall(writer)  # the upload waits on the socket

    srv = await raw_server(script)
    with big_sparse_file(tmp_path).open("rb") as fobj:
        session = ClientSession(connector=cubic())
        task = asyncio.ensure_future(session.post(srv.url, data=fobj))
        await asyncio.sleep(100 * MS)
        assert not task.done()
        await session.close()
        with pytest.raises(hyperclient.ClientConnectionError) as info:
            async with asyncio.timeout(1):
                await task
    assert str(info.value) == "the connector was closed while in use"
    assert bool(sendfile_calls.calls) is by_kernel
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_file_that_shrank_fails_and_is_not_reused(
    raw_server: Callable[..., Awaitable[RawServer]],
    tmp_path: Path,
    sendfile_calls: SendfileCalls,
) -> None:
    """The file lost bytes between being measured and sent: fewer bytes than announced
    would desynchronise the connection, so the request fails, as on the read path."""
    seen: list[int] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            seen.append(len(await reader.read(2**30)))

    async def shrink(req: Any, handler: Any) -> Any:
        os.truncate(path, 3 * 2**20)
        return await handler(req)

    srv = await raw_server(script)
    path = tmp_path / "shrinking.bin"
    path.write_bytes(b"s" * (5 * 2**20))
    with path.open("rb") as fobj:
        async with ClientSession(connector=cubic(), middlewares=(shrink,)) as session:
            with pytest.raises(hyperclient.ClientOSError) as info:
                await session.post(srv.url, data=fobj)
            assert_pool_empty(session)
    assert str(info.value) == (
        "[Errno None] can not write request body: "
        "file 'shrinking.bin' ended after 3145728 of 5242880 bytes"
    )
    assert isinstance(info.value.__cause__, hyperclient.errors.FileEndedError)
    assert sendfile_calls.calls == [(0, 4 * 2**20)]


async def test_a_file_that_shrank_fails_the_same_when_read(
    raw_server: Callable[..., Awaitable[RawServer]],
    tmp_path: Path,
    sendfile_calls: SendfileCalls,
) -> None:
    """The same file, small enough to be read rather than sent by the kernel, fails the
    same way: a ClientOSError (a ClientError, as aiohttp's "Can not write request body"),
    not the RuntimeError of the layer that reads it; the connection is not reused."""
    seen: list[int] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        seen.append(len(await reader.read()))  # to the client's close

    async def shrink(req: Any, handler: Any) -> Any:
        os.truncate(path, 100_000)
        return await handler(req)

    srv = await raw_server(script)
    path = tmp_path / "shrinking.bin"
    path.write_bytes(b"s" * 200_000)
    with path.open("rb") as fobj:
        async with ClientSession(middlewares=(shrink,)) as session:
            with pytest.raises(hyperclient.ClientOSError) as info:
                await session.post(srv.url, data=fobj)
            assert_pool_empty(session)
    assert str(info.value) == (
        "[Errno None] can not write request body: "
        "file 'shrinking.bin' ended after 100000 of 200000 bytes"
    )
    assert isinstance(info.value.__cause__, hyperclient.errors.FileEndedError)
    assert sendfile_calls.calls == []
    await asyncio.sleep(10 * MS)  # the server reads to our close
    assert seen == [100_000]


async def test_a_file_that_cannot_be_read_fails_as_a_client_error(
    raw_server: Callable[..., Awaitable[RawServer]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A disk error while the body is read (only the OS call is faked) is the request's
    ClientOSError with the errno, as when sendfile(2) fails or a payload's write() raises
    one, rather than a bare OSError that is no ClientError; the connection is closed."""
    srv = await raw_server(answer_ok)
    path = tmp_path / "upload.bin"
    path.write_bytes(b"y" * 200_000)

    def failing(*args: Any) -> bytes:
        raise OSError(errno.EIO, "Input/output error")

    async with ClientSession() as session:
        with path.open("rb") as fobj:
            monkeypatch.setattr(os, "pread", failing)
            monkeypatch.setattr(os, "preadv", failing)
            with pytest.raises(hyperclient.ClientOSError) as info:
                await session.post(srv.url, data=fobj)
            monkeypatch.undo()
            assert_pool_empty(session)
            assert info.value.errno == errno.EIO
            assert str(info.value) == (
                "[Errno 5] can not write request body: "
                "reading file 'upload.bin' failed: Input/output error"
            )
            assert type(info.value.__cause__) is OSError
            fobj.seek(0)
            async with session.post(srv.url, data=fobj) as resp:  # the disk is back
                assert await resp.read() == b"ok"
    assert srv.connections == 2


async def test_sendfile_refused_mid_way_goes_on_by_reading(
    upload_server: tuple[str, Received],
    data_file: Path,
    payload: bytes,
    sendfile_calls: SendfileCalls,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """asyncio says SendfileNotAvailableError when a sendfile(2) call fails before sending
    a byte (here injected on the second segment): the rest is read and written, nothing
    twice. The file object's read-ahead (a buffer larger than the file) must not hand
    out bytes from before asyncio moved the descriptor's offset."""
    loop = asyncio.get_running_loop()
    counting = loop.sendfile

    async def refusing_the_second(*args: Any, **kwargs: Any) -> int:
        if len(sendfile_calls.calls) == 1:
            sendfile_calls.calls.append(args[2:4])
            raise asyncio.SendfileNotAvailableError("os.sendfile call failed")
        return await counting(*args, **kwargs)

    monkeypatch.setattr(loop, "sendfile", refusing_the_second)
    base, _ = upload_server
    with data_file.open("rb", buffering=16 * 2**20) as fobj:
        assert fobj.read(START)
        async with ClientSession(connector=cubic()) as session:
            async with session.post(base + "/upload", data=fobj) as resp:
                assert await resp.json() == {"sha": sha(payload[START:]), "length": SIZE - START}
        assert fobj.tell() == SIZE
    assert sendfile_calls.calls == [(START, 4 * 2**20), (START + 4 * 2**20, 4 * 2**20)]


# -- when the file is read instead -------------------------------------------------------------


@pytest.mark.parametrize(
    "case", ["small", "bytesio", "text", "compress", "chunked", "trace", "unbuffered"]
)
async def test_what_goes_by_sendfile_and_what_is_read(
    upload_server: tuple[str, Received],
    tmp_path: Path,
    payload: bytes,
    sendfile_calls: SendfileCalls,
    case: str,
) -> None:
    """Only plain binary files of a known size, sent as they are, go by sendfile; the rest
    is read and written, and arrives all the same."""
    base, received = upload_server
    data = payload[: 2**20 + 3]
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    kwargs: dict[str, Any] = {}
    session_kwargs: dict[str, Any] = {}
    chunks: list[int] = []
    expected, by_kernel = data, False
    if case == "small":
        data = expected = payload[: 2**19 - 1]
        path.write_bytes(data)
        fobj: Any = path.open("rb")
    elif case == "bytesio":
        fobj = io.BytesIO(data)
    elif case == "text":
        text = "naïve\n" * 100_000
        (tmp_path / "f.txt").write_text(text, encoding="utf-8")
        fobj = (tmp_path / "f.txt").open(encoding="utf-8")
        expected = text.encode("utf-8")
    elif case == "compress":
        fobj = path.open("rb")
        kwargs["compress"] = "deflate"
    elif case == "chunked":
        fobj = path.open("rb")
        kwargs["chunked"] = True
    elif case == "trace":

        async def on_chunk(session: Any, ctx: Any, params: Any) -> None:
            chunks.append(len(params.chunk))

        config = hyperclient.TraceConfig()
        config.on_request_chunk_sent.append(on_chunk)
        session_kwargs["trace_configs"] = [config]
        fobj = path.open("rb")
    else:
        fobj = path.open("rb", buffering=0)
        by_kernel = True
    with fobj:
        async with ClientSession(connector=cubic(), **session_kwargs) as session:
            async with session.post(base + "/upload", data=fobj, **kwargs) as resp:
                assert resp.status == 200
    # (aiohttp.web inflates a deflated request body for its reader.)
    assert received.bodies == [("/upload", sha(expected), len(expected))]
    assert bool(sendfile_calls.calls) is by_kernel
    if case == "trace":
        assert sum(chunks) == len(data)


async def test_tls_falls_back_to_reading_the_file(
    https_upload: str,
    trusting: ssl.SSLContext,
    data_file: Path,
    payload: bytes,
    sendfile_calls: SendfileCalls,
) -> None:
    connector = TCPConnector(ssl=trusting, socket_factory=tuned_socket)
    with opened_at_start(data_file) as fobj:
        async with ClientSession(connector=connector) as session:
            async with session.post(https_upload, data=fobj) as resp:
                assert await resp.json() == {"sha": sha(payload[START:]), "length": SIZE - START}
        assert fobj.tell() == SIZE
    # Tried once (asyncio refuses TLS transports before sending a byte), then read.
    assert sendfile_calls.calls == [(START, 4 * 2**20)]
    assert sendfile_calls.errors == [RuntimeError]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def trusting(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


@pytest.fixture
async def https_upload(ca: trustme.CA) -> AsyncIterator[str]:
    """The upload application over TLS; its /upload URL."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    server = test_utils.TestServer(upload_app(Received()), host="127.0.0.1", port=0)
    await server.start_server(ssl=ctx)
    yield f"https://127.0.0.1:{server.port}/upload"
    await server.close()


def upload_on_uvloop(url: str, path: Path) -> tuple[Any, list[str]]:
    uvloop = pytest.importorskip("uvloop")
    attempts: list[str] = []

    class CountingLoop(uvloop.Loop):  # type: ignore[misc,name-defined]
        async def sendfile(self, *args: Any, **kwargs: Any) -> int:
            try:
                return await super().sendfile(*args, **kwargs)  # type: ignore[no-any-return]
            except NotImplementedError:
                attempts.append("NotImplementedError")
                raise

    async def main() -> Any:
        with opened_at_start(path) as fobj:
            async with ClientSession(connector=cubic()) as session:
                async with session.post(url, data=fobj) as resp:
                    result = await resp.json()
            assert fobj.tell() == SIZE
        return result

    return uvloop.run(main(), loop_factory=CountingLoop), attempts


async def test_uvloop_falls_back_to_reading_the_file(
    upload_server: tuple[str, Received], data_file: Path, payload: bytes
) -> None:
    if sys.platform == "win32":  # pragma: no cover
        pytest.skip("uvloop does not run on Windows")
    pytest.importorskip("uvloop")
    base, _ = upload_server
    # The server lives on this loop; the uvloop client runs in a thread of its own.
    result, attempts = await asyncio.to_thread(upload_on_uvloop, base + "/upload", data_file)
    assert result == {"sha": sha(payload[START:]), "length": SIZE - START}
    assert attempts == ["NotImplementedError"]


# -- reading off the event loop ----------------------------------------------------------------


@contextlib.asynccontextmanager
async def loop_gaps() -> AsyncIterator[list[float]]:
    """The gaps between the ticks of a 10 ms ticker on the running loop, while inside:
    a long one is a time the loop was held up."""
    gaps: list[float] = []

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(0.01)
            now = loop.time()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    try:
        yield gaps
    finally:
        ticking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticking


class CountingExecutor(concurrent.futures.ThreadPoolExecutor):
    """The loop's default executor, recording the name of each function it is given."""

    def __init__(self) -> None:
        super().__init__(max_workers=2)
        self.calls: list[str] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(getattr(fn, "__name__", repr(fn)))
        return super().submit(fn, *args, **kwargs)

    def reads(self) -> list[str]:
        return [name for name in self.calls if name in ("read", "pread")]


@pytest.fixture
async def executor() -> AsyncIterator[CountingExecutor]:
    pool = CountingExecutor()
    asyncio.get_running_loop().set_default_executor(pool)
    yield pool
    pool.shutdown(wait=True)


def page_cache_reads_work(path: Path) -> bool:
    """Whether this kernel and file system read *path* with RWF_NOWAIT."""
    if not hasattr(os, "RWF_NOWAIT"):  # pragma: no cover  # not Linux
        return False
    with path.open("rb") as fobj:
        try:
            return os.preadv(fobj.fileno(), [bytearray(16)], 0, os.RWF_NOWAIT) == 16
        except OSError:  # pragma: no cover  # EOPNOTSUPP: an old kernel or file system
            return False


async def upload_whole_file_over_tls(
    url: str, ctx: ssl.SSLContext, data_file: Path, payload: bytes
) -> None:
    """POST *data_file* from START over TLS (so it is read, not sent by the kernel); the
    server got every byte, and the file is left where read() would have left it."""
    with opened_at_start(data_file) as fobj:
        async with ClientSession(connector=TCPConnector(ssl=ctx)) as session:
            async with session.post(url, data=fobj) as resp:
                assert await resp.json() == {"sha": sha(payload[START:]), "length": SIZE - START}
        assert fobj.tell() == SIZE


async def test_a_file_in_the_page_cache_is_read_without_a_thread(
    https_upload: str,
    trusting: ssl.SSLContext,
    data_file: Path,
    payload: bytes,
    executor: CountingExecutor,
) -> None:
    if not page_cache_reads_work(data_file):  # pragma: no cover
        pytest.skip("no RWF_NOWAIT reads here")
    await upload_whole_file_over_tls(https_upload, trusting, data_file, payload)
    assert executor.reads() == []


@pytest.mark.parametrize(
    "error", [BlockingIOError(errno.EAGAIN, "not cached"), OSError(errno.EOPNOTSUPP, "no")]
)
async def test_a_piece_the_page_cache_cannot_give_is_read_by_a_thread(
    https_upload: str,
    trusting: ssl.SSLContext,
    data_file: Path,
    payload: bytes,
    executor: CountingExecutor,
    monkeypatch: pytest.MonkeyPatch,
    error: OSError,
) -> None:
    def preadv(*args: Any) -> int:
        raise error  # the OS error: a cold disk, or a file system without RWF_NOWAIT

    monkeypatch.setattr(os, "preadv", preadv)
    await upload_whole_file_over_tls(https_upload, trusting, data_file, payload)
    assert executor.reads() == ["pread"] * -(-(SIZE - START) // formdata.READ_SIZE)


async def test_partly_cached_pieces_are_sent_in_order(
    https_upload: str,
    trusting: ssl.SSLContext,
    data_file: Path,
    payload: bytes,
    executor: CountingExecutor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = os.preadv
    calls = 0

    def preadv(fd: int, buffers: Any, offset: int, flags: int = 0) -> int:
        # Odd calls find 1,000 bytes cached, even ones nothing: a thread reads those.
        nonlocal calls
        calls += 1
        if calls % 2 == 0:
            raise BlockingIOError(errno.EAGAIN, "not cached")
        return real(fd, [memoryview(buffers[0])[:1000]], offset, flags)

    if not page_cache_reads_work(data_file):  # pragma: no cover
        pytest.skip("no RWF_NOWAIT reads here")
    monkeypatch.setattr(os, "preadv", preadv)
    await upload_whole_file_over_tls(https_upload, trusting, data_file, payload)
    assert calls > 2
    assert executor.reads() == ["pread"] * (calls // 2)


@pytest.mark.parametrize("kind", ["binary", "text", "form"])
async def test_a_pipe_that_waits_does_not_hold_up_the_loop(
    upload_server: tuple[str, Received], kind: str
) -> None:
    base, received = upload_server
    r, w = os.pipe()
    data = b"z" * 200_000

    def feed() -> None:
        os.write(w, data)
        os.close(w)

    timer = threading.Timer(0.5, feed)  # the pipe stays empty for half a second
    with os.fdopen(r, "rb") if kind != "text" else os.fdopen(r, encoding="ascii") as fobj:
        body: Any = fobj
        if kind == "form":
            body = hyperclient.FormData()
            body.add_field("file", fobj, filename="pipe.bin")
        timer.start()
        try:
            async with loop_gaps() as gaps, ClientSession() as session:
                path = "/form" if kind == "form" else "/upload"
                async with session.post(base + path, data=body) as resp:
                    assert resp.status == 200
        finally:
            timer.join()
    if kind == "form":
        assert received.forms == [[["file", "pipe.bin", sha(data), len(data)]]]
    else:
        assert received.bodies == [("/upload", sha(data), len(data))]
    assert len(gaps) > 20
    assert max(gaps) < 0.25  # the loop ran while a thread waited


async def test_a_timeout_ends_a_pipe_upload_that_waits(
    upload_server: tuple[str, Received],
) -> None:
    base, received = upload_server
    r, w = os.pipe()
    fobj = os.fdopen(r, "rb")
    try:
        async with ClientSession(timeout=ClientTimeout(total=0.3)) as session:
            started = asyncio.get_running_loop().time()
            with pytest.raises(TimeoutError):
                await session.post(base + "/upload", data=fobj)
            assert asyncio.get_running_loop().time() - started < 2
            assert_pool_empty(session)
    finally:
        # The thread still in read() gets the end of the pipe and returns; only then can
        # the file close (closing waits for the lock that read() holds).
        os.close(w)
        fobj.close()
    assert received.bodies == []


async def test_a_default_socket_timeout_does_not_stall_the_answer_check(
    raw_server: Callable[..., Awaitable[RawServer]],
    tmp_path: Path,
    sendfile_calls: SendfileCalls,
) -> None:
    # While a segment waits for the server, the answer check peeks at the socket through
    # a socket object of its own, which takes socket.getdefaulttimeout(): it must not wait
    # that long for bytes with the loop stopped.
    path = big_sparse_file(tmp_path, 32 * 2**20)
    received = 0

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal received
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(300 * MS)  # reading nothing: the segment waits, checks run
        while received < 32 * 2**20:
            received += len(await reader.read(2**20))
        writer.write(OK)
        await writer.drain()

    srv = await raw_server(script)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(2.0)
    try:
        with path.open("rb") as fobj:
            async with loop_gaps() as gaps, ClientSession(connector=cubic()) as session:
                async with session.post(srv.url, data=fobj) as resp:
                    assert resp.status == 200
    finally:
        socket.setdefaulttimeout(previous)
    assert received == 32 * 2**20
    assert sendfile_calls.calls
    assert max(gaps) < 1.0
