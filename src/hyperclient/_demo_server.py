"""A small local HTTP/1.1 and WebSocket server for ``make demo`` and the CLI's tests.

It exists so that a fresh clone can show hyperclient working with no network and no
third-party server: stdlib and asyncio only (it must never import aiohttp or any other
HTTP library, since hyperclient's runtime may not depend on them). It is a demo, not a
server to deploy: one request at a time per connection, bodies in memory except
``/file`` and ``/big``, and just enough RFC 6455 for an echo endpoint.

Routes::

    GET  /                 this list, as text
    GET  /hello            a small JSON document
    GET  /json             a small JSON document, with the query string it received
    GET  /file?size=N      N bytes (default 1 MiB), streamed
    GET  /big?size=N       N bytes (default 64 MiB), streamed
    GET  /redirect/N       302 to /redirect/N-1; /redirect/0 answers JSON
    GET  /gzip             JSON, gzip-compressed when Accept-Encoding allows it
    GET  /cookie           sets a cookie and shows the cookies it received
    ANY  /echo             the request (method, path, headers, body) as JSON
    GET  /ws               WebSocket echo

Run ``python -m hyperclient._demo_server`` to serve on a free port; it prints
``listening on http://127.0.0.1:PORT (pid N)`` and stops on Ctrl-C, SIGTERM, or with
``--watch-stdin`` when its stdin closes (so it dies with the process that started it).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gzip
import hashlib
import json
import os
import signal
import struct
import sys
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ("serve",)

_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
_MAX_HEAD = 64 * 1024
_MAX_BODY = 16 * 2**20
_FILE_CHUNK = 256 * 1024
_REASONS = {
    101: "Switching Protocols",
    200: "OK",
    302: "Found",
    400: "Bad Request",
    404: "Not Found",
    413: "Content Too Large",
}

INDEX = __doc__.split("Routes::")[1].split("Run ``")[0].strip("\n") + "\n"


class _Request:
    """One parsed request head and its body."""

    def __init__(self, method: str, target: str, headers: list[tuple[str, str]]) -> None:
        self.method = method
        self.target = target
        parts = urlsplit(target)
        self.path = parts.path
        self.query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.headers = headers
        self.body = b""

    def header(self, name: str) -> str | None:
        lower = name.lower()
        for key, value in self.headers:
            if key.lower() == lower:
                return value
        return None


def _response(
    status: int, body: bytes, content_type: str = "application/json", **extra: str
) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}"]
    lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {len(body)}")
    lines.append("Server: hyperclient-demo")
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in extra.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _json(data: Any, status: int = 200, **extra: str) -> bytes:
    body = (json.dumps(data, indent=2) + "\n").encode()
    return _response(status, body, **extra)


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    """The next request on the connection, or None at a clean end."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError as exc:
        raise ValueError("request head too large") from exc
    request_line, *header_lines = head.decode("latin-1").split("\r\n")[:-2]
    method, target, _version = request_line.split(" ", 2)
    headers = []
    for line in header_lines:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    request = _Request(method, target, headers)
    if (request.header("Transfer-Encoding") or "").lower() == "chunked":
        request.body = await _read_chunked(reader)
    else:
        length = int(request.header("Content-Length") or 0)
        if length > _MAX_BODY:
            raise ValueError("request body too large")
        request.body = await reader.readexactly(length)
    return request


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:  # RFC 9112 §7.1
        size = int((await reader.readline()).split(b";")[0], 16)
        if size == 0:
            while (await reader.readline()) not in (b"\r\n", b""):
                pass  # trailer fields
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)
        if len(body) > _MAX_BODY:
            raise ValueError("request body too large")


# -- routes ---------------------------------------------------------------------------------


def _hello(request: _Request) -> bytes:
    return _json({"hello": "world", "from": "the hyperclient demo server"})


def _json_doc(request: _Request) -> bytes:
    return _json(
        {
            "name": "hyperclient",
            "kind": "demo document",
            "tags": ["asyncio", "http", "websocket"],
            "query": request.query,
        }
    )


def _redirect(request: _Request) -> bytes:
    try:
        n = int(request.path.rsplit("/", 1)[1])
    except ValueError:
        return _json({"error": "expected /redirect/N"}, 400)
    if n <= 0:
        return _json({"redirects": "done", "path": request.path})
    return _response(302, b"", "text/plain", Location=f"/redirect/{n - 1}")


def _gzip(request: _Request) -> bytes:
    doc = {"compressed": True, "lines": [f"line {i}: the same words again" for i in range(200)]}
    body = (json.dumps(doc, indent=2) + "\n").encode()
    accepted = request.header("Accept-Encoding") or ""
    if "gzip" not in accepted.lower():
        return _response(200, body, Vary="Accept-Encoding")
    packed = gzip.compress(body, mtime=0)
    return _response(200, packed, Content_Encoding="gzip", Vary="Accept-Encoding")


def _cookie(request: _Request) -> bytes:
    received = {}
    for pair in (request.header("Cookie") or "").split(";"):
        name, eq, value = pair.strip().partition("=")
        if eq:
            received[name] = value
    return _json(
        {"cookies_received": received, "setting": "demo=chocolate-chip"},
        Set_Cookie="demo=chocolate-chip; Path=/; HttpOnly",
    )


def _echo(request: _Request) -> bytes:
    return _json(
        {
            "method": request.method,
            "path": request.target,
            "headers": [f"{name}: {value}" for name, value in request.headers],
            "body": request.body.decode("utf-8", "replace"),
        }
    )


