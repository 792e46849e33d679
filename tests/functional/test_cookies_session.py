"""Cookies through a real session: scoping by host and path, jars, persistence."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from typing import Any

from aiohttp import web

import hyperclient
from hyperclient import ClientSession

Start = Callable[..., Awaitable[Any]]


def cookie_app() -> web.Application:
    app = web.Application()

    async def set_(request: web.Request) -> web.Response:
        resp = web.Response(text="set")
        for spec in request.query.getall("c"):
            resp.headers.add("Set-Cookie", spec)
        return resp

    async def show(request: web.Request) -> web.Response:
        return web.Response(text=request.headers.get("Cookie", ""))

    app.router.add_get("/set", set_)
    app.router.add_get("/{tail:.*}", show)
    return app


async def test_host_and_path_scoping(aiohttp_server: Start) -> None:
    server = await aiohttp_server(cookie_app())
    ip = f"http://127.0.0.1:{server.port}"
    name = f"http://localhost:{server.port}"
    async with ClientSession() as session:
        async with session.get(
            f"{ip}/set", params=[("c", "hostonly=1"), ("c", "scoped=2; Path=/a")]
        ) as resp:
            assert await resp.text() == "set"
        async with session.get(f"{ip}/a/page") as resp:
            assert sorted((await resp.text()).split("; ")) == ["hostonly=1", "scoped=2"]
        async with session.get(f"{ip}/b") as resp:
            assert await resp.text() == "hostonly=1"  # Path=/a does not match /b
        async with session.get(f"{name}/a/page") as resp:
            assert await resp.text() == ""  # another host entirely


async def test_cookie_for_another_domain_is_refused(aiohttp_server: Start) -> None:
    server = await aiohttp_server(cookie_app())
    base = f"http://localhost:{server.port}"
    async with ClientSession() as session:
        async with session.get(
            f"{base}/set", params=[("c", "evil=1; Domain=example.com"), ("c", "good=1")]
        ) as resp:
            await resp.read()
        assert [m.key for m in session.cookie_jar] == ["good"]


async def test_expired_cookie_deletes(aiohttp_server: Start) -> None:
    server = await aiohttp_server(cookie_app())
    base = f"http://127.0.0.1:{server.port}"
    async with ClientSession() as session:
        async with session.get(f"{base}/set", params={"c": "temp=1"}) as resp:
            await resp.read()
        async with session.get(f"{base}/set", params={"c": "temp=; Max-Age=0"}) as resp:
            await resp.read()
        async with session.get(f"{base}/show") as resp:
            assert await resp.text() == ""


async def test_dummy_jar_stores_nothing(aiohttp_server: Start) -> None:
    server = await aiohttp_server(cookie_app())
    base = f"http://127.0.0.1:{server.port}"
    async with ClientSession(cookie_jar=hyperclient.DummyCookieJar()) as session:
        async with session.get(f"{base}/set", params={"c": "a=1"}) as resp:
            assert resp.cookies["a"].value == "1"  # still visible on the response
        async with session.get(f"{base}/show") as resp:
            assert await resp.text() == ""


async def test_jar_save_and_load(aiohttp_server: Start, tmp_path: Any) -> None:
    server = await aiohttp_server(cookie_app())
    base = f"http://127.0.0.1:{server.port}"
    path = tmp_path / "jar.json"
    async with ClientSession() as session:
        async with session.get(f"{base}/set", params={"c": "kept=yes; Max-Age=3600"}) as resp:
            await resp.read()
        session.cookie_jar.save(path)  # type: ignore[attr-defined]
    assert path.read_text().lstrip().startswith("{")  # JSON, never pickle
    jar = hyperclient.CookieJar()
    jar.load(path)
    async with ClientSession(cookie_jar=jar) as session:
        async with session.get(f"{base}/show") as resp:
            assert await resp.text() == "kept=yes"


async def test_request_cookies_are_quoted_like_jar_cookies(aiohttp_server: Start) -> None:
    server = await aiohttp_server(cookie_app())
    base = f"http://127.0.0.1:{server.port}"
    async with ClientSession() as session:
        async with session.get(f"{base}/show", cookies={"plain": "v", "spaced": "a b"}) as resp:
            # A space is not a cookie-octet (RFC 6265 §4.1.1): the value goes quoted.
            assert await resp.text() == 'plain=v; spaced="a b"'


async def test_request_cookies_obey_their_attributes_whatever_the_jar(
    aiohttp_server: Start,
) -> None:
    """With an empty jar or a DummyCookieJar, a request's own Secure, Domain= or Path=
    cookie went to any URL (aiohttp filters it through a temporary jar)."""
    server = await aiohttp_server(cookie_app())
    base = f"http://a.example:{server.port}"  # not loopback: not a secure origin
    resolver = hyperclient.StaticResolver({"a.example": "127.0.0.1"})
    own: SimpleCookie = SimpleCookie()
    own["sec"] = "v"
    own["sec"]["secure"] = True
    own["other"] = "v"
    own["other"]["domain"] = "b.example"
    own["admin"] = "v"
    own["admin"]["path"] = "/admin"
    own["plain"] = "v"
    for jar in (hyperclient.CookieJar(), hyperclient.DummyCookieJar()):
        connector = hyperclient.TCPConnector(resolver=resolver)
        async with ClientSession(cookie_jar=jar, connector=connector) as session:
            async with session.get(f"{base}/x", cookies=own) as resp:
                assert await resp.text() == "plain=v"


async def test_request_cookies_follow_the_jars_options(aiohttp_server: Start) -> None:
    server = await aiohttp_server(cookie_app())
    base = f"http://127.0.0.1:{server.port}"
    jar = hyperclient.CookieJar(quote_cookie=False)
    async with ClientSession(cookie_jar=jar) as session:
        async with session.get(f"{base}/x", cookies={"a": "x y"}) as resp:
            assert await resp.text() == "a=x y"  # was quoted, as if quote_cookie were on


async def test_utf8_cookie_values_round_trip(raw_server: Any) -> None:
    """Decoded as Latin-1, "é€" was stored as mojibake, lost from resp.cookies and sent
    back double-encoded."""
    heads: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            heads.append(head)
            writer.write(b"HTTP/1.1 200 OK\r\nSet-Cookie: u=" + "é€".encode() + b"; Path=/\r\n")
            writer.write(b"Content-Length: 0\r\n\r\n")

    srv = await raw_server(script)
    jar = hyperclient.CookieJar(quote_cookie=False)
    async with ClientSession(cookie_jar=jar) as session:
        async with session.get(srv.url) as resp:
            assert resp.cookies["u"].value == "é€"
        assert [m.value for m in jar] == ["é€"]
        async with session.get(srv.url):
            pass
    assert b"\r\nCookie: u=" + "é€".encode() + b"\r\n" in heads[1]


async def test_a_cookie_over_4096_bytes_is_ignored_by_response_and_jar(raw_server: Any) -> None:
    """RFC 6265bis §5.6. The jar already refused it, but only after unquoting the value,
    which the stdlib does in quadratic time; resp.cookies kept it."""
    hostile = b'big="' + b"\\\\" * 4085 + b'"'  # 8 KB of backslash pairs, as in the audit
    fits = b"edge=" + b"v" * 4092  # 4096 bytes of name and value

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\n")
        for value in (hostile, fits, b"small=1"):
            writer.write(b"Set-Cookie: " + value + b"\r\n")
        writer.write(b"Content-Length: 0\r\n\r\n")

    srv = await raw_server(script)
    async with ClientSession() as session:
        async with session.get(srv.url) as resp:
            assert sorted(resp.cookies) == ["edge", "small"]
        assert sorted(morsel.key for morsel in session.cookie_jar) == ["edge", "small"]
