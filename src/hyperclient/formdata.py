"""HTML form bodies: ``application/x-www-form-urlencoded`` and ``multipart/form-data``.

This module owns :class:`FormData` (aiohttp 3's surface) and turning it into a
:class:`Body`: a content type, a length when one is known, and a factory of async byte
iterators that the request layer writes out. It never imports asyncio and never touches
a socket; file objects are read in bounded pieces of :data:`READ_SIZE` bytes, from
inside the iterator, so nothing is read before the request is sent and no more than one
piece is held at a time. How a piece is read is the caller's :data:`FileRead`: here a
plain ``read()``; the request layer passes one that keeps a read that would wait (a cold
disk, a pipe) off the event loop (:mod:`.filereads`).

The part values here (bytes, :class:`FileSource`, :class:`StreamSource`) and the
multipart body plan (:class:`_Plan`: part heads and sizes measured once, pieces merged up
to :data:`READ_SIZE`, gzip/deflate and base64/quoted-printable applied while sending) also
serve :mod:`.multipart`'s ``MultipartWriter`` and the request layer's file and
async-iterable bodies: one reader, one text encoder, one replay rule for all of them.

A plain binary file on disk can also be described as a :class:`FileRange` (descriptor-
backed bytes at an offset) so that the request layer lets the kernel copy it to the socket
(sendfile(2)) instead of reading it here; :meth:`FileSource.file_range` decides which
files qualify, and a body offers that route through :attr:`Body.sendfile_plan`.

A body can be produced again (after a redirect or for a retry) as long as every file in
it is seekable: each replay seeks the file back to where it was when it was added (and
each part seeks it there as it starts, so one file in two parts is sent twice). A
non-seekable file (a pipe, a socket) can be sent once; a second attempt raises
``RuntimeError``. Files are never closed here: they belong to the caller.

Multipart bodies follow RFC 7578 on top of RFC 2046 §5.1.1, with parameters escaped the
way browsers do (see :func:`quote_param`).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import io
import mimetypes
import os
import stat
import sys
import uuid
import zlib
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
)
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, BinaryIO, Protocol
from urllib.parse import urlencode

from multidict import CIMultiDict

from .errors import FileEndedError, short_repr
from .http1 import is_token

__all__ = ("READ_SIZE", "Body", "FileRange", "FormData", "encode_urlencoded")

#: Bytes (or characters, for text files) read from a file object at a time.
READ_SIZE = 65536

#: File objects whose ``read()`` returns the bytes on disk unchanged, so that the kernel may
#: send those bytes instead (``GzipFile`` also has a ``fileno()``, of the compressed file).
_PLAIN_FILES = (io.FileIO, io.BufferedReader, io.BufferedRandom)

#: ``await read(file, n, offset)``: up to *n* bytes (of a text file: characters) of *file*,
#: empty at its end. From its position, as ``file.read(n)``, when *offset* is None; else
#: from *offset* of its descriptor, as ``os.pread()``, leaving the position alone (offsets
#: are given for the plain binary files of ``open()`` only; see :func:`read_announced`).
FileRead = Callable[[Any, int, int | None], Awaitable[Any]]

# Plain files are read by offset where the OS can (not Windows).
_PREAD = hasattr(os, "pread")


async def read_in_place(file: Any, n: int, offset: int | None) -> Any:
    """The default :data:`FileRead`: reads at once, in the caller's thread (see
    :mod:`.filereads` for the one requests use)."""
    if offset is None:
        return file.read(n)
    return os.pread(file.fileno(), n, offset)


class Chunks(Protocol):
    """A body's bytes, produced afresh by each call; its files read with *read*."""

    def __call__(self, read: FileRead = ...) -> AsyncIterator[bytes]: ...


_URLENCODED = "application/x-www-form-urlencoded"
_OCTET_STREAM = "application/octet-stream"  # also the request layer's and multipart's default


