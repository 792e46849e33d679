"""Client middlewares (aiohttp 3.12's ``middlewares=``) and ``DigestAuthMiddleware``.

Every server here is real and records what it received, so each test sees what the
middleware really put on the wire.
"""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

import hyperclient
from hyperclient import (
    ClientHandlerType,
    ClientRequest,
    ClientResponse,
    ClientSession,
    DigestAuthMiddleware,
    TraceConfig,
    WSMsgType,
)

from ..conftest import MS, RawServer, closing_when_asked, read_request, recording
from .conftest import checked_digest

Start = Callable[..., Awaitable[Any]]


def recording_app(log: list[dict[str, Any]]) -> web.Application:
    """/echo and /flaky/{n} (503 for the first n requests, then 200); /redirect/{n};
    /set-cookie. Every request is appended to *log*: method, path, headers, body."""
    app = web.Application()
    state = {"flaky": 0}

    async def record(request: web.Request) -> dict[str, Any]:
        entry = {
            "method": request.method,
            "path": request.raw_path,
            "headers": dict(request.headers),
            "body": await request.read(),
        }
        log.append(entry)
        return entry

    async def echo(request: web.Request) -> web.Response:
        entry = await record(request)
        return web.json_response({"path": entry["path"], "body": entry["body"].decode()})

    async def flaky(request: web.Request) -> web.Response:
        entry = await record(request)
        state["flaky"] += 1
        if state["flaky"] <= int(request.match_info["n"]):
            return web.Response(status=503, text="try again")
        return web.json_response({"body": entry["body"].decode("latin-1")})

    async def redirect(request: web.Request) -> web.Response:
        await record(request)
        n = int(request.match_info["n"])
        if n <= 0:
            return web.Response(text="done")
        raise web.HTTPFound(f"/redirect/{n - 1}")

    async def set_cookie(request: web.Request) -> web.Response:
        await record(request)
        resp = web.Response(text="ok")
        resp.set_cookie("mw", "seen")
        return resp

    async def token(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(text="fresh-token")

    async def guarded(request: web.Request) -> web.Response:
        entry = await record(request)
        if request.headers.get("Authorization") != "Bearer fresh-token":
            return web.Response(status=401, text="expired")
        return web.json_response({"body": entry["body"].decode("latin-1")})

    async def ws(request: web.Request) -> web.WebSocketResponse:
        await record(request)
        sock = web.WebSocketResponse()
        await sock.prepare(request)
        await sock.send_str("hello")  # right behind the 101, before the client asks
        async for msg in sock:
            await sock.send_str(f"echo {msg.data}")
        return sock

    app.router.add_route("*", "/echo", echo)
    app.router.add_route("*", "/flaky/{n}", flaky)
    app.router.add_route("*", "/redirect/{n}", redirect)
    app.router.add_get("/set-cookie", set_cookie)
    app.router.add_get("/token", token)
    app.router.add_route("*", "/guarded", guarded)
    app.router.add_get("/ws", ws)
    return app


@pytest.fixture
async def served(aiohttp_server: Start) -> tuple[str, list[dict[str, Any]]]:
    """(base URL, log of requests received) of a ``recording_app``."""
    log: list[dict[str, Any]] = []
    server = await aiohttp_server(recording_app(log))
    return f"http://127.0.0.1:{server.port}", log


# -- modifying the request ------------------------------------------------------------------


async def test_middleware_adds_a_header_on_every_request_of_the_plain_path(
    served: tuple[str, list[dict[str, Any]]],
) -> None:
    base, log = served
    calls = 0

    async def count(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        nonlocal calls
        calls += 1
        request.headers["X-Call"] = str(calls)
        return await handler(request)

    async with ClientSession(middlewares=(count,)) as session:
        # session.get(url) with no keyword is the prepared-request path: the middleware
        # must still see (and be able to change) a request of its own each time.
        for _ in range(3):
            async with session.get(f"{base}/echo") as resp:
                assert resp.status == 200
    assert [entry["headers"]["X-Call"] for entry in log] == ["1", "2", "3"]


async def test_middleware_rewrites_method_url_and_body(
    served: tuple[str, list[dict[str, Any]]],
) -> None:
    base, log = served

    async def rewrite(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        assert request.method == "PUT"
        assert request.body == b"short"
        assert request.session is session
        request.method = "POST"
        request.url = request.url.with_path("/echo").with_query(rewritten="1")
        await request.update_body(b"a longer body than before")
        return await handler(request)

    async with ClientSession(middlewares=[rewrite]) as session:
        async with session.put(f"{base}/elsewhere", data=b"short") as resp:
            assert resp.status == 200
            assert resp.url.path == "/echo"  # the response is for the request as sent
            assert resp.request_info.method == "POST"
    (entry,) = log
    assert entry["method"] == "POST"
    assert entry["path"] == "/echo?rewritten=1"
    assert entry["body"] == b"a longer body than before"
    assert entry["headers"]["Content-Length"] == str(len(b"a longer body than before"))


async def test_assigning_body_recomputes_the_framing(
    served: tuple[str, list[dict[str, Any]]],
) -> None:
    base, log = served

    async def replace(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        request.body = "ünïcode"  # as aiohttp's (deprecated) setter: encoded, re-framed
        return await handler(request)

    async with ClientSession(middlewares=[replace]) as session:
        async with session.post(f"{base}/echo", data=io.BytesIO(b"streamed file")) as resp:
            assert resp.status == 200
    (entry,) = log
    assert entry["body"] == "ünïcode".encode()
    # A file of known size went with a Content-Length, and so does the new body.
    assert entry["headers"]["Content-Length"] == str(len("ünïcode".encode()))
    assert entry["headers"]["Content-Type"] == "application/octet-stream"  # kept


# -- calling the handler again --------------------------------------------------------------


def retry_on(statuses: set[int], attempts: list[int]) -> Any:
    async def retry(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        for attempt in range(1, 4):
            attempts.append(attempt)
            resp = await handler(request)
            if resp.status not in statuses:
                break
            resp.release()
        return resp

    return retry


@pytest.mark.parametrize(
    "make_data",
    [
        lambda: b"payload \x00\xff" * 1000,
        lambda: io.BytesIO(b"from a seekable file " * 1000),
        lambda: {"field": "value", "other": "x" * 100},
    ],
    ids=["bytes", "file", "form"],
)
async def test_retry_on_5xx_sends_the_post_body_again_intact(
    served: tuple[str, list[dict[str, Any]]], make_data: Callable[[], Any]
) -> None:
    base, log = served
    attempts: list[int] = []
    async with ClientSession(middlewares=[retry_on({503}, attempts)]) as session:
        async with session.post(f"{base}/flaky/2", data=make_data()) as resp:
            assert resp.status == 200
    assert attempts == [1, 2, 3]
    assert len(log) == 3
    bodies = {entry["body"] for entry in log}
    assert len(bodies) == 1  # three times the same body
    assert b"" not in bodies
    assert all(entry["method"] == "POST" for entry in log)


async def test_raise_for_status_applies_to_the_response_middlewares_return(
    served: tuple[str, list[dict[str, Any]]],
) -> None:
    base, log = served
    attempts: list[int] = []
    async with ClientSession(
        middlewares=[retry_on({503}, attempts)], raise_for_status=True
    ) as session:
        # The first 503 is the middleware's business, not raise_for_status's.
        async with session.get(f"{base}/flaky/1") as resp:
            assert resp.status == 200
        with pytest.raises(hyperclient.ClientResponseError) as info:
            await session.get(f"{base}/flaky/99")
        assert info.value.status == 503
    assert attempts == [1, 2, 1, 2, 3]
    assert len(log) == 5


async def test_retry_on_401_with_a_token_fetched_through_the_same_session(
    served: tuple[str, list[dict[str, Any]]],
) -> None:
    base, log = served
    seen: list[str] = []

    async def refresh(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        seen.append(request.url.path)
        resp = await handler(request)
        if resp.status != 401:
            return resp
        resp.release()
        # The recursion guard is ours to write (as in aiohttp): middlewares=() keeps this
        # request out of the middleware.
        async with request.session.get(f"{base}/token", middlewares=()) as token:
            request.headers["Authorization"] = f"Bearer {await token.text()}"
        return await handler(request)

    async with ClientSession(middlewares=[refresh]) as session:
        async with session.post(f"{base}/guarded", data=b"keep me") as resp:
            assert resp.status == 200
            assert await resp.json() == {"body": "keep me"}
    assert seen == ["/guarded"]  # not "/token": the inner request ran no middleware
    assert [(e["path"], e["body"]) for e in log] == [
        ("/guarded", b"keep me"),
        ("/token", b""),
        ("/guarded", b"keep me"),
    ]


async def test_a_session_made_inside_a_middleware(
    served: tuple[str, list[dict[str, Any]]],
) -> None:
    base, log = served

    async def side_call(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        async with ClientSession() as other, other.get(f"{base}/token") as token:
            request.headers["Authorization"] = f"Bearer {await token.text()}"
        return await handler(request)

    async with ClientSession(middlewares=[side_call]) as session:
        async with session.get(f"{base}/guarded") as resp:
            assert resp.status == 200
    assert [e["path"] for e in log] == ["/token", "/guarded"]


async def test_failover_to_another_server_on_retry(
    served: tuple[str, list[dict[str, Any]]], raw_server: Callable[..., Awaitable[RawServer]]
) -> None:
    base, log = served

    async def unavailable(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()

    primary = await raw_server(unavailable)

    async def failover(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        resp = await handler(request)
        if resp.status == 503:
            resp.release()
            request.url = URL(base + "/echo")
            resp = await handler(request)  # a new host: a new connection, not the first's
        return resp

    async with ClientSession(middlewares=[failover]) as session:
        async with session.get(f"{primary.url}/echo") as resp:
            assert resp.status == 200
    assert primary.connections == 1
    assert [e["path"] for e in log] == ["/echo"]


# -- choosing the middlewares ----------------------------------------------------------------


def tagger(name: str, order: list[str]) -> Any:
    async def tag(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        order.append(f"{name} in")
        request.headers.add("X-Tag", name)
        resp = await handler(request)
        order.append(f"{name} out")
        return resp

    return tag


async def test_order_per_request_override_and_disable(
    served: tuple[str, list[dict[str, Any]]],
) -> None:
    base, log = served
    order: list[str] = []
    outer, inner, own = tagger("outer", order), tagger("inner", order), tagger("own", order)
    async with ClientSession(middlewares=(outer, inner)) as session:
        await (await session.get(f"{base}/echo")).read()
        assert order == ["outer in", "inner in", "inner out", "outer out"]
        order.clear()
        await (await session.get(f"{base}/echo", middlewares=[own])).read()
        assert order == ["own in", "own out"]  # replaces the session's, not added
        order.clear()
        await (await session.get(f"{base}/echo", middlewares=())).read()
        assert order == []
        await (await session.get(f"{base}/echo", middlewares=None)).read()
    assert [e["headers"].get("X-Tag") for e in log] == ["outer", "own", None, "outer"]
    # The header multidict kept both values; aiohttp.web's dict() keeps the first.


async def test_module_level_request_takes_middlewares(
    served: tuple[str, list[dict[str, Any]]],
) -> None:
    base, _ = served
    order: list[str] = []
    async with hyperclient.get(f"{base}/echo", middlewares=[tagger("one", order)]) as resp:
        assert resp.status == 200
    assert order == ["one in", "one out"]


# -- errors ---------------------------------------------------------------------------------


class Refused(Exception):
    pass


async def test_middleware_raising_before_or_after_the_handler(
    served: tuple[str, list[dict[str, Any]]],
) -> None:
    base, log = served
    ends: list[str] = []

    async def on_exception(session: Any, ctx: Any, params: Any) -> None:
        ends.append(type(params.exception).__name__)

    trace = TraceConfig()
    trace.on_request_exception.append(on_exception)

    async def before(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        raise Refused(f"refusing {request.url.path}")

    async def after(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        resp = await handler(request)
        resp.release()
        raise Refused(f"status {resp.status}")

    async with ClientSession(trace_configs=[trace]) as session:
        with pytest.raises(Refused, match="refusing /echo"):
            await session.get(f"{base}/echo", middlewares=[before])
        assert log == []  # nothing was sent
        with pytest.raises(Refused, match="status 200"):
            await session.get(f"{base}/echo", middlewares=[after])
        assert len(log) == 1
        # The session is fine afterwards, and its connection went back to the pool.
        async with session.get(f"{base}/echo") as resp:
            assert resp.status == 200
        assert session.connector is not None
        assert [s.in_use for s in session.connector.stats().values()] == [0]
    assert ends == ["Refused", "Refused"]


async def test_an_oserror_of_a_middleware_reaches_the_caller_as_a_client_error(
    served: tuple[str, list[dict[str, Any]]], tmp_path: Any
) -> None:
    base, log = served
    missing = tmp_path / "token"

    async def read_token(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        request.headers["Authorization"] = missing.read_text()  # FileNotFoundError
        return await handler(request)

    async def timing_out(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        raise TimeoutError

    async with ClientSession() as session:
        # As aiohttp wraps it: a ClientOSError keeping errno, message and cause.
        with pytest.raises(hyperclient.ClientOSError) as caught:
            await session.get(f"{base}/echo", middlewares=[read_token])
        assert caught.value.errno == 2
        assert str(missing) in str(caught.value)
        assert isinstance(caught.value.__cause__, FileNotFoundError)
        # A timeout is not an OS error of the middleware: it goes through unchanged.
        with pytest.raises(TimeoutError) as timed_out:
            await session.get(f"{base}/echo", middlewares=[timing_out])
        assert type(timed_out.value) is TimeoutError
    assert log == []


# -- where the chain runs: redirects, cookies, tracing, WebSockets ----------------------------


async def test_middlewares_run_once_per_redirect_hop(
    served: tuple[str, list[dict[str, Any]]],
) -> None:
    base, log = served
    hops: list[tuple[str, int]] = []

    async def watch(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        resp = await handler(request)
        hops.append((request.url.path, resp.status))
        request.headers["X-Hop"] = "set on the request of one hop only"
        return resp

    async with ClientSession(middlewares=[watch]) as session:
        async with session.get(f"{base}/redirect/2") as resp:
            assert resp.status == 200
            assert [h.status for h in resp.history] == [302, 302]
    assert hops == [("/redirect/2", 302), ("/redirect/1", 302), ("/redirect/0", 200)]
    # Each hop is a new request built by the session, not the previous hop's object.
    assert all("X-Hop" not in e["headers"] for e in log)


async def test_cookies_and_traces_see_the_response_the_chain_returns(
    served: tuple[str, list[dict[str, Any]]],
) -> None:
    base, log = served
    events: list[str] = []

    def record(name: str) -> Any:
        async def handler(session: Any, ctx: Any, params: Any) -> None:
            events.append(name)

        return handler

    trace = TraceConfig()
    trace.on_request_start.append(record("start"))
    trace.on_request_headers_sent.append(record("headers sent"))
    trace.on_request_end.append(record("end"))
    attempts: list[int] = []
    async with ClientSession(
        middlewares=[retry_on({503}, attempts)], trace_configs=[trace]
    ) as session:
        async with session.get(f"{base}/flaky/1") as resp:
            assert resp.status == 200
        # One request for the tracer, two sends on the wire.
        assert events == ["start", "headers sent", "headers sent", "end"]
        async with session.get(f"{base}/set-cookie") as resp:
            assert resp.status == 200
        assert session.cookie_jar.filter_cookies(URL(base))["mw"].value == "seen"
    assert [e["path"] for e in log] == ["/flaky/1", "/flaky/1", "/set-cookie"]


async def test_ws_connect_runs_the_session_middlewares(
    served: tuple[str, list[dict[str, Any]]],
) -> None:
    base, log = served

    async def slow_tag(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        request.headers["X-Tag"] = "ws"
        resp = await handler(request)
        # Yield to the loop while the server's first frame is already on its way: it must
        # wait for the WebSocket, not be read as HTTP.
        await asyncio.sleep(0.05)
        return resp

    async with ClientSession(middlewares=[slow_tag]) as session:
        async with session.ws_connect(f"{base}/ws") as ws:
            first = await ws.receive(timeout=5)
            assert (first.type, first.data) == (WSMsgType.TEXT, "hello")
            await ws.send_str("ping")
            assert (await ws.receive_str(timeout=5)) == "echo ping"
    assert log[0]["headers"]["X-Tag"] == "ws"


# -- DigestAuthMiddleware -------------------------------------------------------------------


def digest_app(log: list[dict[str, str]], *, domain: str | None = None) -> web.Application:
    """Checks RFC 7616 digests (SHA-256, qop=auth) for alice:wonder on /private/*, the body
    echoed; records the Authorization each request carried (or "")."""
    realm, nonce = "middleware@test", os.urandom(8).hex()
    app = web.Application()

    def challenge() -> web.Response:
        value = f'Digest realm="{realm}", qop="auth", nonce="{nonce}", algorithm=SHA-256'
        if domain is not None:
            value += f', domain="{domain}"'
        return web.Response(status=401, headers={"WWW-Authenticate": value})

    async def private(request: web.Request) -> web.Response:
        body = await request.read()
        header = request.headers.get("Authorization", "")
        log.append({"path": request.raw_path, "auth": header, "body": body.decode()})
        fields = checked_digest(request, "alice", "wonder", realm)
        if fields is None:
            return challenge()
        return web.Response(text=f"hello alice, nc={fields['nc']}, body={body.decode()}")

    async def public(request: web.Request) -> web.Response:
        log.append({"path": request.raw_path, "auth": request.headers.get("Authorization", "")})
        return web.Response(text="public")

    app.router.add_route("*", "/private/{tail:.*}", private)
    app.router.add_get("/public", public)
    return app


async def test_digest_middleware_answers_then_authorizes_preemptively(
    aiohttp_server: Start,
) -> None:
    log: list[dict[str, str]] = []
    server = await aiohttp_server(digest_app(log))
    base = f"http://127.0.0.1:{server.port}"
    async with ClientSession(middlewares=[DigestAuthMiddleware("alice", "wonder")]) as session:
        async with session.post(f"{base}/private/a?x=1", data=b"the body") as resp:
            assert resp.status == 200
            assert await resp.text() == "hello alice, nc=00000001, body=the body"
        # Same protection space (the origin): answered up front, next nonce count.
        async with session.get(f"{base}/private/b") as resp:
            assert await resp.text() == "hello alice, nc=00000002, body="
    assert [(e["path"], e["auth"][:7], e["body"]) for e in log] == [
        ("/private/a?x=1", "", "the body"),
        ("/private/a?x=1", "Digest ", "the body"),
        ("/private/b", "Digest ", ""),
    ]


async def test_digest_middleware_not_preemptive_and_wrong_password(
    aiohttp_server: Start,
) -> None:
    log: list[dict[str, str]] = []
    server = await aiohttp_server(digest_app(log))
    base = f"http://127.0.0.1:{server.port}"
    lazy = DigestAuthMiddleware("alice", "wonder", preemptive=False)
    async with ClientSession(middlewares=[lazy]) as session:
        for _ in range(2):
            async with session.get(f"{base}/private/a") as resp:
                assert resp.status == 200
        assert [e["auth"][:7] for e in log] == ["", "Digest ", "", "Digest "]
        log.clear()
        wrong = DigestAuthMiddleware("alice", "nope")
        async with session.get(f"{base}/private/a", middlewares=[wrong]) as resp:
            assert resp.status == 401  # one answer, no loop
        assert len(log) == 2


async def test_digest_middleware_keeps_credentials_to_the_protection_space(
    aiohttp_server: Start,
) -> None:
    log: list[dict[str, str]] = []
    other_log: list[dict[str, str]] = []
    server = await aiohttp_server(digest_app(log, domain="/private/"))
    other = await aiohttp_server(digest_app(other_log))
    base = f"http://127.0.0.1:{server.port}"
    digest = DigestAuthMiddleware("alice", "wonder")
    async with ClientSession(middlewares=[digest]) as session:
        async with session.get(f"{base}/private/a") as resp:
            assert resp.status == 200
        async with session.get(f"{base}/public") as resp:
            assert await resp.text() == "public"  # outside the domain: no credentials
        async with session.get(f"http://127.0.0.1:{other.port}/private/a") as resp:
            assert resp.status == 401  # another origin: passed through untouched
    assert [e["auth"][:7] for e in log] == ["", "Digest ", ""]
    assert [e["auth"] for e in other_log] == [""]


async def test_digest_middleware_does_not_resend_a_streamed_body(
    aiohttp_server: Start,
) -> None:
    log: list[dict[str, str]] = []
    server = await aiohttp_server(digest_app(log))

    async def stream() -> Any:
        yield b"once"

    digest = DigestAuthMiddleware("alice", "wonder")
    async with ClientSession(middlewares=[digest]) as session:
        url = f"http://127.0.0.1:{server.port}/private/a"
        async with session.post(url, data=stream()) as resp:
            assert resp.status == 401  # an async iterable cannot be sent a second time
    assert len(log) == 1


def test_digest_middleware_arguments() -> None:
    with pytest.raises(ValueError, match="login"):
        DigestAuthMiddleware(None, "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="password"):
        DigestAuthMiddleware("x", None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="colon"):
        DigestAuthMiddleware("a:b", "x")


async def test_digest_middleware_leaves_a_challenge_with_a_control_character(
    raw_server: Callable[..., Awaitable[RawServer]],
) -> None:
    # A tab may travel in a field value, but not in a realm we would echo back quoted.
    head = (
        b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n"
        b'WWW-Authenticate: Digest realm="a\tb", nonce="n", qop="auth"\r\n\r\n'
    )
    requests: list[bytes] = []

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            request, _ = await read_request(reader)
            requests.append(request)
            writer.write(head)
            await writer.drain()

    server = await raw_server(refuse)
    digest = DigestAuthMiddleware("alice", "wonder")
    async with ClientSession(middlewares=[digest]) as session:
        for _ in range(2):  # nothing answered up front the second time either
            async with session.get(f"{server.url}/private") as resp:
                assert resp.status == 401
    assert len(requests) == 2  # the 401 is returned as it is, not answered
    assert not any(b"Authorization" in request for request in requests)


async def test_digest_middleware_origin_counts_the_default_port_once() -> None:
    # RFC 6454: http://h/ and http://H:80/ are one origin, the one the credentials were
    # given for, so a challenge from either is answered. (Port 80 cannot be served here:
    # the chain ends in a stand-in handler: /public answers 200, /private challenges.)
    challenge = 'Digest realm="r", qop="auth", nonce="n", algorithm=SHA-256'
    sent: list[str] = []

    class Answer:
        def __init__(self, url: URL, status: int) -> None:
            self.url, self.status = url, status
            self.headers = CIMultiDict({"WWW-Authenticate": challenge} if status == 401 else {})

        def release(self) -> None:
            pass

    async def handler(request: ClientRequest) -> Any:
        authorization = request.headers.get("Authorization", "")[:6]
        sent.append(f"{request.url.path} {authorization}")
        public = request.url.path == "/public"
        return Answer(request.url, 200 if public or authorization else 401)

    middleware = DigestAuthMiddleware("alice", "wonder")
    assert (await middleware(ClientRequest("GET", URL("http://h/public")), handler)).status == 200
    private = ClientRequest("GET", URL("http://H:80/private"))
    assert (await middleware(private, handler)).status == 200
    assert sent == ["/public ", "/private ", "/private Digest"]


# -- hop-by-hop fields a middleware sets ----------------------------------------------------


async def test_connection_close_set_by_a_middleware_is_honoured(raw_server: Any) -> None:
    """RFC 9112 §9.6, as for the caller's own header: the next request went out on the
    connection the server was about to close (a POST is not retried, so it failed)."""
    seen: list[tuple[int, bytes]] = []

    async def bye(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        if request.url.path == "/bye":
            request.headers["Connection"] = "close"
        return await handler(request)

    srv = await raw_server(closing_when_asked(seen))
    async with ClientSession(middlewares=(bye,)) as session:
        async with session.get(srv.url + "/bye") as resp:
            assert await resp.read() == b"ok"
        await asyncio.sleep(10 * MS)  # answered; the server has not closed yet
        async with session.post(srv.url + "/next", data=b"x") as resp:
            assert await resp.read() == b"ok"
    assert seen == [(1, b"GET /bye HTTP/1.1"), (2, b"POST /next HTTP/1.1")]


async def test_proxy_authorization_set_by_a_middleware_goes_to_the_proxy(
    raw_server: Any,
) -> None:
    """Routed as the caller's own header is: once, with the absolute-form request, and
    not beside a proxy_auth= that wins over it."""
    heads: list[bytes] = []

    async def token(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        request.headers["Proxy-Authorization"] = "Basic dTpw"
        return await handler(request)

    srv = await raw_server(recording(heads))
    async with ClientSession(middlewares=(token,)) as session:
        async with session.get("http://a.test/", proxy=srv.url) as resp:
            assert await resp.read() == b"ok"
        auth = hyperclient.BasicAuth("user", "pass")
        async with session.get("http://a.test/", proxy=srv.url, proxy_auth=auth) as resp:
            assert await resp.read() == b"ok"
    assert [h.lower().count(b"\r\nproxy-authorization: ") for h in heads] == [1, 1]
    assert b"\r\nProxy-Authorization: Basic dTpw\r\n" in heads[0]
    assert b"\r\nProxy-Authorization: Basic dXNlcjpwYXNz\r\n" in heads[1]
