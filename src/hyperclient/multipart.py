"""Multipart bodies (RFC 2046 §5.1) for client code: :class:`MultipartWriter` to send,
:class:`MultipartReader` to receive.

This module owns the ``multipart/*`` body a client builds part by part (aiohttp 3's
``MultipartWriter`` surface) and turning it into the :class:`~.formdata.Body` the request
layer writes out, and reading a ``multipart/*`` response part by part from its body
stream (aiohttp 3's ``MultipartReader``), with bounded memory: the reader only awaits
the stream's ``read()``, and holds at most one read beyond what the current step needs.

Like :mod:`.formdata`, whose part values and body plan it reuses, this module never
imports asyncio and never touches a socket: files are read synchronously, in pieces of
:data:`~.formdata.READ_SIZE` bytes, from inside the body iterator, so nothing is read
before the request is sent and no more than one piece is held at a time.

The wire format, RFC 2046 §5.1.1::

    --boundary CRLF  part-headers CRLF  body CRLF   (once per part)
    --boundary-- CRLF

A part's length is known when its value is bytes, text or a measurable file and no
content coding applies; the writer's :attr:`MultipartWriter.size` is then exact and the
request carries a ``Content-Length``, otherwise it goes chunked.
"""

from __future__ import annotations

import base64
import binascii
import functools
import io
import json
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode

from multidict import CIMultiDict, CIMultiDictProxy

from .compression import make_decoder
from .errors import PayloadTooBig, RemoteProtocolError, short_repr
from .fieldvalues import (
    BadContentDispositionHeader,
    BadContentDispositionParam,
    content_disposition_filename,
    parse_content_disposition,
    parse_content_type,
)
from .formdata import (
    _OCTET_STREAM,
    READ_SIZE,
    Body,
    FileSource,
    PartHeaders,
    StreamSource,
    _BytesValue,
    _Plan,
    _PlannedPart,
    _Value,
    check_header_value,
    guess_filename,
    guess_type,
    part_header_line,
)
from .http1 import is_token
from .payload import LookupError as PayloadLookupError
from .payload import Payload, get_payload, text_encoding

#: Bytes a part header value must not hold (RFC 9110 §5.5).
_BAD_VALUE_BYTES: Final = b"\x00\r\n"

__all__ = (
    "BadContentDispositionHeader",
    "BadContentDispositionParam",
    "BodyPartReader",
    "BodyPartWriter",
    "MultipartReader",
    "MultipartWriter",
    "content_disposition_filename",
    "parse_content_disposition",
)

# RFC 9110 §5.6.4 qdtext (ASCII part): what a quoted boundary may hold.
_QDTEXT = frozenset(chr(c) for c in range(0x20, 0x7F)) | {"\t"}

#: Content codings a part may carry (aiohttp's set); the writer applies them while sending.
_CONTENT_ENCODINGS = frozenset({"deflate", "gzip"})
#: RFC 2045 §6 transfer encodings the writer applies ("binary" means none).
_TRANSFER_ENCODINGS = frozenset({"base64", "quoted-printable"})
#: Most epilogue bytes (RFC 2046 §5.1.1: what follows the close delimiter, usually a CRLF
#: or a line of text) the outermost reader drops to reach the end of the body, so that the
#: connection can be reused: one read (64 KiB). Past it, reading on would cost more than a
#: new connection; the rest is left, and release() closes the connection.
_EPILOGUE_LIMIT = READ_SIZE
#: Most bytes a part's ``Content-Encoding`` may decode to (``max_decompress_size``), by
#: default. ``read(decode=True)`` holds the whole part in memory, twice while it is
#: copied out; whatever the compression ratio (a 16 KiB gzip part inflates to 16 MiB,
#: brotli and zstd go further), that stays about 32 MiB. aiohttp decodes 256 KiB per call
#: and bounds the total only by ``client_max_size`` (no limit by default); its WebSocket
#: messages inflate to 4 MiB at most. A part is a whole document, so room for 16 MiB.
_MAX_DECOMPRESS_SIZE = 16 * 2**20
#: Most ``multipart/*`` parts nested inside one another. Real bodies nest a few levels
#: (mixed, alternative, related); Postfix refuses mail nested deeper than 100
#: (``mime_nesting_limit``). Skipping a nested part recurses through each level, so a
#: hostile body of a few KB otherwise ends in ``RecursionError`` (at ~980 levels).
_MAX_NESTING = 100
#: Longest line :meth:`BodyPartReader.readline` returns, in bytes, by default: the same
#: as a response's ``content.readline()`` (16 times its 256 KiB buffer limit). The line
#: is held in memory until its end comes.
_MAX_LINE_LENGTH = 4 * 2**20


class BodyPartWriter(PartHeaders):
    """One part of a :class:`MultipartWriter`, as returned by its ``append*`` methods.

    Its :attr:`headers` may be changed until the request is sent, most often with
    :meth:`set_content_disposition`.
    """

    def __init__(self, value: _Value, content_type: str, filename: str | None = None) -> None:
        self._part_value = value
        self._filename = filename
        self._headers = CIMultiDict({"Content-Type": content_type})

    @property
    def filename(self) -> str | None:
        """The file name the part was given or guessed from a file object, if any."""
        return self._filename

    @property
    def size(self) -> int | None:
        """The part body's length in bytes before any coding, or None when unknown."""
        return self._part_value.measure()


