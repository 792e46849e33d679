"""A feature-rich aiohttp.web application and an ASGI one, served for real."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import select
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from aiohttp import web

from hyperclient.auth import parse_challenge


def checked_digest(
    request: web.Request, user: str, password: str, realm: str
) -> dict[str, str] | None:
    """The request's ``Authorization`` fields when they are a right RFC 7616 digest
    (SHA-256, qop=auth) of *user*'s credentials for this method and request-target
    (§3.4); else None (no digest, or a wrong one)."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Digest "):
        return None
    fields = parse_challenge(header)
    h = hashlib.sha256
    ha1 = h(f"{user}:{realm}:{password}".encode()).hexdigest()
    ha2 = h(f"{request.method}:{fields['uri']}".encode()).hexdigest()
    expected = h(
        f"{ha1}:{fields['nonce']}:{fields['nc']}:{fields['cnonce']}:auth:{ha2}".encode()
    ).hexdigest()
    if fields.get("response") != expected or fields.get("username") != user:
        return None
    if fields["uri"] != request.raw_path:
        return None
    return fields


async def echo_form(request: web.Request) -> web.Response:
    """The form aiohttp.web parsed: fields as text, files as filename, type and data."""
    post = await request.post()
    out: dict[str, Any] = {}
    for name, value in post.items():
        if isinstance(value, web.FileField):
            out[name] = {
                "filename": value.filename,
                "content_type": value.content_type,
                "data": value.file.read().decode("latin-1"),
            }
        else:
            out[name] = value
    return web.json_response(out)


async def _describe(reader: Any) -> list[Any]:
    """What aiohttp's own multipart reader found: one dict per part, nested as lists."""
    found: list[Any] = []
    async for part in reader:
        if isinstance(part, type(reader)):
            found.append(await _describe(part))
            continue
        found.append(
            {
                "headers": dict(part.headers),
                "body": (await part.read(decode=True)).decode("latin-1"),
                "name": part.name,
                "filename": part.filename,
            }
        )
    return found


async def echo_multipart(request: web.Request) -> web.Response:
    """Each part as aiohttp.web's multipart reader saw it, with the request's framing."""
    parts = await _describe(await request.multipart())
    return web.json_response(
        {
            "content_type": request.headers["Content-Type"],
            "content_length": request.headers.get("Content-Length"),
            "transfer_encoding": request.headers.get("Transfer-Encoding"),
            "parts": parts,
        }
    )


