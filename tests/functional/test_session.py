"""ClientSession, the verbs, bodies and responses, against real servers."""

from __future__ import annotations

import asyncio
import codecs
import gc
import io
import json
import os
import warnings
import zlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

import hyperclient
from hyperclient import ClientSession, hdrs
from hyperclient.errors import LocalProtocolError
from hyperclient.request import ClientRequest

from ..conftest import MS, OK, RawServer, answer_ok, assert_pool_empty, read_request, recording
from .conftest import asgi_echo


def header(echo: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in echo["headers"] if k.lower() == name.lower()]


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
async def test_each_verb_reaches_the_server(method: str, url: Callable[[str], str]) -> None:
    async with ClientSession() as session:
        verb = getattr(session, method.lower())
        async with verb(url("/echo")) as resp:
            assert resp.status == 200
            data = await resp.json()
    assert data["method"] == method
    if method in ("POST", "PUT", "PATCH"):
        # RFC 9110 §8.6: a body-carrying method with no body still says so.
        assert header(data, "Content-Length") == ["0"]


async def test_head_has_no_body_and_keeps_the_connection(
    raw_server: Callable[..., Any],
) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(2):
            await read_request(reader)
            # RFC 9110 §9.3.2: Content-Length describes the GET body; none follows.
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            await writer.drain()

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        for _ in range(2):
            async with session.head(srv.url) as resp:
                assert resp.status == 200
                assert resp.content_length == 1000
                assert await resp.read() == b""
    assert srv.connections == 1


async def test_request_is_awaitable_and_context_manager(url: Callable[[str], str]) -> None:
    async with ClientSession() as session:
        resp = await session.request("GET", url("/json"))
        assert await resp.json() == {"hello": "world", "n": [1, 2, 3]}
        resp.release()
        async with session.request("get", url("/json")) as resp2:
            assert resp2.method == "GET"
            assert resp2.ok


async def test_response_attributes(url: Callable[[str], str]) -> None:
    async with ClientSession() as session:
        async with session.get(url("/text") + "#frag") as resp:
            assert resp.status == 200
            assert resp.reason == "OK"
            assert resp.version == hyperclient.HttpVersion(1, 1)
            assert isinstance(resp.headers, CIMultiDictProxy)
            assert resp.headers["content-type"] == "text/plain"
            assert (b"Content-Type", b"text/plain") in resp.raw_headers
            assert resp.url == URL(url("/text"))
            assert resp.real_url == URL(url("/text") + "#frag")
            assert resp.method == "GET"
            assert resp.history == ()
            assert resp.content_type == "text/plain"
            assert resp.charset is None
            assert resp.request_info.method == "GET"
            assert resp.request_info.headers["Host"] == f"127.0.0.1:{URL(url('/')).port}"
            # One line, without the headers (aiohttp's second line logs Set-Cookie tokens).
            assert repr(resp) == f"<ClientResponse({url('/text')}) [200 OK]>"
            assert await resp.text() == "héllo wörld"
        # params= are part of both URLs (and of error messages), as in aiohttp.
        async with session.get(url("/text#frag"), params={"x": "1"}) as resp:
            assert resp.url == URL(url("/text?x=1"))
            assert resp.real_url == URL(url("/text?x=1#frag"))
            assert resp.request_info.real_url == resp.real_url
            # A named tuple, as in aiohttp 3: code unpacks it and calls _replace().
            info_url, method, headers, real_url = resp.request_info
            assert (info_url, method, real_url) == (resp.url, "GET", resp.real_url)
            assert headers is resp.request_info.headers
            moved = resp.request_info._replace(method="HEAD")
            assert type(moved) is hyperclient.RequestInfo
            assert (moved.method, moved.url) == ("HEAD", resp.url)
            assert hyperclient.RequestInfo(resp.url, "GET", headers).real_url == resp.url


@pytest.mark.parametrize(
    ("charset", "text"), [("utf-8", "naïve"), ("latin-1", "café"), ("cp1251", "привет")]
)
async def test_text_uses_declared_charset(
    charset: str, text: str, url: Callable[[str], str]
) -> None:
    async with ClientSession() as session:
        async with session.get(url("/text"), params={"charset": charset, "text": text}) as resp:
            assert resp.charset == charset
            assert await resp.text() == text


async def test_text_without_charset_falls_back_to_latin1_on_invalid_utf8(
    raw_server: Callable[..., Any],
) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nca\xe9")
        await writer.drain()

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        async with session.get(srv.url) as resp:
            assert await resp.text() == "caé"  # not UTF-8: decoded as Latin-1
            assert await resp.text(encoding="utf-8", errors="replace") == "ca\ufffd"


async def test_fallback_charset_resolver_and_encoding_names(
    raw_server: Callable[..., Any],
) -> None:
    """aiohttp's hook for a charset detector, and codec names as aiohttp gives them."""
    responses = {
        b"/none": b"Content-Type: text/plain\r\nContent-Length: 4\r\n\r\n\x80abc",
        b"/latin": b"Content-Type: text/plain; charset=LATIN-1\r\nContent-Length: 1\r\n\r\n\xe9",
        b"/json": b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
    }

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, _ = await read_request(reader)
            path = head.split(b" ")[1]
            writer.write(b"HTTP/1.1 200 OK\r\n" + responses[path])
            await writer.drain()

    seen: list[bytes] = []

    def detect(resp: hyperclient.ClientResponse, body: bytes) -> str:
        seen.append(body)
        return "cp1252"

    srv: RawServer = await raw_server(script)
    async with ClientSession(fallback_charset_resolver=detect) as session:
        async with session.get(srv.url + "/none") as resp:
            with pytest.raises(RuntimeError, match="not read yet"):
                resp.get_encoding()
            assert await resp.text() == "\u20acabc"  # cp1252's euro sign
            assert resp.get_encoding() == "cp1252"
        async with session.get(srv.url + "/latin") as resp:
            assert resp.get_encoding() == "iso8859-1"
            assert await resp.text() == "é"
        async with session.get(srv.url + "/json") as resp:
            assert resp.get_encoding() == "utf-8"
    assert seen == [b"\x80abc", b"\x80abc"]
    async with ClientSession() as session:  # without the hook: UTF-8, else Latin-1
        async with session.get(srv.url + "/none") as resp:
            assert await resp.text() == "\x80abc"


async def test_charsets_that_cannot_be_one_are_not_looked_up(
    raw_server: Callable[..., Any],
) -> None:
    """A name the codec registry does not know is cached by it for good: a server sending
    a new long name with every response must not grow the process. Nor is a codec that
    does not make text (base64) taken for a charset."""
    long_name = b"x" * 4000
    names = [long_name, b"utf-8/x", b"base64", b"rot13", b"no-such-charset", b"ISO_8859-7:1987"]

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for name in names:
            await read_request(reader)
            writer.write(
                b'HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset="' + name + b'"\r\n'
                b"Content-Length: 3\r\n\r\nab\xe9"
            )
            await writer.drain()

    asked: list[str] = []

    def search(name: str) -> None:  # asked after Python's own, for names it does not know
        asked.append(name)

    srv: RawServer = await raw_server(script)
    codecs.register(search)
    try:
        async with ClientSession() as session:
            for name in names[:-1]:
                async with session.get(srv.url) as resp:
                    assert resp.charset == name.decode("latin-1")
                    assert resp.get_encoding() == "utf-8"
                    # Not UTF-8: Latin-1, as for a response without a charset.
                    assert await resp.text() == "ab\xe9"
            async with session.get(srv.url) as resp:  # an IANA name with a colon
                assert resp.get_encoding() == "iso8859-7"
                assert await resp.text() == "ab\u03b9"
    finally:
        codecs.unregister(search)
    # Only the well-formed unknown name reached the registry (once per lookup).
    assert asked == ["no_such_charset"] * 2


