"""Multipart bodies (RFC 2046 §5.1) for client code: :class:`MultipartWriter` to send.

This module owns the ``multipart/*`` body a client builds part by part (aiohttp 3's
``MultipartWriter`` surface) and turning it into the :class:`~.formdata.Body` the request
layer writes out. Like :mod:`.formdata`, whose file and stream sources it reuses, it never
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
import io
import json
import re
import uuid
import zlib
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlencode

from multidict import CIMultiDict

from .errors import short_repr
from .formdata import (
    READ_SIZE,
    Body,
    FileSource,
    StreamSource,
    check_header_value,
    guess_filename,
    guess_type,
    quote_param,
    read_announced,
)

__all__ = ("BodyPartWriter", "MultipartWriter")

_OCTET_STREAM = "application/octet-stream"
# RFC 9110 §5.6.2: token characters.
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# RFC 9110 §5.6.4 qdtext (ASCII part): what a quoted boundary may hold.
_QDTEXT = frozenset(chr(c) for c in range(0x20, 0x7F)) | {"\t"}
_CHARSET = re.compile(r';\s*charset\s*=\s*"?([^";\s]+)"?', re.IGNORECASE)

#: Content codings a part may carry (aiohttp's set); the writer applies them while sending.
_CONTENT_ENCODINGS = frozenset({"deflate", "gzip"})
#: RFC 2045 §6 transfer encodings the writer applies ("binary" means none).
_TRANSFER_ENCODINGS = frozenset({"base64", "quoted-printable"})


def is_token(value: str) -> bool:
    """Whether *value* is an RFC 9110 §5.6.2 token."""
    return bool(value) and _TOKEN.issuperset(value)


def charset_of(content_type: str, default: str) -> str:
    """The ``charset`` parameter of a ``Content-Type`` value, else *default*."""
    match = _CHARSET.search(content_type)
    return match[1] if match else default


class _Value(Protocol):
    """What a part holds: bytes, a file, a stream or a nested writer."""

    def measure(self) -> int | None: ...

    def rewind(self) -> None: ...

    def replayable(self) -> bool: ...

    def chunks(self, size: int | None) -> AsyncIterator[bytes]: ...


class _BytesValue:
    """Bytes already in memory (text is encoded when appended)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def measure(self) -> int:
        return len(self.data)

    def rewind(self) -> None:
        """Nothing to rewind."""

    def replayable(self) -> bool:
        return True

    async def chunks(self, size: int | None) -> AsyncIterator[bytes]:
        yield self.data


class _FileValue:
    """A file object, read in pieces; text files are encoded with *charset*."""

    def __init__(self, file: io.IOBase, charset: str) -> None:
        self.source = FileSource(file)
        self.charset = charset

    def measure(self) -> int | None:
        return self.source.size()

    def rewind(self) -> None:
        self.source.rewind()

    def replayable(self) -> bool:
        return self.source.replayable or not self.source.consumed

    async def chunks(self, size: int | None) -> AsyncIterator[bytes]:
        file: Any = self.source.file  # IOBase declares no read()
        self.source.consumed = True
        if self.source.is_text:
            while text := file.read(READ_SIZE):
                yield text.encode(self.charset)
            return
        async for data in read_announced(file, size):
            yield data


class _StreamValue:
    """An async iterable of bytes or a stream with ``readany()``: sent once, chunked."""

    def __init__(self, stream: Any) -> None:
        self.source = StreamSource(stream)

    def measure(self) -> None:
        return None

    def rewind(self) -> None:
        self.source.rewind()

    def replayable(self) -> bool:
        return not self.source.consumed

    def chunks(self, size: int | None) -> AsyncIterator[bytes]:
        return self.source.chunks()


