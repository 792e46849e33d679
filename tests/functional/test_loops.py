"""A session across event loops: kept past ``asyncio.run()``, shared with a thread, left open.

Sync tests: each runs its own loops (``asyncio.run``), against a threaded stdlib HTTP/1.1
server that outlives them and counts what it executed and which connections are open.
"""

from __future__ import annotations

import asyncio
import gc
import http.server
import ssl
import threading
import warnings
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest
import trustme
import uvloop
from yarl import URL

import hyperclient
from hyperclient import ClientSession, TCPConnector
from hyperclient.timers import CoarseTimers

from ..conftest import open_fds

LoopFactory = Callable[[], asyncio.AbstractEventLoop]
LOOPS = [
    pytest.param(asyncio.new_event_loop, id="asyncio"),
    pytest.param(uvloop.new_event_loop, id="uvloop"),
]


class CountingServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.posts = 0
        self.open_connections = 0
        self.lock = threading.Lock()
        self.hold = threading.Event()  # /hold sends half its body, the rest once set

    scheme = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server_address[1]}/"

    def wait_open(self, n: int) -> bool:
        """Wait (briefly) until exactly *n* client connections are open."""
        for _ in range(200):
            if self.open_connections == n:
                return True
            threading.Event().wait(0.01)
        return False


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server: CountingServer

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.open_connections += 1

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.lock:
                self.server.open_connections -= 1

    def do_GET(self) -> None:
        if self.path == "/hold":
            self.send_response(200)
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"ab")
            self.wfile.flush()
            self.server.hold.wait(10)
            self.wfile.write(b"cd")
            return
        self._answer(b"ok")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.server.lock:
            self.server.posts += 1
        self._answer(b"posted")

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[CountingServer]:
    yield from _serving(CountingServer())


@pytest.fixture
def tls_server() -> Iterator[tuple[CountingServer, ssl.SSLContext]]:
    ca = trustme.CA()
    srv = CountingServer()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    srv.socket = context.wrap_socket(srv.socket, server_side=True)
    srv.scheme = "https"
    client = ssl.create_default_context()
    ca.configure_trust(client)
    for running in _serving(srv):
        yield running, client


def _serving(srv: CountingServer) -> Iterator[CountingServer]:
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)


def run(factory: LoopFactory, coro: Coroutine[Any, Any, Any]) -> Any:
    with warnings.catch_warnings():
        # uvloop warns of the pooled connection it closes with the loop (kept on purpose:
        # the session outlives the loop); an error raised there hangs uvloop's close.
        warnings.filterwarnings("ignore", "unclosed resource <TCPTransport", ResourceWarning)
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(coro)


@pytest.mark.parametrize("factory", LOOPS)
def test_session_kept_across_asyncio_runs(factory: LoopFactory, server: CountingServer) -> None:
    """Each run gets a fresh connection; the dead loop's one is closed, never reused, and
    no request is sent on it (a POST reported failed but executed would be sent twice)."""
    session = ClientSession()  # outside any loop, as in a sync wrapper
    factory().close()  # uvloop opens two descriptors of its own, once per process
    before = open_fds()

    async def post() -> bytes:
        async with session.post(server.url, data=b"x") as resp:
            return await resp.read()

    for i in range(3):
        assert run(factory, post()) == b"posted"
        assert server.posts == i + 1
        # The previous loop's connection is closed (uvloop's with its loop, already).
        assert server.wait_open(0 if factory is uvloop.new_event_loop else 1)
        assert open_fds() <= before + 2  # its two ends: ours, and the server's (in-process)
    session.close()  # plain call, after the last loop is closed
    assert server.wait_open(0)
    assert open_fds() <= before


@pytest.mark.parametrize("factory", LOOPS)
@pytest.mark.parametrize("awaited", [False, True])
def test_close_after_the_loop_closed(
    factory: LoopFactory, awaited: bool, server: CountingServer
) -> None:
    async def make() -> ClientSession:
        session = ClientSession()
        for _ in range(2):
            async with session.get(server.url) as resp:
                assert await resp.read() == b"ok"
        return session

    factory().close()  # uvloop opens two descriptors of its own, once per process
    before = open_fds()
    session = run(factory, make())
    # Pooled past its loop; uvloop closes every transport with its loop, asyncio does not.
    assert server.wait_open(0 if factory is uvloop.new_event_loop else 1)
    if awaited:

        async def close() -> None:
            await session.close()  # in another loop: nothing to wait for there

        run(factory, close())
    else:
        session.close()
    assert session.closed
    assert server.wait_open(0)
    assert open_fds() <= before


def test_session_refuses_a_loop_in_another_thread(server: CountingServer) -> None:
    """Two threads' loops sharing pooled connections would write from both: the second
    loop's request is refused before anything is sent, and the first loop carries on."""
    ready, done = threading.Event(), threading.Event()
    session: list[ClientSession] = []

    async def owner() -> None:
        session.append(ClientSession())
        async with session[0].post(server.url, data=b"x") as resp:
            await resp.read()
        ready.set()
        await asyncio.to_thread(done.wait, 10)  # the loop runs on meanwhile
        async with session[0].post(server.url, data=b"x") as resp:  # still works
            assert await resp.read() == b"posted"
        await session[0].close()

    thread = threading.Thread(target=asyncio.run, args=(owner(),))
    thread.start()
    try:
        assert ready.wait(10)

        async def intruder() -> None:
            with pytest.raises(RuntimeError, match="another event loop, which is running"):
                await session[0].post(server.url, data=b"x")

        asyncio.run(intruder())
        assert server.posts == 1
    finally:
        done.set()
        thread.join(10)
    assert server.posts == 2


