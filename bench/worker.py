"""Run one (client, event loop, workload) measurement in this process.

Started by bench/run.py, one fresh process per measurement.  Protocol on
stdout, one JSON object per line: ``{"event": "start"}`` when the measured
window opens, ``{"event": "end"}`` when it closes (the orchestrator samples the
server's CPU time at both), then the result object with ``"status"`` set to
``"ok"``, ``"n/a"`` (client missing or lacking a feature) or ``"error"``.

CPU is ``resource.getrusage(RUSAGE_SELF)`` utime+stime, taken at the window's
edges, so start-up, imports, connection warm-up and teardown are excluded.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import resource
import socket
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any, cast
from urllib.parse import urlsplit

from common import (
    MIB_PATH,
    ONE_MIB,
    SMALL_BODY,
    UPLOAD_REPLY,
    WORKLOADS,
    Workload,
    emit,
    raise_nofile,
)

CHUNK = 64 * 1024


class Unsupported(Exception):
    """The client cannot run this workload (missing module or feature)."""


class BadResponse(Exception):
    pass


class Stats:
    __slots__ = ("bytes", "count", "errors", "samples")

    def __init__(self) -> None:
        self.count = 0
        self.bytes = 0
        self.errors = 0
        self.samples: list[str] = []

    def error(self, exc: BaseException) -> None:
        self.errors += 1
        text = f"{type(exc).__name__}: {exc}"[:300]
        if len(self.samples) < 3 and text not in self.samples:
            self.samples.append(text)


Op = Callable[[Stats], Awaitable[int]]


class Config:
    def __init__(self, args: argparse.Namespace) -> None:
        self.base: str = args.url.rstrip("/")
        self.ws_url: str = args.ws_url
        self.stream_size: int = args.stream_size
        self.inflight: int = args.inflight
        parts = urlsplit(self.base)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80

    def expected(self, wl: Workload) -> int:
        """Body length of a successful response for this workload."""
        if wl.kind == "stream":
            return self.stream_size
        if wl.kind == "post":
            return len(UPLOAD_REPLY)
        if wl.path == MIB_PATH:
            return ONE_MIB
        return len(SMALL_BODY)


def check(status: int, got: int, want: int) -> None:
    if status != 200 or got != want:
        raise BadResponse(f"status {status}, {got} body bytes (expected 200, {want})")


# --------------------------------------------------------------------------- #
# aiohttp and hyperclient (same public API)
# --------------------------------------------------------------------------- #


def load_aiohttp_like(name: str, wl: Workload) -> ModuleType:
    try:
        mod = importlib.import_module(name)
    except Exception as exc:
        raise Unsupported(f"{name} not importable: {type(exc).__name__}: {exc}") from exc
    needed = ["ClientSession"]
    if wl.kind not in ("ws", "sessions"):
        needed.append("TCPConnector")
    missing = [attr for attr in needed if not hasattr(mod, attr)]
    session_cls = getattr(mod, "ClientSession", None)
    if wl.kind == "ws" and session_cls is not None and not hasattr(session_cls, "ws_connect"):
        missing.append("ClientSession.ws_connect")
    if missing:
        raise Unsupported(f"{name} lacks {', '.join(missing)}")
    return mod


@asynccontextmanager
async def aiohttp_like(mod: ModuleType, wl: Workload, cfg: Config) -> AsyncIterator[Op]:
    if wl.kind == "sessions":

        async def new_session(st: Stats) -> int:
            async with mod.ClientSession():
                pass
            return 0

        yield new_session
        return

    if wl.kind == "ws":
        msg = os.urandom(wl.size)
        async with mod.ClientSession() as session, session.ws_connect(cfg.ws_url) as ws:

            async def echo(st: Stats) -> int:
                await ws.send_bytes(msg)
                reply = await ws.receive()
                if reply.data != msg:
                    raise BadResponse(f"unexpected WebSocket message {reply!r:.200}")
                return len(msg)

            yield echo
        return

    limit = 0 if wl.kind == "inflight" else wl.concurrency
    connector = mod.TCPConnector(limit=limit, force_close=wl.kind == "newconn")
    url = cfg.base + wl.path
    want = cfg.expected(wl)
    async with mod.ClientSession(connector=connector) as session:
        if wl.kind == "stream":

            async def op(st: Stats) -> int:
                async with session.get(url) as resp:
                    got = 0
                    async for chunk in resp.content.iter_chunked(CHUNK):
                        got += len(chunk)
                        st.bytes += len(chunk)
                    check(resp.status, got, want)
                return 0

        elif wl.kind == "post":
            body = os.urandom(ONE_MIB)

            async def op(st: Stats) -> int:
                async with session.post(url, data=body) as resp:
                    check(resp.status, len(await resp.read()), want)
                return len(body)

        else:

            async def op(st: Stats) -> int:
                async with session.get(url) as resp:
                    data = await resp.read()
                    check(resp.status, len(data), want)
                return len(data)

        yield op


# --------------------------------------------------------------------------- #
# httpx
# --------------------------------------------------------------------------- #


@asynccontextmanager
async def httpx_client(wl: Workload, cfg: Config) -> AsyncIterator[Op]:
    import httpx

    if wl.kind == "sessions":

        async def new_client(st: Stats) -> int:
            async with httpx.AsyncClient():
                pass
            return 0

        yield new_client
        return

    if wl.kind == "inflight":
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    else:
        # httpx keeps only 20 idle connections by default; at c=64 that would
        # turn the keep-alive workload into connection churn.
        limits = httpx.Limits(
            max_connections=wl.concurrency, max_keepalive_connections=wl.concurrency
        )
    headers = {"Connection": "close"} if wl.kind == "newconn" else None
    url = cfg.base + wl.path
    want = cfg.expected(wl)
    # httpx's default 5 s timeouts would fire in the 10,000-in-flight workload.
    async with httpx.AsyncClient(
        limits=limits, headers=headers, timeout=httpx.Timeout(120.0)
    ) as client:
        if wl.kind == "stream":

            async def op(st: Stats) -> int:
                async with client.stream("GET", url) as resp:
                    got = 0
                    async for chunk in resp.aiter_bytes(CHUNK):
                        got += len(chunk)
                        st.bytes += len(chunk)
                    check(resp.status_code, got, want)
                return 0

        elif wl.kind == "post":
            body = os.urandom(ONE_MIB)

            async def op(st: Stats) -> int:
                resp = await client.post(url, content=body)
                check(resp.status_code, len(resp.content), want)
                return len(body)

        else:

            async def op(st: Stats) -> int:
                resp = await client.get(url)
                check(resp.status_code, len(resp.content), want)
                return len(resp.content)

        yield op


# --------------------------------------------------------------------------- #
# websockets (WebSocket workloads only)
# --------------------------------------------------------------------------- #


@asynccontextmanager
async def websockets_client(wl: Workload, cfg: Config) -> AsyncIterator[Op]:
    from websockets.asyncio.client import connect

    msg = os.urandom(wl.size)
    async with connect(cfg.ws_url, compression=None, max_size=None) as ws:

        async def echo(st: Stats) -> int:
            await ws.send(msg)
            reply = await ws.recv()
            if reply != msg:
                raise BadResponse("unexpected WebSocket message")
            return len(msg)

        yield echo


# --------------------------------------------------------------------------- #
# floor: the least an asyncio program can do
# --------------------------------------------------------------------------- #


def send_and_read_head(sock: socket.socket, request: bytes, what: str) -> tuple[bytes, bytes]:
    """Send ``request`` (blocking); return the response head and the bytes after it."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise BadResponse(f"connection closed during {what}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def probe_response_length(host: str, port: int, request: bytes) -> tuple[int, int]:
    """Send ``request`` once (blocking); return (response length, body length)."""
    with socket.create_connection((host, port), timeout=10) as sock:
        head, rest = send_and_read_head(sock, request, "probe")
        if not head.startswith(b"HTTP/1.1 200 "):
            raise BadResponse(f"probe got {head[:40]!r}")
        length = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise BadResponse("probe response has no Content-Length")
        got = len(rest)
        while got < length:
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise BadResponse("connection closed during probe body")
            got += len(chunk)
        return len(head) + 4 + length, length