class MultipartWriter(PartHeaders):
    """A ``multipart/*`` body built part by part, as ``aiohttp.MultipartWriter``.

    Pass it as ``session.post(url, data=writer)``: the request gets its
    :attr:`content_type` and a ``Content-Length`` when :attr:`size` is known (else it is
    sent chunked), and file parts are streamed in pieces. A writer can also be appended
    to another one as a nested part.

    Args:
        subtype: the multipart subtype: ``"mixed"``, ``"form-data"``, ``"related"``...
        boundary: the boundary (RFC 2046 §5.1.1: 1 to 70 ASCII characters); a random
            one by default.
        close_boundary: end the body with the close delimiter (``--boundary--``); false
            only to build a body whose end is written some other way.

    Raises:
        ValueError: the boundary is empty, longer than 70 characters, not ASCII, or holds
            a control character.
    """

    def __init__(
        self, subtype: str = "mixed", boundary: str | None = None, *, close_boundary: bool = True
    ) -> None:
        # A random boundary cannot collide with the data by accident (2**-122).
        boundary = uuid.uuid4().hex if boundary is None else boundary
        self._boundary = _check_boundary(boundary)
        self._subtype = subtype
        self._close_boundary = close_boundary
        self._is_form_data = subtype == "form-data"
        self._parts: list[_AnyPart] = []
        content_type = f"multipart/{subtype}; boundary={_boundary_param(boundary)}"
        check_header_value("multipart subtype", content_type)
        self._headers = CIMultiDict({"Content-Type": content_type})

    def __enter__(self) -> MultipartWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        pass

    def __iter__(self) -> Iterator[tuple[_AnyPart, str | None, str | None]]:
        """Each part as aiohttp yields it: ``(part, content_encoding, transfer_encoding)``."""
        return iter([(part, *self._codings(part)) for part in self._parts])

    def __len__(self) -> int:
        return len(self._parts)

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"<MultipartWriter {self.content_type!r} parts={len(self._parts)}>"

    @property
    def boundary(self) -> str:
        """The boundary, without quotes."""
        return self._boundary.decode("ascii")

    @property
    def filename(self) -> None:
        """Always None: a nested multipart part has no file name of its own."""
        return None

    @property
    def size(self) -> int | None:
        """The whole body's length in bytes, or None when a part's length is unknown
        (a stream, a text or non-seekable file, a content or transfer coding)."""
        return self._plan().size

    def append(self, obj: Any, headers: Mapping[str, str] | None = None) -> _AnyPart:
        """Append a part.

        Args:
            obj: bytes (``application/octet-stream``), text (``text/plain;
                charset=utf-8``, or encoded with the charset of a ``Content-Type`` in
                *headers*), a file object (binary or text; its type and an ``attachment``
                disposition come from its name; read when sent, never closed), an async
                iterable of bytes or a stream such as a response's ``content`` (sent
                once, chunked), another :class:`MultipartWriter` (nested), a part
                returned by another ``append``, a :class:`~.payload.Payload` (sent with
                its headers), or a value of a type registered with
                :class:`~.payload.payload_type`.
            headers: part headers; they replace the defaults.

        Returns:
            The part, whose headers can still be changed (``set_content_disposition``).

        Raises:
            TypeError: *obj* is none of these.
            ValueError: a header is not allowed in a ``form-data`` part (RFC 7578 §4.8).
            RuntimeError: an unknown ``Content-Encoding`` or
                ``Content-Transfer-Encoding`` header.
        """
        part: _AnyPart
        if isinstance(obj, BodyPartWriter | MultipartWriter | Payload):
            part = obj
        elif isinstance(obj, bytes | bytearray | memoryview):
            part = BodyPartWriter(_BytesValue(bytes(obj)), _OCTET_STREAM)
        elif isinstance(obj, str):
            charset, content_type = text_encoding(None, (headers or {}).get("Content-Type"))
            part = BodyPartWriter(_BytesValue(obj.encode(charset)), content_type)
        elif isinstance(obj, io.IOBase):
            part = self._file_part(obj, headers)
        elif hasattr(obj, "readany") or hasattr(obj, "__aiter__"):
            part = BodyPartWriter(StreamSource(obj), _OCTET_STREAM)
        else:
            try:
                part = get_payload(obj)  # a type registered with payload_type()
            except PayloadLookupError:
                raise TypeError(f"cannot make a multipart part from {short_repr(obj)}") from None
        if headers:
            part.headers.update(headers)
        return self.append_payload(part)

    def _file_part(self, file: io.IOBase, headers: Mapping[str, str] | None) -> BodyPartWriter:
        name = guess_filename(file, "")
        if isinstance(file, io.TextIOBase):
            charset, content_type = text_encoding(None, (headers or {}).get("Content-Type"))
            value = FileSource(file, charset)
        else:
            content_type = guess_type(name, _OCTET_STREAM)
            value = FileSource(file)
        part = BodyPartWriter(value, content_type, name or None)
        if name and "Content-Disposition" not in (headers or {}):
            part.set_content_disposition("attachment", filename=name)
        return part

    def append_payload(self, part: _AnyPart) -> _AnyPart:
        """Append a :class:`~.payload.Payload`, or a part made by another writer's
        ``append*``.

        Returns:
            *part*.

        Raises:
            ValueError, RuntimeError: as for :meth:`append`.
        """
        if part is self:
            raise ValueError("a multipart writer cannot contain itself")
        self._codings(part)  # checked now; applied as the headers are when sent
        if self._is_form_data and "Content-Disposition" not in part.headers:
            # RFC 7578 §4.2: every part needs a name.
            part.set_content_disposition("form-data", name=f"section-{len(self._parts)}")
        self._parts.append(part)
        return part

    def _codings(self, part: _AnyPart) -> tuple[str | None, str | None]:
        """The content coding and transfer encoding to apply to *part*, from its headers
        as they are now (None for identity and binary).

        Raises:
            ValueError: a ``form-data`` part carries a header RFC 7578 §4.8 leaves out.
            RuntimeError: an unknown coding.
        """
        headers = part.headers
        if self._is_form_data:
            # RFC 7578 §4.7/§4.8: no other header fields than Content-Type,
            # Content-Disposition and (for non-ASCII names) nothing else.
            for name in ("Content-Length", "Content-Encoding", "Content-Transfer-Encoding"):
                if name in headers:
                    raise ValueError(f"a form-data part cannot carry {name} (RFC 7578 §4.8)")
            return None, None
        encoding = headers.get("Content-Encoding", "").lower()
        if encoding and encoding != "identity" and encoding not in _CONTENT_ENCODINGS:
            raise RuntimeError(f"unknown content encoding: {short_repr(encoding)}")
        te_encoding = headers.get("Content-Transfer-Encoding", "").lower()
        if te_encoding and te_encoding != "binary" and te_encoding not in _TRANSFER_ENCODINGS:
            raise RuntimeError(f"unknown content transfer encoding: {short_repr(te_encoding)}")
        return (
            encoding if encoding in _CONTENT_ENCODINGS else None,
            te_encoding if te_encoding in _TRANSFER_ENCODINGS else None,
        )

    def append_json(self, obj: Any, headers: Mapping[str, str] | None = None) -> _AnyPart:
        """Append *obj* serialised as JSON (``application/json``, UTF-8).

        Returns:
            The part.
        """
        data = json.dumps(obj).encode("utf-8")
        part = BodyPartWriter(_BytesValue(data), "application/json")
        if headers:
            part.headers.update(headers)
        return self.append_payload(part)

    def append_form(
        self,
        obj: Sequence[tuple[str, Any]] | Mapping[str, Any],
        headers: Mapping[str, str] | None = None,
    ) -> _AnyPart:
        """Append *obj* as ``application/x-www-form-urlencoded`` (sequences repeat the key).

        Returns:
            The part.

        Raises:
            TypeError: *obj* is not a mapping or a sequence of pairs.
        """
        pairs: Any = obj  # checked at run time: callers may pass anything
        if not isinstance(pairs, Mapping | Sequence) or isinstance(pairs, str | bytes):
            raise TypeError(f"expected a mapping or a sequence of pairs, got {short_repr(obj)}")
        items = list(pairs.items()) if isinstance(pairs, Mapping) else list(pairs)
        data = urlencode(items, doseq=True).encode("ascii")
        part = BodyPartWriter(_BytesValue(data), "application/x-www-form-urlencoded")
        if headers:
            part.headers.update(headers)
        return self.append_payload(part)

    def body(self) -> Body:
        """Serialise the writer for the request layer.

        Returns:
            The :class:`~.formdata.Body`; part heads and file sizes are measured now.
        """
        return self._plan().body(self.content_type)

    async def as_bytes(self) -> bytes:
        """The whole body in memory (reads every file).

        Returns:
            The serialised body.
        """
        return b"".join([chunk async for chunk in self.body().chunks()])

    async def write(self, writer: Any, close_boundary: bool = True) -> None:
        """Write the body to *writer*, anything with an awaitable ``write(bytes)``.

        Args:
            writer: the destination.
            close_boundary: end with the close delimiter (also needs the writer's
                *close_boundary*).
        """
        plan = self._plan(close_boundary and self._close_boundary)
        plan.rewind()
        async for chunk in plan.chunks():
            await writer.write(chunk)

    def _plan(self, close: bool | None = None) -> _Plan:
        """The body as the parts and their headers are now: sizes measured, codings and
        each part's ``Content-Length`` (when its size is known and no coding applies)
        derived from them, so that a part changed after it was appended, or a nested
        writer that grew, is sent as it is."""
        dash = b"--" + self._boundary
        parts = []
        for part in self._parts:
            encoding, te_encoding = self._codings(part)
            value: _Value
            if isinstance(part, MultipartWriter):
                value = part._plan()
            else:  # a Payload, or a BodyPartWriter: the same part value interface
                value = part._part_value if isinstance(part, BodyPartWriter) else part._source()
            size = value.measure()
            coded = encoding or te_encoding
            length = None if self._is_form_data or coded else size
            head = _part_head(part.headers, dash, length)
            parts.append(_PlannedPart(head, value, size, encoding, te_encoding))
        return _Plan(parts, self._boundary, self._close_boundary if close is None else close)