class _Part:
    """What every part has: headers, and the ``Content-Disposition`` setter."""

    _headers: CIMultiDict[str]
    _encoding: str | None = None  # Content-Encoding applied while sending
    _te_encoding: str | None = None  # Content-Transfer-Encoding applied while sending

    @property
    def headers(self) -> CIMultiDict[str]:
        """The part's headers (mutable until the request is sent)."""
        return self._headers

    @property
    def content_type(self) -> str:
        """The part's ``Content-Type``."""
        return self._headers["Content-Type"]

    def set_content_disposition(
        self, disptype: str, quote_fields: bool = True, _charset: str = "utf-8", **params: Any
    ) -> None:
        """Set the ``Content-Disposition`` header (RFC 2183, RFC 7578 §4.2).

        Args:
            disptype: ``"attachment"``, ``"inline"``, ``"form-data"``: a token.
            quote_fields: escape values as browsers do (``"``, CR and LF percent-encoded);
                when false, ``"`` is sent as a quoted-pair, as aiohttp does.
            _charset: accepted for aiohttp compatibility; values always travel as
                UTF-8, as browsers send them (RFC 7578 §4.2 forbids RFC 5987 encoding).
            params: parameters such as ``name`` and ``filename``.

        Raises:
            ValueError: *disptype* or a parameter name is not a token, or a value
                holds NUL.
        """
        self._headers["Content-Disposition"] = content_disposition_header(
            disptype, quote_fields, **params
        )

    def _head(self, dash_boundary: bytes) -> bytes:
        """The delimiter line and header block that open this part."""
        lines = [dash_boundary.decode("ascii")]
        for name, value in self._headers.items():
            if not is_token(name):
                raise ValueError(f"invalid part header name: {short_repr(name)}")
            check_header_value(f"{name} header", value)
            lines.append(f"{name}: {value}")
        # RFC 7578 §5.1.1 / WHATWG: field names and filenames travel as UTF-8.
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


class BodyPartWriter(_Part):
    """One part of a :class:`MultipartWriter`, as returned by its ``append*`` methods.

    Its :attr:`headers` may be changed until the request is sent, most often with
    :meth:`set_content_disposition`.
    """

    def __init__(self, value: _Value, content_type: str, filename: str | None = None) -> None:
        self._value = value
        self._filename = filename
        self._headers = CIMultiDict({"Content-Type": content_type})

    @property
    def filename(self) -> str | None:
        """The file name the part was given or guessed from a file object, if any."""
        return self._filename

    @property
    def size(self) -> int | None:
        """The part body's length in bytes before any coding, or None when unknown."""
        return self._value.measure()


def content_disposition_header(disptype: str, quote_fields: bool = True, **params: Any) -> str:
    """A ``Content-Disposition`` value; see :meth:`BodyPartWriter.set_content_disposition`."""
    if not is_token(disptype):
        raise ValueError(f"bad content disposition type {short_repr(disptype)}")
    value = disptype
    for key, param in params.items():
        if not is_token(key):
            raise ValueError(f"bad content disposition parameter {short_repr(key)}")
        value += f"; {key}={quote_param(str(param), quote_fields)}"
    return value


@dataclass
class _PlannedPart:
    head: bytes
    value: _Value
    size: int | None  # of the value, measured once per body
    encoding: str | None
    te_encoding: str | None


class _Plan:
    """A writer frozen for one body: part heads and value sizes measured once, so that
    the bytes sent match the announced ``Content-Length``."""

    def __init__(self, parts: list[_PlannedPart], boundary: bytes, close: bool) -> None:
        self.parts = parts
        self.closing = b"--" + boundary + b"--\r\n" if close else b""
        total: int | None = len(self.closing)
        for part in parts:
            if total is None or part.size is None or part.encoding or part.te_encoding:
                total = None
            else:
                total += len(part.head) + part.size + 2
        self.size = total

    def measure(self) -> int | None:
        return self.size

    def rewind(self) -> None:
        for part in self.parts:
            part.value.rewind()

    def replayable(self) -> bool:
        return all(part.value.replayable() for part in self.parts)

    async def chunks(self, size: int | None = None) -> AsyncIterator[bytes]:
        pending = bytearray()  # small pieces are sent together
        for part in self.parts:
            pending += part.head
            pieces = part.value.chunks(part.size)
            if part.encoding or part.te_encoding:
                pieces = _encoded(pieces, part.encoding, part.te_encoding)
            async for piece in pieces:
                if len(pending) + len(piece) <= READ_SIZE:
                    pending += piece
                    continue
                if pending:
                    yield bytes(pending)
                    pending.clear()
                yield piece
            pending += b"\r\n"
        pending += self.closing
        if pending:
            yield bytes(pending)