async def test_json_refuses_other_content_types(url: Callable[[str], str]) -> None:
    async with ClientSession() as session:
        async with session.get(url("/text")) as resp:
            with pytest.raises(hyperclient.ContentTypeError) as info:
                await resp.json()
            assert info.value.status == 200
            assert info.value.message == (  # aiohttp's wording: code matches on it
                "Attempt to decode JSON with unexpected mimetype: text/plain"
            )
            # Without the check, the body is parsed: here it is not JSON.
            with pytest.raises(json.JSONDecodeError):
                await resp.json(content_type=None)


@pytest.mark.parametrize(
    ("sent", "media", "charset"),
    [
        (b"text/html; charset=utf-8", "text/html", "utf-8"),
        (b"garbage", "application/octet-stream", None),  # as aiohttp; not text/plain
        (b"text/plain; charset*=utf-8''latin-1", "text/plain", "latin-1"),  # RFC 2231
        (b"text/plain; charset=", "text/plain", None),
    ],
)
async def test_content_type_values_and_the_json_refusal_naming_them(
    raw_server: Any, sent: bytes, media: str, charset: str | None
) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: " + sent + b"\r\nContent-Length: 4\r\n\r\ncaf\xe9"
        )

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session, session.get(srv.url) as resp:
        assert (resp.content_type, resp.charset) == (media, charset)
        with pytest.raises(hyperclient.ContentTypeError) as info:
            await resp.json()
        # The value as sent, parameters and all, as aiohttp words it.
        assert info.value.message == (
            f"Attempt to decode JSON with unexpected mimetype: {sent.decode()}"
        )
        if charset != "utf-8":  # declared Latin-1, or none: not UTF-8, so Latin-1
            assert await resp.text() == "café"


async def test_content_reading_patterns(url: Callable[[str], str]) -> None:
    async with ClientSession() as session:
        async with session.get(url("/big?size=200000")) as resp:
            first = await resp.content.read(10)
            assert first == bytes(range(10))
            exact = await resp.content.readexactly(246)
            assert exact == bytes(range(10, 256))
            chunks = [c async for c in resp.content.iter_chunked(4096)]
            assert max(map(len, chunks)) == 4096
            assert len(first) + len(exact) + sum(map(len, chunks)) == 200_000
        async with session.get(url("/lines")) as resp:
            assert [line async for line in resp.content] == [b"one\n", b"two\n", b"three"]
        async with session.get(url("/big?size=100000")) as resp:
            pieces = [c async for c in resp.content.iter_any()]
            assert sum(map(len, pieces)) == 100_000
        async with session.get(url("/big?size=1000")) as resp:
            pairs = [p async for p in resp.content.iter_chunks()]
            assert b"".join(d for d, _ in pairs) == (bytes(range(256)) * 4)[:1000]


async def test_read_is_cached(url: Callable[[str], str]) -> None:
    async with ClientSession() as session:
        async with session.get(url("/json")) as resp:
            assert await resp.read() is await resp.read()


async def test_bytes_str_and_json_bodies(url: Callable[[str], str]) -> None:
    async with ClientSession() as session:
        async with session.post(url("/echo"), data=b"\x00\x01binary") as resp:
            data = await resp.json()
            assert data["body"] == "\x00\x01binary"
            assert header(data, "Content-Length") == ["8"]
        async with session.post(url("/echo"), data="héllo", encoding="latin-1") as resp:
            data = await resp.json()
            assert data["body"] == "héllo"  # server decoded as latin-1 by our harness
            assert header(data, "Content-Type") == ["text/plain; charset=latin-1"]
        async with session.post(url("/echo"), json={"a": [1, 2]}) as resp:
            data = await resp.json()
            assert json.loads(data["body"]) == {"a": [1, 2]}
            assert header(data, "Content-Type") == ["application/json"]
        with pytest.raises(ValueError, match="data and json"):
            await session.post(url("/echo"), data=b"x", json={})


async def test_form_bodies(url: Callable[[str], str]) -> None:
    async with ClientSession() as session:
        async with session.post(url("/form"), data={"a": "1", "b": "two words"}) as resp:
            assert await resp.json() == {"a": "1", "b": "two words"}
        async with session.post(url("/form"), data=[("x", "1"), ("y", "é")]) as resp:
            assert await resp.json() == {"x": "1", "y": "é"}
        form = hyperclient.FormData()
        form.add_field("field", "value")
        form.add_field("file", io.BytesIO(b"file contents"), filename="a.txt")
        async with session.post(url("/form"), data=form) as resp:
            got = await resp.json()
        assert got["field"] == "value"
        assert got["file"]["filename"] == "a.txt"
        assert got["file"]["data"] == "file contents"


async def test_file_body_is_streamed_with_length(url: Callable[[str], str], tmp_path: Any) -> None:
    path = tmp_path / "upload.bin"
    payload = bytes(range(256)) * 1000
    path.write_bytes(payload)
    async with ClientSession() as session:
        with path.open("rb") as fobj:
            async with session.put(url("/echo"), data=fobj) as resp:
                data = await resp.json()
    assert data["body"].encode("latin-1") == payload
    assert header(data, "Content-Length") == [str(len(payload))]


async def test_body_content_types_as_in_aiohttp(url: Callable[[str], str], tmp_path: Any) -> None:
    """bytes are application/octet-stream; a file's type is guessed from its name."""
    page = tmp_path / "page.html"
    page.write_bytes(b"<p>hi</p>")
    async with ClientSession() as session:
        async with session.post(url("/echo"), data=b"\x00\x01") as resp:
            assert header(await resp.json(), "Content-Type") == ["application/octet-stream"]
        with page.open("rb") as fobj:
            async with session.post(url("/echo"), data=fobj) as resp:
                assert header(await resp.json(), "Content-Type") == ["text/html"]
        async with session.post(url("/echo"), data=io.BytesIO(b"raw")) as resp:
            assert header(await resp.json(), "Content-Type") == ["application/octet-stream"]
        async with session.post(url("/echo")) as resp:  # no content, no type
            assert header(await resp.json(), "Content-Type") == []


async def test_text_file_bodies_name_their_charset(
    url: Callable[[str], str], tmp_path: Path
) -> None:
    """A text file's characters go out encoded with the request's encoding: its type says
    which, as a str body's does (aiohttp: text/plain; charset=utf-8). The type is still
    guessed from the file's name; the caller's Content-Type always wins."""
    notes = tmp_path / "notes.txt"
    notes.write_text("naïve", encoding="utf-8")
    page = tmp_path / "page.html"
    page.write_text("<p>été</p>", encoding="utf-8")
    async with ClientSession() as session:

        async def sent(data: Any, **options: Any) -> tuple[list[str], bytes]:
            async with session.post(url("/echo"), data=data, **options) as resp:
                echo = await resp.json()
            return header(echo, "Content-Type"), echo["body"].encode("latin-1")

        assert await sent(io.StringIO("é")) == (["text/plain; charset=utf-8"], "é".encode())
        with notes.open(encoding="utf-8") as text:
            assert await sent(text) == (["text/plain; charset=utf-8"], "naïve".encode())
        with page.open(encoding="utf-8") as text:
            assert await sent(text) == (["text/html; charset=utf-8"], "<p>été</p>".encode())
        assert await sent(io.StringIO("é"), encoding="latin-1") == (
            ["text/plain; charset=latin-1"],
            b"\xe9",
        )
        given = {"Content-Type": "text/csv; charset=utf-8"}
        assert await sent(io.StringIO("a,é"), headers=given) == (
            ["text/csv; charset=utf-8"],
            "a,é".encode(),
        )


