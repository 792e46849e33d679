"""MultipartWriter and MultipartReader against real servers.

aiohttp.web parses what the writer sends with its own ``request.multipart()`` and
``request.post()`` (the oracle), and serves bodies built by its own ``MultipartWriter``
for the reader; ``raw_server`` pins exact bytes and malformed bodies.
"""

from __future__ import annotations

import asyncio
import io
import json
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

import hyperclient
from hyperclient import ClientSession, MultipartWriter
from hyperclient.errors import PayloadTooBig
from hyperclient.formdata import READ_SIZE

from ..conftest import MS, OK, RawServer, read_request
from .conftest import form_server

Server = Callable[..., Awaitable[Any]]


@pytest.fixture
async def url(aiohttp_server: Server) -> Callable[[str], str]:
    return await form_server(aiohttp_server, redirect_to="/multipart", client_max_size=2**24)


# -- MultipartWriter -----------------------------------------------------------------------


async def test_mixed_parts_round_trip_with_exact_length(url: Callable[[str], str]) -> None:
    with MultipartWriter("mixed", boundary="b0und4ry") as writer:
        writer.append("text é")
        part = writer.append(b"\x00\xffbytes")
        part.set_content_disposition("attachment", filename="data.bin")
        writer.append_json({"k": [1, "é"]})
        writer.append_form([("a", "1"), ("a", "2"), ("b", "x y")])
        writer.append("custom", {"Content-Type": "text/x-custom; charset=latin-1", "X-A": "1"})
    assert len(writer) == 5
    assert writer.size == len(await writer.as_bytes())
    async with ClientSession() as session, session.post(url("/multipart"), data=writer) as resp:
        got = await resp.json()
    assert got["content_type"] == "multipart/mixed; boundary=b0und4ry"
    assert got["content_length"] == str(writer.size)
    assert got["transfer_encoding"] is None
    text, data, js, form, custom = got["parts"]
    assert text["headers"]["Content-Type"] == "text/plain; charset=utf-8"
    assert text["body"].encode("latin-1") == "text é".encode()
    assert text["headers"]["Content-Length"] == str(len("text é".encode()))
    assert data["headers"]["Content-Type"] == "application/octet-stream"
    assert data["body"].encode("latin-1") == b"\x00\xffbytes"
    assert data["filename"] == "data.bin"
    assert data["headers"]["Content-Disposition"] == 'attachment; filename="data.bin"'
    assert js["headers"]["Content-Type"] == "application/json"
    assert json.loads(js["body"]) == {"k": [1, "é"]}
    assert form["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert form["body"] == "a=1&a=2&b=x+y"
    assert custom["headers"]["Content-Type"] == "text/x-custom; charset=latin-1"
    assert custom["headers"]["X-A"] == "1"
    assert custom["body"] == "custom"


async def test_form_data_parts_with_unicode_filename(url: Callable[[str], str]) -> None:
    writer = MultipartWriter("form-data")
    writer.append("plain value").set_content_disposition("form-data", name="field")
    upload = writer.append(io.BytesIO(b"file body"), {"Content-Type": "text/csv"})
    upload.set_content_disposition("form-data", name="naïve", filename="résumé v2.csv")
    writer.append("unnamed")  # gets a default name, as in aiohttp
    async with ClientSession() as session, session.post(url("/post"), data=writer) as resp:
        got = await resp.json()
    assert got == {
        "field": "plain value",
        "naïve": {"filename": "résumé v2.csv", "content_type": "text/csv", "data": "file body"},
        "section-2": "unnamed",
    }
    # RFC 7578 §4.8: form-data parts carry no Content-Length.
    assert "Content-Length" not in upload.headers


async def test_nested_multipart(url: Callable[[str], str]) -> None:
    outer = MultipartWriter("mixed")
    outer.append("first")
    inner = MultipartWriter("related", boundary="inner boundary")
    inner.append_json({"inner": True})
    inner.append(b"raw")
    nested = outer.append(inner)
    assert nested is inner
    nested.set_content_disposition("inline")
    outer.append("last")
    async with ClientSession() as session, session.post(url("/multipart"), data=outer) as resp:
        got = await resp.json()
    assert got["content_length"] == str(outer.size)
    first, nested_parts, last = got["parts"]
    assert first["body"] == "first"
    assert [p["body"] for p in nested_parts] == ['{"inner": true}', "raw"]
    assert last["body"] == "last"
    assert inner.content_type == 'multipart/related; boundary="inner boundary"'


async def test_parts_changed_after_append_are_sent_as_they_are(
    url: Callable[[str], str],
) -> None:
    """Part headers may change until the body is sent: a nested writer that grew after it
    was appended announces its new length, and a coding set afterwards is applied (and
    drops the Content-Length, which would no longer be the length sent)."""
    outer = MultipartWriter(boundary="outer")
    inner = MultipartWriter(boundary="inner")
    outer.append(inner)
    inner.append(b"hello")
    coded = outer.append(b"squeeze me " * 100)
    coded.headers["Content-Encoding"] = "gzip"
    assert list(outer) == [(inner, None, None), (coded, "gzip", None)]
    raw = await outer.as_bytes()
    nested_length = len(await inner.as_bytes())
    assert raw.startswith(
        b"--outer\r\nContent-Type: multipart/mixed; boundary=inner\r\n"
        b"Content-Length: %d\r\n\r\n--inner\r\n" % nested_length
    )
    async with ClientSession() as session, session.post(url("/multipart"), data=outer) as resp:
        got = await resp.json()
    [nested_part], coded_part = got["parts"]
    assert nested_part["body"] == "hello"
    assert coded_part["body"] == "squeeze me " * 100
    assert "Content-Length" not in coded_part["headers"]


class _SpyFile(io.BytesIO):
    """A file that records the size of every read."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads: list[int | None] = []

    def read(self, size: int | None = -1) -> bytes:
        self.reads.append(size)
        return super().read(size)


async def test_files_are_streamed_in_pieces_with_exact_length(
    url: Callable[[str], str], tmp_path: Any
) -> None:
    payload = bytes(range(256)) * 2000  # 512000 bytes
    path = tmp_path / "photo.png"
    path.write_bytes(payload)
    spy = _SpyFile(payload * 2)
    writer = MultipartWriter()
    with path.open("rb") as file:
        part = writer.append(file)
        writer.append(spy)
        size = writer.size
        # Held in memory at a time: one piece, not the file.
        pieces = [len(chunk) async for chunk in writer.body().chunks()]
        assert sum(pieces) == size
        assert max(pieces) <= READ_SIZE
        async with ClientSession() as session:
            async with session.post(url("/multipart"), data=writer) as resp:
                got = await resp.json()
        assert not file.closed  # the caller's file stays open
    assert part.headers["Content-Type"] == "image/png"
    assert part.headers["Content-Disposition"] == 'attachment; filename="photo.png"'
    assert got["content_length"] == str(size)
    assert got["parts"][0]["body"].encode("latin-1") == payload
    assert got["parts"][0]["filename"] == "photo.png"
    assert got["parts"][1]["body"].encode("latin-1") == payload * 2
    assert spy.reads
    assert all(size is not None and 0 < size <= READ_SIZE for size in spy.reads)


async def test_unknown_size_goes_chunked(url: Callable[[str], str]) -> None:
    async def produce() -> AsyncIterator[bytes]:
        for piece in (b"one ", b"two ", b"three"):
            await asyncio.sleep(0)
            yield piece

    writer = MultipartWriter()
    writer.append(produce())
    writer.append(io.StringIO("text file é"))
    assert writer.size is None
    async with ClientSession() as session, session.post(url("/multipart"), data=writer) as resp:
        got = await resp.json()
    assert got["transfer_encoding"] == "chunked"
    assert got["content_length"] is None
    assert got["parts"][0]["body"] == "one two three"
    assert "Content-Length" not in got["parts"][0]["headers"]
    assert got["parts"][1]["body"].encode("latin-1") == "text file é".encode()


async def test_text_file_part_is_encoded_as_one_text() -> None:
    """A text file longer than one read is encoded as a whole: UTF-16 puts its byte
    order mark once, not at the start of every piece."""
    text = "naïve " * 20_000  # several reads of READ_SIZE characters
    writer = MultipartWriter(boundary="b")
    writer.append(io.StringIO(text), {"Content-Type": "text/plain; charset=utf-16"})
    body = await writer.as_bytes()
    assert body.split(b"\r\n\r\n", 1)[1] == text.encode("utf-16") + b"\r\n--b--\r\n"


async def test_encoded_parts_are_decoded_by_aiohttp(url: Callable[[str], str]) -> None:
    data = b"compress me " * 10000 + bytes(range(256))
    writer = MultipartWriter()
    for headers in (
        {"Content-Encoding": "gzip"},
        {"Content-Encoding": "deflate"},
        {"Content-Transfer-Encoding": "base64"},
        {"Content-Transfer-Encoding": "quoted-printable"},
        {"Content-Encoding": "gzip", "Content-Transfer-Encoding": "base64"},
    ):
        writer.append(data, headers)
    assert writer.size is None
    raw = await writer.as_bytes()
    assert data not in raw
    async with ClientSession() as session, session.post(url("/multipart"), data=writer) as resp:
        got = await resp.json()
    assert len(got["parts"]) == 5
    for part in got["parts"]:
        assert part["body"].encode("latin-1") == data


async def test_file_parts_are_replayed_after_a_redirect(url: Callable[[str], str]) -> None:
    payload = b"x" * 100000
    writer = MultipartWriter()
    writer.append(io.BytesIO(payload))
    async with ClientSession() as session, session.post(url("/redirect"), data=writer) as resp:
        got = await resp.json()
    assert resp.history[0].status == 307
    assert got["parts"][0]["body"].encode("latin-1") == payload


async def test_exact_bytes_on_the_wire(raw_server: Callable[..., Awaitable[RawServer]]) -> None:
    received: list[tuple[bytes, bytes]] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await read_request(reader))
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        await writer.drain()

    server = await raw_server(script)
    mp = MultipartWriter("form-data", boundary="XyZ")
    mp.append("v").set_content_disposition("form-data", name='a"b\r\n', filename="f\\.txt")
    async with ClientSession() as session, session.post(server.url, data=mp):
        pass
    head, body = received[0]
    assert b"\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n" in head
    assert b"\r\nContent-Length: %d\r\n" % len(body) in head
    assert body == (
        b"--XyZ\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b'Content-Disposition: form-data; name="a%22b%0D%0A"; filename="f\\\\.txt"\r\n'
        b"\r\n"
        b"v\r\n"
        b"--XyZ--\r\n"
    )


def test_writer_surface() -> None:
    writer = MultipartWriter("alternative", boundary="abc")
    assert writer.boundary == "abc"
    assert writer.content_type == "multipart/alternative; boundary=abc"
    assert writer.headers["Content-Type"] == writer.content_type
    assert writer.size == len(b"--abc--\r\n")
    assert bool(writer)
    assert len(writer) == 0
    part = writer.append("x", {"Content-Encoding": "gzip"})
    assert list(writer) == [(part, "gzip", None)]
    assert part.size == 1
    assert "Content-Length" not in part.headers
    assert MultipartWriter(boundary=None).boundary != MultipartWriter().boundary


@pytest.mark.parametrize(
    ("boundary", "message"),
    [
        ("", "boundary must be 1 to 70 characters long: ''"),
        ("x" * 71, "boundary must be 1 to 70 characters long: "),
        ("é", "boundary must be ASCII: 'é'"),
        ("a\r\nb", "boundary contains invalid characters: 'a\\r\\nb'"),
    ],
)
def test_bad_boundaries_are_refused(boundary: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("\\", "\\\\")):
        MultipartWriter(boundary=boundary)


def test_misuse_is_refused() -> None:
    writer = MultipartWriter()
    with pytest.raises(TypeError, match="cannot make a multipart part from 42"):
        writer.append(42)
    with pytest.raises(RuntimeError, match="unknown content encoding: 'br'"):
        writer.append("x", {"Content-Encoding": "br"})
    with pytest.raises(RuntimeError, match="unknown content transfer encoding: '8bit'"):
        writer.append("x", {"Content-Transfer-Encoding": "8bit"})
    with pytest.raises(TypeError, match="expected a mapping or a sequence of pairs, got 'a=b'"):
        writer.append_form("a=b")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cannot contain itself"):
        writer.append(writer)
    form = MultipartWriter("form-data")
    with pytest.raises(ValueError, match="cannot carry Content-Length"):
        form.append("x", {"Content-Length": "1"})
    part = writer.append("x")
    with pytest.raises(ValueError, match="bad content disposition type 'a b'"):
        part.set_content_disposition("a b")
    with pytest.raises(ValueError, match="bad content disposition parameter 'a b'"):
        part.set_content_disposition("inline", **{"a b": "c"})
    part.headers["X-Bad"] = "a\r\nInjected: 1"
    with pytest.raises(ValueError, match="invalid X-Bad header"):
        writer.body()


def test_exported_like_aiohttp() -> None:
    assert hyperclient.MultipartWriter is MultipartWriter


# -- MultipartReader -----------------------------------------------------------------------


def _served_by_aiohttp() -> web.Application:
    """Multipart responses built by aiohttp.web's own MultipartWriter."""
    import aiohttp

    async def mixed(request: web.Request) -> web.StreamResponse:
        with aiohttp.MultipartWriter("mixed", boundary="srv-boundary") as writer:
            writer.append("héllo")
            part = writer.append(b"\x00binary" * 5000)
            part.set_content_disposition("attachment", filename="blob.bin")
            writer.append_json({"a": [1, 2]})
            writer.append_form([("k", "v"), ("k", "w é")])
            inner = aiohttp.MultipartWriter("related")
            inner.append("inner one")
            inner.append(b"inner two", {"Content-Type": "application/x-two"})
            writer.append(inner)
            writer.append("after nested")
            writer.append(b"zipped " * 1000, {"Content-Encoding": "gzip"})
            writer.append(b"b64 \x00\xff" * 100, {"Content-Transfer-Encoding": "base64"})
        return web.Response(body=writer)

    async def form(request: web.Request) -> web.StreamResponse:
        with aiohttp.MultipartWriter("form-data") as writer:
            writer.append("v1").set_content_disposition("form-data", name="field")
            upload = writer.append(b"file data")
            upload.set_content_disposition("form-data", name="up", filename="naïve.txt")
        return web.Response(body=writer)

    app = web.Application()
    app.router.add_get("/mixed", mixed)
    app.router.add_get("/form", form)
    return app


async def test_reader_on_aiohttp_multipart_response(aiohttp_server: Server) -> None:
    server = await aiohttp_server(_served_by_aiohttp())
    async with ClientSession() as session, session.get(server.make_url("/mixed")) as resp:
        reader = hyperclient.MultipartReader.from_response(resp)
        text = await reader.next()
        assert isinstance(text, hyperclient.BodyPartReader)
        assert text.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert await text.text() == "héllo"
        assert text.at_eof()
        blob = await reader.next()
        assert isinstance(blob, hyperclient.BodyPartReader)
        assert blob.filename == "blob.bin"
        assert blob.name is None
        assert await blob.read() == b"\x00binary" * 5000
        js = await reader.next()
        assert isinstance(js, hyperclient.BodyPartReader)
        assert await js.json() == {"a": [1, 2]}
        form = await reader.next()
        assert isinstance(form, hyperclient.BodyPartReader)
        assert await form.form() == [("k", "v"), ("k", "w é")]
        nested = await reader.next()
        assert isinstance(nested, hyperclient.MultipartReader)
        inner = [(part.headers["Content-Type"], await part.read()) async for part in nested]
        assert inner == [
            ("text/plain; charset=utf-8", b"inner one"),
            ("application/x-two", b"inner two"),
        ]
        after = await reader.next()
        assert isinstance(after, hyperclient.BodyPartReader)
        assert await after.text() == "after nested"
        zipped = await reader.next()
        assert isinstance(zipped, hyperclient.BodyPartReader)
        assert await zipped.read(decode=True) == b"zipped " * 1000
        b64 = await reader.next()
        assert isinstance(b64, hyperclient.BodyPartReader)
        assert await b64.read(decode=True) == b"b64 \x00\xff" * 100
        assert await reader.next() is None
        assert reader.at_eof()
        assert await reader.next() is None


async def test_reader_form_data_and_unicode_filename(aiohttp_server: Server) -> None:
    server = await aiohttp_server(_served_by_aiohttp())
    async with ClientSession() as session, session.get(server.make_url("/form")) as resp:
        parts = [
            (part.name, part.filename, await part.read())
            async for part in hyperclient.MultipartReader.from_response(resp)
            if isinstance(part, hyperclient.BodyPartReader)
        ]
    # aiohttp percent-encodes the filename (quote_fields=True); it is read as sent.
    assert parts == [("field", None, b"v1"), ("up", "na%C3%AFve.txt", b"file data")]


async def test_reader_reads_what_the_writer_wrote() -> None:
    writer = MultipartWriter("mixed")
    writer.append("one")
    inner = MultipartWriter("alternative")
    inner.append("plain")
    inner.append("<b>html</b>", {"Content-Type": "text/html"})
    writer.append(inner)
    writer.append(b"")
    writer.append_json([1]).set_content_disposition("inline", name="ünï", filename="a b.json")
    body = await writer.as_bytes()
    for piece_size in (1, 7, len(body)):  # every way the stream may split the body
        reader = hyperclient.MultipartReader(
            {"Content-Type": writer.content_type}, _Trickle(body, piece_size)
        )
        got: list[Any] = []
        async for part in reader:
            if isinstance(part, hyperclient.MultipartReader):
                got.append([await p.text() async for p in part])  # type: ignore[union-attr]
            else:
                got.append((part.name, part.filename, await part.read()))
        assert got == [
            (None, None, b"one"),
            ["plain", "<b>html</b>"],
            (None, None, b""),
            ("ünï", "a b.json", b"[1]"),
        ], piece_size


class _Trickle:
    """A body stream returning at most *size* bytes per read."""

    def __init__(self, data: bytes, size: int) -> None:
        self.data = data
        self.size = size
        self.reads: list[int] = []

    async def read(self, n: int = -1) -> bytes:
        self.reads.append(n)
        piece, self.data = self.data[: min(n, self.size)], self.data[min(n, self.size) :]
        return piece


async def test_reader_streams_with_bounded_memory() -> None:
    """A 4 MiB part is read in chunks while the buffer stays at about one read."""
    big = b"z" * (4 * 2**20)
    body = b"--b\r\nContent-Type: application/octet-stream\r\n\r\n" + big + b"\r\n--b--\r\n"
    stream = _Trickle(body, 2**30)
    reader = hyperclient.MultipartReader({"Content-Type": "multipart/mixed; boundary=b"}, stream)
    part = await reader.next()
    assert isinstance(part, hyperclient.BodyPartReader)
    total = 0
    while chunk := await part.read_chunk(1000):
        assert len(chunk) <= 1000
        assert len(reader._buffer.data) <= 2 * READ_SIZE
        total += len(chunk)
    assert total == len(big)
    assert max(stream.reads) <= READ_SIZE
    assert await reader.next() is None


async def test_unread_parts_are_skipped_and_readline() -> None:
    body = (
        b"preamble to ignore\r\n"
        b"--b  \r\n\r\nline one\nline two\r\n"
        b"--b\r\n\r\nskipped " + b"s" * 100000 + b"\r\n"
        b"--b\r\nX-Last: yes\r\n\r\nlast\r\n"
        b"--b--\r\nepilogue"
    )
    reader = hyperclient.MultipartReader(
        {"Content-Type": 'multipart/mixed; boundary="b"'}, _Trickle(body, 5)
    )
    first = await reader.next()
    assert isinstance(first, hyperclient.BodyPartReader)
    assert await first.readline() == b"line one\n"
    assert await first.readline() == b"line two"
    assert await first.readline() == b""
    skipped = await reader.next()  # never read: skipped by the next call
    assert isinstance(skipped, hyperclient.BodyPartReader)
    last = await reader.next()
    assert skipped.at_eof()
    assert await skipped.read() == b""  # does not eat into the next part
    assert isinstance(last, hyperclient.BodyPartReader)
    assert last.headers["X-Last"] == "yes"
    assert await last.read() == b"last"
    assert await reader.next() is None


async def test_form_data_charset_field() -> None:
    body = (
        b'--b\r\nContent-Disposition: form-data; name="_charset_"\r\n\r\niso-8859-1\r\n'
        b'--b\r\nContent-Disposition: form-data; name="f"\r\n\r\n\xe9t\xe9\r\n'
        b"--b--\r\n"
    )
    reader = hyperclient.MultipartReader(
        {"Content-Type": "multipart/form-data; boundary=b"}, _Trickle(body, 1000)
    )
    part = await reader.next()
    assert isinstance(part, hyperclient.BodyPartReader)
    assert part.name == "f"
    assert await part.text() == "été"


async def test_charset_is_read_as_the_content_type_parser_reads_it() -> None:
    """A part's charset is its Content-Type's charset parameter as parse_content_type
    reads it: a quoted value that holds "; charset=" names none, for the writer (which
    encodes text with it) as for the reader (which decodes with it)."""
    content_type = 'text/plain; title="a; charset=latin-1"'
    writer = MultipartWriter(boundary="b")
    writer.append("été", {"Content-Type": content_type})
    writer.append("été", {"Content-Type": content_type + "; charset=utf-16-le"})
    body = await writer.as_bytes()
    assert "été".encode() in body
    assert "été".encode("utf-16-le") in body
    reader = hyperclient.MultipartReader(
        {"Content-Type": "multipart/mixed; boundary=b"}, _Trickle(body, 1000)
    )
    charsets = []
    async for part in reader:
        assert isinstance(part, hyperclient.BodyPartReader)
        charsets.append(part.get_charset(default="utf-8"))
        assert await part.text() == "été"
    assert charsets == ["utf-8", "utf-16-le"]


async def _serve(raw_server: Callable[..., Awaitable[RawServer]], body: bytes, ctype: str) -> str:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s"
            % (ctype.encode(), len(body), body)
        )
        await writer.drain()

    return (await raw_server(script)).url