def test_loop_argument_outside_a_loop_binds_the_connector() -> None:
    """``loop=L`` given outside any loop and then used on another: a clear error, not a
    future attached to the wrong loop."""
    other = asyncio.new_event_loop()
    try:
        connector = TCPConnector(loop=other)
        session = ClientSession(loop=other)

        async def use() -> None:
            for s in (ClientSession(connector=connector), session):
                with pytest.raises(RuntimeError, match="another event loop, which is not closed"):
                    await s.get("http://127.0.0.1:1/")
                await s.close()

        asyncio.run(use())
    finally:
        other.close()


async def test_unclosed_session_is_reported_by_the_loop(server: CountingServer) -> None:
    """As aiohttp: the loop's exception handler hears of it (shown even when
    ResourceWarning is filtered out), and the connector is not kept alive by its timer."""
    loop = asyncio.get_running_loop()
    reports: list[str] = []
    loop.set_exception_handler(lambda _loop, context: reports.append(context["message"]))
    try:
        session = ClientSession()
        async with session.get(server.url) as resp:
            await resp.read()
        with warnings.catch_warnings():
            # Not recorded: a recorded warning holds its source, the session, alive.
            warnings.simplefilter("ignore", ResourceWarning)
            del session, resp
            gc.collect()
        assert reports == ["Unclosed client session", "Unclosed connector"]
        for _ in range(100):  # the transport closes its socket on the next iteration
            if server.open_connections == 0:
                break
            await asyncio.sleep(0.01)
        assert server.open_connections == 0  # the connector's idle connection was closed
    finally:
        loop.set_exception_handler(None)


async def test_closing_the_session_leaves_no_timer_on_the_loop(server: CountingServer) -> None:
    loop = asyncio.get_running_loop()

    def wheel_timers() -> list[asyncio.TimerHandle]:
        scheduled: list[asyncio.TimerHandle] = loop._scheduled  # type: ignore[attr-defined]
        owners = [getattr(getattr(h, "_callback", None), "__self__", None) for h in scheduled]
        return [
            h
            for h, owner in zip(scheduled, owners, strict=True)
            if not h.cancelled() and isinstance(owner, CoarseTimers)
        ]

    async with ClientSession(timeout=hyperclient.ClientTimeout(total=300)) as session:
        async with session.get(server.url) as resp:
            await resp.read()
        assert len(wheel_timers()) == 1  # the total budget's coarse timer
    assert wheel_timers() == []


def test_response_of_a_closed_loop_released_later(server: CountingServer) -> None:
    """Its connection died with its loop and left the pool: releasing it later must not
    count it off the connections of the loop now running (limits would be overrun)."""
    session = ClientSession(connector=TCPConnector(limit=1))

    async def first() -> hyperclient.ClientResponse:
        return await session.get(server.url + "hold")  # its body unfinished: in use

    old = run(asyncio.new_event_loop, first())

    async def second() -> None:
        async with session.get(server.url + "hold") as resp:
            old.release()
            connector = session.connector
            assert connector is not None
            assert [s.in_use for s in connector.stats().values()] == [1]
            server.hold.set()
            assert await resp.read() == b"abcd"
        await session.close()

    run(asyncio.new_event_loop, second())
    assert server.wait_open(0)


def test_tls_session_kept_across_asyncio_runs(
    tls_server: tuple[CountingServer, ssl.SSLContext],
) -> None:
    """asyncio's TLS transport sits on a socket transport: the dead loop's socket is
    closed below it, not left to the collector."""
    server, trusting = tls_server
    session = ClientSession(connector=TCPConnector(ssl=trusting))
    before = open_fds()

    async def get() -> bytes:
        async with session.get(server.url) as resp:
            return await resp.read()

    for _ in range(3):
        assert run(asyncio.new_event_loop, get()) == b"ok"
        assert server.wait_open(1)
        assert open_fds() <= before + 2  # ours and the server's end (in-process)
    session.close()
    assert server.wait_open(0)
    assert open_fds() <= before


def test_connect_without_reuse_binds_to_the_running_loop(server: CountingServer) -> None:
    """``connector.connect(req, reuse=False)`` called directly (no pooled look first)
    leaves the closed loop's connections too."""
    connector = TCPConnector()

    async def once() -> None:
        req = hyperclient.ClientRequest("GET", URL(server.url), loop=asyncio.get_running_loop())
        conn = await connector.connect(req, reuse=False)
        conn.release()  # reusable (nothing was sent): pooled on this loop
        assert [s.idle for s in connector.stats().values()] == [1]

    run(asyncio.new_event_loop, once())
    run(asyncio.new_event_loop, once())  # the first loop's idle one is gone, not counted
    connector.close()
    assert server.wait_open(0)
