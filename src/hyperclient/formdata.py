"""HTML form bodies: ``application/x-www-form-urlencoded`` and ``multipart/form-data``.

This module owns :class:`FormData` (aiohttp 3's surface) and turning it into a
:class:`Body`: a content type, a length when one is known, and a factory of async byte
iterators that the request layer writes out. It never imports asyncio and never touches
a socket; file objects are read synchronously, in bounded pieces of
:data:`READ_SIZE` bytes, from inside the iterator, so nothing is read before the request
is sent and no more than one piece is held at a time.

The file and stream sources here (:class:`FileSource`, :class:`StreamSource`) also carry
multipart parts and plain file or async-iterable request bodies: one reader, one text
encoder, one replay rule for all of them.

A body can be produced again (after a redirect or for a retry) as long as every file in
it is seekable: each replay seeks the file back to where it was when it was added. A
non-seekable file (a pipe, a socket) can be sent once; a second attempt raises
``RuntimeError``. Files are never closed here: they belong to the caller.

Multipart bodies follow RFC 7578 on top of RFC 2046 §5.1.1, with parameters escaped the
way browsers do (see :func:`quote_param`).
"""

from __future__ import annotations

import codecs
import io
import mimetypes
import os
import stat
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any
from urllib.parse import urlencode

from .errors import short_repr

__all__ = ("READ_SIZE", "Body", "FormData", "encode_urlencoded")

#: Bytes (or characters, for text files) read from a file object at a time.
READ_SIZE = 65536

_URLENCODED = "application/x-www-form-urlencoded"
_OCTET_STREAM = "application/octet-stream"  # also the request layer's and multipart's default

FieldValue = (
    str
    | bytes
    | bytearray
    | memoryview
    | io.IOBase
    | AsyncIterable[bytes]
    | int
    | float
    | list[Any]
    | tuple[Any, ...]
)


@dataclass(frozen=True)
class Body:
    """A serialised form, ready for the request layer.

    Attributes:
        content_type: the ``Content-Type`` value (with the boundary for multipart).
        size: the body length in bytes when every part's length is known, else None
            (then the body is sent chunked).
        chunks: a factory: each call returns a fresh async iterator over the body bytes,
            so the body can be sent again after a redirect.

    ``chunks()`` raises ``RuntimeError`` when the body holds a non-seekable file that a
    previous iterator already started reading; ``replayable()`` says so beforehand.
    """

    content_type: str
    size: int | None
    chunks: Callable[[], AsyncIterator[bytes]]
    replayable: Callable[[], bool] = lambda: True


class FileSource:
    """A file object in a body: where it started, whether it can be read again, and its
    bytes read in bounded pieces.

    Anything with a ``read()`` method is accepted; one that cannot tell its position
    (no ``seekable()``/``tell()``) is read once, to its end.
    """

    def __init__(self, file: Any) -> None:
        self.file = file
        self.is_text = isinstance(file, io.TextIOBase)
        try:
            self.seekable = is_seekable_file(file)
            self.start = file.tell() if self.seekable else 0
        except (AttributeError, OSError):  # only read(), or a position it cannot tell
            self.seekable, self.start = False, 0
        self.consumed = False  # (at least partly) read once

    def size(self) -> int | None:
        """Bytes left from the start position, or None if unknown (text or stream)."""
        if self.is_text or not self.seekable:
            return None
        return file_size(self.file, self.start)

    def replayable(self) -> bool:
        """Whether the file can be read (again): seekable, or not read yet."""
        return self.seekable or not self.consumed

    def rewind(self) -> None:
        """Seek back to the start, or fail if this file was already read once."""
        if self.seekable:
            self.file.seek(self.start)
        elif self.consumed:
            raise RuntimeError("form data with a non-seekable file cannot be replayed")

    async def chunks(self, size: int | None, charset: str) -> AsyncIterator[bytes]:
        """The file's bytes from its current position, in pieces of at most
        :data:`READ_SIZE`: a binary file as :func:`read_announced` (*size* is what was
        announced), a text file encoded with *charset*.

        One incremental encoder serves the whole text, so that a charset with a byte
        order mark (UTF-16) writes it once and not at the start of every piece.
        """
        file = self.file
        self.consumed = True
        if not self.is_text:
            async for data in read_announced(file, size):
                yield data
            return
        encoder = codecs.getincrementalencoder(charset)()
        while text := file.read(READ_SIZE):
            if data := encoder.encode(text):
                yield data
        if data := encoder.encode("", final=True):
            yield data