async def _read_all(url: str) -> list[bytes]:
    found = []
    async with ClientSession() as session, session.get(url) as resp:
        async for part in hyperclient.MultipartReader.from_response(resp):
            assert isinstance(part, hyperclient.BodyPartReader)
            found.append(await part.read())
    return found


async def test_raw_response_is_read_exactly(
    raw_server: Callable[..., Awaitable[RawServer]],
) -> None:
    body = b"--x\r\n\r\na\r\n--x\r\nContent-Type: text/plain\r\n\r\n\r\n--x\r\n\r\n\r\n\r\n--x--"
    url = await _serve(raw_server, body, "multipart/mixed; boundary=x")
    assert await _read_all(url) == [b"a", b"", b"\r\n"]


@pytest.mark.parametrize(
    ("body", "parts"),
    [
        # RFC 2046 §5.1.1: body-part := MIME-part-headers [CRLF *OCTET]: no body at all, so
        # the blank line after the headers is the next delimiter's CRLF.
        (b"--x\r\nX: 1\r\n\r\n--x--\r\n", [({"X": "1"}, b"")]),
        (b"--x\r\nX: 1\r\n\r\na\r\n--x\r\n\r\n--x--\r\n", [({"X": "1"}, b"a"), ({}, b"")]),
        # A bare delimiter line after a delimiter line (what GraphQL servers send to end a
        # stream, gql's suite found it): no part, as aiohttp 3.13+ reads it.
        (b"--x\r\nX: 1\r\n\r\na\r\n--x\r\n--x--\r\n", [({"X": "1"}, b"a")]),
        (b"--x\r\n--x\r\nX: 1\r\n\r\nb\r\n--x--", [({"X": "1"}, b"b")]),
    ],
)
async def test_empty_parts(
    raw_server: Callable[..., Awaitable[RawServer]],
    body: bytes,
    parts: list[tuple[dict[str, str], bytes]],
) -> None:
    url = await _serve(raw_server, body, "multipart/mixed; boundary=x")
    found = []
    async with ClientSession() as session, session.get(url) as resp:
        reader = hyperclient.MultipartReader.from_response(resp)
        async for part in reader:
            assert isinstance(part, hyperclient.BodyPartReader)
            found.append((dict(part.headers), await part.read()))
        assert reader.at_eof()
    assert found == parts


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"", "multipart/mixed", "no boundary in Content-Type 'multipart/mixed'"),
        (b"", "text/plain; boundary=x", "multipart/* content type expected, got 'text/plain"),
        (b"", "multipart/mixed; boundary=" + "x" * 71, "boundary is 71 characters long"),
        (b"", "multipart/mixed; boundary=x", "multipart body is empty, expected boundary b'--x'"),
        (
            b"--y\r\n\r\ndata\r\n--y--\r\n",
            "multipart/mixed; boundary=x",
            "multipart body has no starting boundary b'--x', it starts with b'--y\\\\r\\\\n",
        ),
        (
            b"--x\r\n\r\ndata without an end",
            "multipart/mixed; boundary=x",
            "multipart body ended before the closing boundary b'--x--'",
        ),
        (
            b"--x\r\n\r\ndata\r\n--xyz\r\n\r\n",
            "multipart/mixed; boundary=x",
            "invalid boundary b'--xyz', expected b'--x'",
        ),
        (
            b"--x\r\nX-Big: " + b"h" * 9000 + b"\r\n\r\n\r\n--x--\r\n",
            "multipart/mixed; boundary=x",
            "part header line is longer than 8190 bytes: b'X-Big: hhh",
        ),
        (
            b"--x\r\nX-Endless: " + b"h" * 200000,
            "multipart/mixed; boundary=x",
            "part header line is longer than 8190 bytes: b'X-Endless: hhh",
        ),
        (
            b"--x\r\n" + b"X-Many: 1\r\n" * 129 + b"\r\n\r\n--x--\r\n",
            "multipart/mixed; boundary=x",
            "too many part headers, expected no more than 128",
        ),
        (
            b"--x\r\nno colon here\r\n\r\n\r\n--x--\r\n",
            "multipart/mixed; boundary=x",
            "invalid part header line: b'no colon here'",
        ),
        (
            b"--x\r\nX-Cut: 1",
            "multipart/mixed; boundary=x",
            "multipart body ended in a part header line: b'X-Cut: 1'",
        ),
    ],
)
async def test_malformed_responses_raise_clear_errors(
    raw_server: Callable[..., Awaitable[RawServer]], body: bytes, content_type: str, message: str
) -> None:
    url = await _serve(raw_server, body, content_type)
    with pytest.raises(ValueError, match="^" + message.replace("[", "\\[").replace("*", "\\*")):
        await _read_all(url)