async def test_file_body_sends_exactly_what_it_announced(
    url: Callable[[str], str], tmp_path: Any
) -> None:
    """The size announced in Content-Length is what goes out: a file that grew after it
    was measured is cut there (more would be read as another request), one that shrank
    fails clearly; a /proc file, whose size says 0, goes chunked with all its content."""
    path = tmp_path / "growing.log"
    loop = asyncio.get_running_loop()
    for now, error in ((b"12345GET /smuggled HTTP/1.1\r\n\r\n", None), (b"12", "2 of 5")):
        path.write_bytes(b"12345")
        with path.open("rb") as fobj:
            req = ClientRequest("POST", URL(url("/echo")), data=fobj, loop=loop)
            assert req.headers["Content-Length"] == "5"
            path.write_bytes(now)
            source = req._body_source
            assert source is not None
            if error is None:
                assert b"".join([c async for c in source.chunks()]) == b"12345"
            else:
                with pytest.raises(RuntimeError, match=f"ended after {error} bytes"):
                    _ = [c async for c in source.chunks()]
    async with ClientSession() as session:
        with Path("/proc/self/status").open("rb") as proc:  # noqa: ASYNC230
            async with session.post(url("/echo"), data=proc) as resp:
                data = await resp.json()
    assert header(data, "Transfer-Encoding") == ["chunked"]
    assert header(data, "Content-Length") == []
    assert data["body"].startswith("Name:")


async def test_text_file_body_is_encoded_as_one_text() -> None:
    """A text file longer than one read is encoded as a whole: UTF-16 puts its byte
    order mark once, not at the start of every piece."""
    text = "naïve " * 20_000  # several reads of READ_SIZE characters
    loop = asyncio.get_running_loop()
    req = ClientRequest(
        "POST", URL("http://a/"), data=io.StringIO(text), encoding="utf-16", loop=loop
    )
    source = req._body_source
    assert source is not None
    sent = b"".join([c async for c in source.chunks()])
    assert sent == text.encode("utf-16")


async def test_object_with_only_read_is_sent_once(url: Callable[[str], str]) -> None:
    """Anything with read() is a file body: one that cannot seek or tell goes chunked,
    and cannot be sent again."""

    class Reader:
        def __init__(self) -> None:
            self.pieces = [b"ab", b"cd", b""]

        def read(self, size: int = -1) -> bytes:
            return self.pieces.pop(0)

    req = ClientRequest("POST", URL(url("/echo")), data=Reader())
    assert req.headers["Transfer-Encoding"] == "chunked"
    assert req.is_replayable()
    async with ClientSession() as session, session.post(url("/echo"), data=Reader()) as resp:
        assert (await resp.json())["body"] == "abcd"
    source = req._body_source
    assert source is not None
    assert b"".join([c async for c in source.chunks()]) == b"abcd"
    assert not req.is_replayable()
    with pytest.raises(RuntimeError, match="unseekable file and cannot be sent again"):
        _ = [c async for c in source.chunks()]


async def test_user_framing_headers_must_match_the_body(url: Callable[[str], str]) -> None:
    """A Content-Length that disagrees with the body, or a Transfer-Encoding that does not
    end with chunked, would let the rest be read as another request: refused, unsent."""
    async with ClientSession() as session:
        with pytest.raises(LocalProtocolError, match="'1' does not match the body, 5"):
            await session.post(url("/echo"), data=b"xGET ", headers={"Content-Length": "1"})
        with pytest.raises(LocalProtocolError, match="must end with chunked: 'gzip'"):
            await session.post(url("/echo"), data=b"x", headers={"Transfer-Encoding": "gzip"})
        async with session.post(url("/echo"), data=b"abc", headers={"Content-Length": "3"}) as r:
            assert (await r.json())["body"] == "abc"


class _WrittenPayload(hyperclient.Payload):
    """A payload that only implements write(): its size is unknown (None)."""

    async def write(self, writer: Any) -> None:
        for i in range(0, len(self._value), 100):
            await writer.write(self._value[i : i + 100])


def _unsized_bodies(text: str) -> dict[str, Callable[[], Any]]:
    """Bodies whose length we cannot measure, each holding *text* (ASCII) once sent."""

    async def generated() -> AsyncIterator[bytes]:
        for i in range(0, len(text), 100):
            yield text[i : i + 100].encode()

    async def ending_late() -> AsyncIterator[bytes]:
        # The server has every announced byte, and answers, before the source ends.
        async for piece in generated():
            yield piece
        await asyncio.sleep(20 * MS)

    def pipe() -> Any:
        read_end, write_end = os.pipe()
        os.write(write_end, text.encode())
        os.close(write_end)
        return open(read_end, "rb")

    return {
        "async generator": generated,
        "async generator ending late": ending_late,
        "pipe": pipe,
        "payload of size None": lambda: _WrittenPayload(text.encode()),
        "text file": lambda: io.StringIO(text),
    }