class StreamSource:
    """An async source in a form: an async iterable of bytes, or a stream with
    ``readany()`` such as another response's ``content``. Its length is unknown (the
    body goes chunked) and it can be sent once, as aiohttp's ``AsyncIterablePayload``."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.consumed = False

    def replayable(self) -> bool:
        """Whether the stream can be read: not read yet."""
        return not self.consumed

    def rewind(self) -> None:
        """Fail if this stream was already read once."""
        if self.consumed:
            raise RuntimeError("form data with an async stream cannot be replayed")

    async def chunks(self) -> AsyncIterator[bytes]:
        """The stream's bytes; read in pieces, never iterated by lines."""
        self.consumed = True
        if hasattr(self.stream, "readany"):
            while data := await self.stream.readany():
                yield bytes(data)
        else:
            async for data in self.stream:
                yield bytes(data)


def guess_type(name: str | None, default: str) -> str:
    """The media type a file *name* suggests (as aiohttp guesses it), else *default*."""
    if name:
        guessed, _ = mimetypes.guess_type(name, strict=False)
        if guessed is not None:
            return guessed
    return default


def file_size(file: Any, start: int) -> int | None:
    """Bytes of a seekable *file* (see :func:`is_seekable_file`) from *start*, or None when
    its size cannot be trusted: ``/proc`` and sysfs files say 0 whatever they hold."""
    try:
        fd = file.fileno()
    except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation: in memory
        end = file.seek(0, io.SEEK_END)
        file.seek(start)
    else:
        end = os.fstat(fd).st_size
        if end == 0:
            return None
    return max(int(end) - start, 0)


async def read_announced(file: Any, size: int | None) -> AsyncIterator[bytes]:
    """A binary *file*'s bytes in pieces of at most :data:`READ_SIZE`: exactly *size*
    bytes when a ``Content-Length`` announced them (more would be read by the server as
    another request), else to its end.

    Raises:
        RuntimeError: the file ended before *size* bytes.
    """
    if size is None:
        while data := file.read(READ_SIZE):
            yield bytes(data)
        return
    remaining = size
    while remaining:
        data = file.read(min(READ_SIZE, remaining))
        if not data:
            raise RuntimeError(
                f"file {short_repr(guess_filename(file, '?'))} ended after "
                f"{size - remaining} of {size} bytes"
            )
        remaining -= len(data)
        yield bytes(data)


def is_seekable_file(file: Any) -> bool:
    """Whether *file* can be rewound and measured: seekable, and a regular file if on disk.

    ``/dev/zero`` or a FIFO may claim to be seekable, but their size means nothing.
    """
    if not file.seekable():
        return False
    try:
        fd = file.fileno()
    except (OSError, ValueError, AttributeError):  # in-memory file objects have no descriptor
        return True
    return stat.S_ISREG(os.fstat(fd).st_mode)


@dataclass
class _Field:
    name: str
    value: str | bytes | FileSource | StreamSource
    filename: str | None
    content_type: str


def guess_filename(file: object, default: str) -> str:
    """The base name of ``file.name``, unless it is missing or a pseudo-name like ``<stdin>``."""
    name = getattr(file, "name", None)
    if isinstance(name, str) and name and not (name.startswith("<") and name.endswith(">")):
        return PurePath(name).name
    return default


def check_header_value(what: str, value: str) -> None:
    """Reject a header value that would end the header line early."""
    if any(char in value for char in "\r\n\0"):
        raise ValueError(f"invalid {what}: {short_repr(value)}")