def test_content_disposition_parsing() -> None:
    parse = hyperclient.parse_content_disposition
    assert parse('attachment; filename="a \\"b\\".txt"; size=3') == (
        "attachment",
        {"filename": 'a "b".txt', "size": "3"},
    )
    assert parse("INLINE; Filename*=UTF-8''%C3%A9.txt;") == ("inline", {"filename*": "é.txt"})
    assert parse(None) == (None, {})
    _, params = parse("attachment; filename*0*=utf-8''%C3%A9; filename*1=.txt")
    assert hyperclient.content_disposition_filename(params) == "é.txt"
    assert hyperclient.content_disposition_filename(params, "name") is None
    with pytest.warns(hyperclient.BadContentDispositionHeader):
        assert parse("bad type; a=1") == (None, {})
    with pytest.warns(hyperclient.BadContentDispositionHeader):
        assert parse('attachment; a="unterminated') == (None, {})
    with pytest.warns(hyperclient.BadContentDispositionParam):
        assert parse("attachment; filename*=nocharset; x=1") == ("attachment", {"x": "1"})


async def test_malformed_part_disposition_warns_once() -> None:
    """name and filename read one parse of Content-Disposition: a malformed one is
    warned about once, not once per attribute."""
    body = b'--b\r\nContent-Disposition: form-data; name="unterminated\r\n\r\nx\r\n--b--\r\n'
    reader = hyperclient.MultipartReader(
        {"Content-Type": "multipart/mixed; boundary=b"}, _Trickle(body, 1000)
    )
    part = await reader.next()
    assert isinstance(part, hyperclient.BodyPartReader)
    with pytest.warns(hyperclient.BadContentDispositionHeader) as warned:
        names = (part.name, part.filename)
    assert names == (None, None)
    assert len(warned) == 1
    assert await part.read() == b"x"


