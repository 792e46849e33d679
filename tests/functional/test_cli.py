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
import socket
import ssl
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web

import hyperclient
from hyperclient._demo_server import serve
from hyperclient.auth import parse_challenge

from .conftest import make_app


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


async def hc(*args: str, stdin: bytes | None = None, timeout: float = 30) -> Result:
    """Run ``python -m hyperclient ARGS``; stdout and stderr are pipes (not a terminal)."""
    path = os.pathsep.join(p for p in (_SRC, os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": path}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hyperclient",
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return Result(proc.returncode, out, err.decode("utf-8", "replace"))


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

    app.router.add_get("/digest", digest)
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


@pytest.fixture
async def unix_server(tmp_path: Path) -> AsyncIterator[str]:
    """The test application on a Unix socket; returns the socket path."""
    path = str(tmp_path / "http.sock")
    runner = web.AppRunner(make_app())
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