#: What a writer holds: its own parts, nested writers, and payloads.
_AnyPart = BodyPartWriter | MultipartWriter | Payload


def _part_head(
    headers: Mapping[str, str], dash_boundary: bytes, content_length: int | None
) -> bytes:
    """The delimiter line and header block that open a part with *headers*; a
    *content_length* replaces any ``Content-Length`` in them."""
    lines = [dash_boundary.decode("ascii")]
    for name, value in headers.items():
        if content_length is not None and name.lower() == "content-length":
            continue
        lines.append(part_header_line(name, value))
    if content_length is not None:
        lines.append(f"Content-Length: {content_length}")  # as aiohttp, for readers
    # RFC 7578 §5.1.1 / WHATWG: field names and filenames travel as UTF-8.
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def _check_boundary(boundary: str) -> bytes:
    """*boundary* as bytes, if RFC 2046 §5.1.1 allows it (1 to 70 characters)."""
    if not isinstance(boundary, str):
        raise TypeError(f"boundary must be a str, got {short_repr(boundary)}")
    if not boundary.isascii():
        raise ValueError(f"boundary must be ASCII: {short_repr(boundary)}")
    if not 1 <= len(boundary) <= 70:
        raise ValueError(f"boundary must be 1 to 70 characters long: {short_repr(boundary)}")
    if not _QDTEXT.issuperset(boundary):
        raise ValueError(f"boundary contains invalid characters: {short_repr(boundary)}")
    return boundary.encode("ascii")