# -- the epilogue and keep-alive ---------------------------------------------------------------

#: A preamble, a nested multipart with an epilogue of its own, and the outer close
#: delimiter; the outer epilogue (RFC 2046 §5.1.1) is sent apart, after a pause.
_BEFORE_EPILOGUE = (
    b"preamble\r\n--x\r\nContent-Type: text/plain\r\n\r\none\r\n"
    b"--x\r\nContent-Type: multipart/mixed; boundary=y\r\n\r\n"
    b"--y\r\n\r\ninner\r\n--y--\r\ninner epilogue\r\n"
    b"--x\r\n\r\ntwo\r\n--x--"
)


async def _multipart_then_ok(
    raw_server: Callable[..., Awaitable[RawServer]], framing: str, epilogue: bytes, stall: bool
) -> RawServer:
    """A keep-alive server: ``/multipart`` answers :data:`_BEFORE_EPILOGUE`, then after a
    pause *epilogue* (with the last chunk when chunked; never, when *stall*: the body then
    never ends); any other path is answered ``ok``."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, _ = await read_request(reader)
            if not head.startswith(b"GET /multipart "):
                writer.write(OK)
                await writer.drain()
                continue
            head = b"HTTP/1.1 200 OK\r\nContent-Type: multipart/mixed; boundary=x\r\n"
            if framing == "chunked":
                writer.write(head + b"Transfer-Encoding: chunked\r\n\r\n")
                writer.write(b"%x\r\n%s\r\n" % (len(_BEFORE_EPILOGUE), _BEFORE_EPILOGUE))
                late = (b"%x\r\n%s\r\n" % (len(epilogue), epilogue) if epilogue else b"") + (
                    b"0\r\n\r\n"
                )
            else:
                length = len(_BEFORE_EPILOGUE) + len(epilogue) + stall
                writer.write(head + b"Content-Length: %d\r\n\r\n" % length)
                writer.write(_BEFORE_EPILOGUE)
                late = epilogue
            await writer.drain()
            await asyncio.sleep(50 * MS)  # the client has read the close delimiter by now
            writer.write(late[:-1] if stall else late)
            await writer.drain()
            if stall:
                await reader.read()  # until the client gives up on the connection
                return

    return await raw_server(script)


async def _read_nested(reader: hyperclient.MultipartReader) -> list[Any]:
    found: list[Any] = []
    async for part in reader:
        if isinstance(part, hyperclient.MultipartReader):
            found.append(await _read_nested(part))
        else:
            found.append(await part.read())
    return found


@pytest.mark.parametrize(
    ("framing", "epilogue"),
    [
        # (With a Content-Length and no epilogue, nothing comes after the close delimiter.)
        ("length", b"\r\n"),
        ("length", b"\r\nthe end: \xff any text\r\n"),
        ("chunked", b""),  # only the last chunk comes late
        ("chunked", b"\r\n"),
        ("chunked", b"\r\nthe end: \xff any text\r\n"),
    ],
)
async def test_connection_is_reused_after_reading_every_part(
    raw_server: Callable[..., Awaitable[RawServer]], framing: str, epilogue: bytes
) -> None:
    """Reading up to the close delimiter reads the body to its end: the epilogue (and the
    last chunk) that came after it are not left unread, which would close the connection
    on release. A nested reader's epilogue stays its parent's to skip."""
    server = await _multipart_then_ok(raw_server, framing, epilogue, stall=False)
    async with ClientSession() as session:
        async with session.get(server.url + "/multipart") as resp:
            reader = hyperclient.MultipartReader.from_response(resp)
            assert await _read_nested(reader) == [b"one", [b"inner"], b"two"]
            assert reader.at_eof()
        async with session.get(server.url + "/ok") as resp:
            assert await resp.read() == b"ok"
    assert server.connections == 1


@pytest.mark.parametrize("framing", ["length", "chunked"])
async def test_a_long_epilogue_is_not_waited_for(
    raw_server: Callable[..., Awaitable[RawServer]], framing: str
) -> None:
    """Past 64 KiB of epilogue the reader stops: it returns after the close delimiter
    although this body never ends, and the connection is closed on release, as it would
    be for any body left unread."""
    epilogue = b"\r\n" + b"e" * (4 * READ_SIZE)
    server = await _multipart_then_ok(raw_server, framing, epilogue, stall=True)
    async with ClientSession() as session:
        async with asyncio.timeout(2000 * MS):  # without a bound: until the read timeout
            async with session.get(server.url + "/multipart") as resp:
                reader = hyperclient.MultipartReader.from_response(resp)
                assert await _read_nested(reader) == [b"one", [b"inner"], b"two"]
                assert await reader.next() is None
        async with session.get(server.url + "/ok") as resp:
            assert await resp.read() == b"ok"
    assert server.connections == 2


@pytest.mark.parametrize(
    "preamble",
    [
        b"This is a multi-part message in MIME format.\n",  # its line ends in a bare LF
        b"\n",
        b"pre\r\n--xA not the boundary\r\n",  # a line that merely begins with it
        b"--xA\r\n",
        b"",
    ],
)
async def test_the_first_part_follows_any_preamble(
    raw_server: Callable[..., Awaitable[RawServer]], preamble: bytes
) -> None:
    """The first CRLF-dash-boundary was taken as the first boundary: after a preamble
    ending in a bare LF that was the second one, and the first part vanished silently;
    a preamble line beginning with the boundary's text was an error."""
    body = preamble + b"--x\r\n\r\nfirst\r\n--x\r\n\r\nsecond\r\n--x--\r\n"
    url = await _serve(raw_server, body, "multipart/mixed; boundary=x")
    assert await _read_all(url) == [b"first", b"second"]