def _heads_and_bodies(seen: list[bytes]) -> Any:
    """A raw server script: record each request as ``head + b"|" + body``, answer OK."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, body = await read_request(reader)
            seen.append(head + b"|" + body)
            writer.write(OK)
            await writer.drain()

    return script


@pytest.mark.parametrize("kind", list(_unsized_bodies("")))
async def test_callers_content_length_streams_a_body_of_unknown_size(
    raw_server: Callable[..., Any], kind: str
) -> None:
    """A server that refuses chunked uploads (S3's presigned PUT) gets the length the
    caller knows: the body goes out as it is produced, with that Content-Length and no
    chunked coding, and the connection serves the next request (as aiohttp does)."""
    seen: list[bytes] = []
    srv: RawServer = await raw_server(_heads_and_bodies(seen))
    text = "0123456789" * 102  # 1020 bytes, in several pieces
    body = _unsized_bodies(text)[kind]()
    async with ClientSession() as session:
        async with session.put(srv.url, data=body, headers={"Content-Length": "1020"}) as resp:
            assert await resp.read() == b"ok"
        async with session.get(srv.url) as resp:
            assert await resp.read() == b"ok"
    if isinstance(body, io.IOBase):
        body.close()
    assert srv.connections == 1
    head, _, sent = seen[0].partition(b"\r\n\r\n|")
    assert head.lower().count(b"\r\ncontent-length: 1020") == 1
    assert b"transfer-encoding" not in head.lower()
    assert sent == text.encode()
    assert seen[1].startswith(b"GET / ")


async def test_a_source_that_stays_open_after_the_announced_bytes(
    raw_server: Callable[..., Any],
) -> None:
    """A live pipe or queue may stay open long after the Content-Length worth of bytes:
    the request is whole then, and its answer must not wait for the source (it did, up
    to the total timeout); the source is closed, nothing more is sent."""
    closed = asyncio.Event()

    async def live() -> AsyncIterator[bytes]:
        try:
            yield b"hello"
            await asyncio.Event().wait()  # never ends by itself
            yield b"more"
        finally:
            closed.set()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _, body = await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    srv: RawServer = await raw_server(script)
    async with asyncio.timeout(2), ClientSession() as session:
        async with session.put(srv.url, data=live(), headers={"Content-Length": "5"}) as resp:
            assert await resp.read() == b"hello"
    assert closed.is_set()


@pytest.mark.parametrize(
    ("length", "message"),
    [
        ("1021", "the request body wrote 1020 bytes, expected its Content-Length, 1021 bytes"),
        ("1019", "the request body wrote more than its Content-Length, 1019 bytes"),
    ],
)
@pytest.mark.parametrize("kind", list(_unsized_bodies("")))
async def test_a_body_that_disagrees_with_the_callers_content_length_fails(
    raw_server: Callable[..., Any], kind: str, length: str, message: str
) -> None:
    """More or fewer bytes than announced would desynchronise the connection (RFC 9112
    §6.3): the request fails as a payload whose write() does, and the connection is
    closed, never pooled; the session goes on with a new one."""
    received: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if head.startswith(b"PUT "):
            received.append(await reader.read())  # to the client's close
            return
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()

    srv: RawServer = await raw_server(script)
    body = _unsized_bodies("0123456789" * 102)[kind]()
    async with ClientSession() as session:
        with pytest.raises(hyperclient.ClientConnectionError) as info:
            await session.put(srv.url, data=body, headers={"Content-Length": length})
        assert str(info.value) == message
        assert_pool_empty(session)
        async with session.get(srv.url) as resp:
            assert await resp.read() == b"ok"
    if isinstance(body, io.IOBase):
        body.close()
    assert srv.connections == 2
    # Never more than announced: the piece that would cross it is not sent.
    assert len(received[0]) <= int(length)


async def test_framing_conflicts_stay_refused_for_a_body_of_unknown_size(
    raw_server: Callable[..., Any],
) -> None:
    """Only a Content-Length the caller gives alone is taken: with chunked=True or a
    Transfer-Encoding it contradicts the framing, and a malformed one frames nothing."""

    async def generated() -> AsyncIterator[bytes]:
        yield b"abc"

    srv: RawServer = await raw_server(answer_ok)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"chunked": True}, "Content-Length cannot be set with chunked=True"),
        ({"compress": "deflate"}, "Content-Length cannot be set with compress="),
        (
            {"headers": {"Content-Length": "3", "Transfer-Encoding": "chunked"}},
            "Content-Length and Transfer-Encoding cannot both be set",
        ),
        ({"headers": {"Content-Length": "3, 3"}}, "invalid Content-Length header: '3, 3'"),
        ({"headers": {"Content-Length": "-3"}}, "invalid Content-Length header: '-3'"),
    ]
    async with ClientSession() as session:
        for options, message in cases:
            options.setdefault("headers", {"Content-Length": "3"})
            with pytest.raises(LocalProtocolError) as info:
                await session.post(srv.url, data=generated(), **options)
            assert str(info.value) == message
    assert srv.connections == 0  # refused before anything was sent


async def test_user_framing_headers_without_a_body(raw_server: Callable[..., Any]) -> None:
    """Framing given for an empty body is checked too: a Content-Length of 5 with nothing
    behind it made the server read the next request's first bytes as this body."""
    seen: list[bytes] = []
    srv: RawServer = await raw_server(_heads_and_bodies(seen))
    async with ClientSession(timeout=hyperclient.ClientTimeout(total=2)) as session:
        for data in (None, b""):
            with pytest.raises(LocalProtocolError, match="'5' does not match the body, 0 bytes"):
                await session.get(srv.url, data=data, headers={"Content-Length": "5"})
        with pytest.raises(LocalProtocolError, match="cannot both be set"):
            await session.post(
                srv.url, headers={"Content-Length": "5", "Transfer-Encoding": "chunked"}
            )
        assert srv.connections == 0  # refused before anything was sent
        async with session.get(srv.url, headers={"Content-Length": "0"}) as resp:
            assert await resp.read() == b"ok"
        # An announced chunked body without data is the empty chunked body.
        async with session.post(srv.url, headers={"Transfer-Encoding": "chunked"}) as resp:
            assert await resp.read() == b"ok"
        async with session.get(srv.url) as resp:
            assert await resp.read() == b"ok"
    assert srv.connections == 1
    assert len(seen) == 3
    assert seen[0].count(b"Content-Length: 0") == 1
    post = seen[1].lower()
    assert b"transfer-encoding: chunked" in post
    assert b"content-length" not in post
    assert post.endswith(b"|")  # read_request decoded the last-chunk: an empty body
    assert seen[2].startswith(b"GET / ")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"headers": {"Connection": 1}}, "header value of Connection must be str, got int: 1"),
        ({"headers": {"Content-Length": 0}}, "header value of Content-Length must be str"),
        ({"headers": {"Transfer-Encoding": 1}}, "header value of Transfer-Encoding must be"),
        ({"headers": {"X-Token": b"abc"}}, "header value of X-Token must be str, got bytes"),
        (
            {"proxy": "http://127.0.0.1:9", "headers": {"Proxy-Authorization": b"Basic x"}},
            "header value of Proxy-Authorization must be str, got bytes",
        ),
        (
            {"proxy": "http://127.0.0.1:9", "proxy_headers": {"X-P": 5}},
            "proxy header value of X-P must be str, got int: 5",
        ),
    ],
)
async def test_header_values_that_are_not_text_are_refused(
    raw_server: Callable[..., Any], options: dict[str, Any], message: str
) -> None:
    """As aiohttp: b"abc" went out as "b'abc'"; an int broke the framing checks with an
    AttributeError that named nothing."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        with pytest.raises(TypeError) as info:
            await session.get(srv.url.replace("http://", "https://"), **options)
        assert str(info.value).startswith(message)
    assert srv.connections == 0


async def test_chunked_without_a_body_writes_no_last_chunk(raw_server: Callable[..., Any]) -> None:
    seen: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, body = await read_request(reader)
            seen.append(head + body)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        for method in ("POST", "GET"):
            async with session.request(method, srv.url, chunked=True) as resp:
                assert await resp.read() == b"ok"  # a stray "0\r\n\r\n" would break this
    assert len(seen) == 2
    assert b"Transfer-Encoding" not in seen[0]
    assert srv.connections == 1


async def test_async_iterable_body_is_chunked(url: Callable[[str], str]) -> None:
    async def gen() -> AsyncIterator[bytes]:
        for i in range(5):
            yield f"part{i};".encode()

    async with ClientSession() as session:
        async with session.post(url("/echo"), data=gen()) as resp:
            data = await resp.json()
    assert data["body"] == "part0;part1;part2;part3;part4;"
    assert header(data, "Transfer-Encoding") == ["chunked"]


async def test_another_responses_content_is_streamed_as_the_body(
    url: Callable[[str], str],
) -> None:
    """``data=resp.content`` (a proxy's case, aiohttp's StreamReaderPayload): read with
    readany() and sent chunked. Its async read() made it a file, read by a thread that
    got a coroutine back (TypeError)."""
    async with ClientSession() as session:
        async with session.get(url("/big?size=300000")) as source:
            async with session.post(url("/echo"), data=source.content) as resp:
                data = await resp.json()
    assert data["body"].encode("latin-1") == (bytes(range(256)) * 1200)[:300_000]
    assert header(data, "Transfer-Encoding") == ["chunked"]


async def test_chunked_int_sets_the_chunk_size(raw_server: Callable[..., Any]) -> None:
    seen: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            data = await reader.readexactly(size + 2)
            if size == 0:
                break
            seen.append(data[:-2])
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        async with session.post(srv.url, data=b"a" * 10, chunked=4) as resp:
            assert resp.status == 200
    assert seen == [b"aaaa", b"aaaa", b"aa"]


@pytest.mark.parametrize("compress", ["deflate", "gzip", True])
async def test_compressed_request_body(compress: Any, raw_server: Callable[..., Any]) -> None:
    got: dict[str, bytes] = {}

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
        got["head"], got["body"] = head, body
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        await writer.drain()

    srv: RawServer = await raw_server(script)
    payload = b"compress me " * 500
    async with ClientSession() as session:
        async with session.post(srv.url, data=payload, compress=compress) as resp:
            assert resp.status == 204
    coding = "deflate" if compress is True else compress
    assert f"Content-Encoding: {coding}".encode() in got["head"]
    wbits = 16 + zlib.MAX_WBITS if coding == "gzip" else zlib.MAX_WBITS
    assert zlib.decompress(got["body"], wbits) == payload


async def test_compress_refuses_a_callers_content_encoding(
    raw_server: Callable[..., Any],
) -> None:
    """Data the caller already encoded (and says so) would have been compressed again
    under our Content-Encoding alone: the server would undo one coding and take the other
    for the content. Refused before sending, with aiohttp's error."""
    srv: RawServer = await raw_server(answer_ok)
    pre = zlib.compress(b"the real content")
    async with ClientSession() as session:
        for given in ("gzip", "deflate"):
            with pytest.raises(ValueError, match=r"^compress can not be set if") as info:
                await session.post(
                    srv.url, data=pre, compress="deflate", headers={"Content-Encoding": given}
                )
            assert str(info.value).endswith(f"Content-Encoding header is set: {given!r}")
            assert not isinstance(info.value, LocalProtocolError)  # a plain ValueError
        # Without compress=, the caller's coding goes out as it is.
        async with session.post(srv.url, data=pre, headers={"Content-Encoding": "deflate"}):
            pass
    assert srv.connections == 1