# WHATWG HTML "multipart/form-data encoding algorithm" and RFC 7578 §2/§4.2: in names and
# filenames, '"' becomes %22, CR %0D and LF %0A, as browsers send them; everything else
# (non-ASCII included) travels as UTF-8. Browsers leave the backslash raw, but parsers that
# read the value as an RFC 9110 §5.6.4 quoted-string (aiohttp's server and Python's email
# package, both checked in the tests) would drop it, so it is sent as the quoted-pair "\\".
# (Both of those parsers misread a value *ending* in "\\"; RFC 9110 is on our side.)
_PERCENT_ESCAPES = str.maketrans({'"': "%22", "\\": "\\\\", "\r": "%0D", "\n": "%0A"})
# quote_fields=False: aiohttp's choice, quoted-pair escaping of '"' as well; CR and LF
# still cannot appear raw in a header line, so they stay percent-encoded.
_QUOTED_PAIR_ESCAPES = str.maketrans({'"': '\\"', "\\": "\\\\", "\r": "%0D", "\n": "%0A"})


def quote_param(value: str, quote_fields: bool) -> str:
    """*value* as a ``Content-Disposition`` quoted parameter value."""
    if "\0" in value:
        # No escape exists for NUL, which a header line may not carry (RFC 9110 §5.5).
        raise ValueError(f"NUL in a multipart field name or filename: {short_repr(value)}")
    return '"' + value.translate(_PERCENT_ESCAPES if quote_fields else _QUOTED_PAIR_ESCAPES) + '"'


