"""Shared fixtures: real servers on 127.0.0.1:0 and leak checks.

Every functional test talks over real sockets: aiohttp.web (``aiohttp_server``), an ASGI
app on uvicorn (``asgi_server``), and raw scripted asyncio servers for byte-exact and
misbehaving peers (``raw_server``). Sleeps and timeouts are multiples of ``MS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import settings

# CI runs the same examples every time (no flaky red from a lucky random draw); local runs
# keep exploring and remember what they find in .hypothesis/, and `make fuzz` digs deeper.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

#: One "unit" of time for tests that sleep or time out (websockets' MS idea).
MS = 0.001 * float(os.environ.get("HYPERCLIENT_TEST_TIMEOUT_FACTOR", "1"))


def open_fds() -> int:
    """How many file descriptors this process holds, once garbage is collected: a socket
    left by an earlier test's closed loop (aiohttp's client closes its own after the
    loop ends) would otherwise close, when collected, in the middle of a count."""
    gc.collect()
    return len(os.listdir("/proc/self/fd"))


@contextlib.contextmanager
def cyclic_garbage() -> Iterator[list[str]]:
    """The names of the hyperclient objects the block left to the cyclic collector."""
    found: list[str] = []
    gc.collect()
    gc.disable()
    try:
        yield found
    finally:
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            gc.collect()
            names = {f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage}
            found.extend(sorted(n for n in names if n.startswith("hyperclient")))
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()


@pytest.fixture(autouse=True)
async def _no_task_leak() -> AsyncIterator[None]:
    """Fail a test that leaves tasks running in its loop."""
    yield
    # Let callbacks scheduled by close() run (transport close, connection_lost).
    for _ in range(3):
        await asyncio.sleep(0)
    current = asyncio.current_task()
    leaked = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    # Tasks owned by the servers under test are theirs to clean; ours never create any.
    ours = [t for t in leaked if "hyperclient" in repr(t.get_coro())]
    assert not ours, f"leaked tasks: {ours}"


@dataclass
class RawServer:
    """A scripted TCP server: each connection runs ``script(reader, writer)``."""

    host: str
    port: int
    connections: int = 0
    received: list[bytes] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
async def raw_server() -> AsyncIterator[Callable[[Script], Awaitable[RawServer]]]:
    """Start raw servers running a script per connection; all closed at the end."""
    servers: list[asyncio.Server] = []
    handlers: set[asyncio.Task[Any]] = set()

    async def start(script: Script) -> RawServer:
        info = RawServer("127.0.0.1", 0)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            info.connections += 1
            task = asyncio.current_task()
            assert task is not None
            handlers.add(task)
            try:
                await script(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                handlers.discard(task)
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        info.port = server.sockets[0].getsockname()[1]
        return info

    yield start
    for task in list(handlers):
        task.cancel()
    for server in servers:
        server.close()
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """Read one request head and its body (Content-Length or chunked); returns both."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    chunked = False
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
        elif name.lower() == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if not chunked:
        return head, (await reader.readexactly(length) if length else b"")
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        data = await reader.readexactly(size + 2)
        if size == 0:
            return head, body
        body += data[:-2]


def assert_pool_empty(session: Any) -> None:
    """No connection of *session*'s connector is idle or in use: a broken or abandoned
    one was closed, not pooled."""
    stats = session.connector.stats()
    assert all(s.idle == 0 and s.in_use == 0 for s in stats.values()), stats


#: The smallest complete keep-alive response.
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


#: An early refusal that closes the connection (RFC 9112 §9.6), for upload tests.
TOO_BIG = (
    b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big!"
)


async def stall(writer: asyncio.StreamWriter) -> None:
    """In a :func:`raw_server` script: stop reading the socket for good, so the client's
    sends back up; the fixture cancels the script when the test ends."""
    writer.transport.pause_reading()
    await asyncio.get_running_loop().create_future()


async def answer_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A raw server script: read each request whole and answer :data:`OK`, until EOF."""
    while True:
        await read_request(reader)
        writer.write(OK)
        await writer.drain()


def closing_when_asked(lines: list[tuple[int, bytes]]) -> Script:
    """A :func:`raw_server` script: record ``(connection number, request line)`` and
    answer :data:`OK`; after a request whose ``Connection`` holds "close", close the
    connection a moment later (as a server acting on it late)."""
    connections = 0

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        number = connections
        while True:
            head, _ = await read_request(reader)
            lines.append((number, head.split(b"\r\n")[0]))
            writer.write(OK)
            await writer.drain()
            if b"close" in head.lower().split(b"\r\nconnection:")[-1].split(b"\r\n")[0]:
                await asyncio.sleep(50 * MS)
                return

    return script


def recording(heads: list[bytes], *answers: bytes) -> Script:
    """A :func:`raw_server` script: record each request head (body read and dropped),
    answer it with the next of *answers*, then :data:`OK`, until EOF."""
    queue = list(answers)

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, _ = await read_request(reader)
            heads.append(head)
            writer.write(queue.pop(0) if queue else OK)
            await writer.drain()

    return script


@pytest.fixture
async def aiohttp_server() -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """Start an aiohttp.web application on 127.0.0.1:0; returns its TestServer."""
    from aiohttp import test_utils

    servers: list[test_utils.TestServer] = []

    async def start(app: Any, **kwargs: Any) -> test_utils.TestServer:
        server = test_utils.TestServer(app, host="127.0.0.1", port=0, **kwargs)
        await server.start_server()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def asgi_server() -> AsyncIterator[Callable[[Any], Awaitable[str]]]:
    """Run an ASGI app on uvicorn (a non-aiohttp server); returns its base URL."""
    import uvicorn

    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(app: Any) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_level="error",
            access_log=False,
            loop="none",
            http="h11",
        )
        server = uvicorn.Server(config)
        task = asyncio.ensure_future(server.serve(sockets=[sock]))
        for _ in range(5000):  # uvicorn offers no event for "started"
            if server.started:
                break
            await asyncio.sleep(0.001)
        servers.append((server, task))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, task in servers:
        server.should_exit = True
        await task
    gc.collect()
