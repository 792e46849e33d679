"""Redirects (RFC 9110 §15.4): methods, bodies, targets and credentials across origins."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from yarl import URL

import hyperclient
from hyperclient import ClientSession

Start = Callable[..., Awaitable[Any]]


def redirect_app() -> web.Application:
    app = web.Application()

    async def redirect(request: web.Request) -> web.Response:
        status = int(request.match_info["status"])
        await request.read()  # drain the body the client sent
        location = request.query.get("to", "/echo")
        return web.Response(status=status, headers={"Location": location})

    async def echo(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "method": request.method,
                "body": (await request.read()).decode(),
                "headers": dict(request.headers),
                "path": request.raw_path,
            }
        )

    async def loop(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/loop"})

    app.router.add_route("*", "/r/{status}", redirect)
    app.router.add_get("/loop", loop)
    app.router.add_route("*", "/echo", echo)
    app.router.add_route("*", "/sub/echo", echo)
    return app


@pytest.fixture
async def origin(aiohttp_server: Start) -> str:
    server = await aiohttp_server(redirect_app())
    return f"http://127.0.0.1:{server.port}"


@pytest.fixture
async def other_origin(aiohttp_server: Start) -> str:
    server = await aiohttp_server(redirect_app())
    return f"http://127.0.0.1:{server.port}"


@pytest.mark.parametrize(
    ("status", "method", "expected_method", "keeps_body"),
    [
        (301, "GET", "GET", False),
        (301, "POST", "GET", False),
        (301, "PUT", "PUT", True),
        (302, "GET", "GET", False),
        (302, "POST", "GET", False),
        (302, "PUT", "PUT", True),
        (303, "GET", "GET", False),
        (303, "POST", "GET", False),
        (303, "PUT", "GET", False),
        (307, "GET", "GET", False),
        (307, "POST", "POST", True),
        (307, "PUT", "PUT", True),
        (308, "POST", "POST", True),
        (308, "PUT", "PUT", True),
    ],
)
async def test_method_and_body_per_status(
    status: int, method: str, expected_method: str, keeps_body: bool, origin: str
) -> None:
    body = b"payload" if method != "GET" else None
    async with ClientSession() as session:
        async with session.request(
            method, f"{origin}/r/{status}", data=body, headers={"Content-Type": "text/x-mine"}
        ) as resp:
            data = await resp.json()
            assert [r.status for r in resp.history] == [status]
    assert data["method"] == expected_method
    if keeps_body:
        assert data["body"] == "payload"
        assert data["headers"]["Content-Type"] == "text/x-mine"
    else:
        assert data["body"] == ""
        for name in ("Content-Type", "Content-Length", "Transfer-Encoding"):
            if method != "GET":
                assert name not in data["headers"] or data["headers"][name] == "0"


async def test_head_follows_only_when_asked(origin: str) -> None:
    async with ClientSession() as session:
        async with session.head(f"{origin}/r/303") as resp:
            assert resp.status == 303
        async with session.head(f"{origin}/r/303", allow_redirects=True) as resp:
            assert resp.status == 200
            assert resp.method == "HEAD"  # 303 keeps HEAD as HEAD


async def test_relative_location_and_fragment(origin: str) -> None:
    async with ClientSession() as session:
        async with session.get(f"{origin}/r/302?to=sub/echo") as resp:
            assert resp.status == 404
            assert resp.url.path == "/r/sub/echo"
        # RFC 3986 §5.2: "sub/echo" from /r/302 is /r/sub/echo; "/sub/echo" is absolute.
        async with session.get(f"{origin}/r/302?to=/sub/echo%23frag") as resp:
            data = await resp.json()
        assert data["path"] == "/sub/echo"
        assert resp.url == URL(f"{origin}/sub/echo")
        async with session.get(f"{origin}/r/302?to=../echo?x=1") as resp:
            data = await resp.json()
        assert data["path"] == "/echo?x=1"
        async with session.get(f"{origin}/r/301?to=/echo%23top") as resp:
            assert resp.url == URL(f"{origin}/echo")


@pytest.mark.parametrize("target", ["ftp://example.com/x", "javascript:alert(1)", "file:///etc"])
async def test_non_http_schemes_are_refused(target: str, origin: str) -> None:
    async with ClientSession() as session:
        with pytest.raises(hyperclient.NonHttpUrlRedirectClientError, match="scheme"):
            await session.get(f"{origin}/r/302", params={"to": target})


async def test_streamed_body_cannot_be_replayed(origin: str) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"only once"

    async with ClientSession() as session:
        # A ClientPayloadError, as aiohttp 3.14 raises, and still a RedirectClientError.
        with pytest.raises(hyperclient.ClientPayloadError, match="cannot be sent again") as info:
            await session.post(f"{origin}/r/307", data=body())
        assert isinstance(info.value, hyperclient.RedirectClientError)
        # The same stream inside a multipart form.
        form = hyperclient.FormData()
        form.add_field("upload", body(), filename="x.bin")
        with pytest.raises(hyperclient.RedirectClientError, match="cannot be sent again"):
            await session.post(f"{origin}/r/307", data=form)


@pytest.mark.parametrize("target", ["http:///echo", "http://", "https:///x", "///echo", "//"])
async def test_location_with_an_empty_authority_is_refused(origin: str, target: str) -> None:
    # It named no host, and joined to the current URL it stayed on this server.
    async with ClientSession() as session:
        with pytest.raises(
            hyperclient.InvalidUrlRedirectClientError, match="redirect URL has no host"
        ):
            await session.get(f"{origin}/r/302", params={"to": target})
        # Without "//" it is a relative reference keeping the scheme (RFC 3986 §5.4.2).
        async with session.get(f"{origin}/r/302", params={"to": "http:/echo"}) as resp:
            assert resp.url == URL(f"{origin}/echo")


async def test_empty_location_is_not_followed(origin: str) -> None:
    # As with no Location at all (curl, aiohttp): it would only loop back to this URL.
    async with ClientSession() as session:
        async with session.get(f"{origin}/r/302", params={"to": " "}) as resp:
            assert resp.status == 302
            assert resp.history == ()


async def test_location_bytes_that_are_not_utf8_are_percent_encoded(raw_server: Start) -> None:
    paths: list[bytes] = []

    async def script(reader: Any, writer: Any) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ")[1]
            paths.append(path)
            if path == b"/start":
                writer.write(b"HTTP/1.1 302 Found\r\nLocation: /caf\xe9?q=\xff\r\n")
                writer.write(b"Content-Length: 0\r\n\r\n")
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    server = await raw_server(script)
    async with ClientSession() as session:
        async with session.get(f"{server.url}/start") as resp:
            assert await resp.read() == b"ok"
    # The byte was dropped: "/caf" is another resource.
    assert paths == [b"/start", b"/caf%E9?q=%FF"]


async def test_history_responses_are_released(origin: str) -> None:
    async with ClientSession() as session:
        async with session.get(f"{origin}/r/302") as resp:
            await resp.read()
            assert all(r.closed for r in resp.history)
            assert resp.history[0].url == URL(f"{origin}/r/302")


async def test_too_many_redirects_carries_history(origin: str) -> None:
    async with ClientSession() as session:
        with pytest.raises(hyperclient.TooManyRedirects) as info:
            await session.get(f"{origin}/loop", max_redirects=4)
    assert len(info.value.history) == 5
    assert info.value.status == 302
    assert "4 redirects" in info.value.message


async def test_exactly_max_redirects_are_followed(origin: str) -> None:
    # Two hops: /r/302?to=/r/302?to=/echo ... built with nested quoting.
    second = "/r/302?to=/echo"
    first = f"{origin}/r/302?to=" + second.replace("?", "%3F").replace("=", "%3D")
    async with ClientSession() as session:
        async with session.get(first, max_redirects=2) as resp:
            assert resp.status == 200
            assert len(resp.history) == 2
        with pytest.raises(hyperclient.TooManyRedirects):
            await session.get(first, max_redirects=1)


async def test_credentials_survive_same_origin(origin: str) -> None:
    async with ClientSession(auth=hyperclient.BasicAuth("u", "p")) as session:
        async with session.get(
            f"{origin}/r/302", headers={"Cookie": "c=1"}, cookies={"k": "v"}
        ) as resp:
            data = await resp.json()
    assert data["headers"]["Authorization"] == hyperclient.BasicAuth("u", "p").encode()
    assert "c=1" in data["headers"]["Cookie"]
    assert "k=v" in data["headers"]["Cookie"]


async def test_credentials_dropped_across_origins(origin: str, other_origin: str) -> None:
    target = f"{other_origin}/echo"
    async with ClientSession() as session:
        async with session.get(
            f"{origin}/r/302",
            params={"to": target},
            headers={
                "Authorization": "Bearer token",
                "Cookie": "c=1",
                "Proxy-Authorization": "Basic eA==",
                "X-Harmless": "kept",
            },
            cookies={"k": "v"},
        ) as resp:
            data = await resp.json()
    headers = data["headers"]
    assert resp.url == URL(target)
    for name in ("Authorization", "Cookie", "Proxy-Authorization"):
        assert name not in headers
    assert headers["X-Harmless"] == "kept"
    # The session's own credentials too.
    async with ClientSession(auth=hyperclient.BasicAuth("session", "secret")) as session:
        async with session.get(f"{origin}/r/302", params={"to": target}) as resp:
            assert "Authorization" not in (await resp.json())["headers"]
        assert resp.history[0].request_info.headers["Authorization"].startswith("Basic ")


async def test_a_host_set_by_hand_stays_with_its_origin(origin: str, other_origin: str) -> None:
    # It would name the old server to the new one (virtual-host confusion); curl drops it.
    async with ClientSession() as session:
        async with session.get(
            f"{origin}/r/302", params={"to": f"{other_origin}/echo"}, headers={"Host": "a.test"}
        ) as resp:
            data = await resp.json()
        assert data["headers"]["Host"] == URL(other_origin).raw_authority
        async with session.get(f"{origin}/r/302", headers={"Host": "a.test"}) as resp:
            assert (await resp.json())["headers"]["Host"] == "a.test"


async def test_request_auth_dropped_across_origins(origin: str, other_origin: str) -> None:
    async with ClientSession() as session:
        async with session.get(
            f"{origin}/r/307",
            params={"to": f"{other_origin}/echo"},
            auth=hyperclient.BasicAuth("req", "secret"),
        ) as resp:
            data = await resp.json()
    assert "Authorization" not in data["headers"]


async def test_jar_cookies_follow_their_own_rules(origin: str, other_origin: str) -> None:
    # Cookies from the jar are sent wherever the jar allows, e.g. a host-wide cookie.
    async with ClientSession(cookies={"everywhere": "1"}) as session:
        async with session.get(f"{origin}/r/302", params={"to": f"{other_origin}/echo"}) as resp:
            data = await resp.json()
    assert data["headers"]["Cookie"] == "everywhere=1"


async def test_redirect_reported_to_tracing(origin: str) -> None:
    events: list[str] = []
    config = hyperclient.TraceConfig()

    async def on_redirect(session: Any, ctx: Any, params: Any) -> None:
        events.append(f"redirect {params.response.status} {params.url.path}")

    config.on_request_redirect.append(on_redirect)
    async with ClientSession(trace_configs=[config]) as session:
        async with session.get(f"{origin}/r/301") as resp:
            assert json.loads(await resp.text())["method"] == "GET"
    assert events == ["redirect 301 /r/301"]
