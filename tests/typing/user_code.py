"""Client code written as aiohttp users write it; never run, only type-checked.

``test_mypy.py`` runs ``mypy --strict`` on this file and expects no error: each
``assert_type()`` pins a type that aiohttp users get, so a return type that regressed to
``Any`` (``assert_type`` refuses ``Any``) or a keyword argument no longer accepted fails.
"""

from __future__ import annotations

import asyncio
import io
import ssl
from types import SimpleNamespace
from typing import Any, assert_type

from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

import hyperclient
from hyperclient import (
    BasicAuth,
    ClientConnectorError,
    ClientResponse,
    ClientResponseError,
    ClientSession,
    ClientTimeout,
    ClientWebSocketResponse,
    Fingerprint,
    FormData,
    HttpVersion10,
    InvalidURL,
    RequestInfo,
    TCPConnector,
    TraceConfig,
    TraceRequestEndParams,
    TraceRequestStartParams,
    UploadTracker,
    WSMessage,
)
from hyperclient.tracing import Signal


async def responses(session: ClientSession, url: str) -> None:
    async with session.get(url, params={"q": "x", "n": 1}, headers={"X-Id": "1"}) as resp:
        assert_type(resp, ClientResponse)
        assert_type(resp.status, int)
        assert_type(resp.headers, CIMultiDictProxy[str])
        assert_type(resp.url, URL)
        assert_type(resp.history, tuple[ClientResponse, ...])
        assert_type(await resp.read(), bytes)
        assert_type(await resp.text(), str)
    assert_type(await session.get(url), ClientResponse)
    assert_type(await session.request("PUT", URL(url), data=b"x"), ClientResponse)
    async with session.post(url, json={"a": 1}) as resp:
        assert_type(resp, ClientResponse)
    for pending in (
        session.options(url),
        session.head(url, allow_redirects=True),
        session.put(url, data=FormData({"a": "1"}), compress="gzip", expect100=True),
        session.patch(url, data="text", encoding="latin-1", chunked=True),
        session.delete(url, allow_redirects=False),
    ):
        async with pending as resp:
            assert_type(resp, ClientResponse)
    task = asyncio.create_task(session.get(url))  # a Coroutine, as aiohttp's
    assert_type(await task, ClientResponse)


async def request_keywords(session: ClientSession, url: str) -> None:
    """Every keyword argument of a request, with a value of a type it takes."""
    await session.get(
        url,
        params=[("a", "1"), ("b", 2)],
        data=None,
        json=None,
        cookies={"c": "1"},
        headers=CIMultiDict({"X": "1"}),
        skip_auto_headers=["User-Agent"],
        auth=BasicAuth("user", "pass"),
        max_redirects=3,
        compress=None,
        chunked=None,
        expect100=False,
        raise_for_status=True,
        read_until_eof=True,
        timeout=ClientTimeout(total=5),
        ssl=False,
        server_hostname="example.com",
        proxy="http://proxy:3128",
        proxy_auth=BasicAuth("p", "q"),
        proxy_headers={"X-Proxy": "1"},
        encoding="utf-8",
        version=HttpVersion10,
        auto_decompress=False,
        files=None,
        trace_request_ctx={"id": 1},
        read_bufsize=2**17,
        middlewares=(),
        max_line_size=8190,
        max_field_size=8190,
        max_headers=128,
        upload_tracker=UploadTracker(),
    )

    async def check(resp: ClientResponse) -> None:
        resp.raise_for_status()

    await session.post(url, data=io.BytesIO(b"x"), raise_for_status=check, timeout=5)
    await session.get(url, ssl=ssl.create_default_context(), timeout=None)
    await session.get(url, ssl=Fingerprint(b"\0" * 32), proxy=URL("http://proxy:3128"))
    await session.get(url, verify_ssl=False)  # the reference's spellings of ssl=
    await session.get(url, ssl_context=ssl.create_default_context())
    await session.get(url, fingerprint=b"\0" * 32)
    await session.post(url, files={"f": io.BytesIO(b"x")})


async def module_level(url: str, connector: TCPConnector) -> None:
    async with hyperclient.request("GET", url, connector=connector) as resp:
        assert_type(resp, ClientResponse)
    assert_type(
        await hyperclient.get(url, params={"q": "1"}, version=HttpVersion10), ClientResponse
    )
    assert_type(await hyperclient.post(url, data=b"x", cookies={"a": "b"}), ClientResponse)
    assert_type(await hyperclient.put(url, json=[1], allow_redirects=False), ClientResponse)
    assert_type(await hyperclient.patch(url, data=b"x"), ClientResponse)
    assert_type(await hyperclient.delete(url, timeout=ClientTimeout(total=1)), ClientResponse)
    task = asyncio.create_task(hyperclient.options(url))  # a Coroutine, as request() was
    assert_type(await task, ClientResponse)
    assert_type(await hyperclient.head(url, allow_redirects=False), ClientResponse)
    assert_type(await hyperclient.options(url, loop=asyncio.get_running_loop()), ClientResponse)


async def websockets(session: ClientSession, url: str) -> None:
    async with session.ws_connect(
        url, protocols=("chat",), heartbeat=30.0, params={"a": "1"}, headers={"X": "1"}
    ) as ws:
        assert_type(ws, ClientWebSocketResponse)
        async for msg in ws:
            assert_type(msg, WSMessage)
            assert_type(msg.extra, str | None)
    assert_type(await session.ws_connect(url, ssl=False, proxy=URL(url)), ClientWebSocketResponse)
    task = asyncio.create_task(session.ws_connect(url))
    assert_type(await task, ClientWebSocketResponse)


async def closing(session: ClientSession, connector: TCPConnector) -> None:
    task = asyncio.create_task(session.close())
    assert_type(task, asyncio.Task[None])
    await task
    await asyncio.create_task(connector.close())
    await asyncio.gather(session.close(), asyncio.ensure_future(connector.close()))
    await asyncio.wait_for(connector.close(), 1)
    session.close()  # the reference's plain call: no error for an unused coroutine
    connector.close()


async def on_start(
    session: ClientSession, ctx: SimpleNamespace, params: TraceRequestStartParams
) -> None:
    assert_type(params.url, URL)
    assert_type(params.headers, CIMultiDict[str])


async def on_end(
    session: ClientSession, ctx: SimpleNamespace, params: TraceRequestEndParams
) -> None:
    assert_type(params.response, ClientResponse)


async def on_anything(session: ClientSession, ctx: Any, params: object) -> bool:
    return True  # what a callback returns is ignored


def tracing() -> TraceConfig:
    trace = TraceConfig()
    assert_type(trace.on_request_start, Signal[TraceRequestStartParams])
    trace.on_request_start.append(on_start)
    trace.on_request_start.insert(0, on_start)
    trace.on_request_start[0] = on_start
    trace.on_request_end.extend([on_end, on_anything])
    trace.on_dns_cache_hit.append(on_anything)
    return trace


def errors(
    response_error: ClientResponseError,
    connector_error: ClientConnectorError,
    invalid_url: InvalidURL,
) -> None:
    assert_type(response_error.request_info, RequestInfo)
    assert_type(response_error.request_info.real_url, URL)
    assert_type(response_error.history, tuple[ClientResponse, ...])
    assert_type(
        response_error.headers.get("Retry-After") if response_error.headers else None, str | None
    )
    assert_type(connector_error.ssl, ssl.SSLContext | bool | Fingerprint)
    assert_type(invalid_url.url, str | URL)