async def test_params_headers_and_auto_headers(url: Callable[[str], str]) -> None:
    async with ClientSession(headers={"X-Session": "s", "X-Both": "session"}) as session:
        async with session.get(
            url("/echo?keep=1"),
            params={"q": "a b", "n": "1"},
            headers={"X-Both": "request", "User-Agent": "mine"},
        ) as resp:
            data = await resp.json()
    assert data["query"] == [["keep", "1"], ["q", "a b"], ["n", "1"]]
    assert header(data, "X-Session") == ["s"]
    assert header(data, "X-Both") == ["request"]
    assert header(data, "User-Agent") == ["mine"]
    assert header(data, "Accept") == ["*/*"]
    assert "gzip" in header(data, "Accept-Encoding")[0]


async def test_skip_auto_headers(url: Callable[[str], str]) -> None:
    async with ClientSession(skip_auto_headers=["User-Agent"]) as session:
        async with session.get(url("/echo"), skip_auto_headers=["Accept-Encoding"]) as resp:
            data = await resp.json()
    names = {k.lower() for k, _ in data["headers"]}
    assert "user-agent" not in names
    assert "accept-encoding" not in names
    assert "accept" in names
    async with ClientSession() as session:
        for body in ("text", {"form": "1"}):
            async with session.post(
                url("/echo"), data=body, skip_auto_headers=["content-type"]
            ) as r:
                assert header(await r.json(), "Content-Type") == []
    # A lone name is that name, not its letters (aiohttp skips nothing then).
    async with ClientSession(skip_auto_headers="User-Agent") as session:
        assert session.skip_auto_headers == frozenset({"user-agent"})
        async with session.post(url("/echo"), data="t", skip_auto_headers="Content-Type") as r:
            data = await r.json()
    assert header(data, "User-Agent") == header(data, "Content-Type") == []
    assert header(data, "Accept") == ["*/*"]
    request = hyperclient.ClientRequest("GET", URL(url("/")), skip_auto_headers=hdrs.ACCEPT)
    assert "Accept" not in request.headers
    assert "User-Agent" in request.headers


async def test_base_url(server: Any) -> None:
    async with ClientSession(base_url=f"http://127.0.0.1:{server.port}/echo/") as session:
        async with session.get("sub?x=1") as resp:
            data = await resp.json()
    assert data["path"] == "/echo/sub?x=1"
    # Without the slash "v1" would silently go (RFC 3986 §5.2.3): refused, as in aiohttp.
    with pytest.raises(ValueError, match="trailing '/', got 'http://h/api/v1'"):
        ClientSession(base_url="http://h/api/v1")
    async with ClientSession(base_url=f"http://127.0.0.1:{server.port}") as session:
        async with session.get("/echo") as resp:  # a bare origin is fine: its path is "/"
            assert (await resp.json())["path"] == "/echo"


def authorization(head: bytes) -> bytes | None:
    for line in head.split(b"\r\n")[1:]:
        if line.lower().startswith(b"authorization:"):
            return line.split(b":", 1)[1].strip()
    return None


async def test_session_auth_stays_with_the_base_url_origin(raw_server: Any) -> None:
    """As in aiohttp: with a base_url, the session's credentials go to its origin only;
    an absolute URL to another server went with them."""
    ours: list[bytes] = []
    theirs: list[bytes] = []
    home: RawServer = await raw_server(recording(ours))
    other: RawServer = await raw_server(recording(theirs))
    auth = hyperclient.BasicAuth("u", "secret")
    async with ClientSession(base_url=home.url + "/", auth=auth) as session:
        await (await session.get("/x")).read()
        await (await session.get(other.url + "/y")).read()
    async with ClientSession(auth=auth) as session:  # no base_url: every request
        await (await session.get(other.url + "/z")).read()
    assert [authorization(h) for h in ours] == [auth.encode().encode()]
    assert [authorization(h) for h in theirs] == [None, auth.encode().encode()]


async def test_an_authorization_header_and_credentials_cannot_be_combined(
    raw_server: Any,
) -> None:
    """One would silently replace the other (a bearer token dropped for a password):
    ValueError, as in aiohttp, whatever the credentials' source."""
    heads: list[bytes] = []
    srv: RawServer = await raw_server(recording(heads))
    token = {"Authorization": "Bearer t"}
    auth = hyperclient.BasicAuth("u", "p")
    url = URL(srv.url)
    async with ClientSession() as session:
        with pytest.raises(ValueError, match="Authorization header"):
            await session.get(srv.url, headers=token, auth=auth)
        with pytest.raises(ValueError, match="Authorization header"):
            await session.get(url.with_user("u").with_password("p"), headers=token)
    async with ClientSession(auth=auth) as session:
        with pytest.raises(ValueError, match="Authorization header"):
            await session.get(srv.url, headers=token)
    async with ClientSession(headers=token) as session:
        await (await session.get(srv.url)).read()  # the header alone is fine
    assert [authorization(h) for h in heads] == [b"Bearer t"]


