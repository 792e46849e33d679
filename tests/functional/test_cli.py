"""The ``hyperclient`` command, run for real in a subprocess against local servers.

Each test starts ``python -m hyperclient ...`` with ``asyncio.create_subprocess_exec``
(never a blocking ``subprocess.run``: the servers live in the test's own loop) and checks
stdout, stderr and the exit code, one flag family per test.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import pty
import socket
import ssl
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web

import hyperclient
from hyperclient import cli
from hyperclient._demo_server import serve
from hyperclient.auth import parse_challenge

from ..conftest import recording
from .conftest import echo_multipart, make_app


@dataclass
class Result:
    code: int
    stdout: bytes
    stderr: str

    @property
    def out(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.stdout)


# The subprocess must run the hyperclient these tests imported (a worktree, say), not
# whichever copy is installed in the environment.
_SRC = str(Path(hyperclient.__file__).resolve().parents[1])


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a CLI run: this checkout first, no colour, and no proxy variable
    but those of *extra* (the command honours them, as curl; a CI's would get in the way)."""
    path = os.pathsep.join(p for p in (_SRC, os.environ.get("PYTHONPATH")) if p)
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    return {**env, "NO_COLOR": "1", "PYTHONPATH": path, **(extra or {})}


async def hc(
    *args: str,
    stdin: bytes | None = None,
    timeout: float = 30,
    env: dict[str, str] | None = None,
    stdout: Any = asyncio.subprocess.PIPE,
    python: tuple[str, ...] = ("-m", "hyperclient"),
) -> Result:
    """Run ``python -m hyperclient ARGS``; stdout and stderr are pipes (not a terminal)
    unless *stdout* says otherwise; *python* replaces ``-m hyperclient`` (a wrapper)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *python,
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=stdout,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env(env),
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return Result(proc.returncode, out or b"", err.decode("utf-8", "replace"))


def header(echo: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in echo["headers"] if k.lower() == name.lower()]


# -- servers --------------------------------------------------------------------------------


def _digest_app() -> web.Application:
    """/echo and friends, plus /digest guarded by Digest (MD5, qop=auth) for user:secret.

    The digest-uri must be the request target, as a strict server checks (RFC 7616 §3.4).
    """
    app = make_app()
    realm, nonce = "cli-test", "n0nce"

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    async def digest(request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "")
        if given.startswith("Digest "):
            p = parse_challenge(given)
            ha1 = md5(f"user:{realm}:secret")
            ha2 = md5(f"{request.method}:{p['uri']}")
            expected = md5(f"{ha1}:{nonce}:{p['nc']}:{p['cnonce']}:{p['qop']}:{ha2}")
            if p["uri"] != request.raw_path:
                return web.Response(status=400, text=f"digest-uri {p['uri']!r} is not the target")
            if p.get("response") == expected and p.get("username") == "user":
                return web.json_response({"authenticated": True, "target": request.raw_path})
        challenge = f'Digest realm="{realm}", nonce="{nonce}", qop="auth"'
        return web.Response(status=401, headers={"WWW-Authenticate": challenge})

    async def sink(request: web.Request) -> web.Response:
        # Read as it streams, so that a big upload is never whole in the server either.
        digest, size = hashlib.sha256(), 0
        async for chunk in request.content.iter_chunked(2**16):
            digest.update(chunk)
            size += len(chunk)
        return web.json_response({"size": size, "sha256": digest.hexdigest()})

    async def latin(request: web.Request) -> web.Response:
        return web.Response(text="ok", headers={"X-Latin": "café"})  # UTF-8 on the wire

    async def late_binary(request: web.Request) -> web.Response:
        return web.Response(body=b"A" * 5000 + b"\0\1\2")

    async def redirect_to(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["url"])

    async def late_echo(request: web.Request) -> web.WebSocketResponse:
        # Each reply comes a while after its message: the client must still be there.
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            await asyncio.sleep(0.3)
            await ws.send_str(f"echo: {msg.data}")
        return ws

    app.router.add_get("/digest", digest)
    app.router.add_get("/ws-late-echo", late_echo)
    app.router.add_post("/multipart", echo_multipart)
    app.router.add_route("*", "/sink", sink)
    app.router.add_get("/latin", latin)
    app.router.add_get("/late-binary", late_binary)
    app.router.add_get("/redirect-to", redirect_to)
    return app


@pytest.fixture
async def base(aiohttp_server: Callable[..., Any]) -> str:
    """Base URL of the functional test application (plus /digest)."""
    server = await aiohttp_server(_digest_app())
    return f"http://127.0.0.1:{server.port}"


@pytest.fixture
async def demo_base() -> AsyncIterator[str]:
    """The bundled demo server, in this loop."""
    server = await serve()
    yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    server.close()


@dataclass
class TLSServer:
    url: str
    ca_file: str
    pin: str  # sha256//BASE64 of the server certificate


@pytest.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[TLSServer]:
    """The test application over TLS with a certificate from a throwaway trustme CA."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    der = ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode())
    pin = "sha256//" + base64.b64encode(hashlib.sha256(der).digest()).decode()
    runner = web.AppRunner(make_app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    port = runner.addresses[0][1]
    yield TLSServer(f"https://127.0.0.1:{port}", str(ca_file), pin)
    await runner.cleanup()


@dataclass
class ClientCertServer:
    url: str
    pin: str
    client_pem: str  # the client certificate and its key


@pytest.fixture
async def client_cert_server(tmp_path: Path) -> AsyncIterator[ClientCertServer]:
    """A TLS server that requires a client certificate; ``/`` names the one it got."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    client = ca.issue_cert("client@example.org")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    ca.configure_trust(ctx)
    ctx.verify_mode = ssl.CERT_REQUIRED
    client_pem = tmp_path / "client.pem"
    client.private_key_and_cert_chain_pem.write_to_path(str(client_pem))
    der = ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode())
    pin = "sha256//" + base64.b64encode(hashlib.sha256(der).digest()).decode()

    async def who(request: web.Request) -> web.Response:
        assert request.transport is not None
        peer = request.transport.get_extra_info("peercert")
        return web.json_response({"client": peer["subjectAltName"] if peer else None})

    app = web.Application()
    app.router.add_get("/", who)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    yield ClientCertServer(f"https://127.0.0.1:{runner.addresses[0][1]}/", pin, str(client_pem))
    await runner.cleanup()


@pytest.fixture
async def unix_server(tmp_path: Path) -> AsyncIterator[str]:
    """The test application (with /redirect-to) on a Unix socket; returns the socket path."""
    path = str(tmp_path / "http.sock")
    runner = web.AppRunner(_digest_app())
    await runner.setup()
    await web.UnixSite(runner, path).start()
    yield path
    await runner.cleanup()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- one request ------------------------------------------------------------------------------


async def test_plain_get_prints_only_the_body(base: str) -> None:
    r = await hc(f"{base}/json")
    assert r.code == 0, r.stderr
    assert r.json() == {"hello": "world", "n": [1, 2, 3]}
    assert r.stderr == ""


async def test_include_prints_the_head_then_the_body(base: str) -> None:
    r = await hc("-i", f"{base}/json")
    assert r.code == 0, r.stderr
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nContent-Type: application/json; charset=utf-8" in head
    assert json.loads(body) == {"hello": "world", "n": [1, 2, 3]}


async def test_head_sends_head_and_prints_the_head(base: str) -> None:
    r = await hc("-I", f"{base}/json")
    assert r.code == 0, r.stderr
    assert r.out.startswith("HTTP/1.1 200 OK\r\n")
    assert r.out.endswith("\r\n\r\n")  # no body after the head


async def test_verbose_prints_both_heads_to_stderr(base: str) -> None:
    r = await hc("-v", "-H", "X-Probe: 42", f"{base}/json?a=1")
    assert r.code == 0, r.stderr
    assert r.json()["hello"] == "world"  # stdout stays the body alone
    lines = r.stderr.splitlines()
    assert "> GET /json?a=1 HTTP/1.1" in lines
    assert f"> Host: {base.removeprefix('http://')}" in lines
    assert "> X-Probe: 42" in lines
    assert "< HTTP/1.1 200 OK" in lines
    assert lines.index("> GET /json?a=1 HTTP/1.1") < lines.index("< HTTP/1.1 200 OK")


async def test_method_data_and_headers(base: str) -> None:
    r = await hc(
        "-X", "PUT", "-d", "a=1", "-d", "b=2", "-H", "X-One: 1", "-A", "agent/7", "-b", "k=v",
        f"{base}/echo",
    )  # fmt: skip
    assert r.code == 0, r.stderr
    echo = r.json()
    assert echo["method"] == "PUT"
    assert echo["body"] == "a=1&b=2"
    assert header(echo, "Content-Type") == ["application/x-www-form-urlencoded"]
    assert header(echo, "X-One") == ["1"]
    assert header(echo, "User-Agent") == ["agent/7"]
    assert header(echo, "Cookie") == ["k=v"]


async def test_data_from_a_file_and_from_stdin(base: str, tmp_path: Path) -> None:
    body = tmp_path / "body.bin"
    body.write_bytes(b"line one\nline two\n")
    as_text, as_binary, from_stdin, get = await asyncio.gather(
        hc("-d", f"@{body}", f"{base}/echo"),
        hc("--data-binary", f"@{body}", f"{base}/echo"),
        hc("--data-binary", "@-", f"{base}/echo", stdin=b"from\nstdin"),
        hc("-G", "-d", "q=1", f"{base}/echo"),
    )
    assert as_text.json()["body"] == "line oneline two"  # -d strips newlines, as curl
    assert as_binary.json()["body"] == "line one\nline two\n"
    assert from_stdin.json()["body"] == "from\nstdin"
    assert get.json()["method"] == "GET"
    assert get.json()["query"] == [["q", "1"]]


async def test_json_body(base: str) -> None:
    r = await hc("--json", '{"x": 1}', f"{base}/echo")
    assert r.code == 0, r.stderr
    echo = r.json()
    assert echo["method"] == "POST"
    assert json.loads(echo["body"]) == {"x": 1}
    assert header(echo, "Content-Type") == ["application/json"]
    assert header(echo, "Accept") == ["application/json"]


async def test_multipart_form(base: str, tmp_path: Path) -> None:
    upload = tmp_path / "notes.txt"
    upload.write_text("file contents")
    r = await hc("-F", "name=value", "-F", f"doc=@{upload};type=text/plain", f"{base}/form")
    assert r.code == 0, r.stderr
    assert r.json() == {
        "name": "value",
        "doc": {"filename": "notes.txt", "content_type": "text/plain", "data": "file contents"},
    }


async def test_upload_file_streams_a_put(base: str, tmp_path: Path) -> None:
    upload = tmp_path / "up.bin"
    upload.write_bytes(b"x" * 100_000)
    r = await hc("-T", str(upload), f"{base}/echo")
    echo = r.json()
    assert (echo["method"], len(echo["body"])) == ("PUT", 100_000)


async def test_output_writes_the_body_to_a_file(base: str, tmp_path: Path) -> None:
    target = tmp_path / "big.bin"
    r = await hc("-o", str(target), f"{base}/big?size=300000")
    assert r.code == 0, r.stderr
    assert r.stdout == b""
    assert r.stderr == ""  # not a terminal: no progress bar
    data = target.read_bytes()
    assert len(data) == 300_000
    assert data[:256] == bytes(range(256))


async def test_compressed_asks_for_compression(base: str) -> None:
    plain, compressed, gz = await asyncio.gather(
        hc(f"{base}/echo"),
        hc("--compressed", f"{base}/echo"),
        hc("--compressed", "-i", f"{base}/gzip"),
    )
    assert header(plain.json(), "Accept-Encoding") == []
    assert "gzip" in header(compressed.json(), "Accept-Encoding")[0]
    head, _, body = gz.stdout.partition(b"\r\n\r\n")
    assert b"\r\nContent-Encoding: " in head
    assert body == b"compressed " * 1000  # decoded


async def test_redirects_are_followed_only_with_location(base: str) -> None:
    stay, follow, too_many = await asyncio.gather(
        hc("-i", f"{base}/redirect/2"),
        hc("-L", f"{base}/redirect/2"),
        hc("-L", "--max-redirs", "1", f"{base}/redirect/3"),
    )
    assert stay.code == 0
    assert stay.out.startswith("HTTP/1.1 302 Found\r\n")
    assert "\r\nLocation: /redirect/1\r\n" in stay.out
    assert follow.json() == {"done": True, "method": "GET"}
    assert too_many.code == 47
    assert "TooManyRedirects" in too_many.stderr


async def test_basic_auth(base: str) -> None:
    r = await hc("-u", "user:pa:ss", f"{base}/echo")
    sent = header(r.json(), "Authorization")
    assert sent == ["Basic " + base64.b64encode(b"user:pa:ss").decode()]


async def test_digest_auth(base: str) -> None:
    good, bad = await asyncio.gather(
        hc("--digest", "-u", "user:secret", f"{base}/digest"),
        hc("--digest", "-u", "user:wrong", "--fail", f"{base}/digest"),
    )
    assert good.code == 0, good.stderr
    assert good.json() == {"authenticated": True, "target": "/digest"}
    assert bad.code == 22


async def test_digest_auth_retries_the_same_target_with_get_data(base: str) -> None:
    r = await hc("--digest", "-u", "user:secret", "-G", "-d", "q=x", "--fail", f"{base}/digest")
    assert r.code == 0, r.stderr
    assert r.json() == {"authenticated": True, "target": "/digest?q=x"}  # not ?q=x&q=x


async def test_credentials_take_precedence_as_in_curl(base: str) -> None:
    in_url = base.replace("http://", "http://url:pw@")
    user_wins, header_wins, header_over_url = await asyncio.gather(
        hc("-u", "user:pw", f"{in_url}/echo"),
        hc("-u", "user:pw", "-H", "Authorization: Bearer t", f"{base}/echo"),
        hc("-H", "Authorization: Bearer t", f"{in_url}/echo"),
    )
    for r in (user_wins, header_wins, header_over_url):
        assert r.code == 0, r.stderr  # was exit 1, ValueError: cannot combine ...
    basic = "Basic " + base64.b64encode(b"user:pw").decode()
    assert header(user_wins.json(), "Authorization") == [basic]
    assert header(header_wins.json(), "Authorization") == ["Bearer t"]
    assert header(header_over_url.json(), "Authorization") == ["Bearer t"]


async def test_basic_auth_sends_utf8_credentials(base: str) -> None:
    single, parallel = await asyncio.gather(
        hc("-u", "jö€:pässwörd", f"{base}/echo"),
        hc("-Z", "-u", "jö€:pässwörd", f"{base}/echo"),
    )
    assert single.code == 0, single.stderr
    expected = "Basic " + base64.b64encode("jö€:pässwörd".encode()).decode()
    assert header(single.json(), "Authorization") == [expected]
    assert parallel.code == 0, parallel.stderr
    assert "status: 200 x1" in parallel.out


async def test_timings_are_printed_to_stderr(base: str) -> None:
    r = await hc("--timings", f"{base}/json")
    assert r.code == 0, r.stderr
    assert "first byte:" in r.stderr or "response head:" in r.stderr
    assert "total:" in r.stderr


# -- failures and exit codes ----------------------------------------------------------------


async def test_fail_exits_22_without_the_body(base: str) -> None:
    failed, shown = await asyncio.gather(
        hc("--fail", f"{base}/status/404"), hc(f"{base}/status/404")
    )
    assert failed.code == 22
    assert failed.stdout == b""
    assert "(22)" in failed.stderr
    assert "404" in failed.stderr
    assert shown.code == 0  # like curl: an HTTP error is not a failure without --fail
    assert shown.out == "status body"


async def test_connection_refused_exits_7() -> None:
    r = await hc(f"http://127.0.0.1:{closed_port()}/")
    assert r.code == 7
    assert r.stderr.startswith("hyperclient: (7) ")
    assert "127.0.0.1" in r.stderr


async def test_output_file_is_untouched_when_the_transfer_fails(base: str, tmp_path: Path) -> None:
    keep = tmp_path / "keep.txt"
    keep.write_bytes(b"precious previous download")
    closed = f"http://127.0.0.1:{closed_port()}/"
    refused, no_dir, failed, empty = await asyncio.gather(
        hc("-o", str(keep), closed),
        hc("-o", str(tmp_path / "no-such-dir" / "out"), closed),
        hc("-f", "-o", str(keep), f"{base}/status/404"),
        hc("-o", str(tmp_path / "empty.txt"), f"{base}/text?text="),
    )
    assert refused.code == 7, refused.stderr
    assert no_dir.code == 7, no_dir.stderr  # the real error, not "failed writing body" (23)
    assert no_dir.stderr.startswith("hyperclient: (7) ")
    assert failed.code == 22, failed.stderr
    assert keep.read_bytes() == b"precious previous download"
    assert not (tmp_path / "no-such-dir").exists()
    assert empty.code == 0, empty.stderr
    assert (tmp_path / "empty.txt").read_bytes() == b""  # an empty body still makes the file


async def test_port_out_of_range_exits_3() -> None:
    single, parallel, ws = await asyncio.gather(
        hc("http://127.0.0.1:99999/", timeout=10),
        hc("-Z", "http://127.0.0.1:99999/", timeout=10),
        hc("ws", "ws://127.0.0.1:99999/", timeout=10),
    )
    assert single.code == 3, single.stderr
    assert single.stderr == (
        "hyperclient: (3) bad URL 'http://127.0.0.1:99999/': port out of range 0-65535\n"
    )
    assert parallel.code == 3, parallel.stderr
    assert "port out of range" in parallel.out
    assert ws.code == 3, ws.stderr


async def test_unknown_host_exits_6() -> None:
    r = await hc("--connect-timeout", "5", "http://no-such-host.invalid/")
    assert r.code == 6, r.stderr


async def test_timeout_exits_28(base: str) -> None:
    r = await hc("-m", "0.2", f"{base}/slow?delay=5")
    assert r.code == 28
    assert "(28)" in r.stderr


async def test_silent_hides_errors_unless_show_error() -> None:
    url = f"http://127.0.0.1:{closed_port()}/"
    quiet, shown = await asyncio.gather(hc("-s", url), hc("-sS", url))
    assert (quiet.code, quiet.stderr) == (7, "")
    assert shown.code == 7
    assert "(7)" in shown.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--no-such-flag", "http://127.0.0.1/"],
        [],
        ["-H", "no colon", "http://127.0.0.1/"],
        ["-d", "a=1", "-F", "b=2", "http://127.0.0.1/"],
        ["-m", "soon", "http://127.0.0.1/"],
        ["--pin", "md5//AAAA", "https://127.0.0.1/"],
        ["-o", "x", "http://127.0.0.1/1", "http://127.0.0.1/2"],
    ],
)
async def test_usage_errors_exit_2(args: list[str]) -> None:
    r = await hc(*args)
    assert r.code == 2, r.stderr
    assert "error:" in r.stderr


async def test_version_and_help() -> None:
    version, help_ = await asyncio.gather(hc("--version"), hc("--help"))
    assert version.code == 0
    assert version.out.startswith("hyperclient ")
    assert help_.code == 0
    for flag in ("--parallel-max", "--unix-socket", "--digest", "--pin", "--timings"):
        assert flag in help_.out


# -- many URLs ----------------------------------------------------------------------------------


async def test_parallel_prints_a_summary(base: str) -> None:
    r = await hc("-Z", "--parallel-max", "10", f"{base}/json?i=[1-60]")
    assert r.code == 0, r.stderr
    assert r.out.startswith("60 requests, 0 errors in ")
    assert "req/s" in r.out
    assert "status: 200 x60" in r.out


async def test_parallel_from_a_url_file_with_failures(base: str, tmp_path: Path) -> None:
    url_file = tmp_path / "urls.txt"
    url_file.write_text(
        f"# comment\n{base}/json\n\n{base}/status/404\nhttp://127.0.0.1:{closed_port()}/\n"
    )
    r = await hc("-Z", "-K", str(url_file))
    assert r.code == 7  # the first transport error decides
    assert r.out.startswith("3 requests, 1 errors in ")
    assert "status: 200 x1, 404 x1" in r.out
    assert "error: ClientConnectorError x1" in r.out
    failing = await hc("-Z", "--fail", f"{base}/json", f"{base}/status/500")
    assert failing.code == 22


async def test_globbing_refuses_absurd_and_bad_ranges(base: str) -> None:
    huge, huge_parallel, backwards = await asyncio.gather(
        hc(f"{base}/json?i=[1-99999999]", timeout=10),
        hc("-Z", f"{base}/json?i=[1-99999999]", timeout=10),
        hc(f"{base}/json?i=[3-1]", timeout=10),
    )
    for r in (huge, huge_parallel):
        assert r.code == 3, r.stderr
        assert "expands to 99,999,999 URLs, more than 1,000,000" in r.stderr
        assert r.stdout == b""
    assert backwards.code == 3, backwards.stderr
    assert "bad range '[3-1]'" in backwards.stderr


async def test_several_urls_without_parallel_run_in_order(base: str) -> None:
    r = await hc(f"{base}/text?text=one", f"{base}/text?text=two")
    assert r.out == "onetwo"


# -- connection options -------------------------------------------------------------------------


async def test_unix_socket(unix_server: str) -> None:
    r = await hc("--unix-socket", unix_server, "http://localhost/json")
    assert r.code == 0, r.stderr
    assert r.json()["hello"] == "world"
    missing = await hc("--unix-socket", unix_server + ".missing", "http://localhost/json")
    assert missing.code == 7


async def test_tls_verification_insecure_cacert_and_pin(tls_server: TLSServer) -> None:
    url = f"{tls_server.url}/json"
    wrong_pin = "sha256//" + base64.b64encode(b"\0" * 32).decode()
    untrusted, insecure, cacert, pinned, mismatch = await asyncio.gather(
        hc(url),
        hc("-k", url),
        hc("--cacert", tls_server.ca_file, url),
        hc("--pin", tls_server.pin, url),
        hc("--pin", wrong_pin, url),
    )
    assert untrusted.code == 60, untrusted.stderr
    assert "certificate" in untrusted.stderr.lower()
    for ok in (insecure, cacert, pinned):
        assert ok.code == 0, ok.stderr
        assert ok.json()["hello"] == "world"
    assert mismatch.code == 90, mismatch.stderr


# -- WebSocket ------------------------------------------------------------------------------------


async def test_ws_echo_against_the_demo_server(demo_base: str) -> None:
    url = demo_base.replace("http://", "ws://") + "/ws"
    r = await hc("ws", "--linger", "0.3", url, stdin=b"hello\nsecond line\n")
    if r.code == 1 and "WebSocket client not available yet" in r.stderr:
        pytest.skip("ClientSession.ws_connect does not exist yet")
    assert r.code == 0, r.stderr
    assert r.out.splitlines() == ["hello", "second line"]


async def test_ws_usage_error() -> None:
    r = await hc("ws")
    assert r.code == 2
    assert "hyperclient ws" in r.stderr


async def test_demo_server_routes_through_the_cli(demo_base: str) -> None:
    hello, gz, cookie, doc, big, big_head = await asyncio.gather(
        hc(f"{demo_base}/hello"),
        hc("-i", "--compressed", f"{demo_base}/gzip"),
        hc("-i", f"{demo_base}/cookie"),
        hc(f"{demo_base}/json?n=7"),
        hc(f"{demo_base}/big?size=300000"),
        hc("-I", f"{demo_base}/big"),
    )
    assert hello.json()["hello"] == "world"
    assert doc.json()["query"] == {"n": "7"}
    assert len(big.stdout) == 300_000
    assert big.stdout[:512] == bytes(range(256)) * 2
    assert f"Content-Length: {64 * 2**20}" in big_head.out
    head, _, body = gz.stdout.partition(b"\r\n\r\n")
    assert b"Content-Encoding: gzip" in head
    assert json.loads(body)["compressed"] is True
    assert "Set-Cookie: demo=chocolate-chip" in cookie.out


# -- audit fixes: request bodies ----------------------------------------------------------------


async def test_form_with_text_fields_only_is_multipart(base: str) -> None:
    plain, typed = await asyncio.gather(
        hc("-F", "name=Ada", "-F", "x=1", f"{base}/multipart"),
        hc("-F", "x=1;type=text/x", "-F", "y=a;b", f"{base}/multipart"),
    )
    for r in (plain, typed):
        assert r.code == 0, r.stderr
        assert r.json()["content_type"].startswith("multipart/form-data; boundary=")
    assert [(p["name"], p["body"]) for p in plain.json()["parts"]] == [("name", "Ada"), ("x", "1")]
    parts = [(p["name"], p["body"], p["headers"]["Content-Type"]) for p in typed.json()["parts"]]
    assert parts[0] == ("x", "1", "text/x")  # curl's ;type= on a text field
    assert parts[1][:2] == ("y", "a;b")  # not an option: part of the value


async def test_form_content_of_a_file_is_sent_byte_for_byte(base: str, tmp_path: Path) -> None:
    data = bytes(range(256)) * 4  # not UTF-8
    (tmp_path / "raw.bin").write_bytes(data)
    r = await hc("-F", f"a=<{tmp_path / 'raw.bin'}", f"{base}/multipart")
    assert r.code == 0, r.stderr
    (part,) = r.json()["parts"]
    assert part["name"] == "a"
    assert part["filename"] is None  # a plain field, not a file upload
    assert part["body"].encode("latin-1") == data


async def test_get_data_goes_to_the_query_unchanged(base: str, tmp_path: Path) -> None:
    (tmp_path / "bin").write_bytes(b"\xff\x00 #")
    encoded, binary, appended = await asyncio.gather(
        hc("-G", "-d", "q=a%26b", "-d", "c=caf%C3%A9", f"{base}/echo"),
        hc("-G", "--data-binary", f"@{tmp_path / 'bin'}", f"{base}/echo"),
        hc("-G", "-d", "b=2", f"{base}/echo?a=1#frag"),
    )
    assert encoded.code == 0, encoded.stderr
    assert encoded.json()["path"] == "/echo?q=a%26b&c=caf%C3%A9"  # not %2526
    assert encoded.json()["query"] == [["q", "a&b"], ["c", "café"]]
    assert binary.code == 0, binary.stderr
    assert binary.json()["path"] == "/echo?%FF%00%20%23"
    assert appended.json()["path"] == "/echo?a=1&b=2"


async def test_form_files_are_streamed_not_read_whole(base: str, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    with big.open("wb") as f:
        for _ in range(40):
            f.write(os.urandom(2**20))
    # A wrapper reports the peak memory of the command alone (RUSAGE_CHILDREN of a
    # process that ran nothing else).
    wrapper = textwrap.dedent(
        """
        import resource, subprocess, sys
        done = subprocess.run([sys.executable, "-m", "hyperclient", *sys.argv[1:]])
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(f"\\n{done.returncode} {peak}")
        """
    )
    r = await hc("-F", f"f=@{big}", f"{base}/sink", python=("-c", wrapper), timeout=60)
    body, _, status = r.out.rstrip("\n").rpartition("\n")
    code, peak_kib = map(int, status.split())
    assert code == 0, r.stderr
    assert json.loads(body)["size"] > 40 * 2**20  # the file and the multipart framing
    # The file was read whole (three copies, about 120 MiB) before: now it streams.
    assert peak_kib < 90 * 1024, peak_kib


async def test_parallel_does_not_keep_the_bodies(base: str) -> None:
    wrapper = textwrap.dedent(
        """
        import resource, subprocess, sys
        done = subprocess.run([sys.executable, "-m", "hyperclient", *sys.argv[1:]])
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(f"{done.returncode} {peak}")
        """
    )
    url = f"{base}/big?size={40 * 2**20}&n=[1-3]"
    r = await hc("-Z", url, python=("-c", wrapper), timeout=60)
    summary, status = r.out.rstrip("\n").rsplit("\n", 1)
    code, peak_kib = map(int, status.split())
    assert code == 0, r.stderr
    assert "120.0 MiB received" in summary
    assert peak_kib < 90 * 1024, peak_kib  # three bodies held at once took 150 MiB


async def test_upload_from_stdin(base: str) -> None:
    r = await hc("-T", "-", f"{base}/echo", stdin=b"from stdin\n" * 1000)
    assert r.code == 0, r.stderr
    echo = r.json()
    assert (echo["method"], echo["body"]) == ("PUT", "from stdin\n" * 1000)


async def test_headers_the_command_adds_can_be_removed(base: str) -> None:
    no_type, no_accept, no_agent, removed_agent = await asyncio.gather(
        hc("-H", "Content-Type:", "-d", "a=1", f"{base}/echo"),
        hc("-H", "Accept:", "--json", "{}", f"{base}/echo"),
        hc("-A", "", f"{base}/echo"),
        hc("-H", "User-Agent:", "-A", "agent/1", f"{base}/echo"),
    )
    assert header(no_type.json(), "Content-Type") == []
    assert no_type.json()["body"] == "a=1"
    assert header(no_accept.json(), "Accept") == []
    assert header(no_accept.json(), "Content-Type") == ["application/json"]
    assert header(no_agent.json(), "User-Agent") == []  # curl -A '' sends none
    assert header(removed_agent.json(), "User-Agent") == []


# -- audit fixes: several URLs, exit codes, output ----------------------------------------------


async def test_several_urls_carry_on_after_a_failure(base: str) -> None:
    closed = f"http://127.0.0.1:{closed_port()}/"
    recovered, failed_last, http_error, early = await asyncio.gather(
        hc(closed, f"{base}/text?text=two"),
        hc(f"{base}/text?text=one", closed),
        hc("-f", f"{base}/status/404", f"{base}/text?text=two"),
        hc("--fail-early", closed, f"{base}/text?text=two"),
    )
    # curl's rule: every URL is fetched, the exit code is the last one's.
    assert (recovered.code, recovered.out) == (0, "two")
    assert recovered.stderr.startswith("hyperclient: (7) ")
    assert (failed_last.code, failed_last.out) == (7, "one")
    assert (http_error.code, http_error.out) == (0, "two")
    assert "(22)" in http_error.stderr
    assert (early.code, early.out) == (7, "")


async def test_closed_stdout_exits_23(base: str) -> None:
    async def closed_stdout(*args: str) -> Result:
        # As a shell's ">&-": descriptor 1 is closed before Python starts.
        proc = await asyncio.create_subprocess_exec(
            "/bin/sh", "-c", 'exec "$@" >&-', "sh", sys.executable, "-m", "hyperclient", *args,
            stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=cli_env(),
        )  # fmt: skip
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode is not None
        return Result(proc.returncode, b"", err.decode())

    body, head = await asyncio.gather(
        closed_stdout(f"{base}/json"), closed_stdout("-i", f"{base}/json")
    )
    for r in (body, head):
        assert r.code == 23, r.stderr
        assert "Traceback" not in r.stderr
    assert "failed writing body" in body.stderr
    assert "failed writing the response head" in head.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
async def test_write_errors_on_heads_summaries_and_messages_exit_23(
    base: str, demo_base: str
) -> None:
    ws_url = demo_base.replace("http://", "ws://") + "/ws"
    full = os.open("/dev/full", os.O_WRONLY)  # every write fails with ENOSPC
    try:
        head, summary, ws = await asyncio.gather(
            hc("-I", f"{base}/json", stdout=full),
            hc("-Z", f"{base}/json", stdout=full),
            hc("ws", "--linger", "5", ws_url, stdin=b"hello\n", stdout=full),
        )
    finally:
        os.close(full)
    assert head.code == 23, head.stderr
    assert (
        head.stderr
        == "hyperclient: (23) failed writing the response head: No space left on device\n"
    )
    assert summary.code == 23, summary.stderr
    assert "failed writing the summary" in summary.stderr
    assert ws.code == 23, ws.stderr
    assert "failed writing a message" in ws.stderr


async def test_header_bytes_are_printed_as_received(base: str) -> None:
    included, verbose = await asyncio.gather(hc("-i", f"{base}/latin"), hc("-v", f"{base}/latin"))
    assert "X-Latin: café\r\n".encode() in included.stdout  # UTF-8 once, not twice
    assert "< X-Latin: café\n" in verbose.stderr


async def test_url_file_that_is_not_utf8_exits_26(tmp_path: Path) -> None:
    bad = tmp_path / "urls.txt"
    bad.write_bytes(b"\xff\xfe")
    r = await hc("-K", str(bad))
    assert r.code == 26, r.stderr
    assert repr(str(bad)) in r.stderr
    assert "not UTF-8" in r.stderr


async def test_verbose_prints_the_request_before_the_response_comes(base: str) -> None:
    r = await hc("-v", "-m", "0.5", f"{base}/slow?delay=30")
    assert r.code == 28, r.stderr
    lines = r.stderr.splitlines()
    assert "> GET /slow?delay=30 HTTP/1.1" in lines  # shown although no response came
    assert lines[-1].startswith("hyperclient: (28) ")


async def test_verbose_prints_each_redirect_hop_in_order(base: str) -> None:
    r = await hc("-v", "-L", f"{base}/redirect/1")
    assert r.code == 0, r.stderr
    heads = [line for line in r.stderr.splitlines() if line.startswith(("> GET", "< HTTP"))]
    assert heads == [
        "> GET /redirect/1 HTTP/1.1",
        "< HTTP/1.1 302 Found",
        "> GET /redirect/0 HTTP/1.1",
        "< HTTP/1.1 200 OK",
    ]


# -- audit fixes: option values -------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["-m", "inf", "http://127.0.0.1/"],
        ["-m", "nan", "http://127.0.0.1/"],
        ["--connect-timeout", "1e400", "http://127.0.0.1/"],
        ["-I", "-d", "a=1", "http://127.0.0.1/"],
        ["-G", "--json", "{}", "http://127.0.0.1/"],
        ["--comp", "http://127.0.0.1/"],  # no abbreviations: --compressed must be spelt out
        ["ws", "--linger", "nan", "ws://127.0.0.1/"],
        ["-v", "ws", "ws://127.0.0.1/"],  # 'ws' comes first
    ],
)
async def test_bad_values_and_combinations_are_usage_errors(args: list[str]) -> None:
    r = await hc(*args)
    assert r.code == 2, r.stderr
    assert "error:" in r.stderr
    assert "Traceback" not in r.stderr


async def test_curl_special_values_mean_no_limit(base: str) -> None:
    no_time_limit, no_redirect_limit = await asyncio.gather(
        hc("-m", "0", "--connect-timeout", "0", f"{base}/slow?delay=0.1"),
        hc("-L", "--max-redirs", "-1", f"{base}/redirect/3"),
    )
    assert (no_time_limit.code, no_time_limit.out) == (0, "slow"), no_time_limit.stderr
    assert no_redirect_limit.code == 0, no_redirect_limit.stderr
    assert no_redirect_limit.json() == {"done": True, "method": "GET"}


async def test_urls_go_out_as_given_with_query_data_or_replaced_credentials(base: str) -> None:
    # -G and -u used to re-parse the URL, which decoded %7E and re-cased %2f.
    host = base.removeprefix("http://")
    query, creds = await asyncio.gather(
        hc("-G", "-d", "x=1", f"{base}/echo/%7Efoo/a%2fb?q=%7e"),
        hc("-u", "a:b", f"http://u:p@{host}/echo/%7Efoo"),
    )
    assert query.json()["path"] == "/echo/%7Efoo/a%2fb?q=%7e&x=1", query.stderr
    assert creds.json()["path"] == "/echo/%7Efoo", creds.stderr
    expected = "Basic " + base64.b64encode(b"a:b").decode()
    assert header(creds.json(), "Authorization") == [expected]


async def test_url_and_proxy_without_a_scheme_are_http(
    base: str, raw_server: Callable[..., Any]
) -> None:
    heads: list[bytes] = []
    proxy = await raw_server(recording(heads))
    direct, proxied = await asyncio.gather(
        hc(base.removeprefix("http://") + "/json"),
        hc("-x", f"127.0.0.1:{proxy.port}", "http://origin.invalid/x"),
    )
    assert direct.code == 0, direct.stderr
    assert direct.json()["hello"] == "world"
    assert proxied.code == 0, proxied.stderr
    assert heads[0].startswith(b"GET http://origin.invalid/x HTTP/1.1\r\n")


async def test_verbose_shows_the_request_line_a_proxy_gets(
    base: str, raw_server: Callable[..., Any]
) -> None:
    heads: list[bytes] = []
    proxy = await raw_server(recording(heads))
    proxied, from_env, direct = await asyncio.gather(
        hc("-v", "-x", proxy.url, "http://origin.invalid/x?q=1"),
        hc("-v", "http://origin.invalid/y", env={"http_proxy": proxy.url}),
        hc("-v", f"{base}/json"),
    )
    # What was sent: the whole URL to a proxy (RFC 9112 §3.2.2), the path otherwise.
    assert "> GET http://origin.invalid/x?q=1 HTTP/1.1" in proxied.stderr
    assert "> GET http://origin.invalid/y HTTP/1.1" in from_env.stderr
    assert sorted(h.split(b"\r\n")[0] for h in heads) == [
        b"GET http://origin.invalid/x?q=1 HTTP/1.1",
        b"GET http://origin.invalid/y HTTP/1.1",
    ]
    assert "> GET /json HTTP/1.1" in direct.stderr


async def test_proxy_variables_are_honoured(base: str, raw_server: Callable[..., Any]) -> None:
    heads: list[bytes] = []
    proxy = await raw_server(recording(heads))
    variables = {"http_proxy": proxy.url}
    proxied, bypassed = await asyncio.gather(
        hc("http://origin.invalid/x", env=variables),
        hc(f"{base}/json", env={**variables, "no_proxy": "127.0.0.1"}),
    )
    assert (proxied.code, proxied.out) == (0, "ok"), proxied.stderr
    assert heads[0].startswith(b"GET http://origin.invalid/x HTTP/1.1\r\n")
    assert bypassed.json()["hello"] == "world"
    assert len(heads) == 1


async def test_netrc_is_read_only_with_netrc_option(base: str, tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login user password secret\n")
    netrc.chmod(0o600)
    ignored, used = await asyncio.gather(
        hc(f"{base}/echo", env={"NETRC": str(netrc)}),
        hc("-n", f"{base}/echo", env={"NETRC": str(netrc)}),
    )
    assert header(ignored.json(), "Authorization") == []  # as curl without -n
    expected = "Basic " + base64.b64encode(b"user:secret").decode()
    assert header(used.json(), "Authorization") == [expected]


async def test_proxy_variables_get_no_netrc_credentials_and_can_be_turned_off(
    base: str, raw_server: Callable[..., Any], unix_server: str, tmp_path: Path
) -> None:
    """curl's -n gives credentials to servers, never to a proxy; -x '' is no proxy; a Unix
    socket takes no proxy (an absolute-form request line would reach the local daemon)."""
    heads: list[bytes] = []
    proxy = await raw_server(recording(heads))
    netrc = tmp_path / "netrc"
    netrc.write_text(
        "machine origin.invalid login user password secret\ndefault login dflt password dfltpw\n"
    )
    netrc.chmod(0o600)
    env = {"http_proxy": proxy.url, "NETRC": str(netrc)}
    proxied, direct, unix = await asyncio.gather(
        hc("-n", "http://origin.invalid/x", env=env),
        hc("-n", "-x", "", f"{base}/echo", env=env),
        hc("--unix-socket", unix_server, "http://x/echo", env=env),
    )
    assert proxied.code == 0, proxied.stderr
    assert len(heads) == 1
    head = heads[0].lower()
    assert head.startswith(b"get http://origin.invalid/x http/1.1\r\n")
    assert b"proxy-authorization" not in head
    assert b"authorization: basic " + base64.b64encode(b"user:secret").lower() in head
    # Not proxied; netrc's default entry for a host it does not name.
    dflt = "Basic " + base64.b64encode(b"dflt:dfltpw").decode()
    assert header(direct.json(), "Authorization") == [dflt], direct.stderr
    assert unix.json()["path"] == "/echo", unix.stderr


async def test_an_empty_authorization_header_removes_the_user_option(base: str) -> None:
    # curl: -H 'Name:' removes a header the command would make, -u's included.
    r = await hc("-u", "user:pw", "-H", "Authorization:", f"{base}/echo")
    assert r.code == 0, r.stderr
    assert header(r.json(), "Authorization") == []


async def test_upload_from_stdin_takes_one_url(base: str) -> None:
    # stdin is read once: each request got a part of it (and -Z ran them at once).
    for args in (["-T", "-", f"{base}/echo", f"{base}/echo"], ["-Z", "-T", "-", f"{base}/echo"]):
        r = await hc(*args, stdin=b"x" * 1000)
        assert r.code == 2, r.stderr
        assert "-T - reads stdin once" in r.stderr


def test_main_leaves_the_environment_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    # main() is public: it must not change the process's environment (NETRC was set to
    # /dev/null for good, hiding ~/.netrc from later -n runs and trust_env sessions).
    monkeypatch.delenv("NETRC", raising=False)
    before = dict(os.environ)
    assert cli.main(["-s", "http://127.0.0.1:1/"]) != 0  # refused: nothing listens
    assert dict(os.environ) == before


# -- audit fixes: TLS and Unix sockets ------------------------------------------------------------


async def test_https_over_a_unix_socket_is_refused(unix_server: str) -> None:
    https, redirected, wss, then_more = await asyncio.gather(
        hc("--unix-socket", unix_server, "--pin", "sha256//" + "A" * 43 + "=", "https://x/json"),
        hc("--unix-socket", unix_server, "-L", "http://x/redirect-to?url=https://x/json"),
        hc("ws", "--unix-socket", unix_server, "wss://x/ws"),
        hc("--unix-socket", unix_server, "-L", "http://x/redirect-to?url=https://x/json", "x/json"),
    )
    for r in (https, redirected, wss):
        assert r.code == (2 if r is wss else 1), r.stderr  # per URL in HTTP mode, as curl
        assert "--unix-socket has no TLS" in r.stderr
        assert r.stdout == b""  # never sent in clear text
    # Refusing a redirect is what that server answered: the next URL is still fetched.
    assert "--unix-socket has no TLS" in then_more.stderr
    assert (then_more.code, then_more.json()["hello"]) == (0, "world")


async def test_pin_keeps_the_client_certificate(client_cert_server: ClientCertServer) -> None:
    server = client_cert_server
    wrong = "sha256//" + base64.b64encode(b"\0" * 32).decode()
    pinned, mismatch = await asyncio.gather(
        hc("--pin", server.pin, "-E", server.client_pem, server.url),
        hc("--pin", wrong, "-E", server.client_pem, server.url),
    )
    assert pinned.code == 0, pinned.stderr
    assert pinned.json() == {"client": [["email", "client@example.org"]]}
    assert mismatch.code == 90, mismatch.stderr
    assert f"is {server.pin}, not the {wrong} given with --pin" in mismatch.stderr


async def test_tls_errors_name_the_file_and_hide_the_context(
    tls_server: TLSServer, tmp_path: Path
) -> None:
    other_ca = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    missing = str(tmp_path / "missing.pem")
    no_cacert, not_a_cert, untrusted = await asyncio.gather(
        hc("--cacert", missing, tls_server.url),
        hc("--cert", tls_server.ca_file, tls_server.url),
        hc("--cacert", str(other_ca), tls_server.url),
    )
    assert no_cacert.code == 26, no_cacert.stderr
    assert f"--cacert {missing!r}: No such file or directory" in no_cacert.stderr
    assert not_a_cert.code == 26, not_a_cert.stderr
    assert f"--cert {tls_server.ca_file!r}" in not_a_cert.stderr
    assert untrusted.code == 60, untrusted.stderr
    assert "SSLContext object" not in untrusted.stderr
    assert "cannot connect to host 127.0.0.1:" in untrusted.stderr


async def test_output_errors_name_the_file(base: str, tmp_path: Path) -> None:
    target = str(tmp_path / "no-such-dir" / "out")
    r = await hc("-o", target, f"{base}/json")
    assert r.code == 23, r.stderr
    assert f"failed writing body to {target!r}: No such file or directory" in r.stderr


# -- audit fixes: WebSocket ------------------------------------------------------------------------


async def test_ws_line_that_is_not_utf8_keeps_the_replies(base: str) -> None:
    url = base.replace("http://", "ws://") + "/ws-late-echo"
    r = await hc("ws", "--linger", "2", url, stdin=b"ok\n\xff\xfe\nafter\n")
    assert r.code == 26, r.stderr
    assert r.out.splitlines() == ["echo: ok"]  # the reply to the line sent before
    assert "line 2 of stdin is not UTF-8" in r.stderr


# -- audit fixes: on a terminal -------------------------------------------------------------------


class Terminal:
    """The command on a pseudo-terminal, which is its stdin, stdout, stderr and controlling
    terminal: getpass reads it, and Ctrl-C typed on it sends SIGINT, as for a user."""

    # setsid() and TIOCSCTTY make the terminal the controlling one; then the command.
    _START = (
        "import fcntl, os, runpy, termios; os.setsid(); fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
        "runpy.run_module('hyperclient', run_name='__main__', alter_sys=True)"
    )

    def __init__(self) -> None:
        self.output = bytearray()
        self._more = asyncio.Event()
        self._master = -1
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, *args: str) -> None:
        self._master, slave = pty.openpty()
        loop = asyncio.get_running_loop()
        loop.add_reader(self._master, self._read)
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", self._START, *args,
            stdin=slave, stdout=slave, stderr=slave, env=cli_env(),
        )  # fmt: skip
        os.close(slave)

    def _read(self) -> None:
        try:
            data = os.read(self._master, 65536)
        except OSError:  # EIO: the command ended and closed the terminal
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self._master)
        self.output += data
        self._more.set()

    async def expect(self, text: bytes) -> None:
        while text not in self.output:
            self._more.clear()
            await asyncio.wait_for(self._more.wait(), 30)

    def type(self, keys: bytes) -> None:
        os.write(self._master, keys)

    async def exit_code(self) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), 30)

    def close(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
        asyncio.get_running_loop().remove_reader(self._master)
        os.close(self._master)


@pytest.fixture
async def terminal() -> AsyncIterator[Terminal]:
    term = Terminal()
    yield term
    if term.proc is not None and term.proc.returncode is None:
        term.proc.kill()
        await term.proc.wait()
    term.close()


async def test_ctrl_c_at_the_password_prompt_exits_130(base: str, terminal: Terminal) -> None:
    await terminal.start("-u", "alice", f"{base}/echo")
    await terminal.expect(b"Enter password for user 'alice': ")
    terminal.type(b"\x03")
    assert await terminal.exit_code() == 130  # it waited for a second Ctrl-C


async def test_ctrl_c_while_reading_the_body_from_the_terminal(
    base: str, terminal: Terminal
) -> None:
    await terminal.start("-u", "alice", "-d", "@-", f"{base}/echo")
    await terminal.expect(b"Enter password for user 'alice': ")
    terminal.type(b"secret\r")  # then -d @- reads the terminal
    terminal.type(b"\x03")
    assert await terminal.exit_code() == 130


async def test_ctrl_d_at_the_password_prompt_is_a_usage_error(
    base: str, terminal: Terminal
) -> None:
    await terminal.start("-u", "alice", f"{base}/echo")
    await terminal.expect(b"Enter password for user 'alice': ")
    terminal.type(b"\x04")
    assert await terminal.exit_code() == 2
    await terminal.expect(b"no password given for user 'alice'")
    assert b"Traceback" not in terminal.output


async def test_binary_after_the_first_bytes_is_not_printed_on_a_terminal(
    base: str, terminal: Terminal
) -> None:
    await terminal.start(f"{base}/late-binary")
    assert await terminal.exit_code() == 23
    await terminal.expect(b"binary output can mess up your terminal")
    assert b"\0" not in terminal.output
