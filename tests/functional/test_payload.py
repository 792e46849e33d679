"""Payload objects as request bodies, multipart parts and form fields, against aiohttp.web.

aiohttp's own client, sending the same ``aiohttp.payload`` object to the same server, is
the oracle for the bytes and headers that arrive; aiohttp.web's ``request.multipart()``
and ``request.post()`` parse the multipart bodies.
"""

from __future__ import annotations

import asyncio
import bz2
import errno
import gzip
import hashlib
import io
import json
import lzma
import pathlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import aiohttp.payload
import pytest
from aiohttp import web

import hyperclient
import hyperclient.payload
from hyperclient import ClientSession

from .conftest import form_server

Server = Callable[..., Awaitable[Any]]
MiB = 2**20


async def _echo(request: web.Request) -> web.Response:
    body = await request.read()
    headers = request.headers
    return web.json_response(
        {
            "path": request.path,
            "content_type": headers.get("Content-Type"),
            "content_length": headers.get("Content-Length"),
            "transfer_encoding": headers.get("Transfer-Encoding"),
            "content_disposition": headers.get("Content-Disposition"),
            "x_extra": headers.get("X-Extra"),
            "size": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
            "body": body[:4096].decode("latin-1"),
        }
    )


@pytest.fixture
async def url(aiohttp_server: Server) -> Callable[[str], str]:
    return await form_server(
        aiohttp_server, redirect_to="/echo", client_max_size=64 * MiB, echo=_echo
    )


@pytest.fixture
def files(tmp_path: pathlib.Path) -> Iterator[Callable[[str, str], Any]]:
    """Open files under tmp_path (closed at the end): binary ``"rb"`` or text ``"r"``."""
    (tmp_path / "data.bin").write_bytes(bytes(range(256)) * 1000)
    (tmp_path / "notes.txt").write_text("héllo\n" * 5000, encoding="utf-8")
    opened: list[Any] = []

    def open_(name: str, mode: str) -> Any:
        f = open(tmp_path / name, mode, encoding=None if "b" in mode else "utf-8")  # noqa: SIM115
        opened.append(f)
        return f

    yield open_
    for f in opened:
        f.close()