async def test_method_spelling_and_raise_for_status_values(raw_server: Any) -> None:
    """As in aiohttp: a method is upper-cased ("pOst" went out as sent, and the POST
    rules for redirects missed it); a true raise_for_status that is no callable means
    True (it was called, a TypeError)."""
    heads: list[bytes] = []
    see = b"HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 0\r\n\r\n"
    gone = b"HTTP/1.1 404 Gone\r\nContent-Length: 0\r\n\r\n"
    srv: RawServer = await raw_server(recording(heads, see, OK, gone, gone))
    async with ClientSession() as session:
        async with session.request("pOst", srv.url, data=b"x") as resp:
            assert resp.method == "GET"  # a POST's 302: the next hop is a GET
        assert resp.history[0].method == "POST"
        for truthy in ("yes", 1):
            with pytest.raises(hyperclient.ClientResponseError) as info:
                await session.get(srv.url + "/gone", raise_for_status=truthy)
            assert info.value.status == 404
    assert [h.split(b" ", 2)[:2] for h in heads[:2]] == [[b"POST", b"/"], [b"GET", b"/next"]]


async def test_a_location_with_whitespace_taken_as_sent_is_a_redirect_error(
    raw_server: Any,
) -> None:
    """requote_redirect_url=False takes the Location as sent: whitespace in it would
    split the request line. It was refused by a LocalProtocolError, no ClientError."""
    moved = b"HTTP/1.1 302 Found\r\nLocation: /a b?q=1 2\r\nContent-Length: 0\r\n\r\n"
    heads: list[bytes] = []
    srv: RawServer = await raw_server(recording(heads, moved, moved))
    async with ClientSession(requote_redirect_url=False) as session:
        with pytest.raises(hyperclient.InvalidUrlRedirectClientError, match="whitespace"):
            await session.get(srv.url)
    async with ClientSession() as session:  # requoted: followed
        await (await session.get(srv.url)).read()
    assert heads[-1].startswith(b"GET /a%20b?q=1+2 HTTP/1.1\r\n")


def test_a_frozen_signal_refuses_every_change() -> None:
    signal: hyperclient.tracing.Signal[Any] = hyperclient.tracing.Signal()

    async def callback(*args: Any) -> None:
        pass

    signal.append(callback)
    signal.freeze()
    changes: list[Callable[[], object]] = [
        lambda: signal.append(callback),
        lambda: signal.insert(0, callback),
        lambda: signal.extend([callback]),
        lambda: signal.remove(callback),
        lambda: signal.pop(),
        lambda: signal.clear(),
        lambda: signal.__setitem__(0, callback),
        lambda: signal.__delitem__(0),
        lambda: signal.__iadd__([callback]),
    ]
    for change in changes:
        with pytest.raises(RuntimeError, match="frozen"):
            change()
    assert list(signal) == [callback]


async def test_requote_redirect_url_and_loop_attributes() -> None:
    """As aiohttp's: requote_redirect_url reads the keyword; loop is deprecated."""
    running = asyncio.get_running_loop()
    async with ClientSession() as session:
        assert session.requote_redirect_url is True
        with pytest.raises(AttributeError):
            session.requote_redirect_url = False  # type: ignore[misc]
        with pytest.warns(DeprecationWarning, match="client.loop property is deprecated"):
            assert session.loop is running
    async with ClientSession(requote_redirect_url=False, loop=running) as session:
        assert session.requote_redirect_url is False
        with pytest.warns(DeprecationWarning, match="loop property"):
            assert session.loop is running


def test_loop_of_a_session_made_outside_a_loop() -> None:
    session = ClientSession()
    try:
        with pytest.warns(DeprecationWarning, match="loop property"):
            assert session.loop is None
    finally:
        session.close()


async def test_links_from_the_link_header(raw_server: Callable[..., Any]) -> None:
    """resp.links as in aiohttp (RFC 8288): by rel, parameters, url resolved."""
    link = (
        b'Link: </page?n=2,3>; rel="next"; title="a, \\"b\\""\r\n'
        b"Link: <https://cdn.example/x>; rel=preconnect, <../up>; rel=up\r\n"
        b"Link: </bare>; rel\r\n"  # no value: keyed by its URL, as aiohttp does
        # Raw UTF-8, as servers send filenames: not read as Latin-1.
        b'Content-Disposition: attachment; filename="\xe6\x97\xa5\xe6\x9c\xac.txt"\r\n'
    )

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n" + link + b"Content-Length: 0\r\n\r\n")
        await writer.drain()

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        async with session.get(srv.url + "/a/b") as resp:
            links = resp.links
            disposition = resp.content_disposition
    assert disposition is not None
    assert disposition.filename == "日本.txt"
    assert list(links) == ["next", "preconnect", "up", "/bare"]
    assert dict(links["next"]) == {
        "rel": "next",
        "title": 'a, "b"',
        "url": URL(srv.url + "/page?n=2,3"),
    }
    assert links["preconnect"]["url"] == URL("https://cdn.example/x")
    assert links["up"]["url"] == URL(srv.url + "/up")


async def test_json_none_is_no_json_body(url: Callable[[str], str]) -> None:
    async with ClientSession() as session:
        async with session.post(url("/echo"), json=None) as resp:
            data = await resp.json()
        assert data["body"] == ""
        assert header(data, "Content-Type") == []
        async with session.post(url("/echo"), data=b"raw", json=None) as resp:
            assert (await resp.json())["body"] == "raw"
        async with session.post(url("/echo"), json=[None]) as resp:
            assert (await resp.json())["body"] == "[null]"


async def test_raise_for_status(url: Callable[[str], str]) -> None:
    async with ClientSession() as session:
        async with session.get(url("/status/404")) as resp:
            assert not resp.ok
            with pytest.raises(hyperclient.ClientResponseError) as info:
                resp.raise_for_status()
        err = info.value
        assert err.status == 404
        assert err.message == "Not Found"
        assert err.headers is not None
        assert err.headers["Content-Type"].startswith("text/plain")
        assert err.request_info.url == URL(url("/status/404"))
        assert err.history == ()
        assert err.args == (err.request_info, ())  # as aiohttp's
        with pytest.raises(hyperclient.ClientResponseError, match="500"):
            await session.get(url("/status/500"), raise_for_status=True)
    async with ClientSession(raise_for_status=True) as session:
        with pytest.raises(hyperclient.ClientResponseError):
            await session.get(url("/status/400"))
        async with session.get(url("/status/200")) as resp:
            assert resp.status == 200


async def test_raise_for_status_callable_that_raises_frees_the_connection(
    url: Callable[[str], str],
) -> None:
    """The caller never sees the response the policy refused: its connection (here, with
    an unread 4 MiB body, the only one allowed) must not stay in use."""

    class Refused(Exception):
        pass

    async def policy(resp: hyperclient.ClientResponse) -> None:
        raise Refused(resp.status)

    connector = hyperclient.TCPConnector(limit=1)
    async with ClientSession(connector=connector, raise_for_status=policy) as session:
        with pytest.raises(Refused):
            await session.get(url("/big?size=4194304"))
        assert [s.in_use for s in connector.stats().values()] == [0]
        async with asyncio.timeout(2):
            async with session.get(url("/json"), raise_for_status=False) as resp:
                assert resp.status == 200