async def _encoded(
    pieces: AsyncIterator[bytes], encoding: str | None, te_encoding: str | None
) -> AsyncIterator[bytes]:
    """*pieces* compressed with *encoding*, then transfer-encoded (RFC 2045 §6)."""
    # aiohttp's reader inflates a part's "deflate" as raw RFC 1951 data, not zlib-wrapped
    # as RFC 9110 §8.4.1.2 says for HTTP bodies: sent raw, so that it can read it.
    wbits = {"gzip": 16 + zlib.MAX_WBITS, "deflate": -zlib.MAX_WBITS}
    compressor = zlib.compressobj(wbits=wbits[encoding]) if encoding else None
    carry = b""  # base64 works on 3-byte groups; the rest waits for more input

    def transfer(data: bytes, final: bool) -> bytes:
        nonlocal carry
        if te_encoding == "base64":
            data = carry + data
            cut = len(data) if final else len(data) - len(data) % 3
            carry = data[cut:]
            return base64.b64encode(data[:cut])
        if te_encoding == "quoted-printable":
            return binascii.b2a_qp(data)
        return data

    async for piece in pieces:
        if out := transfer(compressor.compress(piece) if compressor else piece, False):
            yield out
    if out := transfer(compressor.flush() if compressor else b"", True):
        yield out