async def _gen(pieces: list[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


# Each case builds the payload with either module (hyperclient.payload or aiohttp.payload).
CASES: dict[str, Callable[[Any, Callable[[str, str], Any]], Any]] = {
    "bytes": lambda m, f: m.BytesPayload(b"\x00\xffraw"),
    "bytes-typed": lambda m, f: m.BytesPayload(bytearray(b"<p>"), content_type="text/html"),
    "bytes-headers": lambda m, f: m.BytesPayload(b"x", headers={"X-Extra": "1"}),
    "string": lambda m, f: m.StringPayload("héllo"),
    "string-encoding": lambda m, f: m.StringPayload("héllo", encoding="latin-1"),
    "string-charset": lambda m, f: m.StringPayload(
        "héllo", content_type="text/x-thing; charset=utf-16"
    ),
    "stringio": lambda m, f: m.StringIOPayload(io.StringIO("héllo io")),
    "bytesio": lambda m, f: m.BytesIOPayload(io.BytesIO(b"in memory " * 10000)),
    "buffered": lambda m, f: m.BufferedReaderPayload(f("data.bin", "rb")),
    "iobase-filename": lambda m, f: m.IOBasePayload(f("data.bin", "rb"), filename="x.png"),
    "iobase-no-disposition": lambda m, f: m.IOBasePayload(f("data.bin", "rb"), disposition=None),
    "json": lambda m, f: m.JsonPayload({"k": ["é", 1]}),
    "json-dumps": lambda m, f: m.JsonPayload(
        {"b": 1, "a": 2}, dumps=lambda o: json.dumps(o, sort_keys=True, indent=1)
    ),
    "async-iterable": lambda m, f: m.AsyncIterablePayload(_gen([b"ab", b"", b"cd" * 40000])),
}


async def _send_both(
    url: str, make: Callable[[Any], Any], **kwargs: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the server saw from hyperclient, then from aiohttp, for the same payload."""
    async with (
        ClientSession() as session,
        session.post(url, data=make(hyperclient.payload), **kwargs) as r,
    ):
        ours = await r.json()
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=make(aiohttp.payload), **kwargs) as r,
    ):
        theirs = await r.json()
    return ours, theirs


@pytest.mark.parametrize("case", list(CASES))
async def test_payload_body_arrives_as_aiohttp_sends_it(
    url: Callable[[str], str], files: Callable[[str, str], Any], case: str
) -> None:
    ours, theirs = await _send_both(url("/echo"), lambda m: CASES[case](m, files))
    assert ours == theirs
    assert ours["size"] > 0


async def test_text_file_payload_is_chunked_not_measured_on_disk(
    url: Callable[[str], str], files: Callable[[str, str], Any]
) -> None:
    # aiohttp announces the file's size on disk, which is only the encoded size when the
    # encoding matches the file's; hyperclient sends a text file chunked.
    ours, theirs = await _send_both(
        url("/echo"), lambda m: m.TextIOPayload(files("notes.txt", "r"), encoding="utf-16")
    )
    assert ours["transfer_encoding"] == "chunked"
    assert ours["content_length"] is None
    expected = ("héllo\n" * 5000).encode("utf-16")
    assert ours["size"] == len(expected)
    assert ours["sha256"] == hashlib.sha256(expected).hexdigest()
    assert ours["content_type"] == theirs["content_type"] == "text/plain; charset=utf-16"
    assert ours["content_disposition"] == theirs["content_disposition"]


async def test_callers_content_type_wins_and_skip_auto_headers_drops_it(
    url: Callable[[str], str],
) -> None:
    def make(m: Any) -> Any:
        return m.JsonPayload([1])

    ours, theirs = await _send_both(url("/echo"), make, headers={"Content-Type": "x/y"})
    assert ours == theirs
    assert ours["content_type"] == "x/y"
    async with ClientSession() as session:
        r = await session.post(
            url("/echo"), data=make(hyperclient.payload), skip_auto_headers=["Content-Type"]
        )
        assert (await r.json())["content_type"] is None


# -- in multipart bodies and forms ---------------------------------------------------------


def _writer(m: Any, files: Callable[[str, str], Any]) -> Any:
    writer = aiohttp.MultipartWriter if m is aiohttp.payload else hyperclient.MultipartWriter
    with writer("mixed", boundary="b0und4ry") as mp:
        mp.append(m.StringPayload("text é", content_type="text/x-a; charset=latin-1"))
        mp.append_payload(m.BytesPayload(b"\x00\x01", headers={"X-Extra": "1"}))
        mp.append(m.BufferedReaderPayload(files("data.bin", "rb")))
        mp.append(m.JsonPayload({"a": "é"}), {"X-Part": "json"})
        part = mp.append(m.BytesIOPayload(io.BytesIO(b"memory")))
        part.set_content_disposition("attachment", filename="mem.bin")
    return mp


async def test_payloads_in_multipart_writer_parse_as_aiohttps(
    url: Callable[[str], str], files: Callable[[str, str], Any]
) -> None:
    ours, theirs = await _send_both(url("/multipart"), lambda m: _writer(m, files))
    assert ours == theirs
    assert len(ours["parts"]) == 5
    assert ours["parts"][2]["filename"] == "data.bin"
    assert ours["parts"][2]["body"].encode("latin-1") == bytes(range(256)) * 1000


async def test_custom_payload_in_multipart_writer_streams(url: Callable[[str], str]) -> None:
    with hyperclient.MultipartWriter("form-data") as mp:
        mp.append(Generated(3 * 65536 + 7)).set_content_disposition("form-data", name="gen")
    async with ClientSession() as session, session.post(url("/multipart"), data=mp) as r:
        got = await r.json()
    assert got["transfer_encoding"] == "chunked"  # the part's size is unknown
    assert got["parts"][0]["body"].encode("latin-1") == Generated.expected(3 * 65536 + 7)


def _form(m: Any, files: Callable[[str, str], Any]) -> Any:
    form = aiohttp.FormData() if m is aiohttp.payload else hyperclient.FormData()
    form.add_field("text", "plain")
    form.add_field("json", m.JsonPayload({"k": 1}), filename="k.json")
    form.add_field("file", m.BufferedReaderPayload(files("data.bin", "rb")), filename="d.bin")
    form.add_field("typed", m.BytesPayload(b"<b>"), filename="t", content_type="text/html")
    return form


async def test_payloads_in_formdata_parse_as_aiohttps(
    url: Callable[[str], str], files: Callable[[str, str], Any]
) -> None:
    ours, theirs = await _send_both(url("/post"), lambda m: _form(m, files))
    # aiohttp ignores content_type= for a payload value (get_payload hands the payload
    # back as it is); hyperclient sends the type the caller asked for.
    assert theirs["typed"]["content_type"] == "application/octet-stream"
    assert ours["typed"]["content_type"] == "text/html"
    ours.pop("typed"), theirs.pop("typed")
    assert ours == theirs
    assert ours["json"] == {"filename": "k.json", "content_type": "application/json",
                            "data": '{"k": 1}'}  # fmt: skip
    assert ours["file"]["data"].encode("latin-1") == bytes(range(256)) * 1000


async def test_payload_headers_travel_in_its_form_part(url: Callable[[str], str]) -> None:
    def make(m: Any) -> Any:
        form = aiohttp.FormData() if m is aiohttp.payload else hyperclient.FormData()
        form.add_field("j", m.JsonPayload([1], headers={"X-Extra": "1"}), filename="j.json")
        return form

    ours, theirs = await _send_both(url("/multipart"), make)
    assert ours["parts"] == theirs["parts"]
    assert ours["parts"][0]["headers"]["X-Extra"] == "1"


async def test_payload_alone_makes_a_multipart_form(url: Callable[[str], str]) -> None:
    form = hyperclient.FormData()
    form.add_field("note", hyperclient.StringPayload("é"))
    assert form.is_multipart
    async with ClientSession() as session, session.post(url("/post"), data=form) as r:
        assert await r.json() == {"note": "é"}


# -- write()-only subclasses ---------------------------------------------------------------


class Generated(hyperclient.Payload):
    """What aiohttp users write: a payload that only implements write()."""

    def __init__(self, total: int, size: int | None = None, **kwargs: Any) -> None:
        super().__init__(None, **kwargs)
        self.total = total
        self._size = size
        self.written = 0
        self.finished = False

    @staticmethod
    def expected(total: int) -> bytes:
        return (bytes(range(251)) * (total // 251 + 1))[:total]

    async def write(self, writer: Any) -> None:
        data = self.expected(self.total)
        try:
            for i in range(0, self.total, 50_000):
                await writer.write(data[i : i + 50_000])
                self.written += 1
                if i % 500_000 == 0:
                    await asyncio.sleep(0)  # an await that goes to the event loop
        finally:
            self.finished = True


async def test_write_only_payload_streams_multi_mib_chunked(url: Callable[[str], str]) -> None:
    payload = Generated(5 * MiB + 3)
    async with ClientSession() as session, session.post(url("/echo"), data=payload) as r:
        got = await r.json()
    assert got["transfer_encoding"] == "chunked"
    assert got["content_length"] is None
    assert got["content_type"] == "application/octet-stream"
    assert got["size"] == 5 * MiB + 3
    assert got["sha256"] == hashlib.sha256(Generated.expected(5 * MiB + 3)).hexdigest()
    assert payload.finished


async def test_write_only_payload_with_size_sends_content_length(
    url: Callable[[str], str],
) -> None:
    payload = Generated(MiB, size=MiB, content_type="x/gen")
    async with ClientSession() as session, session.post(url("/echo"), data=payload) as r:
        got = await r.json()
    assert (got["content_length"], got["transfer_encoding"]) == (str(MiB), None)
    assert got["content_type"] == "x/gen"
    assert got["sha256"] == hashlib.sha256(Generated.expected(MiB)).hexdigest()


async def test_write_only_payload_writing_less_than_its_size_fails(
    url: Callable[[str], str],
) -> None:
    async with ClientSession() as session:
        with pytest.raises(hyperclient.ClientConnectionError, match="wrote 100 bytes, expected"):
            await session.post(url("/echo"), data=Generated(100, size=101))


def _client_tasks() -> set[asyncio.Task[Any]]:
    """Running tasks, less the test server's connection handlers."""
    return {t for t in asyncio.all_tasks() if "RequestHandler" not in repr(t)}


async def test_payload_with_file_like_methods_is_sent_as_a_payload(
    url: Callable[[str], str],
) -> None:
    class Readable(hyperclient.Payload):
        def read(self) -> bytes:  # a helper of its own, not a file's read()
            return b"not this"

        async def write(self, writer: Any) -> None:
            await writer.write(b"but this")

    async with ClientSession() as session:
        async with session.post(url("/echo"), data=Readable(None, filename="r.txt")) as r:
            got = await r.json()
    assert (got["body"], got["content_type"]) == ("but this", "text/plain")


class Failing(hyperclient.Payload):
    def __init__(self, path: pathlib.Path) -> None:
        super().__init__(None)
        self.path = path
        self.file: Any = None

    async def write(self, writer: Any) -> None:
        with open(self.path, "rb") as self.file:  # noqa: ASYNC230 - small local file
            await writer.write(self.file.read(1000))
            await asyncio.sleep(0)
            raise ValueError("boom")


async def test_error_in_write_reaches_the_caller_as_aiohttp_reports_it(
    url: Callable[[str], str], tmp_path: pathlib.Path
) -> None:
    (tmp_path / "f").write_bytes(b"x" * 5000)
    before = _client_tasks()
    payload = Failing(tmp_path / "f")
    async with ClientSession() as session:
        with pytest.raises(hyperclient.ClientConnectionError) as caught:
            await session.post(url("/echo"), data=payload)
        assert isinstance(caught.value.__cause__, ValueError)
        assert "Failing.write() raised ValueError('boom')" in str(caught.value)
        assert payload.file.closed
        # The session carries on.
        async with session.post(url("/echo"), data=b"after") as r:
            assert (await r.json())["body"] == "after"
    assert _client_tasks() == before

    class TheirFailing(aiohttp.payload.Payload):
        async def write(self, writer: Any) -> None:
            await writer.write(b"x")
            raise ValueError("boom")

        def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
            raise NotImplementedError

    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError) as theirs:
            await session.post(url("/echo"), data=TheirFailing(None))
        assert isinstance(theirs.value.__cause__, ValueError)


async def test_os_error_in_write_is_reported_as_a_failing_file_is(
    url: Callable[[str], str],
) -> None:
    """An OSError from write() is the request's ClientOSError, with its errno and the
    message a file that cannot be read gives (see test_sendfile.py)."""

    class Unreadable(hyperclient.Payload):
        async def write(self, writer: Any) -> None:
            await writer.write(b"x")
            raise OSError(errno.EIO, "Input/output error")

    async with ClientSession() as session:
        with pytest.raises(hyperclient.ClientOSError) as caught:
            await session.post(url("/echo"), data=Unreadable(None))
    assert caught.value.errno == errno.EIO
    assert str(caught.value) == (
        "[Errno 5] can not write request body: "
        "Unreadable.write() raised OSError(5, 'Input/output error')"
    )
    assert type(caught.value.__cause__) is OSError


class Stalling(hyperclient.Payload):
    def __init__(self) -> None:
        super().__init__(None)
        self.cleaned_up = asyncio.Event()

    async def write(self, writer: Any) -> None:
        try:
            await writer.write(b"start")
            await asyncio.Event().wait()  # never set
        finally:
            self.cleaned_up.set()


async def test_cancelling_the_request_runs_write_cleanup_and_leaks_no_task(
    url: Callable[[str], str],
) -> None:
    before = _client_tasks()
    payload = Stalling()
    async with ClientSession() as session:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(session.post(url("/echo"), data=payload), 0.2)
        assert payload.cleaned_up.is_set()
    await asyncio.sleep(0)
    assert _client_tasks() == before


async def test_write_timeout_inside_write_applies(url: Callable[[str], str]) -> None:
    class Timed(hyperclient.Payload):
        async def write(self, writer: Any) -> None:
            try:
                async with asyncio.timeout(0.05):
                    await asyncio.sleep(10)
            except TimeoutError:
                await writer.write(b"timed out inside")

    async with ClientSession() as session, session.post(url("/echo"), data=Timed(None)) as r:
        assert (await r.json())["body"] == "timed out inside"


# -- redirects, registration, lookup -------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda f: hyperclient.BytesPayload(b"again"),
        lambda f: hyperclient.BufferedReaderPayload(f("data.bin", "rb")),
        lambda f: Generated(200_000),
    ],
    ids=["bytes", "file", "write-only"],
)
async def test_307_replays_a_replayable_payload(
    url: Callable[[str], str], files: Callable[[str, str], Any], make: Callable[..., Any]
) -> None:
    payload = make(files)
    expected = await payload.as_bytes()
    async with ClientSession() as session, session.post(url("/redirect"), data=payload) as r:
        got = await r.json()
    assert got["path"] == "/echo"
    assert got["sha256"] == hashlib.sha256(expected).hexdigest()
    assert got["size"] == len(expected)