async def test_a_body_of_bare_lf_lines_is_refused_not_read_as_no_parts(
    raw_server: Callable[..., Awaitable[RawServer]],
) -> None:
    """ "--x LF" was taken for preamble, the close delimiter for the first boundary, and
    the reader returned no parts, silently (gql's LF-separator test). A dash-boundary
    line may end in a bare LF; the part's delimiter must then be CRLF, and is not."""
    body = b'--x\nContent-Type: application/json\n\n{"a": 1}\n--x--\n'
    url = await _serve(raw_server, body, "multipart/mixed; boundary=x")
    with pytest.raises(ValueError, match="multipart body ended"):
        await _read_all(url)


async def test_part_headers_refuse_nul_and_cr_and_the_first_boundary_parameter_wins(
    raw_server: Callable[..., Awaitable[RawServer]],
) -> None:
    bad = await _serve(
        raw_server, b"--x\r\nX-A: a\x00b\r\n\r\nv\r\n--x--", "multipart/mixed; boundary=x"
    )
    with pytest.raises(ValueError, match="invalid part header line"):
        await _read_all(bad)
    bare_cr = await _serve(
        raw_server, b"--x\r\nX-A: a\rb\r\n\r\nv\r\n--x--", "multipart/mixed; boundary=x"
    )
    with pytest.raises(ValueError, match="invalid part header line"):
        await _read_all(bare_cr)
    # Two boundary parameters: the first, as aiohttp and the email package read it.
    twice = await _serve(
        raw_server, b"--x\r\n\r\nv\r\n--x--", "multipart/mixed; boundary=x; boundary=y"
    )
    assert await _read_all(twice) == [b"v"]