def _boundary_param(boundary: str) -> str:
    """The ``boundary`` parameter value: a token, else a quoted-string (RFC 9110 §5.6.6)."""
    if is_token(boundary):
        return boundary
    return '"' + boundary.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- reading ----------------------------------------------------------------------------------


class _Buffer:
    """Bytes read from a body stream and not handed out yet.

    Shared by a reader, its parts and its nested readers, which all consume it from the
    front; it never holds more than one read of :data:`~.formdata.READ_SIZE` bytes beyond
    what the current step needs.
    """

    def __init__(self, content: Any) -> None:
        self.content = content
        self.data = bytearray()
        self.eof = False

    async def fill(self) -> bool:
        """Read more from the stream; False at its end."""
        if self.eof:
            return False
        if hasattr(self.content, "read"):
            chunk = await self.content.read(READ_SIZE)
        else:
            chunk = await self.content.readany()
        if not chunk:
            self.eof = True
            return False
        self.data += chunk
        return True

    async def fill_to(self, size: int) -> bool:
        """Read until *size* bytes are buffered; False if the stream ends first."""
        while len(self.data) < size:
            if not await self.fill():
                return False
        return True

    async def skip_to_end(self, limit: int) -> None:
        """Drop what is buffered and read the stream to its end, dropping that too,
        unless it comes to more than *limit* bytes: then stop (one read past *limit* at
        most) and leave the rest in the stream."""
        dropped = len(self.data)
        self.data.clear()
        while dropped <= limit and await self.fill():
            dropped += len(self.data)
            self.data.clear()

    def take(self, size: int) -> bytes:
        """The first *size* bytes, removed from the buffer."""
        if size < 4096:  # measured: a view costs more than the second copy below this
            taken = bytes(self.data[:size])
        else:
            view = memoryview(self.data)
            taken = view[:size].tobytes()  # one copy, not a bytearray slice then bytes()
            view.release()  # a bytearray with a live view cannot shrink
        del self.data[:size]
        return taken