_ROUTES: dict[str, Callable[[_Request], bytes]] = {
    "/hello": _hello,
    "/json": _json_doc,
    "/gzip": _gzip,
    "/cookie": _cookie,
    "/echo": _echo,
}


_STREAMED_SIZES = {"/file": 2**20, "/big": 64 * 2**20}  # default sizes, in bytes


async def _send_file(request: _Request, writer: asyncio.StreamWriter) -> None:
    """``size`` bytes written one chunk at a time, never the whole body in memory."""
    size = int(request.query.get("size", str(_STREAMED_SIZES[request.path])))
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {size}\r\nServer: hyperclient-demo\r\n\r\n"
    )
    writer.write(head.encode("latin-1"))
    if request.method == "HEAD":
        return
    chunk = bytes(range(256)) * (_FILE_CHUNK // 256)
    sent = 0
    while sent < size:
        piece = chunk[: size - sent]
        writer.write(piece)
        sent += len(piece)
        await writer.drain()


# -- WebSocket (RFC 6455), server side ------------------------------------------------------


def _ws_accept(key: str) -> str:
    """The Sec-WebSocket-Accept value for a client's key (RFC 6455 §4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode() + _WS_GUID).digest()).decode()


def _ws_frame(opcode: int, payload: bytes) -> bytes:
    """One unfragmented, unmasked server frame (RFC 6455 §5.2: servers never mask)."""
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 2**16:
        header = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return header + payload


def _unmask(payload: bytes, key: bytes) -> bytes:
    # XOR as one big integer: fast enough without numpy or a C helper.
    n = len(payload)
    repeated = (key * (n // 4 + 1))[:n]
    value = int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
    return value.to_bytes(n, "big")


async def _ws_read_frame(reader: asyncio.StreamReader) -> tuple[bool, int, bytes]:
    b1, b2 = await reader.readexactly(2)
    fin, opcode, masked, n = bool(b1 & 0x80), b1 & 0x0F, bool(b2 & 0x80), b2 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    if not masked or n > _MAX_BODY:  # RFC 6455 §5.1: clients must mask
        raise ValueError("unmasked or oversized client frame")
    key = await reader.readexactly(4)
    return fin, opcode, _unmask(await reader.readexactly(n), key)


async def _websocket_echo(
    request: _Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    key = request.header("Sec-WebSocket-Key")
    if key is None or (request.header("Upgrade") or "").lower() != "websocket":
        writer.write(_json({"error": "expected a WebSocket handshake"}, 400))
        return
    writer.write(
        (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {_ws_accept(key)}\r\n\r\n"
        ).encode("latin-1")
    )
    message, message_opcode = b"", 0
    while True:
        fin, opcode, payload = await _ws_read_frame(reader)
        if opcode == 0x8:  # close: answer with the same code, then end (RFC 6455 §5.5.1)
            writer.write(_ws_frame(0x8, payload[:2]))
            await writer.drain()
            return
        if opcode == 0x9:  # ping -> pong
            writer.write(_ws_frame(0xA, payload))
        elif opcode in (0x1, 0x2, 0x0):
            if opcode:
                message, message_opcode = b"", opcode
            message += payload
            if fin:
                writer.write(_ws_frame(message_opcode, message))
        await writer.drain()


# -- connections ----------------------------------------------------------------------------


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            request = await _read_request(reader)
            if request is None:
                break
            if request.path == "/ws":
                await _websocket_echo(request, reader, writer)
                break
            if request.path in _STREAMED_SIZES:
                await _send_file(request, writer)
            else:
                if request.path.startswith("/redirect/"):
                    response = _redirect(request)
                elif request.path == "/":
                    response = _response(200, INDEX.encode(), "text/plain; charset=utf-8")
                else:
                    route = _ROUTES.get(request.path)
                    response = route(request) if route else _json({"error": "not found"}, 404)
                if request.method == "HEAD":
                    response = response.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
                writer.write(response)
            await writer.drain()
            if (request.header("Connection") or "").lower() == "close":
                break
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        pass  # a client went away or sent garbage: drop the connection
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def serve(host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    """Start the demo server; ``server.sockets[0].getsockname()[1]`` is the port.

    Args:
        host: the address to listen on.
        port: the port, 0 for a free one.

    Returns:
        The listening ``asyncio.Server``; close it with ``close()`` and ``wait_closed()``.
    """
    return await asyncio.start_server(_handle, host, port, limit=_MAX_HEAD, backlog=1024)


async def _main(host: str, port: int, watch_stdin: bool) -> None:
    server = await serve(host, port)
    bound = server.sockets[0].getsockname()[1]
    print(f"listening on http://{host}:{bound} (pid {os.getpid()})", flush=True)
    loop = asyncio.get_running_loop()
    stop: asyncio.Future[None] = loop.create_future()

    def finish() -> None:
        if not stop.done():
            stop.set_result(None)

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, finish)
    if watch_stdin:
        # When the parent dies, our stdin pipe closes: stop with it. A daemon thread reads,
        # so that an exit for another reason never waits on it.
        def wait_for_eof() -> None:
            sys.stdin.buffer.read()
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                loop.call_soon_threadsafe(finish)

        threading.Thread(target=wait_for_eof, daemon=True).start()
    try:
        await stop
    finally:
        # Not wait_closed(): since Python 3.12 it waits for every keep-alive connection.
        server.close()


def main(argv: list[str] | None = None) -> None:
    """``python -m hyperclient._demo_server [--host H] [--port P] [--watch-stdin]``."""
    parser = argparse.ArgumentParser(prog="python -m hyperclient._demo_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--watch-stdin", action="store_true", help="stop when stdin closes")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(args.host, args.port, args.watch_stdin))


if __name__ == "__main__":
    main()