class FormData:
    """A form to send as a request body, as ``aiohttp.FormData``.

    The body is ``multipart/form-data`` when a field has a filename, a content type, a
    content transfer encoding or a file object (bytes values get a filename, as in
    aiohttp 3), or when *default_to_multipart* is true; otherwise it is
    ``application/x-www-form-urlencoded``.

    Args:
        fields: initial fields, as for :meth:`add_fields` (a mapping is accepted too).
        quote_fields: escape names and filenames as browsers do (percent-encode ``"``,
            CR and LF; ``\\`` becomes a quoted-pair); when false, ``"`` is sent as a
            quoted-pair too, as aiohttp does.
        charset: encoding of text values (default UTF-8).
        default_to_multipart: use multipart even when every field is plain text.
    """

    def __init__(
        self,
        fields: Iterable[Any] | Mapping[Any, Any] = (),
        quote_fields: bool = True,
        charset: str | None = None,
        *,
        default_to_multipart: bool = False,
    ) -> None:
        self._fields: list[_Field] = []
        self._is_multipart = default_to_multipart
        self._quote_fields = quote_fields
        self._charset = charset
        if isinstance(fields, (list, tuple)):
            self.add_fields(*fields)
        else:
            self.add_fields(fields)

    @property
    def is_multipart(self) -> bool:
        """Whether the body will be ``multipart/form-data``."""
        return self._is_multipart

    def add_field(
        self,
        name: str,
        value: FieldValue,
        *,
        content_type: str | None = None,
        filename: str | None = None,
        content_transfer_encoding: str | None = None,
    ) -> None:
        """Append a field.

        Args:
            name: the field name.
            value: text, bytes, a number (sent as text), a file object (text or
                binary) or an async source of bytes (an async iterable, or a stream
                such as another response's ``content``; sent once, chunked); a list or
                tuple adds one field per item, as aiohttp's ``doseq``.
            content_type: the part's ``Content-Type`` (forces multipart).
            filename: the part's filename (forces multipart); file objects default to
                the base name of their ``name``, bytes to the field name.
            content_transfer_encoding: accepted for aiohttp compatibility and forces
                multipart, but not sent (RFC 7578 §4.7 deprecates it; aiohttp 3 does
                the same).

        Raises:
            TypeError: an argument has the wrong type.
            ValueError: *content_type* contains CR, LF or NUL.
        """
        if not isinstance(name, str):
            raise TypeError(f"field name must be a str, got {short_repr(name)}")
        if isinstance(value, (list, tuple)):
            # aiohttp urlencodes {"a": [1, 2]} as a=1&a=2 (doseq): one field per item.
            for item in value:
                self.add_field(
                    name,
                    item,
                    content_type=content_type,
                    filename=filename,
                    content_transfer_encoding=content_transfer_encoding,
                )
            return
        for what, option in (
            ("filename", filename),
            ("content_type", content_type),
            ("content_transfer_encoding", content_transfer_encoding),
        ):
            if option is not None and not isinstance(option, str):
                raise TypeError(f"{what} must be a str, got {short_repr(option)}")
        if content_type is not None:
            check_header_value("content type", content_type)
        if content_type is not None or content_transfer_encoding is not None:
            self._is_multipart = True

        charset = self._charset or "utf-8"
        stored: str | bytes | FileSource | StreamSource
        if isinstance(value, io.IOBase):
            stored = FileSource(value)
            if filename is None:
                filename = guess_filename(value, name)
            default_type = f"text/plain; charset={charset}" if stored.is_text else _OCTET_STREAM
        elif isinstance(value, (bytes, bytearray, memoryview)):
            # Copied, so that the announced size matches what is sent. As in aiohttp 3,
            # bytes make a file field named after the field.
            stored = bytes(value)
            if filename is None and content_transfer_encoding is None:
                filename = name
            default_type = _OCTET_STREAM
        elif isinstance(value, (str, int, float)):
            stored = value if isinstance(value, str) else str(value)
            default_type = f"text/plain; charset={charset}"
        elif hasattr(value, "readany") or hasattr(value, "__aiter__"):
            stored = StreamSource(value)
            default_type = _OCTET_STREAM
            self._is_multipart = True  # only a multipart part can carry a stream
        else:
            raise TypeError(f"unsupported form field value: {short_repr(value)}")

        if filename is not None:
            self._is_multipart = True
        if content_type is None:
            named = filename is not None and not isinstance(stored, str)
            content_type = guess_type(filename if named else None, default_type)
        self._fields.append(_Field(name, stored, filename, content_type))

    def add_fields(self, *fields: Any) -> None:
        """Append several fields.

        Each argument is a ``(name, value)`` pair (tuple or list), a mapping (dict,
        ``MultiDict``) of names to values, or a file object, whose field name is the
        base name of its ``name`` (``"unknown"`` without one).

        Raises:
            TypeError: an argument is none of these.
        """
        for field in fields:
            if isinstance(field, io.IOBase):
                self.add_field(guess_filename(field, "unknown"), field)
            elif isinstance(field, Mapping):
                for name, value in field.items():
                    self.add_field(name, value)
            elif isinstance(field, (list, tuple)) and len(field) == 2:
                self.add_field(field[0], field[1])
            else:
                raise TypeError(
                    "expected a (name, value) pair, a mapping or a file object, "
                    f"got {short_repr(field)}"
                )

    def body(self) -> Body:
        """Serialise the form.

        Returns:
            The :class:`Body`; for multipart, a new random boundary each call.

        Raises:
            TypeError: a file object is in a form that is not multipart (cannot happen
                through the public methods).
        """
        if self._is_multipart:
            return _MultipartWriter(self._fields, self._quote_fields, self._charset).body()
        pairs = []
        for field in self._fields:
            if isinstance(field.value, (FileSource, StreamSource)):  # pragma: no cover  # Defensive
                raise TypeError("a file object needs a multipart form")
            pairs.append((field.name, field.value))
        charset = self._charset or "utf-8"
        content_type = _URLENCODED
        if charset.lower().replace("_", "-") != "utf-8":
            content_type += f"; charset={charset}"
        return _fixed_body(content_type, encode_urlencoded(pairs, charset))