class BodyPartReader:
    """One part of a multipart body being received, as ``aiohttp.BodyPartReader``.

    Returned by :meth:`MultipartReader.next`; its body is read from the shared stream
    as you ask for it and must be read (or :meth:`release`\\ d) before the next part.

    Args:
        boundary: the dash-boundary, ``b"--" + boundary``.
        headers: the part's headers.
        content: the body stream (``resp.content``) or the reader's buffer.
        subtype: the enclosing multipart subtype (``form-data`` parts ignore
            ``Content-Encoding``, RFC 7578 §4.8).
        default_charset: the charset for text without one (a ``_charset_`` field).
        client_max_size: most bytes :meth:`read` returns.
        max_decompress_size: most bytes the part's ``Content-Encoding`` may decode to
            (16 MiB; aiohttp's argument, which bounds each decompression call instead).
    """

    #: Bytes :meth:`read` asks for at a time.
    chunk_size = 8192

    def __init__(
        self,
        boundary: bytes,
        headers: CIMultiDictProxy[str],
        content: Any,
        *,
        subtype: str = "mixed",
        default_charset: str | None = None,
        client_max_size: int = sys.maxsize,
        max_decompress_size: int = _MAX_DECOMPRESS_SIZE,
    ) -> None:
        self.headers = headers
        self._boundary = boundary
        # RFC 2046 §5.1.1: the CRLF before the dash-boundary belongs to the delimiter.
        self._delimiter = b"\r\n" + boundary
        # What _scan learnt, in buffer offsets kept current by _take: where the delimiter
        # is (-1: not seen yet), and how many leading bytes cannot begin it. Scanning
        # from 0 on each call cost a pass over the buffer per short readline().
        self._delimiter_at = -1
        self._clean = 0
        self._buffer = content if isinstance(content, _Buffer) else _Buffer(content)
        self._is_form_data = subtype == "form-data"
        self._default_charset = default_charset
        self._client_max_size = client_max_size
        self._max_decompress_size = max_decompress_size
        self._at_eof = False

    def __repr__(self) -> str:
        return f"<BodyPartReader {self.headers.get('Content-Type', '')!r}>"

    def __aiter__(self) -> BodyPartReader:
        return self

    async def __anext__(self) -> bytes:
        data = await self.next()
        if data is None:
            raise StopAsyncIteration
        return data

    async def next(self) -> bytes | None:
        """The whole remaining body (as aiohttp), or None once it was read."""
        return await self.read() or None

    def at_eof(self) -> bool:
        """Whether the part's body was read to its end."""
        return self._at_eof

    async def _scan(self, want: int) -> tuple[int, bool]:
        """How many buffered bytes belong to this part (at least *want* unless the
        delimiter comes first), and whether the delimiter follows them."""
        buffer = self._buffer
        if self._delimiter_at >= 0:
            return self._delimiter_at, True
        while True:
            index = buffer.data.find(self._delimiter, self._clean)
            if index >= 0:
                self._delimiter_at = index
                return index, True
            # A delimiter may begin in the last len(delimiter) - 1 bytes: keep them.
            safe = len(buffer.data) - len(self._delimiter) + 1
            self._clean = max(safe, 0)
            if safe >= want:
                return safe, False
            if not await buffer.fill():
                raise ValueError(
                    "multipart body ended before the closing boundary "
                    f"{short_repr(self._boundary + b'--')}"
                )

    def _take(self, size: int) -> bytes:
        """The part's next *size* bytes, out of the shared buffer."""
        if self._delimiter_at >= 0:
            self._delimiter_at -= size
        self._clean = max(self._clean - size, 0)
        return self._buffer.take(size)

    async def read_chunk(self, size: int = chunk_size) -> bytes:
        """Read up to *size* bytes of the body, undecoded.

        Returns:
            The bytes, empty once the part is read.

        Raises:
            ValueError: the body ended before the part's delimiter.
        """
        if self._at_eof:
            return b""
        available, found = await self._scan(max(size, 1))
        chunk = self._take(min(available, size))
        if found and len(chunk) == available:
            self._at_eof = True
        return chunk

    async def readline(self, *, max_line_length: int | None = None) -> bytes:
        """Read one line of the body, with its line ending (the last may have none).

        Args:
            max_line_length: longest line, in bytes (4 MiB by default, as a response's
                ``content.readline()``); the line is held in memory until it ends.

        Returns:
            The line, empty once the part is read.

        Raises:
            ValueError: the line ends after *max_line_length* bytes (it is dropped), or
                *max_line_length* bytes went by without its end (nothing is taken), as
                ``StreamReader.readuntil`` does; the body ended before the delimiter.
        """
        limit = max_line_length or _MAX_LINE_LENGTH
        start = 0  # the bytes before this offset hold no line end
        while not self._at_eof:
            available, found = await self._scan(start + 1)
            newline = self._buffer.data.find(b"\n", start, available)
            size = newline + 1 if newline >= 0 else available
            if newline < 0 and size > limit:
                raise ValueError(
                    f"read {size} bytes of a multipart part without b'\\n', expected no "
                    f"more than {limit} bytes: {short_repr(bytes(self._buffer.data[:40]))}"
                )
            if newline >= 0 or found:
                line = self._take(size)
                self._at_eof = found and size == available
                if size > limit:  # the next read starts after that line, as in readuntil
                    raise ValueError(
                        f"line of {size} bytes is longer than the limit, {limit} bytes: "
                        f"{short_repr(line[:40])}"
                    )
                return line
            start = available
        return b""

    async def read(self, *, decode: bool = False) -> bytes:
        """Read the rest of the body.

        Args:
            decode: undo ``Content-Transfer-Encoding`` and ``Content-Encoding``.

        Returns:
            The bytes.

        Raises:
            ValueError: the body is larger than *client_max_size* or malformed.
        """
        pieces: list[bytes] = []  # joined once: a growing bytearray is copied again at the end
        size = 0
        while not self._at_eof:
            piece = await self.read_chunk(max(self.chunk_size, READ_SIZE))
            pieces.append(piece)
            size += len(piece)
            if size > self._client_max_size:
                raise ValueError(f"multipart part is larger than {self._client_max_size} bytes")
        data = b"".join(pieces)
        return self.decode(data) if decode else data

    async def release(self) -> None:
        """Read the rest of the body to the void."""
        while not self._at_eof:
            await self.read_chunk(READ_SIZE)

    async def text(self, *, encoding: str | None = None) -> str:
        """The decoded body as text, in *encoding* or the part's charset (UTF-8)."""
        data = await self.read(decode=True)
        return data.decode(encoding or self.get_charset(default="utf-8"))

    async def json(self, *, encoding: str | None = None) -> Any:
        """The decoded body parsed as JSON, or None when empty."""
        data = await self.read(decode=True)
        if not data:
            return None
        return json.loads(data.decode(encoding or self.get_charset(default="utf-8")))

    async def form(self, *, encoding: str | None = None) -> list[tuple[str, str]]:
        """The decoded body parsed as ``application/x-www-form-urlencoded`` pairs."""
        data = await self.read(decode=True)
        charset = encoding or self.get_charset(default="utf-8")
        try:
            text = data.rstrip().decode(charset)
        except UnicodeDecodeError:
            raise ValueError(f"data cannot be decoded with {charset} encoding") from None
        return parse_qsl(text, keep_blank_values=True, encoding=charset)

    def decode(self, data: bytes) -> bytes:
        """Undo the part's ``Content-Transfer-Encoding`` (RFC 2045 §6), then its
        ``Content-Encoding`` (ignored in ``form-data``, RFC 7578 §4.8).

        Raises:
            RuntimeError: an unknown encoding.
            ValueError: the data does not decode, or inflates beyond *max_decompress_size*
                or *client_max_size* bytes.
        """
        transfer = self.headers.get("Content-Transfer-Encoding", "").lower()
        if transfer == "base64":
            data = base64.b64decode(data)
        elif transfer == "quoted-printable":
            data = binascii.a2b_qp(data)
        elif transfer not in ("", "binary", "7bit", "8bit"):
            raise RuntimeError(f"unknown content transfer encoding: {short_repr(transfer)}")
        coding = "" if self._is_form_data else self.headers.get("Content-Encoding", "")
        if coding.strip().lower() in ("", "identity"):
            return data
        limit = min(self._max_decompress_size, self._client_max_size)
        try:
            decoder = make_decoder(coding, max_total=limit)
        except RemoteProtocolError:
            raise RuntimeError(f"unknown content encoding: {short_repr(coding)}") from None
        assert decoder is not None  # not identity: checked above
        try:
            # Each call returns at most 64 KiB, so the limit stops a bomb within one call.
            out = [decoder.decompress(data)]
            while decoder.has_pending():
                out.append(decoder.decompress(b""))
            out.append(decoder.finish())
        except PayloadTooBig as exc:
            setting = "max_decompress_size"
            if limit < self._max_decompress_size:
                setting = "client_max_size"
            raise ValueError(
                f"multipart part {self._label()} decodes ({coding.strip()}) to more than "
                f"{limit} bytes, the {setting} limit"
            ) from exc
        except RemoteProtocolError as exc:
            raise ValueError(f"multipart part does not decode: {exc}") from exc
        return b"".join(out)

    def _label(self) -> str:
        """The part as an error names it: its name or file name, else its type."""
        name = self.name or self.filename
        if name:
            return short_repr(name)
        return f"of type {short_repr(self.headers.get('Content-Type', 'text/plain'))}"

    def get_charset(self, default: str) -> str:
        """The ``charset`` of the part's ``Content-Type``, else the default charset."""
        charset = parse_content_type(self.headers.get("Content-Type", ""))[1].get("charset")
        return charset or self._default_charset or default

    @functools.cached_property
    def _disposition_params(self) -> dict[str, str]:
        """The ``Content-Disposition`` parameters, parsed (and warned about) once."""
        return parse_content_disposition(self.headers.get("Content-Disposition"))[1]

    @property
    def name(self) -> str | None:
        """The ``name`` parameter of ``Content-Disposition``, if any."""
        return content_disposition_filename(self._disposition_params, "name")

    @property
    def filename(self) -> str | None:
        """The ``filename`` parameter of ``Content-Disposition``, if any."""
        return content_disposition_filename(self._disposition_params, "filename")


