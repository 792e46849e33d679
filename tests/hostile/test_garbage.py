"""Failed, cancelled and timed-out requests are freed by reference counting alone.

Garbage only the cyclic collector can free costs CPU on every collection and keeps
connections, buffers and tasks alive until it runs. Each case runs with the collector
off and then lists the hyperclient objects that only it could free: there must be none.
(asyncio's own transports leave a few cyclic objects per closed connection; those are
not ours and are not counted.)
"""

from __future__ import annotations

import asyncio
import gc
import warnings
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import hyperclient
from hyperclient import ClientSession, ClientTimeout
from hyperclient.timers import coarse_timers

from ..conftest import MS, RawServer, cyclic_garbage, read_request

HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"


async def _script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    head, _ = await read_request(reader)
    if b"/part" in head:  # part of a body, then nothing
        writer.write(HEAD + b"x" * 1000)
        await writer.drain()
        await asyncio.sleep(10)
    elif b"/silent" in head:
        await asyncio.sleep(10)
    elif b"/hangup" in head:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-")
        await writer.drain()
    elif b"/big" in head:  # one that fills the receive buffer in a read, then closes
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n" + b"x" * 1048576)
        await writer.drain()
    elif b"/garbage" in head:
        writer.write(b"HTTP/1.1 two hundred\r\n\r\n")
        await writer.drain()
    writer.close()


async def _unread(session: ClientSession, url: str) -> None:
    async with session.get(url + "/part") as resp:
        assert resp.status == 200  # left without reading: the connection is closed


Case = Callable[[ClientSession, str], Awaitable[None]]


def _failing(name: str, path: str, error: type[Exception], **kwargs: Any) -> Case:
    """A case: a GET of *path* that must raise *error*."""

    async def case(session: ClientSession, url: str) -> None:
        try:
            await session.get(url + path, **kwargs)
        except error:
            return
        raise AssertionError(f"no {error.__name__}")

    case.__name__ = name
    return case


_total_before_head = _failing(
    "total_before_head",
    "/silent",
    hyperclient.ServerTimeoutError,
    timeout=ClientTimeout(total=0.02),
)
_sock_read = _failing(
    "sock_read", "/silent", hyperclient.ServerTimeoutError, timeout=ClientTimeout(sock_read=0.02)
)
_hangup = _failing("hangup", "/hangup", hyperclient.ServerDisconnectedError)
_bad_head = _failing("bad_head", "/garbage", hyperclient.ClientResponseError)


async def _total_in_body(session: ClientSession, url: str) -> None:
    try:
        resp = await session.get(url + "/part", timeout=ClientTimeout(total=50 * MS))
        await resp.read()
    except hyperclient.ServerTimeoutError:
        return
    raise AssertionError("no timeout")


async def _cancelled_in_body(session: ClientSession, url: str) -> None:
    async def read() -> None:
        async with session.get(url + "/part") as resp:
            await resp.read()

    await _cancel_soon(read())


async def _cancelled_before_head(session: ClientSession, url: str) -> None:
    await _cancel_soon(session.get(url + "/silent"))  # a task drives it by send/throw


async def _cancelled_ws_handshake(session: ClientSession, url: str) -> None:
    await _cancel_soon(session.ws_connect(url + "/silent"))


async def _cancelled_module_level(session: ClientSession, url: str) -> None:
    await _cancel_soon(hyperclient.get(url + "/silent"))  # a session of its own


async def _cancel_soon(awaitable: Any) -> None:
    """Run *awaitable* as a task, cancel it after 20 ms; it must end cancelled."""
    task = asyncio.ensure_future(awaitable)
    await asyncio.sleep(20 * MS)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        return
    raise AssertionError("not cancelled")


async def _big_body_then_close(session: ClientSession, url: str) -> None:
    async with session.get(url + "/big") as resp:
        assert len(await resp.read()) == 1048576