class PartHeaders:
    """What every multipart part has, a payload included: headers, the ``Content-Type``,
    and the ``Content-Disposition`` setter."""

    _headers: CIMultiDict[str]

    @property
    def headers(self) -> CIMultiDict[str]:
        """The part's headers (``Content-Type`` included); mutable until it is sent."""
        return self._headers

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` header."""
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


class PayloadBase(PartHeaders):
    """What a form or a multipart body needs from a :class:`~.payload.Payload`: its part
    headers and its bytes as a part value. :mod:`.payload` builds on this module, so this
    module knows payloads by this base class and never imports them."""

    def _source(self) -> _Value:
        """The bytes to send, as a part value (the same object on every call)."""
        raise NotImplementedError  # pragma: no cover  # Defensive: payload.Payload overrides it


FieldValue = (
    str
    | bytes
    | bytearray
    | memoryview
    | io.IOBase
    | AsyncIterable[bytes]
    | PayloadBase
    | int
    | float
    | list[Any]
    | tuple[Any, ...]
)


@dataclass(frozen=True, slots=True)
class FileRange:
    """*count* bytes of a regular file from *offset*, for the kernel to send (sendfile(2)).

    *file* is a binary file object from ``open()``; its position is not used.
    """

    file: BinaryIO
    offset: int
    count: int


@dataclass(frozen=True)
class Body:
    """A serialised form, ready for the request layer.

    Attributes:
        content_type: the ``Content-Type`` value (with the boundary for multipart).
        size: the body length in bytes when every part's length is known, else None
            (then the body is sent chunked).
        chunks: a factory: each call returns a fresh async iterator over the body bytes,
            so the body can be sent again after a redirect; its argument reads the files
            (:data:`FileRead`; a plain ``read()`` when not given).
        sendfile_plan: None, or a factory of the same bytes as pieces in order: ``bytes``
            to write and :class:`FileRange` pieces the kernel can copy from disk, at
            least one of them of the size it is given (the request layer reads smaller
            ones, off the event loop). It returns None when the body cannot go that way
            after all (a file was closed, a part needs encoding or streaming, no file is
            large enough); ``chunks()`` then sends it.

    ``chunks()`` raises ``RuntimeError`` when the body holds a non-seekable file that a
    previous iterator already started reading; ``replayable()`` says so beforehand.
    """

    content_type: str
    size: int | None
    chunks: Chunks
    replayable: Callable[[], bool] = lambda: True
    sendfile_plan: Callable[[int], list[bytes | FileRange] | None] | None = None


class FileSource:
    """A file object in a body: where it started, whether it can be read again, and its
    bytes read in bounded pieces.

    Anything with a ``read()`` method is accepted; one that cannot tell its position
    (no ``seekable()``/``tell()``) is read once, to its end.
    """

    def __init__(self, file: Any, charset: str = "utf-8") -> None:
        self.file = file
        self.charset = charset  # of a text file's bytes
        self.is_text = isinstance(file, io.TextIOBase)
        try:
            self.seekable = is_seekable_file(file)
            self.start = file.tell() if self.seekable else 0
        except (AttributeError, OSError):  # only read(), or a position it cannot tell
            self.seekable, self.start = False, 0
        self.consumed = False  # (at least partly) read once

    def measure(self) -> int | None:
        """Bytes left from the start position, or None if unknown (text or stream)."""
        if self.is_text or not self.seekable:
            return None
        return file_size(self.file, self.start)

    def file_range(self, size: int | None) -> FileRange | None:
        """The *size* bytes from the start position as a :class:`FileRange`, when the
        kernel can send them as they are: a binary file from ``open()`` (``read()`` adds
        no decoding or decompression) on a regular file, still open. Else None, and the
        file is read by :meth:`chunks`.
        """
        file = self.file
        if size is None or type(file) not in _PLAIN_FILES or not self.seekable or file.closed:
            return None  # closed: since the request was built
        # A FIFO or a device, which sendfile(2) cannot read from the page cache, has no
        # size here: not seekable, or a size of 0 that file_size() refuses.
        return FileRange(file, self.start, size)

    def replayable(self) -> bool:
        """Whether the file can be read (again): seekable, or not read yet."""
        return self.seekable or not self.consumed

    def rewind(self) -> None:
        """Seek back to the start, or fail if this file was already read once."""
        if self.seekable:
            self.file.seek(self.start)
        elif self.consumed:
            raise RuntimeError("form data with a non-seekable file cannot be replayed")

    async def chunks(
        self, size: int | None, read: FileRead = read_in_place
    ) -> AsyncIterator[bytes]:
        """The file's bytes from its start position (a non-seekable file: from where it
        is), read with *read* in pieces of at most :data:`READ_SIZE`: a binary file as
        :func:`read_announced` (*size* is what was announced), a text file encoded with
        its charset.

        One incremental encoder serves the whole text, so that a charset with a byte
        order mark (UTF-16) writes it once and not at the start of every piece.
        """
        file = self.file
        if self.seekable:
            # Sought as this part starts, not when the body does: the same file in two
            # parts is read twice from where it stood, as sendfile sends each range by
            # its offset, and as aiohttp sends it (each payload seeks to its start).
            file.seek(self.start)
        self.consumed = True
        if not self.is_text:
            async for data in read_announced(file, size, read):
                yield data
            return
        encoder = codecs.getincrementalencoder(self.charset)()
        while text := await read(file, READ_SIZE, None):
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

    def measure(self) -> None:
        """Unknown: the body goes chunked."""
        return None

    def replayable(self) -> bool:
        """Whether the stream can be read: not read yet."""
        return not self.consumed

    def rewind(self) -> None:
        """Fail if this stream was already read once."""
        if self.consumed:
            raise RuntimeError("form data with an async stream cannot be replayed")

    async def chunks(
        self, size: int | None = None, read: FileRead = read_in_place
    ) -> AsyncIterator[bytes]:
        """The stream's bytes; read in pieces, never iterated by lines."""
        self.consumed = True
        if hasattr(self.stream, "readany"):
            while data := await self.stream.readany():
                yield bytes(data)
            return
        # The caller's iterator (a generator, mostly) is ours to close: sent once, it
        # cannot serve anything else, and its cleanup must not wait for the collector.
        pieces = aiter(self.stream)
        try:
            async for data in pieces:
                yield bytes(data)
        finally:
            await close_pieces(pieces)


class _Value(Protocol):
    """What a part holds: bytes, a file, a stream or a nested writer."""

    def measure(self) -> int | None: ...

    def rewind(self) -> None: ...

    def replayable(self) -> bool: ...

    def chunks(self, size: int | None, read: FileRead = ...) -> AsyncIterator[bytes]: ...


class _BytesValue:
    """Bytes already in memory (text is encoded before it gets here)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def measure(self) -> int:
        return len(self.data)

    def rewind(self) -> None:
        """Nothing to rewind."""

    def replayable(self) -> bool:
        return True

    async def chunks(
        self, size: int | None, read: FileRead = read_in_place
    ) -> AsyncIterator[bytes]:
        yield self.data


async def close_pieces(pieces: AsyncIterator[Any]) -> None:
    """Close *pieces* now if it is an async generator (nothing happens once it ended): a
    body abandoned midway (the server answered, the request failed) runs the ``finally``
    blocks of its sources at once, in the sending task, not in a task the event loop
    starts whenever the garbage collector gets to them."""
    if isinstance(pieces, AsyncGenerator):
        await pieces.aclose()


def source_body(content_type: str, source: _Value, unreplayable: str | None = None) -> Body:
    """One value as a whole request body: measured now (None: chunked), its bytes produced
    again for each send while it is replayable, and a binary file of known size offered
    to the kernel (see :attr:`Body.sendfile_plan` and :meth:`FileSource.file_range`).

    Args:
        unreplayable: what ``chunks()`` raises when the value cannot be sent again (by
            default the value's own ``rewind()`` message).
    """
    size = source.measure()

    def chunks(read: FileRead = read_in_place) -> AsyncIterator[bytes]:
        if unreplayable is not None and not source.replayable():
            raise RuntimeError(unreplayable)
        source.rewind()  # raises here, when the request layer asks, if not replayable
        return source.chunks(size, read)

    plan = None
    if isinstance(source, FileSource) and size is not None:  # chunked never goes by sendfile
        file = source

        def plan(min_range: int) -> list[bytes | FileRange] | None:
            piece = file.file_range(size)
            if piece is None or piece.count < min_range:
                return None
            file.rewind()  # as chunks() does: a BufferedRandom's pending writes reach disk
            return [piece]

    return Body(content_type, size, chunks, source.replayable, plan)


def guess_type(name: str | None, default: str) -> str:
    """The media type a file *name* suggests (as aiohttp guesses it), else *default*."""
    if name:
        guessed, _ = mimetypes.guess_type(name, strict=False)
        if guessed is not None:
            return guessed
    return default


def file_size(file: Any, start: int) -> int | None:
    """Bytes of a seekable *file* (see :func:`is_seekable_file`) from *start*, or None when
    its size cannot be known or trusted.

    Only a plain binary file from ``open()`` is measured by its descriptor: another
    object's ``fileno()`` may belong to a file whose bytes are not the ones it reads
    (``gzip.open()``, ``bz2.open()`` and ``lzma.open()`` give the compressed file's), so
    it is asked through its own ``seek()``. Not a decompressing reader, though: its
    ``seek()`` to the end would decompress the whole file, blocking the event loop, only
    for the body to decompress it again; like one that cannot seek from its end, it has
    no known size and its body goes chunked.
    """
    fd = None
    if type(file) in _PLAIN_FILES:
        fd = _descriptor(file)
    elif _decompresses(file):  # (asked only here: no plain file is one)
        return None
    if fd is not None:
        end = os.fstat(fd).st_size
        # /proc and sysfs files say 0 whatever they hold.
        return None if end == 0 else max(end - start, 0)
    try:
        end = file.seek(0, io.SEEK_END)
    except (OSError, ValueError):  # io.UnsupportedOperation, or ValueError as GzipFile's
        return None
    finally:
        file.seek(start)
    return max(int(end) - start, 0)


#: The standard library's file readers whose seek to the end decompresses (an archive
#: member: a zip member, or a tar member, maybe of a compressed tar), as (module, class):
#: looked up in ``sys.modules`` only, since a file of theirs means the module was imported.
_DECOMPRESSING_READERS = (
    ("gzip", "GzipFile"),
    ("bz2", "BZ2File"),
    ("lzma", "LZMAFile"),
    ("compression.zstd", "ZstdFile"),
    ("backports.zstd", "ZstdFile"),
    ("zipfile", "ZipExtFile"),
    ("tarfile", "ExFileObject"),
)


def _descriptor(file: Any) -> int | None:
    """The descriptor behind a plain *file*, or None (a buffer over ``BytesIO`` has none)."""
    try:
        fd: int = file.fileno()
    except (OSError, ValueError):  # io.UnsupportedOperation
        return None
    return fd


def _decompresses(file: Any) -> bool:
    """Whether *file* is one of :data:`_DECOMPRESSING_READERS`."""
    for module, name in _DECOMPRESSING_READERS:
        reader = getattr(sys.modules.get(module), name, None)
        if reader is not None and isinstance(file, reader):
            return True
    return False


async def read_announced(
    file: Any, size: int | None, read: FileRead = read_in_place
) -> AsyncIterator[bytes]:
    """A binary *file*'s bytes, read with *read* in pieces of at most :data:`READ_SIZE`:
    exactly *size* bytes when a ``Content-Length`` announced them (more would be read by
    the server as another request), else to its end.

    A plain file is read by offset from its position, and left at the end of what was
    read, as ``read()`` would leave it: one ``tell()`` and one ``seek()`` for the whole
    file rather than a position moved per piece. Abandoned midway, it stays where it was.

    Raises:
        FileEndedError: the file ended before *size* bytes (a ``RuntimeError``).
    """
    base: int | None = None
    if _PREAD and type(file) in _PLAIN_FILES and file.seekable() and _descriptor(file) is not None:
        # (A BufferedRandom's unflushed writes all lie before its position.)
        base = file.tell()
    sent = 0
    while size is None or sent < size:
        want = READ_SIZE if size is None else min(READ_SIZE, size - sent)
        data = await read(file, want, None if base is None else base + sent)
        if not data:
            if size is None:
                break
            raise file_ended(file, sent, size)
        sent += len(data)
        yield bytes(data)
    if base is not None:
        # Only once all was read: a body abandoned midway is closed whenever its iterator
        # is finalised, and seeking then could move a position the caller has set since.
        file.seek(base + sent)


def file_ended(file: Any, sent: int, size: int) -> FileEndedError:
    """The error for a *file* that ended after *sent* of the *size* bytes announced."""
    return FileEndedError(
        f"file {short_repr(guess_filename(file, '?'))} ended after {sent} of {size} bytes"
    )


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
    value: str | bytes | FileSource | StreamSource | PayloadBase
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


def part_header_line(name: str, value: str) -> str:
    """``name: value`` for a part's header block, once *name* is a token and *value*
    cannot break the block.

    Raises:
        ValueError: either would.
    """
    if not is_token(name):
        raise ValueError(f"invalid part header name: {short_repr(name)}")
    check_header_value(f"{name} header", value)
    return f"{name}: {value}"


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
        stored: str | bytes | FileSource | StreamSource | PayloadBase
        if isinstance(value, io.IOBase):
            stored = FileSource(value, charset)
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
        elif isinstance(value, PayloadBase):
            # aiohttp would urlencode the payload's repr in a form without files; a part
            # is the only way to send its bytes. Its own headers (Content-Type...) go
            # with it; the filename is only what the caller gives, as in aiohttp.
            stored = value
            default_type = value.content_type
            self._is_multipart = True
        elif hasattr(value, "readany") or hasattr(value, "__aiter__"):
            stored = StreamSource(value)
            default_type = _OCTET_STREAM
            self._is_multipart = True  # only a multipart part can carry a stream
        else:
            raise TypeError(f"unsupported value for form field {name!r}: {short_repr(value)}")

        if filename is not None:
            self._is_multipart = True
        if content_type is None and isinstance(stored, PayloadBase):
            content_type = default_type  # the payload's own, whatever the filename
        elif content_type is None:
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
            return self._multipart_body()
        pairs = []
        for field in self._fields:
            streamed = isinstance(field.value, FileSource | StreamSource | PayloadBase)
            if streamed:  # pragma: no cover  # Defensive
                raise TypeError("a file object needs a multipart form")
            pairs.append((field.name, field.value))
        charset = self._charset or "utf-8"
        content_type = _URLENCODED
        if charset.lower().replace("_", "-") != "utf-8":
            content_type += f"; charset={charset}"
        return _fixed_body(content_type, encode_urlencoded(pairs, charset))

    def _multipart_body(self) -> Body:
        """The form as ``multipart/form-data`` (RFC 7578, RFC 2046 §5.1.1)."""
        charset = self._charset or "utf-8"
        # A random boundary cannot collide with the data by accident (2**-122);
        # hex digits need no quoting (RFC 2046 §5.1.1 bchars).
        boundary = uuid.uuid4().hex
        parts = []
        for field in self._fields:
            params = {"name": field.name}
            if field.filename is not None:
                params["filename"] = field.filename
            disposition = content_disposition_header("form-data", self._quote_fields, **params)
            # RFC 7578 §4.8: only Content-Disposition and Content-Type belong in a part;
            # WHATWG: names and filenames travel as UTF-8.
            extra = _payload_headers(field.value) if isinstance(field.value, PayloadBase) else ""
            head = (
                f"--{boundary}\r\n"
                f"Content-Disposition: {disposition}\r\n"
                f"Content-Type: {field.content_type}\r\n{extra}\r\n"
            ).encode()
            value: _Value
            if isinstance(field.value, PayloadBase):
                value = field.value._source()
            elif isinstance(field.value, str):
                value = _BytesValue(field.value.encode(charset))
            elif isinstance(field.value, bytes):
                value = _BytesValue(field.value)
            else:
                value = field.value
            parts.append(_PlannedPart(head, value, value.measure(), None, None))
        plan = _Plan(parts, boundary.encode("ascii"), close=True)
        return plan.body("multipart/form-data; boundary=" + boundary)


def _payload_headers(payload: PayloadBase) -> str:
    """A payload's own part header lines, other than the two a form part always has and
    ``Content-Length`` (aiohttp drops it from form parts too).

    Raises:
        ValueError: a coding header RFC 7578 §4.7/§4.8 leaves out of ``form-data``, or a
            header that would break the part head.
    """
    lines = []
    for name, value in payload.headers.items():
        lowered = name.lower()
        if lowered in ("content-type", "content-disposition", "content-length"):
            continue
        if lowered in ("content-encoding", "content-transfer-encoding"):
            raise ValueError(f"a form-data part cannot carry {name} (RFC 7578 §4.8)")
        lines.append(part_header_line(name, value) + "\r\n")
    return "".join(lines)


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

    async def chunks(read: FileRead = read_in_place) -> AsyncIterator[bytes]:
        yield data

    return Body(content_type, len(data), chunks)


def content_disposition_header(disptype: str, quote_fields: bool = True, **params: Any) -> str:
    """A ``Content-Disposition`` value; see
    :meth:`~.multipart.BodyPartWriter.set_content_disposition`."""
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
    """A multipart body frozen for sending (a ``FormData`` or a ``MultipartWriter``):
    part heads built and value sizes measured once, so that the bytes sent match the
    announced ``Content-Length``."""

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

    def body(self, content_type: str) -> Body:
        """This plan as a request body of *content_type*."""

        def chunks(read: FileRead = read_in_place) -> AsyncIterator[bytes]:
            self.rewind()  # raises here, when the request layer asks, if not replayable
            return self.chunks(read=read)

        # Only a body of known size (no codings, no streams) can go by sendfile.
        plan = self.sendfile_plan if self.size is not None else None
        return Body(content_type, self.size, chunks, self.replayable, plan)

    def sendfile_plan(self, min_range: int) -> list[bytes | FileRange] | None:
        """The body as bytes and file ranges, one of at least *min_range* bytes (see
        :attr:`Body.sendfile_plan`), or None. Nothing is read here."""
        if not self.replayable():
            return None  # chunks() says why
        flat: list[bytes | FileRange] = []
        if not self._flatten(flat) or not any(
            isinstance(piece, FileRange) and piece.count >= min_range for piece in flat
        ):
            return None
        self.rewind()
        pieces: list[bytes | FileRange] = []
        pending = bytearray()
        for piece in flat:
            if isinstance(piece, bytes):
                pending += piece
            else:
                if pending:
                    pieces.append(bytes(pending))
                    pending.clear()
                pieces.append(piece)
        pieces.append(bytes(pending))
        return pieces

    def _flatten(self, flat: list[bytes | FileRange]) -> bool:
        """Append this plan's bytes and file ranges to *flat*, in order; False if a part
        cannot be sent that way (a coding, a stream, a file the kernel cannot send)."""
        for part in self.parts:
            # A coded part leaves the size unknown, and no plan is asked for: this keeps
            # it so if that changes (its bytes are not the file's).
            if part.encoding or part.te_encoding:  # pragma: no cover  # Defensive
                return False
            flat.append(part.head)
            value = part.value
            if isinstance(value, _BytesValue):
                flat.append(value.data)
            elif isinstance(value, _Plan):
                if not value._flatten(flat):
                    return False
            elif isinstance(value, FileSource):
                piece = value.file_range(part.size)
                if piece is None:
                    return False
                value.consumed = True
                flat.append(piece)
            else:  # a stream: its length is unknown
                return False
            flat.append(b"\r\n")
        flat.append(self.closing)
        return True

    def measure(self) -> int | None:
        return self.size

    def rewind(self) -> None:
        for part in self.parts:
            part.value.rewind()

    def replayable(self) -> bool:
        return all(part.value.replayable() for part in self.parts)

    async def chunks(
        self, size: int | None = None, read: FileRead = read_in_place
    ) -> AsyncIterator[bytes]:
        pending = bytearray()  # small pieces are sent together
        for part in self.parts:
            pending += part.head
            pieces = part.value.chunks(part.size, read)
            if part.encoding or part.te_encoding:
                pieces = _encoded(pieces, part.encoding, part.te_encoding)
            try:
                async for piece in pieces:
                    if len(pending) + len(piece) <= READ_SIZE:
                        pending += piece
                        continue
                    if pending:
                        yield bytes(pending)
                        pending.clear()
                    yield piece
            finally:
                await close_pieces(pieces)
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

    try:
        async for piece in pieces:
            if out := transfer(compressor.compress(piece) if compressor else piece, False):
                yield out
    finally:
        await close_pieces(pieces)
    if out := transfer(compressor.flush() if compressor else b"", True):
        yield out