class MultipartReader:
    """A ``multipart/*`` body read part by part (RFC 2046 §5.1), as
    ``aiohttp.MultipartReader``.

    ``async for part in reader`` (or ``await reader.next()``) gives a
    :class:`BodyPartReader` per part, or a nested :class:`MultipartReader` for a
    ``multipart/*`` part. Parts are read from the stream as you consume them: a part
    left unread is skipped when the next one is asked for, and memory stays bounded by
    the size limits below, whatever the body's size. Once it reads the close delimiter,
    the reader reads the stream to its end, dropping the epilogue (up to 64 KiB of it),
    so that a response read this way ends and its connection can be reused (aiohttp
    reads up to two lines of it for the same reason).

    Args:
        headers: the message headers; ``Content-Type`` gives the boundary.
        content: the body stream, such as a response's ``content``.
        client_max_size: most bytes one part's ``read()`` returns.
        max_field_size: longest part header line, in bytes (aiohttp's 8190).
        max_headers: most header lines in one part (aiohttp's 128).
        max_decompress_size: most bytes one part's ``Content-Encoding`` may decode to
            (16 MiB), for each :class:`BodyPartReader`.

    Raises:
        ValueError: the content type is not ``multipart/*`` or has no usable boundary.
    """

    def __init__(
        self,
        headers: Mapping[str, str],
        content: Any,
        *,
        client_max_size: int = sys.maxsize,
        max_field_size: int = 8190,
        max_headers: int = 128,
        max_decompress_size: int = _MAX_DECOMPRESS_SIZE,
    ) -> None:
        content_type = headers.get("Content-Type", "")
        media_type, params = parse_content_type(content_type)
        if not media_type.startswith("multipart/"):
            raise ValueError(f"multipart/* content type expected, got {short_repr(content_type)}")
        boundary = params.get("boundary", "")
        if not boundary:
            raise ValueError(f"no boundary in Content-Type {short_repr(content_type)}")
        if len(boundary) > 70:  # RFC 2046 §5.1.1
            raise ValueError(
                f"boundary is {len(boundary)} characters long, expected no more than 70: "
                f"{short_repr(boundary)}"
            )
        self.headers = headers
        self._subtype = media_type.partition("/")[2]
        self._boundary = b"--" + boundary.encode("utf-8", "surrogateescape")
        self._buffer = content if isinstance(content, _Buffer) else _Buffer(content)
        self._client_max_size = client_max_size
        self._max_field_size = max_field_size
        self._max_headers = max_headers
        self._max_decompress_size = max_decompress_size
        #: How many multipart parts this reader is nested in (0: the body's own reader).
        self._depth = 0
        self._default_charset: str | None = None
        self._last_part: MultipartReader | BodyPartReader | None = None
        self._at_bof = True
        self._at_eof = False
        # A nested reader shares its parent's buffer: what follows its close delimiter
        # is the parent's to read (its next delimiter), not an epilogue to drop.
        self._is_outermost = not isinstance(content, _Buffer)

    @classmethod
    def from_response(cls, response: Any) -> MultipartReader:
        """A reader over a response's body (its ``headers`` and ``content``).

        Returns:
            The reader (aiohttp wraps it to release the response at the end; hyperclient
            responses release themselves once the body has arrived).
        """
        return cls(response.headers, response.content)

    def __repr__(self) -> str:
        return f"<MultipartReader {self.headers.get('Content-Type', '')!r}>"

    def __aiter__(self) -> MultipartReader:
        return self

    async def __anext__(self) -> MultipartReader | BodyPartReader:
        part = await self.next()
        if part is None:
            raise StopAsyncIteration
        return part

    def at_eof(self) -> bool:
        """Whether the close delimiter was read."""
        return self._at_eof

    async def next(self) -> MultipartReader | BodyPartReader | None:
        """The next part, after skipping what is left of the previous one.

        Returns:
            The part, or None after the last one.

        Raises:
            ValueError: the body is malformed (no starting boundary, a bad delimiter
                line, part headers too long or too many, no close delimiter, ``multipart/*``
                parts nested more than 100 levels deep).
        """
        if self._at_eof:
            return None
        if self._last_part is not None:
            await self._last_part.release()
            self._last_part = None
        if self._at_bof:
            await self._skip_preamble()
            self._at_bof = False
        else:
            await self._skip_to_delimiter()
        if await self._read_boundary_line():
            return None
        # A delimiter line right after a delimiter line: a part with nothing at all, not
        # even its blank line. GraphQL servers end streams with "--b CRLF --b--"; like
        # aiohttp 3.13+, read it as no part rather than as a malformed header.
        while await self._at_dash_boundary():
            self._buffer.take(len(self._boundary))
            if await self._read_boundary_line():
                return None
        part = await self.fetch_next_part()
        # RFC 7578 §4.6: a first "_charset_" field names the charset of the others.
        if (
            self._subtype == "form-data"
            and isinstance(part, BodyPartReader)
            and self._default_charset is None
            and part.name == "_charset_"
        ):
            charset = await part.read_chunk(32)
            if len(charset) > 31 or not part.at_eof():
                raise ValueError(f"invalid _charset_ field: {short_repr(charset)}")
            self._default_charset = charset.strip().decode("ascii", "replace")
            return await self.next()
        self._last_part = part
        return part

    async def release(self) -> None:
        """Read every remaining part to the void, up to the close delimiter."""
        while (part := await self.next()) is not None:
            await part.release()

    async def fetch_next_part(self) -> MultipartReader | BodyPartReader:
        """Read the next part's headers and return its reader (after a delimiter)."""
        headers = await self._read_headers()
        if await self._at_dash_boundary():
            # RFC 2046 §5.1.1: body-part := MIME-part-headers [CRLF *OCTET]. With no body,
            # the CRLF just read as the end of the headers began the next delimiter (a
            # body cannot start with the dash-boundary): give it back to the body reader.
            self._buffer.data[:0] = b"\r\n"
        content_type = headers.get("Content-Type", "")
        media_type, _ = parse_content_type(content_type)
        if media_type.startswith("multipart/"):
            if self._depth >= _MAX_NESTING:
                raise ValueError(
                    f"multipart body nests parts more than {_MAX_NESTING} levels deep: "
                    f"{short_repr(content_type)}"
                )
            nested = type(self)(
                headers,
                self._buffer,
                client_max_size=self._client_max_size,
                max_field_size=self._max_field_size,
                max_headers=self._max_headers,
                max_decompress_size=self._max_decompress_size,
            )
            nested._depth = self._depth + 1
            return nested
        return BodyPartReader(
            self._boundary,
            headers,
            self._buffer,
            subtype=self._subtype,
            default_charset=self._default_charset,
            client_max_size=self._client_max_size,
            max_decompress_size=self._max_decompress_size,
        )

    async def _at_dash_boundary(self) -> bool:
        """Whether the buffered bytes go on with ``--boundary``."""
        await self._buffer.fill_to(len(self._boundary))
        return self._buffer.data.startswith(self._boundary)

    async def _skip_preamble(self) -> None:
        """Consume the preamble and the first dash-boundary (RFC 2046 §5.1.1: it starts
        the body or follows the preamble's CRLF)."""
        buffer = self._buffer
        boundary = self._boundary
        await buffer.fill_to(len(boundary))
        seen = bytes(buffer.data[:40])
        # Line by line: the first line that is the dash-boundary (and not merely begins
        # with its text, as "--XYZA" does) ends the preamble. Searching for the first
        # CRLF-dash-boundary instead skipped the first part whenever the preamble's
        # last line ended in a bare LF, silently.
        while True:
            await buffer.fill_to(len(boundary) + 2)
            if buffer.data.startswith(boundary) and self._ends_boundary_line(len(boundary)):
                buffer.take(len(boundary))
                return
            if not await self._skip_past(b"\n"):
                break
        if not seen:
            raise ValueError(f"multipart body is empty, expected boundary {short_repr(boundary)}")
        raise ValueError(
            f"multipart body has no starting boundary {short_repr(boundary)}, "
            f"it starts with {short_repr(seen)}"
        )

    def _ends_boundary_line(self, at: int) -> bool:
        """Whether the buffered bytes from *at* can end a dash-boundary's line: ``--``, or
        transport padding then the line's end (or the end of what is buffered yet)."""
        rest = bytes(self._buffer.data[at : at + 2])
        # A bare LF ends the line too: taking "--b LF" for preamble made a body of bare-LF
        # lines read as no parts at all, silently (the part is then refused, as aiohttp's).
        if rest.startswith(b"--") or rest[:1] in b" \t\n":  # b"": nothing buffered yet
            return True
        return rest[:1] == b"\r" and rest[1:2] in b"\n"  # CRLF, or its LF still to come

    async def _skip_to_delimiter(self) -> None:
        """Consume up to and including the next delimiter (``CRLF--boundary``); what
        comes before it is a nested part's epilogue, if anything."""
        if not await self._skip_past(b"\r\n" + self._boundary):
            raise ValueError(
                "multipart body ended before the closing boundary "
                f"{short_repr(self._boundary + b'--')}"
            )

    async def _skip_past(self, needle: bytes) -> bool:
        """Drop bytes up to and including *needle*; False if the stream ends first.
        Only the last ``len(needle) - 1`` bytes are kept while looking."""
        buffer = self._buffer
        while True:
            index = buffer.data.find(needle)
            if index >= 0:
                del buffer.data[: index + len(needle)]
                return True
            del buffer.data[: max(len(buffer.data) - len(needle) + 1, 0)]
            if not await buffer.fill():
                return False

    async def _read_boundary_line(self) -> bool:
        """After a dash-boundary: ``--`` (the close delimiter: True), or transport
        padding (spaces and tabs) and CRLF (RFC 2046 §5.1.1)."""
        buffer = self._buffer
        await buffer.fill_to(2)
        if buffer.data.startswith(b"--"):
            buffer.take(2)
            self._at_eof = True
            if self._is_outermost:
                # The epilogue, and the end of the body after it, may still be on their
                # way: a response released before its body ended closes its connection.
                await buffer.skip_to_end(_EPILOGUE_LIMIT)
            return True
        line = await self._read_line("boundary line")
        if line.strip(b" \t"):
            raise ValueError(
                f"invalid boundary {short_repr(self._boundary + line)}, "
                f"expected {short_repr(self._boundary)}"
            )
        return False

    async def _read_line(self, what: str) -> bytes:
        """One CRLF-terminated line of at most *max_field_size* bytes, without the CRLF."""
        buffer = self._buffer
        start = 0
        while (end := buffer.data.find(b"\r\n", start)) < 0:
            if len(buffer.data) > self._max_field_size + 1:
                raise ValueError(
                    f"{what} is longer than {self._max_field_size} bytes: "
                    f"{short_repr(bytes(buffer.data[:40]))}"
                )
            start = max(len(buffer.data) - 1, 0)
            if not await buffer.fill():
                raise ValueError(
                    f"multipart body ended in a {what}: {short_repr(bytes(buffer.data))}"
                )
        if end > self._max_field_size:
            raise ValueError(
                f"{what} is longer than {self._max_field_size} bytes: "
                f"{short_repr(bytes(buffer.data[:40]))}"
            )
        line = buffer.take(end)
        buffer.take(2)
        return line

    async def _read_headers(self) -> CIMultiDictProxy[str]:
        """The part's header fields, up to the empty line (RFC 2046 §5.1.1, RFC 5322
        syntax; names and values as UTF-8, as browsers send them)."""
        headers: CIMultiDict[str] = CIMultiDict()
        while line := await self._read_line("part header line"):
            if len(headers) >= self._max_headers:
                raise ValueError(
                    f"too many part headers, expected no more than {self._max_headers}"
                )
            name, colon, value = line.partition(b":")
            if not colon or not is_token(name) or value.translate(None, _BAD_VALUE_BYTES) != value:
                # RFC 9110 §5.5: NUL, CR and LF never belong in a field value.
                raise ValueError(f"invalid part header line: {short_repr(line)}")
            headers.add(
                name.decode("ascii"), value.strip(b" \t").decode("utf-8", "surrogateescape")
            )
        return CIMultiDictProxy(headers)