async def test_307_refuses_a_consumed_async_iterable_payload(url: Callable[[str], str]) -> None:
    payload = hyperclient.AsyncIterablePayload(_gen([b"once"]))
    async with ClientSession() as session:
        with pytest.raises(hyperclient.RedirectClientError, match="cannot be sent again"):
            await session.post(url("/redirect"), data=payload)


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y


@pytest.fixture
def registered() -> Iterator[type[hyperclient.Payload]]:
    registry = hyperclient.PAYLOAD_REGISTRY
    saved = (list(registry._normal), dict(registry._by_type))

    @hyperclient.payload_type(Point)
    class PointPayload(hyperclient.JsonPayload):
        def __init__(self, value: Point, *args: Any, **kwargs: Any) -> None:
            super().__init__({"x": value.x, "y": value.y}, *args, **kwargs)

    yield PointPayload
    registry._normal, registry._by_type = saved


async def test_payload_type_makes_a_registered_type_a_body(
    url: Callable[[str], str], registered: type[hyperclient.Payload]
) -> None:
    assert isinstance(hyperclient.get_payload(Point(1, 2)), registered)
    async with ClientSession() as session:
        async with session.post(url("/echo"), data=Point(1, 2)) as r:
            got = await r.json()
        assert (got["content_type"], got["body"]) == ("application/json", '{"x": 1, "y": 2}')
        with hyperclient.MultipartWriter() as mp:
            mp.append(Point(3, 4))
        async with session.post(url("/multipart"), data=mp) as r:
            assert (await r.json())["parts"][0]["body"] == '{"x": 3, "y": 4}'