async def test_redirects_followed_and_recorded(url: Callable[[str], str]) -> None:
    async with ClientSession() as session:
        async with session.get(url("/redirect/3")) as resp:
            assert await resp.json() == {"done": True, "method": "GET"}
            assert [r.status for r in resp.history] == [302, 302, 302]
            assert resp.url == URL(url("/redirect/0"))
        async with session.get(url("/redirect/2"), allow_redirects=False) as resp:
            assert resp.status == 302
        with pytest.raises(hyperclient.TooManyRedirects) as info:
            await session.get(url("/redirect/5"), max_redirects=2)
        assert len(info.value.history) == 3
        async with session.head(url("/redirect/1")) as resp:
            assert resp.status == 302  # HEAD does not follow by default


async def test_cookies_round_trip(url: Callable[[str], str]) -> None:
    async with ClientSession(cookies={"initial": "1"}) as session:
        async with session.get(url("/set-cookie")) as resp:
            assert resp.cookies["session"].value == "abc123"
        async with session.get(url("/cookies"), cookies={"extra": "x"}) as resp:
            assert await resp.json() == {"initial": "1", "session": "abc123", "extra": "x"}
        assert session.cookies["session"].value == "abc123"
        session.cookies["added"] = "in-place"  # the reference: modify it in place
        async with session.get(url("/cookies")) as resp:
            assert (await resp.json())["added"] == "in-place"


async def test_basic_auth_and_url_credentials(url: Callable[[str], str]) -> None:
    async with ClientSession(auth=hyperclient.BasicAuth("user", "pass")) as session:
        async with session.get(url("/echo")) as resp:
            data = await resp.json()
        assert header(data, "Authorization") == ["Basic dXNlcjpwYXNz"]
        creds = url("/echo").replace("http://", "http://u%40x:p%3Aw@")
        async with session.get(creds, auth=None) as resp:
            data = await resp.json()
    assert header(data, "Authorization") == [hyperclient.BasicAuth("u@x", "p:w").encode()]
    assert "@" not in data["path"]


async def test_non_aiohttp_server_chunked_response(asgi_server: Callable[..., Any]) -> None:
    base = await asgi_server(asgi_echo)
    async with ClientSession() as session:
        for _ in range(3):
            async with session.post(base + "/path?x=1", data=b"payload") as resp:
                assert resp.headers["Transfer-Encoding"] == "chunked"
                data = await resp.json()
            assert data["body"] == "payload"
            assert data["path"] == "/path"
            assert data["query"] == "x=1"
        stats = next(iter(session.connector.stats().values()))  # type: ignore[union-attr]
        assert (stats.created, stats.reused) == (1, 2)


async def test_url_sent_byte_for_byte_when_valid(raw_server: Callable[..., Any]) -> None:
    lines: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, _ = await read_request(reader)
            lines.append(head.split(b"\r\n", 1)[0])
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        for path in ("/a%7eb/%2F?q=%2f&x=%C3%A9", "/sp ace/é?k=v v", "/x%zz"):
            async with session.get(srv.url + path) as resp:
                assert resp.status == 200
    assert lines[0] == b"GET /a%7eb/%2F?q=%2f&x=%C3%A9 HTTP/1.1"
    assert lines[1] == b"GET /sp%20ace/%C3%A9?k=v+v HTTP/1.1" or lines[1] == (
        b"GET /sp%20ace/%C3%A9?k=v%20v HTTP/1.1"
    )
    assert lines[2] == b"GET /x%25zz HTTP/1.1"


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"headers": {"X-Evil": "a\r\nInjected: yes"}}, "X-Evil"),
        ({"headers": {"Bad Name": "v"}}, "Bad Name"),
        ({"headers": {"X-Nul": "a\x00b"}}, "X-Nul"),
        ({"method": "GE\r\nT"}, "GE"),
    ],
)
async def test_injection_raises_before_sending(
    kwargs: dict[str, Any], fragment: str, raw_server: Callable[..., Any]
) -> None:
    received: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.read(65536))

    srv: RawServer = await raw_server(script)
    method = kwargs.pop("method", "GET")
    async with ClientSession() as session:
        with pytest.raises(ValueError, match="(?i)" + fragment.split()[0]):
            await session.request(method, srv.url + "/", **kwargs)
    await asyncio.sleep(0.05)
    assert received in ([], [b""])


async def test_invalid_urls(url: Callable[[str], str]) -> None:
    async with ClientSession() as session:
        with pytest.raises(hyperclient.NonHttpUrlClientError, match="ftp"):
            await session.get("ftp://example.com/")
        with pytest.raises(hyperclient.InvalidUrlClientError, match="no host"):
            await session.get("http:///path")
        with pytest.raises(hyperclient.InvalidURL):
            await session.get("/relative/without/base")
        with pytest.raises(hyperclient.InvalidUrlClientError, match="99999/ - Port out of range"):
            await session.get("http://127.0.0.1:99999/")
        # A URL of another type: its repr, as InvalidURL.url is str | URL.
        with pytest.raises(hyperclient.InvalidUrlClientError, match="must be a str") as info:
            await session.get(b"http://127.0.0.1/")  # type: ignore[arg-type]
        assert info.value.url == "b'http://127.0.0.1/'"


async def test_connection_refused_names_host_and_port() -> None:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    async with ClientSession() as session:
        with pytest.raises(hyperclient.ClientConnectorError) as info:
            await session.get(f"http://127.0.0.1:{port}/")
    err = info.value
    assert isinstance(err, OSError)
    assert err.host == "127.0.0.1"
    assert err.port == port
    assert str(err).startswith(f"Cannot connect to host 127.0.0.1:{port} ssl:default [")
    assert isinstance(err.__cause__, ConnectionRefusedError)


async def test_session_close_plain_awaited_and_with(url: Callable[[str], str]) -> None:
    session = ClientSession()
    assert not session.closed
    session.close()  # the reference's plain call
    assert session.closed
    await session.close()  # idempotent, and awaitable

    with ClientSession() as session2:  # the reference's plain `with`
        async with session2.get(url("/json")) as resp:
            assert resp.status == 200
    assert session2.closed

    connector = hyperclient.TCPConnector()
    session3 = ClientSession(connector=connector)
    session3.detach()
    assert session3.closed
    assert not connector.closed
    await connector.close()
    with pytest.raises(RuntimeError, match="closed"):
        await session3.get(url("/json"))


async def silent_server(raw_server: Callable[..., Any]) -> tuple[RawServer, asyncio.Event]:
    """A server that reads a request and never answers; the event says it has read it."""
    got = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        got.set()
        await asyncio.sleep(30)

    srv: RawServer = await raw_server(script)
    return srv, got


async def test_closing_the_session_ends_requests_in_flight(
    raw_server: Callable[..., Any],
) -> None:
    """close() closes connections in use too: a request waiting for its answer fails at
    once (not at its total timeout, or never) and its socket is closed."""
    srv, got = await silent_server(raw_server)
    session = ClientSession(timeout=hyperclient.ClientTimeout(total=None))
    task = asyncio.ensure_future(session.get(srv.url))
    await asyncio.wait_for(got.wait(), 1)
    connector = session.connector
    assert connector is not None
    await session.close()
    with pytest.raises(hyperclient.ClientConnectionError, match="connector was closed"):
        await asyncio.wait_for(task, 1)
    assert not connector._acquired


