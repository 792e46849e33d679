"""Client code written for aiohttp runs unchanged on hyperclient (issue 10).

``CLIENT_CODE`` is a small, realistic aiohttp client module: JSON API calls with
``raise_for_status``, a form upload with a file, a streamed download, a WebSocket echo.
It runs three ways against a local aiohttp.web server: ``import hyperclient as aiohttp``
in this process; in a subprocess after ``sys.modules["aiohttp"] = hyperclient`` (the
module-level swap); and in a subprocess with ``compat/compat_swap.py``'s client swap,
where the real ``aiohttp.web`` and ``aiohttp.test_utils.TestClient`` stay importable
but every client name is hyperclient's.  ``make compat`` runs real libraries' suites.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import types
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import hyperclient

ROOT = Path(__file__).resolve().parent.parent

# Written against aiohttp's documented client API only; nothing here names hyperclient.
CLIENT_CODE = """
import asyncio
import aiohttp
from aiohttp import ClientSession, ClientTimeout, FormData, WSMsgType
from aiohttp.client_exceptions import ClientResponseError, ContentTypeError
from aiohttp.client_ws import ClientWebSocketResponse
from aiohttp.cookiejar import CookieJar


class ApiClient:
    def __init__(self, base):
        self.base = base
        self.session = ClientSession(
            timeout=ClientTimeout(total=10, sock_connect=5),
            headers={"User-Agent": "dropin/1.0"},
            raise_for_status=True,
            cookie_jar=CookieJar(),
        )

    async def close(self):
        await self.session.close()

    async def get_item(self, n):
        async with self.session.get(f"{self.base}/items/{n}") as resp:
            return await resp.json()

    async def upload(self, data):
        form = FormData()
        form.add_field("title", "report")
        form.add_field("file", data, filename="r.bin", content_type="application/octet-stream")
        async with self.session.post(f"{self.base}/upload", data=form) as resp:
            return await resp.json()

    async def download(self):
        total = bytearray()
        async with self.session.get(f"{self.base}/download") as resp:
            async for chunk in resp.content.iter_chunked(4096):
                total += chunk
        return bytes(total), resp.headers["Content-Type"]

    async def echo_ws(self, words):
        got = []
        async with self.session.ws_connect(f"{self.base}/ws") as ws:
            assert isinstance(ws, ClientWebSocketResponse), ws
            for word in words:
                await ws.send_str(word)
                msg = await ws.receive()
                assert msg.type == WSMsgType.TEXT, msg
                got.append(msg.data)
            await ws.close()
        return got, ws.closed, ws.close_code


async def scenario(base):
    api = ApiClient(base)
    try:
        results = {"item": await api.get_item(7)}
        try:
            await api.get_item(404)
        except ClientResponseError as exc:
            results["error"] = [exc.status, exc.message, exc.headers["X-Why"],
                                str(exc.request_info.url).endswith("/items/404"),
                                type(exc).__name__]
        async with aiohttp.ClientSession() as plain:
            async with plain.get(f"{base}/text") as resp:
                try:
                    await resp.json()
                except ContentTypeError as exc:
                    is_response_error = isinstance(exc, aiohttp.ClientResponseError)
                    results["content_type_error"] = [exc.status, is_response_error]
        results["upload"] = await api.upload(b"\\x00\\x01" * 1000)
        body, ctype = await api.download()
        results["download"] = [len(body), body[:4].hex(), ctype]
        results["ws"] = list(await api.echo_ws(["a", "b"]))
        results["session_class"] = type(api.session).__module__
        return results
    finally:
        await api.close()
"""

EXPECTED = {
    "item": {"id": 7, "name": "item 7"},
    "error": [404, "Not Found", "missing", True, "ClientResponseError"],
    "content_type_error": [200, True],
    "upload": {"title": "report", "file": ["r.bin", 2000]},
    "download": [100_000, "00010203", "application/octet-stream"],
    "ws": [["a", "b"], True, 1000],
}


def make_app() -> web.Application:
    async def item(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        if n == 404:
            raise web.HTTPNotFound(headers={"X-Why": "missing"})
        return web.json_response({"id": n, "name": f"item {n}"})

    async def upload(request: web.Request) -> web.Response:
        post = await request.post()
        file = post["file"]
        assert isinstance(file, web.FileField)
        return web.json_response(
            {"title": post["title"], "file": [file.filename, len(file.file.read())]}
        )

    async def download(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(100):
            await resp.write(bytes(range(250)) * 4)
        return resp

    async def text(request: web.Request) -> web.Response:
        return web.Response(text="not json")

    async def ws(request: web.Request) -> web.WebSocketResponse:
        sock = web.WebSocketResponse()
        await sock.prepare(request)
        async for msg in sock:
            await sock.send_str(msg.data)
        return sock

    app = web.Application()
    app.router.add_get("/items/{n}", item)
    app.router.add_post("/upload", upload)
    app.router.add_get("/download", download)
    app.router.add_get("/text", text)
    app.router.add_get("/ws", ws)
    return app


def load_client(aiohttp_module: types.ModuleType) -> types.ModuleType:
    """Exec ``CLIENT_CODE`` with ``import aiohttp`` resolving to ``aiohttp_module``."""
    module = types.ModuleType("dropin_client")
    saved = {k: v for k, v in sys.modules.items() if k == "aiohttp" or k.startswith("aiohttp.")}
    sys.modules["aiohttp"] = aiohttp_module
    for name in ("client_exceptions", "client_ws", "cookiejar"):
        sys.modules["aiohttp." + name] = getattr(aiohttp_module, name)
    try:
        exec(compile(CLIENT_CODE, "dropin_client", "exec"), module.__dict__)
    finally:
        sys.modules.update(saved)
    return module


@pytest.fixture
async def base_url(aiohttp_server: Callable[..., Awaitable[Any]]) -> str:
    server = await aiohttp_server(make_app())
    return f"http://127.0.0.1:{server.port}"


async def test_import_hyperclient_as_aiohttp(base_url: str) -> None:
    import hyperclient as aiohttp

    client = load_client(aiohttp)
    assert client.ClientSession is hyperclient.ClientSession
    results = await client.scenario(base_url)
    assert results.pop("session_class") == "hyperclient.client"
    assert results == EXPECTED


SUBPROCESS_MAIN = """
import asyncio, json, sys, types
{swap}
module = types.ModuleType("dropin_client")
exec(compile(sys.argv[2], "dropin_client", "exec"), module.__dict__)
import aiohttp, hyperclient
assert aiohttp.ClientSession is hyperclient.ClientSession
print(json.dumps(asyncio.run(module.scenario(sys.argv[1]))))
"""

FULL_SWAP = """
import hyperclient
sys.modules["aiohttp"] = hyperclient
for name in ("abc", "client", "client_exceptions", "client_reqrep", "client_ws", "cookiejar",
             "hdrs", "helpers", "streams"):
    sys.modules["aiohttp." + name] = getattr(hyperclient, name)