@pytest.mark.parametrize(
    "case",
    [
        _unread,
        _total_before_head,
        _total_in_body,
        _sock_read,
        _hangup,
        _bad_head,
        _cancelled_in_body,
        _cancelled_before_head,
        _cancelled_ws_handshake,
        _cancelled_module_level,
        _big_body_then_close,
    ],
    ids=lambda case: case.__name__.strip("_"),
)
@pytest.mark.parametrize("traced", [False, True])
async def test_a_failed_request_leaves_no_cyclic_garbage(
    case: Case, traced: bool, raw_server: Any
) -> None:
    srv: RawServer = await raw_server(_script)
    traces = [hyperclient.TraceConfig()] if traced else None
    async with ClientSession(trace_configs=traces) as session:
        await case(session, srv.url)  # first use: caches and templates are made
        with cyclic_garbage() as found:
            for _ in range(3):
                await case(session, srv.url)
            await asyncio.sleep(5 * MS)  # connections closed, timers cancelled
    # _total_in_body's stream keeps the timeout it raised (the same error on every read),
    # and the traceback of a raised error holds the frames it passed: that one is the
    # caller's to drop.
    if case is _total_in_body:
        found[:] = [n for n in found if n not in _RAISED_BY_A_STREAM]
    assert found == []


_RAISED_BY_A_STREAM = {
    "hyperclient.client_exceptions.ServerTimeoutError",
    "hyperclient.errors.ServerTimeoutError",
    "hyperclient.response.ClientResponse",
    "hyperclient.streams.StreamReader",
    "hyperclient.protocol.ResponseHandler",
    "hyperclient.connector.Connection",
    "hyperclient.tracing.Trace",
}


async def test_a_session_dropped_unclosed_is_freed_and_reported_at_once(
    raw_server: Any,
) -> None:
    """Its prepared requests must not point back at it: then, like aiohttp's, an
    unclosed session is reported when dropped, not whenever the collector runs."""

    async def ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()

    srv: RawServer = await raw_server(ok)
    session = ClientSession()
    async with session.get(srv.url) as resp:
        assert await resp.read() == b"ok"
    del resp
    ref = weakref.ref(session)
    await asyncio.sleep(0)  # the loop's handle that woke us holds the last future
    gc.disable()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del session
        # Reported by its finaliser, with the collector off: freed by reference counting.
        assert any("Unclosed client session" in str(w.message) for w in caught)
        del caught  # the warning's source was the session
        assert ref() is None
    finally:
        gc.enable()


async def test_a_response_dropped_mid_body_frees_its_task(raw_server: Any) -> None:
    """The total budget outlives the request while the body is read; a response dropped
    unread must not keep the finished task (and its result) alive until it runs out."""
    srv: RawServer = await raw_server(_script)

    class Result:
        pass

    async with ClientSession() as session:

        async def work() -> Result:
            resp = await session.get(srv.url + "/part")
            assert resp.status == 200
            del resp  # dropped without reading or releasing
            return Result()

        task = asyncio.ensure_future(work())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            result = weakref.ref(await task)
            del task
            await asyncio.sleep(0)  # the loop's handle that woke us holds the task
            gc.collect()
        assert result() is None
        # Nor does its budget wait in the loop's timers until it would have run out.
        assert not any(coarse_timers(asyncio.get_running_loop())._buckets.values())


async def test_a_response_kept_unread_does_not_keep_its_task(raw_server: Any) -> None:
    """The same with the response kept: its budget still runs, but needs no task."""
    srv: RawServer = await raw_server(_script)

    class Result:
        pass

    kept: list[hyperclient.ClientResponse] = []
    async with ClientSession() as session:

        async def work() -> Result:
            kept.append(await session.get(srv.url + "/part"))
            return Result()

        task = asyncio.ensure_future(work())
        result = weakref.ref(await task)
        del task
        await asyncio.sleep(0)
        gc.collect()
        assert result() is None
        kept[0].release()


def test_a_refused_connection_on_uvloop_leaves_no_cyclic_garbage() -> None:
    """uvloop opens a single plain address in a task of its own: its failure must not
    keep that task (and the error it holds) in a cycle with the frame that awaited it."""
    uvloop = pytest.importorskip("uvloop")
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    sock.close()

    async def refused(session: ClientSession) -> None:
        try:
            await session.get(url)
        except hyperclient.ClientConnectorError:
            return
        raise AssertionError("not refused")

    async def main() -> list[str]:
        async with ClientSession() as session:
            await refused(session)
            with cyclic_garbage() as found:
                for _ in range(3):
                    await refused(session)
        return found

    assert uvloop.run(main()) == []