class MultipartWriter(_Part):
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
        self._parts: list[BodyPartWriter | MultipartWriter] = []
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

    def __iter__(self) -> Iterator[tuple[BodyPartWriter | MultipartWriter, str | None, str | None]]:
        """Each part as aiohttp yields it: ``(part, content_encoding, transfer_encoding)``."""
        return iter([(part, part._encoding, part._te_encoding) for part in self._parts])

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

    def append(
        self, obj: Any, headers: Mapping[str, str] | None = None
    ) -> BodyPartWriter | MultipartWriter:
        """Append a part.

        Args:
            obj: bytes (``application/octet-stream``), text (``text/plain;
                charset=utf-8``, or encoded with the charset of a ``Content-Type`` in
                *headers*), a file object (binary or text; its type and an ``attachment``
                disposition come from its name; read when sent, never closed), an async
                iterable of bytes or a stream such as a response's ``content`` (sent
                once, chunked), another :class:`MultipartWriter` (nested), or a part
                returned by another ``append``.
            headers: part headers; they replace the defaults.

        Returns:
            The part, whose headers can still be changed (``set_content_disposition``).

        Raises:
            TypeError: *obj* is none of these.
            ValueError: a header is not allowed in a ``form-data`` part (RFC 7578 §4.8).
            RuntimeError: an unknown ``Content-Encoding`` or
                ``Content-Transfer-Encoding`` header.
        """
        part: BodyPartWriter | MultipartWriter
        if isinstance(obj, BodyPartWriter | MultipartWriter):
            part = obj
        elif isinstance(obj, bytes | bytearray | memoryview):
            part = BodyPartWriter(_BytesValue(bytes(obj)), _OCTET_STREAM)
        elif isinstance(obj, str):
            content_type = (headers or {}).get("Content-Type", "text/plain; charset=utf-8")
            encoded = obj.encode(charset_of(content_type, "utf-8"))
            part = BodyPartWriter(_BytesValue(encoded), content_type)
        elif isinstance(obj, io.IOBase):
            part = self._file_part(obj, headers)
        elif hasattr(obj, "readany") or hasattr(obj, "__aiter__"):
            part = BodyPartWriter(_StreamValue(obj), _OCTET_STREAM)
        else:
            raise TypeError(f"cannot make a multipart part from {short_repr(obj)}")
        if headers:
            part.headers.update(headers)
        return self.append_payload(part)

    def _file_part(self, file: io.IOBase, headers: Mapping[str, str] | None) -> BodyPartWriter:
        name = guess_filename(file, "")
        if isinstance(file, io.TextIOBase):
            content_type = (headers or {}).get("Content-Type", "text/plain; charset=utf-8")
            value = _FileValue(file, charset_of(content_type, "utf-8"))
        else:
            content_type = guess_type(name, _OCTET_STREAM)
            value = _FileValue(file, "utf-8")
        part = BodyPartWriter(value, content_type, name or None)
        if name and "Content-Disposition" not in (headers or {}):
            part.set_content_disposition("attachment", filename=name)
        return part

    def append_payload(
        self, part: BodyPartWriter | MultipartWriter
    ) -> BodyPartWriter | MultipartWriter:
        """Append a part made by another writer's ``append*`` (aiohttp's name).

        Returns:
            *part*.

        Raises:
            ValueError, RuntimeError: as for :meth:`append`.
        """
        if part is self:
            raise ValueError("a multipart writer cannot contain itself")
        headers = part.headers
        if self._is_form_data:
            # RFC 7578 §4.7/§4.8: no other header fields than Content-Type,
            # Content-Disposition and (for non-ASCII names) nothing else.
            for name in ("Content-Length", "Content-Encoding", "Content-Transfer-Encoding"):
                if name in headers:
                    raise ValueError(f"a form-data part cannot carry {name} (RFC 7578 §4.8)")
            if "Content-Disposition" not in headers:
                # RFC 7578 §4.2: every part needs a name.
                part.set_content_disposition("form-data", name=f"section-{len(self._parts)}")
        else:
            encoding = headers.get("Content-Encoding", "").lower()
            if encoding and encoding != "identity" and encoding not in _CONTENT_ENCODINGS:
                raise RuntimeError(f"unknown content encoding: {short_repr(encoding)}")
            te_encoding = headers.get("Content-Transfer-Encoding", "").lower()
            if te_encoding and te_encoding != "binary" and te_encoding not in _TRANSFER_ENCODINGS:
                raise RuntimeError(f"unknown content transfer encoding: {short_repr(te_encoding)}")
            part._encoding = encoding if encoding in _CONTENT_ENCODINGS else None
            part._te_encoding = te_encoding if te_encoding in _TRANSFER_ENCODINGS else None
            size = part.size
            if size is not None and not (part._encoding or part._te_encoding):
                headers["Content-Length"] = str(size)  # as aiohttp, for readers that use it
        self._parts.append(part)
        return part

    def append_json(
        self, obj: Any, headers: Mapping[str, str] | None = None
    ) -> BodyPartWriter | MultipartWriter:
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
    ) -> BodyPartWriter | MultipartWriter:
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
        plan = self._plan()

        def chunks() -> AsyncIterator[bytes]:
            plan.rewind()  # raises here, when the request layer asks, if not replayable
            return plan.chunks()

        return Body(self.content_type, plan.size, chunks, plan.replayable)

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
        dash = b"--" + self._boundary
        parts = []
        for part in self._parts:
            value: _Value = part._plan() if isinstance(part, MultipartWriter) else part._value
            parts.append(
                _PlannedPart(
                    part._head(dash), value, value.measure(), part._encoding, part._te_encoding
                )
            )
        return _Plan(parts, self._boundary, self._close_boundary if close is None else close)


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