#: One receive buffer for every floor connection: the floor only counts bytes, so it
#: never copies them out (a BufferedProtocol: no allocation per read at all).
FLOOR_BUFFER = memoryview(bytearray(256 * 1024))


class FloorProtocol(asyncio.BufferedProtocol):
    """Counts response bytes of a known total length; nothing else."""

    __slots__ = ("loop", "remaining", "stats", "transport", "waiter")

    def __init__(self, loop: asyncio.AbstractEventLoop, stats: Stats | None = None) -> None:
        self.loop = loop
        self.stats = stats  # when set, bytes are counted as they arrive (stream)
        self.transport: asyncio.Transport | None = None
        self.remaining = 0
        self.waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop: not a subclass

    def get_buffer(self, sizehint: int) -> memoryview:
        return FLOOR_BUFFER

    def buffer_updated(self, n: int) -> None:
        self.remaining -= n
        if self.stats is not None:
            self.stats.bytes += n
        if self.remaining <= 0:
            waiter, self.waiter = self.waiter, None
            if waiter is not None and not waiter.done():
                if self.remaining == 0:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(BadResponse("more response bytes than expected"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(ConnectionError(f"connection lost: {exc}"))

    def roundtrip(self, request: bytes, expected: int) -> asyncio.Future[None]:
        assert self.transport is not None
        self.remaining = expected
        self.waiter = waiter = self.loop.create_future()
        self.transport.write(request)
        return waiter


def probe_handshake_length(host: str, port: int, request: bytes) -> int:
    """Send a WebSocket handshake once (blocking); return the 101 response's length."""
    with socket.create_connection((host, port), timeout=10) as sock:
        head, rest = send_and_read_head(sock, request, "handshake probe")
        if not head.startswith(b"HTTP/1.1 101 ") or rest:
            raise BadResponse(f"handshake probe got {(head + rest)[:60]!r}")
        return len(head) + 4


@asynccontextmanager
async def floor_ws(wl: Workload, cfg: Config) -> AsyncIterator[Op]:
    """WebSocket echo floor: one pre-built masked frame out, a known byte count back.

    No masking per message (the frame is built once), no parsing, no message objects:
    what is left is the event loop and the kernel, the part no client can shed.
    """
    loop = asyncio.get_running_loop()
    parts = urlsplit(cfg.ws_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    handshake = (
        f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    head_len = await asyncio.to_thread(probe_handshake_length, host, port, handshake)
    payload, key = os.urandom(wl.size), os.urandom(4)
    n = len(payload)
    masked = (
        int.from_bytes(payload, "little") ^ int.from_bytes((key * (n // 4 + 1))[:n], "little")
    ).to_bytes(n, "little")
    if n < 126:
        frame = bytes((0x82, 0x80 | n)) + key + masked
        echoed = 2 + n
    elif n < 1 << 16:
        frame = bytes((0x82, 0x80 | 126)) + n.to_bytes(2, "big") + key + masked
        echoed = 4 + n
    else:  # RFC 6455 §5.2: 127 and a 64-bit length
        frame = bytes((0x82, 0x80 | 127)) + n.to_bytes(8, "big") + key + masked
        echoed = 10 + n
    transport, proto = await loop.create_connection(lambda: FloorProtocol(loop), host, port)
    try:
        await proto.roundtrip(handshake, head_len)

        async def echo(st: Stats) -> int:
            await proto.roundtrip(frame, echoed)
            return n

        yield echo
    finally:
        transport.close()


@asynccontextmanager
async def floor_client(wl: Workload, cfg: Config) -> AsyncIterator[Op]:
    if wl.kind == "sessions":
        raise Unsupported("floor has no session variant")
    if wl.kind == "ws":
        async with floor_ws(wl, cfg) as op:
            yield op
        return
    loop = asyncio.get_running_loop()
    host, port = cfg.host, cfg.port
    hostport = f"{host}:{port}".encode()
    path = wl.path.encode()
    if wl.kind == "post":
        body = os.urandom(ONE_MIB)
        request = (
            b"POST " + path + b" HTTP/1.1\r\nHost: " + hostport
            + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )  # fmt: skip
    else:
        close = b"Connection: close\r\n" if wl.kind == "newconn" else b""
        request = b"GET " + path + b" HTTP/1.1\r\nHost: " + hostport + b"\r\n" + close + b"\r\n"
    expected, body_len = await asyncio.to_thread(probe_response_length, host, port, request)
    # Bytes credited per request, as for the other clients: response body bytes,
    # or the request body for uploads.
    credit = ONE_MIB if wl.kind == "post" else body_len

    if wl.kind in ("newconn", "inflight"):
        # A fresh connection per request (inflight: so they are all in flight at once).

        async def fresh(st: Stats) -> int:
            transport, proto = await loop.create_connection(lambda: FloorProtocol(loop), host, port)
            try:
                await proto.roundtrip(request, expected)
            finally:
                transport.close()
            return credit

        yield fresh
        return

    free: list[FloorProtocol] = []
    opened: list[asyncio.Transport] = []
    stream = wl.kind == "stream"

    async def op(st: Stats) -> int:
        if free:
            proto = free.pop()
        else:
            transport, proto = await loop.create_connection(
                lambda: FloorProtocol(loop, st if stream else None), host, port
            )
            opened.append(transport)
        try:
            await proto.roundtrip(request, expected)
        except BaseException:
            if proto.transport is not None:
                proto.transport.close()  # never reuse a connection in an unknown state
            raise
        free.append(proto)
        return 0 if stream else credit

    try:
        yield op
    finally:
        for transport in opened:
            transport.close()


# --------------------------------------------------------------------------- #
# drivers
# --------------------------------------------------------------------------- #


def cpu_now() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


async def drive_duration(
    op: Op, concurrency: int, warmup: float, duration: float, st: Stats
) -> dict[str, Any]:
    stop = False

    async def loop_ops() -> None:
        while not stop:
            try:
                n = await op(st)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                st.error(exc)
                await asyncio.sleep(0.01)
                continue
            st.count += 1
            st.bytes += n

    tasks = [asyncio.create_task(loop_ops()) for _ in range(concurrency)]
    await asyncio.sleep(warmup)
    emit({"event": "start"})
    c0, b0, cpu0, t0 = st.count, st.bytes, cpu_now(), time.perf_counter()
    await asyncio.sleep(duration)
    c1, b1, cpu1, t1 = st.count, st.bytes, cpu_now(), time.perf_counter()
    emit({"event": "end"})
    stop = True
    _done, pending = await asyncio.wait(tasks, timeout=30)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"count": c1 - c0, "bytes": b1 - b0, "cpu": cpu1 - cpu0, "elapsed": t1 - t0}


async def drive_sequential(op: Op, warmup: float, duration: float, st: Stats) -> dict[str, Any]:
    """Back-to-back ops checking the clock between them.

    Used for session create/close, which may never suspend (httpx's AsyncClient
    does not), so a timer-based driver would never get to run.
    """
    start_at = time.perf_counter() + warmup
    c0 = b0 = 0
    cpu0 = t0 = 0.0
    started = False
    while True:
        try:
            st.bytes += await op(st)
            st.count += 1
        except Exception as exc:
            st.error(exc)
            await asyncio.sleep(0.01)
        now = time.perf_counter()
        if not started and now >= start_at:
            started = True
            emit({"event": "start"})
            c0, b0, cpu0, t0 = st.count, st.bytes, cpu_now(), time.perf_counter()
        elif started and now - t0 >= duration:
            c1, b1, cpu1, t1 = st.count, st.bytes, cpu_now(), time.perf_counter()
            emit({"event": "end"})
            return {"count": c1 - c0, "bytes": b1 - b0, "cpu": cpu1 - cpu0, "elapsed": t1 - t0}


def peak_rss_kib() -> int:
    """High-water RSS of this process's own address space (VmHWM).

    ru_maxrss is not used: Linux carries the parent's RSS at fork() over into
    the child's ru_maxrss, so every worker would report at least the
    orchestrator's size.  VmHWM starts afresh at exec().
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def drive_inflight(op: Op, n: int, st: Stats) -> dict[str, Any]:
    async def one() -> None:
        try:
            nbytes = await op(st)
        except Exception as exc:
            st.error(exc)
        else:
            st.count += 1
            st.bytes += nbytes

    rss0 = peak_rss_kib()
    emit({"event": "start"})
    cpu0, t0 = cpu_now(), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    cpu1, t1 = cpu_now(), time.perf_counter()
    emit({"event": "end"})
    return {
        "count": st.count,
        "bytes": st.bytes,
        "cpu": cpu1 - cpu0,
        "elapsed": t1 - t0,
        "rss_before_kib": rss0,
        "peak_rss_kib": peak_rss_kib(),
        "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def make_client(name: str, wl: Workload, cfg: Config) -> Any:
    if name in ("hyperclient", "aiohttp"):
        return aiohttp_like(load_aiohttp_like(name, wl), wl, cfg)
    if name == "httpx":
        if wl.kind == "ws":
            raise Unsupported("httpx has no WebSocket client")
        return httpx_client(wl, cfg)
    if name == "websockets":
        if wl.kind != "ws":
            raise Unsupported("websockets is a WebSocket-only client")
        return websockets_client(wl, cfg)
    if name == "floor":
        return floor_client(wl, cfg)
    raise Unsupported(f"unknown client {name!r}")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    wl = WORKLOADS[args.workload]
    cfg = Config(args)
    st = Stats()
    try:
        client = make_client(args.client, wl, cfg)
        async with client as op:
            if wl.kind == "inflight":
                result = await drive_inflight(op, cfg.inflight, st)
            elif wl.kind == "sessions":
                result = await drive_sequential(op, args.warmup, args.duration, st)
            else:
                result = await drive_duration(op, wl.concurrency, args.warmup, args.duration, st)
    except Unsupported as exc:
        return {"status": "n/a", "reason": str(exc)}
    except Exception as exc:
        st.error(exc)
        return {
            "status": "error",
            "reason": f"{type(exc).__name__}: {exc}"[:300],
            "errors": st.errors,
            "error_samples": st.samples,
            "traceback": traceback.format_exc()[-2000:],
        }
    result.update(status="ok", errors=st.errors, error_samples=st.samples)
    # A client that fails every request with NotImplementedError is "n/a";
    # anything else (AttributeError included) stays an error so bugs show.
    if result["count"] == 0 and st.samples:
        first = st.samples[0]
        if first.startswith("NotImplementedError"):
            return {"status": "n/a", "reason": f"{args.client}: {first}"}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--client", required=True)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--workload", required=True, choices=sorted(WORKLOADS))
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--ws-url", default="ws://127.0.0.1:8081/")
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--stream-size", type=int, default=64 * ONE_MIB)
    parser.add_argument("--inflight", type=int, default=10_000)
    args = parser.parse_args()
    raise_nofile()
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if args.loop == "uvloop":
        try:
            import uvloop
        except ImportError as exc:
            emit({"status": "n/a", "reason": f"uvloop not importable: {exc}"})
            return
        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        result = runner.run(run(args))
    emit(result)


if __name__ == "__main__":
    main()
