"""Small, fast canned-response HTTP/1.1 server used when nginx is unavailable.

It always serves ``/slow`` (answers after ``SLOW_DELAY`` seconds), which the
10,000-in-flight workload needs even when nginx serves everything else.

Routes: GET /small, GET /1m, GET /stream (size from --stream-size),
POST /upload (reads the whole Content-Length body, then answers), GET /slow.
Keep-alive by default; ``Connection: close`` is honoured.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Callable
from typing import cast

from common import (
    MIB_PATH,
    ONE_MIB,
    SLOW_DELAY,
    SLOW_PATH,
    SMALL_BODY,
    SMALL_PATH,
    STREAM_PATH,
    UPLOAD_PATH,
    UPLOAD_REPLY,
    emit,
    raise_nofile,
)

MAX_HEAD = 64 * 1024


def _head(status: str, length: int, ctype: bytes, close: bool) -> bytes:
    conn = b"close" if close else b"keep-alive"
    return (
        b"HTTP/1.1 " + status.encode() + b"\r\nServer: bench\r\nContent-Type: " + ctype
        + b"\r\nContent-Length: " + str(length).encode()
        + b"\r\nConnection: " + conn + b"\r\n\r\n"
    )  # fmt: skip


class Routes:
    """Pre-built responses keyed by (method, path, close)."""

    def __init__(self, stream_size: int) -> None:
        self.bodies: dict[tuple[bytes, bytes], tuple[bytes, bytes]] = {
            (b"GET", SMALL_PATH.encode()): (SMALL_BODY, b"text/plain"),
            (b"GET", SLOW_PATH.encode()): (SMALL_BODY, b"text/plain"),
            (b"GET", MIB_PATH.encode()): (os.urandom(ONE_MIB), b"application/octet-stream"),
            (b"GET", STREAM_PATH.encode()): (
                os.urandom(stream_size),
                b"application/octet-stream",
            ),
            (b"POST", UPLOAD_PATH.encode()): (UPLOAD_REPLY, b"text/plain"),
        }
        self.heads: dict[tuple[bytes, bytes, bool], bytes] = {}
        for (method, path), (body, ctype) in self.bodies.items():
            for close in (False, True):
                self.heads[method, path, close] = _head("200 OK", len(body), ctype, close)
        self.not_found = _head("404 Not Found", 0, b"text/plain", True)
        self.bad = _head("400 Bad Request", 0, b"text/plain", True)


class HttpProtocol(asyncio.Protocol):
    __slots__ = ("body_left", "buf", "busy", "loop", "pending", "routes", "transport")

    def __init__(self, routes: Routes) -> None:
        self.routes = routes
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.body_left = 0
        self.pending: Callable[[], None] | None = None  # reply once the body is read
        self.busy = False  # a /slow reply is outstanding; hold later requests

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses; both loops
        # already enable TCP_NODELAY.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        if self.body_left:
            n = len(data)
            if n <= self.body_left:
                self.body_left -= n
                if self.body_left == 0:
                    self._body_done()
                return
            data = data[self.body_left :]
            self.body_left = 0
            self._body_done()
        self.buf += data
        self._process()

    def _body_done(self) -> None:
        reply, self.pending = self.pending, None
        if reply is not None:
            reply()

    def _process(self) -> None:
        buf = self.buf
        while not self.busy and self.body_left == 0 and self.transport is not None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    self._fail(self.routes.bad)
                return
            head = bytes(buf[:end])
            del buf[: end + 4]
            lines = head.split(b"\r\n")
            parts = lines[0].split(b" ")
            if len(parts) != 3:
                self._fail(self.routes.bad)
                return
            method, path, version = parts
            length = 0
            close = version == b"HTTP/1.0"
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection":
                    token = value.strip().lower()
                    close = token == b"close" or (close and token != b"keep-alive")
                elif name == b"transfer-encoding":
                    self._fail(self.routes.bad)
                    return
            path = path.partition(b"?")[0]
            key = (method, path)
            if key not in self.routes.bodies:
                self._fail(self.routes.not_found)
                return
            reply = self._replier(key, close)
            if length:
                if len(buf) >= length:
                    del buf[:length]
                else:
                    self.body_left = length - len(buf)
                    buf.clear()
                    self.pending = reply
                    return
            reply()

    def _replier(self, key: tuple[bytes, bytes], close: bool) -> Callable[[], None]:
        head = self.routes.heads[key[0], key[1], close]
        body = self.routes.bodies[key][0]
        slow = key[1] == SLOW_PATH.encode()

        def send() -> None:
            transport = self.transport
            if transport is None:
                return
            if len(body) <= 65536:
                transport.write(head + body)
            else:
                transport.writelines((head, body))
            if close:
                transport.close()
            elif slow:
                self.busy = False
                self._process()

        if not slow:
            return send

        def send_later() -> None:
            self.loop.call_later(SLOW_DELAY, send)

        self.busy = True
        return send_later

    def _fail(self, response: bytes) -> None:
        if self.transport is not None:
            self.transport.write(response)
            self.transport.close()
        self.buf.clear()


async def serve(host: str, port: int, stream_size: int, backlog: int) -> None:
    routes = Routes(stream_size)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: HttpProtocol(routes), host, port, backlog=backlog, reuse_address=True
    )
    sock = server.sockets[0]
    emit({"port": sock.getsockname()[1], "pid": os.getpid()})
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--stream-size", type=int, default=64 * ONE_MIB)
    parser.add_argument("--backlog", type=int, default=65535)
    args = parser.parse_args()
    raise_nofile()
    try:
        import uvloop

        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        try:
            runner.run(serve(args.host, args.port, args.stream_size, args.backlog))
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