async def test_unregistered_type_is_a_lookup_error_and_a_type_error_as_data(
    url: Callable[[str], str],
) -> None:
    with pytest.raises(hyperclient.payload.LookupError):
        hyperclient.get_payload(Point(1, 2))
    with pytest.raises(aiohttp.payload.LookupError):
        aiohttp.payload.get_payload(Point(1, 2))
    async with ClientSession() as session:
        with pytest.raises(TypeError, match="got Point"):
            await session.post(url("/echo"), data=Point(1, 2))
    with pytest.raises(TypeError, match="cannot make a multipart part"):
        hyperclient.MultipartWriter().append(Point(1, 2))


# -- file objects that read other bytes than their descriptor's file -----------------------

#: Half noise, half repetition: the compressed file is smaller than what it holds, and a
#: body framed by its size would stop short (the noise alone would make it overrun).
PACKED = bytes(range(256)) * 200 + hashlib.sha256(b"seed").digest() * 8000
OPENERS: dict[str, Callable[..., Any]] = {"gzip": gzip.open, "bz2": bz2.open, "lzma": lzma.open}


class GzipWithoutEnd(gzip.GzipFile):
    """A GzipFile that cannot seek from its end (as one opened for writing): its size is
    unknown without reading it all."""

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_END:
            raise io.UnsupportedOperation("seek from end not supported")
        return super().seek(offset, whence)