def encode_urlencoded(
    data: Mapping[Any, Any] | Iterable[tuple[Any, Any]], charset: str = "utf-8"
) -> bytes:
    """An ``application/x-www-form-urlencoded`` body for *data* (``data=dict``).

    Sequence values repeat the key (``{"a": [1, 2]}`` gives ``a=1&a=2``), as aiohttp.

    Args:
        data: a mapping or an iterable of ``(name, value)`` pairs.
        charset: encoding of text before percent-encoding.
    """
    items = list(data.items()) if isinstance(data, Mapping) else list(data)
    return urlencode(items, doseq=True, encoding=charset).encode("ascii")


def _fixed_body(content_type: str, data: bytes) -> Body:
    """A body made of bytes already in memory."""

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    return Body(content_type, len(data), chunks)


class _MultipartWriter:
    """Serialises form fields as ``multipart/form-data`` (RFC 7578, RFC 2046 §5.1.1)."""

    def __init__(self, fields: list[_Field], quote_fields: bool, charset: str | None) -> None:
        self._fields = list(fields)
        self._quote_fields = quote_fields
        self._charset = charset or "utf-8"
        # A random boundary cannot collide with the data by accident (2**-122);
        # hex digits need no quoting (RFC 2046 §5.1.1 bchars).
        self._boundary = uuid.uuid4().hex.encode("ascii")
        self._sizes: list[int | None] = []

    def body(self) -> Body:
        # Measured once: the file lengths sent must match the announced total.
        self._sizes = [self._value_size(field) for field in self._fields]
        size: int | None = len(self._closing())
        for field, part_size in zip(self._fields, self._sizes, strict=True):
            if size is None or part_size is None:
                size = None
            else:
                size += len(self._part_head(field)) + part_size + 2
        content_type = "multipart/form-data; boundary=" + self._boundary.decode("ascii")
        return Body(content_type, size, self._chunks, self._replayable)

    def _replayable(self) -> bool:
        """False once a part that cannot be read twice (an async stream, a non-seekable
        file) has been read: the body cannot be sent again (redirect, retry)."""
        return all(
            field.value.replayable()
            for field in self._fields
            if isinstance(field.value, (FileSource, StreamSource))
        )

    def _part_head(self, field: _Field) -> bytes:
        disposition = "form-data; name=" + quote_param(field.name, self._quote_fields)
        if field.filename is not None:
            disposition += "; filename=" + quote_param(field.filename, self._quote_fields)
        # RFC 7578 §4.8: only Content-Disposition and Content-Type belong in a part.
        head = (
            f"--{self._boundary.decode('ascii')}\r\n"
            f"Content-Disposition: {disposition}\r\n"
            f"Content-Type: {field.content_type}\r\n\r\n"
        )
        return head.encode("utf-8")  # WHATWG: names and filenames travel as UTF-8

    def _closing(self) -> bytes:
        return b"--" + self._boundary + b"--\r\n"

    def _value_size(self, field: _Field) -> int | None:
        if isinstance(field.value, FileSource):
            return field.value.size()
        if isinstance(field.value, StreamSource):
            return None
        if isinstance(field.value, str):
            return len(field.value.encode(self._charset))
        return len(field.value)

    def _chunks(self) -> AsyncIterator[bytes]:
        # Checked here, when the request layer asks, rather than on first iteration.
        for field in self._fields:
            if isinstance(field.value, (FileSource, StreamSource)):
                field.value.rewind()
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        pending = bytearray()  # small pieces are sent together
        for field, size in zip(self._fields, self._sizes, strict=True):
            pending += self._part_head(field)
            value = field.value
            if isinstance(value, FileSource):
                if pending:
                    yield bytes(pending)
                    pending.clear()
                async for piece in value.chunks(size, self._charset):
                    yield piece
            elif isinstance(value, StreamSource):
                if pending:
                    yield bytes(pending)
                    pending.clear()
                async for piece in value.chunks():
                    yield piece
            else:
                data = value.encode(self._charset) if isinstance(value, str) else value
                if len(data) > READ_SIZE:
                    yield bytes(pending)
                    pending.clear()
                    yield data
                else:
                    pending += data
            pending += b"\r\n"
            if len(pending) >= READ_SIZE:
                yield bytes(pending)
                pending.clear()
        pending += self._closing()
        yield bytes(pending)