async def form_server(
    aiohttp_server: Callable[..., Awaitable[Any]],
    *,
    redirect_to: str,
    client_max_size: int,
    **posts: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> Callable[[str], str]:
    """A server for form and multipart uploads: ``/multipart`` (:func:`echo_multipart`),
    ``/post`` (:func:`echo_form`), ``/redirect`` (a 307 to *redirect_to*, after reading
    the body) and the POST routes in *posts* (path without the slash); the URL maker."""
    app = web.Application(client_max_size=client_max_size)
    app.router.add_post("/multipart", echo_multipart)
    app.router.add_post("/post", echo_form)
    for path, handler in posts.items():
        app.router.add_post(f"/{path}", handler)

    async def redirect(request: web.Request) -> web.Response:
        await request.read()
        raise web.HTTPTemporaryRedirect(redirect_to)

    app.router.add_post("/redirect", redirect)
    server = await aiohttp_server(app)
    return lambda path: str(server.make_url(path))


def make_app() -> web.Application:
    """Routes used by the functional tests; each reports what the server really got."""
    app = web.Application(client_max_size=64 * 2**20)
    state: dict[str, Any] = {"peers": set()}

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        peer = request.transport.get_extra_info("peername") if request.transport else None
        state["peers"].add(peer)
        return web.json_response(
            {
                "method": request.method,
                "path": request.raw_path,
                "query": list(request.query.items()),
                "headers": list(request.headers.items()),
                "body": body.decode("latin-1"),
                "peer": list(peer) if peer else None,
                "version": list(request.version),
            }
        )

    async def text(request: web.Request) -> web.Response:
        charset = request.query.get("charset")
        body = request.query.get("text", "héllo wörld")
        if charset:
            return web.Response(
                body=body.encode(charset), content_type="text/plain", charset=charset
            )
        return web.Response(body=body.encode("utf-8"), headers={"Content-Type": "text/plain"})

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="status body")

    async def big(request: web.Request) -> web.StreamResponse:
        size = int(request.query.get("size", str(2**20)))
        resp = web.StreamResponse()
        resp.content_length = size
        await resp.prepare(request)
        chunk = bytes(range(256)) * 256
        sent = 0
        while sent < size:
            piece = chunk[: size - sent]
            await resp.write(piece)
            sent += len(piece)
        return resp

    async def lines(request: web.Request) -> web.Response:
        return web.Response(text="one\ntwo\nthree")

    async def redirect(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        if n <= 0:
            return web.json_response({"done": True, "method": request.method})
        raise web.HTTPFound(f"/redirect/{n - 1}")

    async def set_cookie(request: web.Request) -> web.Response:
        resp = web.Response(text="ok")
        resp.set_cookie("session", "abc123", path="/")
        return resp

    async def cookies(request: web.Request) -> web.Response:
        return web.json_response(dict(request.cookies))

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("delay", "0.2")))
        return web.Response(text="slow")

    async def json_route(request: web.Request) -> web.Response:
        return web.json_response({"hello": "world", "n": [1, 2, 3]})

    async def gzip_route(request: web.Request) -> web.Response:
        resp = web.Response(text="compressed " * 1000)
        resp.enable_compression()
        return resp

    app.router.add_route("*", "/echo", echo)
    app.router.add_route("*", "/echo/{tail:.*}", echo)
    app.router.add_post("/form", echo_form)
    app.router.add_get("/text", text)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/big", big)
    app.router.add_get("/lines", lines)
    app.router.add_route("*", "/redirect/{n}", redirect)
    app.router.add_get("/set-cookie", set_cookie)
    app.router.add_get("/cookies", cookies)
    app.router.add_get("/slow", slow)
    app.router.add_get("/json", json_route)
    app.router.add_get("/gzip", gzip_route)
    return app


@pytest.fixture
async def server(aiohttp_server: Callable[..., Awaitable[Any]]) -> Any:
    """The aiohttp.web test application, started."""
    return await aiohttp_server(make_app())


@pytest.fixture
def url(server: Any) -> Callable[[str], str]:
    """Absolute URL of a path on the test server."""

    def make(path: str) -> str:
        return f"http://127.0.0.1:{server.port}{path}"

    return make


async def asgi_echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A small ASGI app: echoes method, path, headers and body as JSON."""
    assert scope["type"] == "http"
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    payload = json.dumps(
        {
            "method": scope["method"],
            "path": scope["raw_path"].decode("latin-1"),
            "query": scope["query_string"].decode("latin-1"),
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
            "body": body.decode("latin-1"),
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    # Two body messages: uvicorn sends them chunked (no Content-Length given).
    half = len(payload) // 2
    await send({"type": "http.response.body", "body": payload[:half], "more_body": True})
    await send({"type": "http.response.body", "body": payload[half:]})


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A loopback port where a TCP connect stalls: its accept queue is full, so SYNs drop."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        for _ in range(16):
            sock = socket.socket()
            sock.setblocking(False)
            fillers.append(sock)
            with contextlib.suppress(BlockingIOError):
                sock.connect(("127.0.0.1", port))
            _, writable, _ = select.select([], [sock], [], 0.1)
            if not writable:
                break  # this one hangs in SYN-SENT: the queue is full
        else:  # pragma: no cover - depends on the kernel
            pytest.skip("could not fill the accept queue of a loopback listener")
        yield port
    finally:
        for sock in fillers:
            sock.close()
        listener.close()