class _CountingBytes(bytearray):
    """A buffer that counts the bytes each search for a multipart delimiter goes over."""

    searched = 0

    def find(self, sub: Any, start: Any = 0, end: Any = None) -> int:
        if bytes(sub).startswith(b"\r\n--"):
            stop = len(self) if end is None else end
            _CountingBytes.searched += max(stop - start, 0)
        return super().find(sub, start, len(self) if end is None else end)


async def test_many_short_lines_of_a_large_part_read_in_linear_time(
    raw_server: Callable[..., Awaitable[RawServer]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The delimiter was searched for from the buffer's start on every readline(): a
    pass over up to 64 KiB per 10-byte line (3 MB of them took 3.5 s, aiohttp 0.4 s)."""
    from hyperclient import multipart

    lines = [b"line %05d\n" % i for i in range(20_000)]
    body = b"--x\r\n\r\n" + b"".join(lines) + b"\r\n--x--"
    url = await _serve(raw_server, body, "multipart/mixed; boundary=x")
    plain_init = multipart._Buffer.__init__

    def counting_init(self: Any, content: Any) -> None:
        plain_init(self, content)
        self.data = _CountingBytes()

    monkeypatch.setattr(multipart._Buffer, "__init__", counting_init)
    _CountingBytes.searched = 0
    async with ClientSession() as session, session.get(url) as resp:
        reader = hyperclient.MultipartReader.from_response(resp)
        part = await reader.next()
        assert isinstance(part, hyperclient.BodyPartReader)
        got = []
        while line := await part.readline():
            got.append(line)
    assert got == lines
    assert _CountingBytes.searched < 2 * len(body)  # each byte about once


# -- Limits on what a hostile body can make the reader hold or do ---------------------------


def _gzip_zeros(size: int) -> bytes:
    """*size* zero bytes, gzip-compressed (about 1000 to 1), made a MiB at a time."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(2**20)
    pieces = [compressor.compress(block[: min(2**20, size - at)]) for at in range(0, size, 2**20)]
    return b"".join(pieces) + compressor.flush()


def _one_part(headers: bytes, body: bytes) -> bytes:
    """A body of one part: *headers* are its header lines, each ending in CRLF."""
    return b"--b\r\n" + headers + b"\r\n" + body + b"\r\n--b--\r\n"


_MIXED = {"Content-Type": "multipart/mixed; boundary=b"}


async def test_a_compressed_part_decodes_to_16_mib_at_most() -> None:
    """A 64 KiB gzip part inflated to 64 MiB (135 MB held) in read(decode=True), text(),
    json() and form(): the decoded size is capped, by default at 16 MiB, and memory with it."""
    body = _one_part(
        b'Content-Disposition: attachment; name="bomb"\r\nContent-Encoding: gzip\r\n',
        _gzip_zeros(64 * 2**20),
    )
    for read in ("read", "text", "json", "form"):
        reader = hyperclient.MultipartReader(_MIXED, _Trickle(body, READ_SIZE))
        part = await reader.next()
        assert isinstance(part, hyperclient.BodyPartReader)
        tracemalloc.start()
        try:
            with pytest.raises(
                ValueError, match=r"^multipart part 'bomb' decodes \(gzip\) to "
            ) as err:
                await (part.read(decode=True) if read == "read" else getattr(part, read)())
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert str(err.value).endswith("more than 16777216 bytes, the max_decompress_size limit")
        assert isinstance(err.value.__cause__, PayloadTooBig)
        assert peak < 2 * 16 * 2**20  # the limit's worth (and growth slack), not 64 MiB


async def test_the_decoded_size_limit_can_be_raised_or_lowered() -> None:
    """max_decompress_size (aiohttp's BodyPartReader argument; also taken by
    MultipartReader for its parts) and client_max_size bound the decoded part alike; the
    error names the one that applied."""
    body = _one_part(b"Content-Type: text/plain\r\nContent-Encoding: gzip\r\n", _gzip_zeros(1000))

    async def decode(**limits: int) -> bytes:
        reader = hyperclient.MultipartReader(_MIXED, _Trickle(body, READ_SIZE), **limits)
        part = await reader.next()
        assert isinstance(part, hyperclient.BodyPartReader)
        return await part.read(decode=True)

    assert await decode(max_decompress_size=1000) == bytes(1000)
    with pytest.raises(ValueError, match=r"^multipart part of type 'text/plain' decodes"):
        await decode(max_decompress_size=999)
    with pytest.raises(ValueError, match=r"more than 999 bytes, the client_max_size limit$"):
        await decode(client_max_size=999)
    # A nested reader's parts get the limit too.
    nested = b"--top\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" + body + b"--top--"
    top = {"Content-Type": "multipart/mixed; boundary=top"}
    reader = hyperclient.MultipartReader(top, _Trickle(nested, 7), max_decompress_size=999)
    inner = await reader.next()
    assert isinstance(inner, hyperclient.MultipartReader)
    part = await inner.next()
    assert isinstance(part, hyperclient.BodyPartReader)
    with pytest.raises(ValueError, match=r"more than 999 bytes, the max_decompress_size limit$"):
        await part.text()

    big = _gzip_zeros(20 * 2**20)
    headers = CIMultiDictProxy(CIMultiDict({"Content-Encoding": "gzip"}))
    part = hyperclient.BodyPartReader(b"--b", headers, _Trickle(big + b"\r\n--b--", READ_SIZE))
    with pytest.raises(ValueError, match=r"more than 16777216 bytes"):
        await part.read(decode=True)
    part = hyperclient.BodyPartReader(
        b"--b", headers, _Trickle(big + b"\r\n--b--", READ_SIZE), max_decompress_size=2**25
    )
    assert await part.read(decode=True) == bytes(20 * 2**20)


def _nested(depth: int) -> bytes:
    """A body whose one part is a multipart holding a multipart... *depth* levels deep."""
    body = b"--b0\r\n\r\nleaf\r\n--b0--"
    for level in range(1, depth):
        body = (
            b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (level, level - 1)
            + body
            + b"\r\n--b%d--" % level
        )
    head = b"--top\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (depth - 1)
    return head + body + b"\r\n--top--\r\n"


async def _innermost(reader: hyperclient.MultipartReader) -> tuple[int, bytes]:
    """How many readers deep the first part that is no multipart lies, and its body."""
    levels = 0
    while isinstance(part := await reader.next(), hyperclient.MultipartReader):
        reader, levels = part, levels + 1
    assert part is not None
    return levels, await part.read()


@pytest.mark.parametrize("depth", [101, 2000])
async def test_multipart_nesting_is_limited_to_100_levels(depth: int) -> None:
    """Skipping a nested part recurses through each level: 978 levels (a 64 KB body)
    ended in RecursionError. Past 100 (Postfix's mime_nesting_limit) a ValueError says so."""
    top = {"Content-Type": "multipart/mixed; boundary=top"}
    reader = hyperclient.MultipartReader(top, _Trickle(_nested(depth), READ_SIZE))
    assert isinstance(await reader.next(), hyperclient.MultipartReader)
    # The part refused is the 101st multipart inside the body's: its boundary is b(N-101).
    message = (
        r"^multipart body nests parts more than 100 levels deep: "
        rf"'multipart/mixed; boundary=b{depth - 101}'$"
    )
    with pytest.raises(ValueError, match=message):
        await reader.next()  # skips the nested part, level by level
    reader = hyperclient.MultipartReader(top, _Trickle(_nested(depth), READ_SIZE))
    with pytest.raises(ValueError, match=message):
        await _innermost(reader)
    reader = hyperclient.MultipartReader(top, _Trickle(_nested(100), READ_SIZE))
    assert await _innermost(reader) == (100, b"leaf")


async def test_readline_of_a_part_is_bounded_as_stream_readline() -> None:
    """A part's readline() held a line of any length: like StreamReader.readuntil, a
    line longer than the limit (4 MiB by default, or max_line_length) raises ValueError,
    dropped if its end came, else left to read."""
    line = b"x" * (4 * 2**20)
    reader = hyperclient.MultipartReader(
        _MIXED, _Trickle(_one_part(b"", line + b"y\nshort\n" + line + b"z"), READ_SIZE)
    )
    part = await reader.next()
    assert isinstance(part, hyperclient.BodyPartReader)
    with pytest.raises(
        ValueError, match=r"^line of 4194306 bytes is longer than the limit, 4194304 bytes: b'xxx"
    ):
        await part.readline()
    assert await part.readline() == b"short\n"
    with pytest.raises(
        ValueError,
        match=(
            r"^read 4194\d+ bytes of a multipart part without b'\\n', "
            r"expected no more than 4194304 bytes: b'xxx"
        ),
    ):
        await part.readline()
    assert await part.read() == line + b"z"  # nothing was taken
    assert await reader.next() is None

    reader = hyperclient.MultipartReader(
        _MIXED, _Trickle(_one_part(b"", b"0123456789\nabcdefghijk\nend"), 3)
    )
    part = await reader.next()
    assert isinstance(part, hyperclient.BodyPartReader)
    assert await part.readline(max_line_length=11) == b"0123456789\n"
    with pytest.raises(
        ValueError,
        match=r"^line of 12 bytes is longer than the limit, 11 bytes: b'abcdefghijk\\n'$",
    ):
        await part.readline(max_line_length=11)
    assert await part.readline(max_line_length=3) == b"end"  # the last line, at the delimiter
    assert part.at_eof()
    assert await part.readline() == b""