async def test_requests_keep_their_deadline_when_the_session_closes(
    raw_server: Callable[..., Any],
) -> None:
    """A connector the session does not own carries its requests on after session.close();
    their total timeout (kept in the loop's coarse timers) still fires."""
    srv, got = await silent_server(raw_server)
    connector = hyperclient.TCPConnector()
    timeout = hyperclient.ClientTimeout(total=0.2, ceil_threshold=0.1)  # coarse: 1 s precision
    session = ClientSession(connector=connector, connector_owner=False, timeout=timeout)
    task = asyncio.ensure_future(session.get(srv.url))
    await asyncio.wait_for(got.wait(), 1)
    wheel = session._wheel
    assert wheel is not None
    assert any(wheel._buckets.values())  # the deadline waits there
    await session.close()
    with pytest.raises(hyperclient.ServerTimeoutError, match="total timeout"):
        await asyncio.wait_for(task, 3)
    await connector.close()


async def test_module_level_api(url: Callable[[str], str]) -> None:
    resp = await hyperclient.get(url("/json"))
    assert await resp.json() == {"hello": "world", "n": [1, 2, 3]}
    async with hyperclient.post(url("/echo"), data=b"x") as resp:
        assert (await resp.json())["body"] == "x"
    async with hyperclient.request("PUT", url("/echo"), data=b"y") as resp:
        data = await resp.json()
        assert data["method"] == "PUT"
        assert header(data, "Connection") == ["close"]  # no keep-alive in the Basic API
    connector = hyperclient.TCPConnector()
    resp = await hyperclient.get(url("/json"), connector=connector)
    await resp.read()
    assert not connector.closed  # a connector passed in stays open
    await connector.close()
    # The reference's head(url, **kwargs) takes request()'s defaults: redirects followed
    # (session.head does not follow them, as the reference says for it).
    async with hyperclient.head(url("/redirect/2")) as resp:
        assert (resp.status, len(resp.history)) == (200, 2)
    async with hyperclient.head(url("/redirect/2"), allow_redirects=False) as resp:
        assert resp.status == 302


async def test_module_level_requests_are_coroutines(url: Callable[[str], str]) -> None:
    """The reference's request() was a coroutine: tasks and gather() take one."""
    task = asyncio.create_task(hyperclient.get(url("/json")))
    resp = await task
    assert await resp.json() == {"hello": "world", "n": [1, 2, 3]}
    first, second = await asyncio.gather(
        hyperclient.post(url("/echo"), data=b"1"), hyperclient.request("PUT", url("/echo"))
    )
    assert [(await r.json())["method"] for r in (first, second)] == ["POST", "PUT"]
    # Each closed its own session once its body was read.
    assert all(r.connection is None for r in (resp, first, second))


async def test_module_level_requests_stopped_before_they_start_close_their_session(
    url: Callable[[str], str],
) -> None:
    """A task cancelled before its first step, wait_for(..., 0), close() or throw() on a
    handle never awaited: the session made for the request is closed, with no warning."""

    async def cancelled_at_once(handle: Any) -> None:
        task = asyncio.create_task(handle)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    async def timed_out_at_once(handle: Any) -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(handle, 0)

    async def closed(handle: Any) -> None:
        handle.close()

    async def thrown_into(handle: Any) -> None:
        with pytest.raises(KeyError):
            handle.throw(KeyError("stop"))

    for stop in (cancelled_at_once, timed_out_at_once, closed, thrown_into):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            handle = hyperclient.get(url("/json"))
            await stop(handle)
            session = handle._session
            del handle
            gc.collect()
        assert session.closed, stop.__name__
        assert [str(w.message) for w in caught] == [], stop.__name__


async def test_module_level_files_argument(url: Callable[[str], str], tmp_path: Path) -> None:
    # The reference's request(files=...): fields from data= and files as multipart parts.
    upload = tmp_path / "report.txt"
    upload.write_text("file body")
    with upload.open("rb") as fh:
        async with hyperclient.request(
            "POST",
            url("/form"),
            data={"a": "1"},
            files={"doc": fh, "raw": io.BytesIO(b"no name")},
        ) as resp:
            got = await resp.json()
    # A file's basename is its filename; an object without a name is named after the field.
    assert got["a"] == "1"
    assert (got["doc"]["filename"], got["doc"]["data"]) == ("report.txt", "file body")
    assert (got["raw"]["filename"], got["raw"]["data"]) == ("raw", "no name")


async def test_unclosed_session_warns() -> None:
    def abandon() -> None:
        ClientSession()  # dropped without close(): CPython finalises it right here

    with pytest.warns(ResourceWarning, match="Unclosed client session"):
        abandon()


async def test_headers_given_as_multidict_keep_duplicates(url: Callable[[str], str]) -> None:
    headers = CIMultiDict([("X-Dup", "1"), ("X-Dup", "2")])
    async with ClientSession() as session:
        async with session.get(url("/echo"), headers=headers) as resp:
            data = await resp.json()
    assert header(data, "X-Dup") == ["1", "2"]


async def test_prepared_plain_requests_follow_session_changes(
    raw_server: Callable[..., Any],
) -> None:
    """Plain ``session.get(url)`` reuses a prepared request; nothing that changes between
    two such calls may be frozen into it: default headers, cookies from the jar, the URL."""
    heads: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, _ = await read_request(reader)
            heads.append(head)
            cookie = b"Set-Cookie: k=v\r\n" if b"/cookie" in head.split(b"\r\n")[0] else b""
            writer.write(b"HTTP/1.1 200 OK\r\n" + cookie + b"Content-Length: 2\r\n\r\nok")
            await writer.drain()

    srv: RawServer = await raw_server(script)
    async with ClientSession(headers={"X-A": "1"}) as session:
        for _ in range(2):
            async with session.get(srv.url) as resp:
                assert await resp.read() == b"ok"
        session.headers["X-A"] = "2"
        session.headers["X-B"] = "3"
        async with session.get(srv.url) as resp:
            assert resp.request_info.headers["X-A"] == "2"
            await resp.read()
        async with session.head(srv.url) as resp:
            await resp.read()
        async with session.get(srv.url + "/cookie") as resp:
            await resp.read()
        async with session.get(srv.url) as resp:
            await resp.read()
    lines = [h.split(b"\r\n") for h in heads]
    assert heads[0] == heads[1]  # the prepared copy sends the very same bytes
    assert b"X-A: 1" in lines[0]
    assert b"X-B: 3" not in lines[0]
    assert b"X-A: 2" in lines[2]
    assert b"X-B: 3" in lines[2]
    assert lines[3][0].startswith(b"HEAD / ")
    assert lines[4][0].startswith(b"GET /cookie ")
    assert not any(line.startswith(b"Cookie:") for line in lines[4])
    assert b"Cookie: k=v" in lines[5]  # the jar is no longer empty: not a prepared copy


async def test_prepared_requests_are_distinct_objects(raw_server: Callable[..., Any]) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()

    srv: RawServer = await raw_server(script)
    async with ClientSession() as session:
        first = await session.get(srv.url)
        second = await session.get(srv.url)
        first.release()
        second.release()
    assert first.request_info == second.request_info
    assert first is not second
    assert first.request_info.url == URL(srv.url)