"""

CLIENT_SWAP = """
import compat_swap
compat_swap.install("client")
import aiohttp.web, aiohttp.test_utils  # the server side is still the real aiohttp
assert aiohttp.web.Application.__module__ == "aiohttp.web_app"
"""


async def run_in_subprocess(swap: str, base_url: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "compat")])}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SUBPROCESS_MAIN.format(swap=textwrap.dedent(swap)),
        base_url,
        CLIENT_CODE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    import json

    result: dict[str, Any] = json.loads(out)
    return result


@pytest.mark.parametrize("swap", [FULL_SWAP, CLIENT_SWAP], ids=["sys-modules", "client-only"])
async def test_module_level_swap(base_url: str, swap: str) -> None:
    results = await run_in_subprocess(swap, base_url)
    assert results.pop("session_class") == "hyperclient.client"
    # JSON turns the tuples into lists; the values are the same as in-process.
    assert results == EXPECTED


TEST_CLIENT_CODE = """
import asyncio, sys
import compat_swap
compat_swap.install("client")
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
import hyperclient


async def main():
    async def hello(request):
        return web.json_response({"hello": request.query.get("name")})

    app = web.Application()
    app.router.add_get("/", hello)
    async with TestClient(TestServer(app)) as client:
        assert isinstance(client.session, hyperclient.ClientSession), client.session
        async with client.get("/", params={"name": "x"}) as resp:
            assert isinstance(resp, hyperclient.ClientResponse), resp
            assert await resp.json() == {"hello": "x"}
        resp = await client.get("/")
        assert resp.status == 200
    print("ok")


asyncio.run(main())
"""


def test_test_client_drives_hyperclient_under_client_swap() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "compat")])}
    proc = subprocess.run(
        [sys.executable, "-c", TEST_CLIENT_CODE], capture_output=True, env=env, timeout=30
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.strip() == b"ok"


#: aiohttp's submodules that client code imports names from; hyperclient has each.
SUBMODULES = ("abc", "client_exceptions", "client_middleware_digest_auth",
              "client_middlewares", "client_reqrep", "client_ws", "cookiejar", "hdrs",
              "helpers", "payload", "streams")  # fmt: skip


def test_aiohttp_submodule_names_are_importable() -> None:
    import importlib

    for name in SUBMODULES:
        assert getattr(hyperclient, name) is importlib.import_module(f"hyperclient.{name}")


@pytest.mark.parametrize(
    "name",
    ["abc", "client_middleware_digest_auth", "client_middlewares", "client_ws", "cookiejar"],
)
def test_reexport_modules_hold_only_aiohttp_names(name: str) -> None:
    """``from aiohttp.<name> import X`` works on hyperclient, for names aiohttp has there."""
    import importlib

    import aiohttp

    ours = importlib.import_module(f"hyperclient.{name}")
    theirs = importlib.import_module(f"aiohttp.{name}")
    assert ours.__all__
    for export in ours.__all__:
        assert hasattr(theirs, export), f"aiohttp.{name} has no {export}"
        if hasattr(aiohttp, export):
            assert getattr(ours, export) is getattr(hyperclient, export), export


def test_aiohttp_abc_client_names() -> None:
    from hyperclient.abc import AbstractCookieJar, AbstractResolver

    assert isinstance(hyperclient.CookieJar(), AbstractCookieJar)
    assert isinstance(hyperclient.DummyCookieJar(), AbstractCookieJar)
    assert issubclass(hyperclient.ThreadedResolver, AbstractResolver)


def test_hdrs_has_every_aiohttp_constant() -> None:
    from aiohttp import hdrs as theirs

    from hyperclient import hdrs as ours

    names = [n for n in dir(theirs) if n.isupper()]
    assert [n for n in names if not hasattr(ours, n)] == []
    assert [n for n in names if getattr(ours, n) != getattr(theirs, n)] == []