def packed(tmp_path: pathlib.Path, kind: str) -> Any:
    """:data:`PACKED` compressed into a file, opened for reading and read 10 bytes into
    (sent from there)."""
    path = tmp_path / f"packed.{kind}"
    with OPENERS.get(kind, gzip.open)(path, "wb") as out:
        out.write(PACKED)
    assert path.stat().st_size < len(PACKED)
    file = GzipWithoutEnd(path, "rb") if kind == "no-end" else OPENERS[kind](path, "rb")
    assert file.read(10) == PACKED[:10]
    return file


@pytest.mark.parametrize("kind", [*OPENERS, "no-end"])
@pytest.mark.parametrize("path", ["/echo", "/redirect"])
async def test_compressed_file_body_sends_what_it_reads(
    url: Callable[[str], str], tmp_path: pathlib.Path, kind: str, path: str
) -> None:
    """``gzip.open()`` and the like have the compressed file's ``fileno()``: its size on
    disk is not the body's. Measuring it would decompress it all in the event loop, so it
    is sent chunked; a 307 sends it again from where it stood. (aiohttp 3.14 announces
    the compressed size: the server gets a cut body, or waits forever.)"""
    expected = PACKED[10:]
    with packed(tmp_path, kind) as file:
        async with ClientSession() as session, session.post(url(path), data=file) as r:
            got = await r.json()
    assert (got["path"], got["size"]) == ("/echo", len(expected))
    assert got["sha256"] == hashlib.sha256(expected).hexdigest()
    assert (got["content_length"], got["transfer_encoding"]) == (None, "chunked")
    assert got["content_type"] == "application/octet-stream"


@pytest.mark.parametrize("kind", [*OPENERS, "no-end"])
async def test_compressed_file_in_a_form_sends_what_it_reads(
    url: Callable[[str], str], tmp_path: pathlib.Path, kind: str
) -> None:
    with packed(tmp_path, kind) as file:
        form = hyperclient.FormData()
        form.add_field("text", "before")
        form.add_field("file", file, filename="data.bin")
        async with ClientSession() as session, session.post(url("/multipart"), data=form) as r:
            got = await r.json()
    text, data = got["parts"]
    assert (text["name"], text["body"]) == ("text", "before")
    assert (data["name"], data["filename"]) == ("file", "data.bin")
    assert data["body"].encode("latin-1") == PACKED[10:]
    assert got["content_length"] is None
