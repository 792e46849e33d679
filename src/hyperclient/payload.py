"""Payloads: a body or a multipart part as an object (aiohttp 3's ``aiohttp.payload``).

This module owns the :class:`Payload` classes, the registry that picks one for a value
(:func:`get_payload`, :class:`payload_type`), and the adapter that lets a payload which
only knows how to ``write()`` itself be read by the request layer as an async iterator
of byte pieces. It does not build a second body pipeline: each built-in payload hands
the request layer (and :mod:`.formdata`/:mod:`.multipart`) one of the part values they
already send, so files are still read in bounded pieces, measured once and replayed
after a redirect exactly as when they are passed directly.

Like :mod:`.formdata`, it never imports asyncio. A payload subclass that only implements
``async def write(self, writer)`` is driven step by step by :func:`_drive_write` inside
the task that sends the request: each ``await writer.write(chunk)`` suspends ``write()``
and hands *chunk* to the sender, which resumes it only when the chunk has been written
(and the socket drained). Memory stays at one chunk, backpressure is the sender's, an
error or a cancellation travels through ``write()`` as through any awaited coroutine,
and no task is started, so none can leak.
"""

from __future__ import annotations

import enum
import io
import json
from abc import ABC, abstractmethod
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Generator,
    Iterable,
)
from typing import Any

from multidict import CIMultiDict

from .errors import ClientConnectionError, body_source_error, short_repr
from .fieldvalues import parse_content_type
from .formdata import (
    _OCTET_STREAM,
    Body,
    FileRead,
    FileSource,
    PayloadBase,
    StreamSource,
    _BytesValue,
    _Value,
    close_pieces,
    guess_filename,
    guess_type,
    read_in_place,
    source_body,
)

__all__ = (
    "PAYLOAD_REGISTRY",
    "AsyncIterablePayload",
    "BufferedReaderPayload",
    "BytesIOPayload",
    "BytesPayload",
    "IOBasePayload",
    "JsonPayload",
    "LookupError",
    "Order",
    "Payload",
    "PayloadRegistry",
    "StringIOPayload",
    "StringPayload",
    "TextIOPayload",
    "get_payload",
    "payload_type",
    "register_payload",
)


class _Sentinel(enum.Enum):
    NOT_GIVEN = enum.auto()


_NOT_GIVEN = _Sentinel.NOT_GIVEN


class LookupError(Exception):  # aiohttp's name: it shadows the builtin on purpose
    """No payload class is registered for the value's type (aiohttp's
    ``payload.LookupError``, which is not the builtin ``LookupError``)."""


class Order(enum.StrEnum):
    """Where a registration is tried: before, among or after the built-in ones."""

    normal = "normal"
    try_first = "try_first"
    try_last = "try_last"


class Payload(PayloadBase, ABC):
    """A body, or a multipart part, as an object (``aiohttp.Payload``).

    Pass one as ``session.post(url, data=payload)``: the request gets its headers (its
    ``Content-Type`` unless one was given, and any other header it carries), a
    ``Content-Length`` when :attr:`size` is known, else chunked framing. It can also be
    a :class:`~.multipart.MultipartWriter` part or a :class:`~.formdata.FormData` field
    value.

    A subclass implements ``async def write(self, writer)``, calling
    ``await writer.write(chunk)`` for each piece of bytes; it may set ``_size`` (or
    override :attr:`size`) when it knows its length in advance.

    Args:
        value: what the payload sends (kept as ``self._value``).
        headers: extra part headers; they replace the defaults.
        content_type: the ``Content-Type``; by default guessed from *filename*, else the
            class's default (``application/octet-stream``).
        filename: a file name, for ``Content-Disposition`` and the type guess.
        encoding: the text encoding, when the value is text.
    """

    _default_content_type: str = _OCTET_STREAM
    _size: int | None = None
    _consumed: bool = False
    _autoclose: bool = False

    def __init__(
        self,
        value: Any,
        headers: CIMultiDict[str] | dict[str, str] | Iterable[tuple[str, str]] | None = None,
        content_type: str | _Sentinel | None = _NOT_GIVEN,
        filename: str | None = None,
        encoding: str | None = None,
        **kwargs: Any,
    ) -> None:
        self._value = value
        self._encoding = encoding
        self._filename = filename
        if not isinstance(content_type, str):
            content_type = guess_type(filename, self._default_content_type)
        self._headers = CIMultiDict({"Content-Type": content_type})
        if headers:
            self._headers.update(headers)

    @property
    def size(self) -> int | None:
        """The length in bytes of what :meth:`write` sends, or None when unknown (then
        a request body goes chunked)."""
        return self._size

    @property
    def filename(self) -> str | None:
        """The file name given or guessed from a file object, if any."""
        return self._filename

    @property
    def encoding(self) -> str | None:
        """The text encoding, for text payloads."""
        return self._encoding

    @property
    def consumed(self) -> bool:
        """Whether the payload was sent in a way that cannot be repeated, or closed."""
        return self._consumed

    @property
    def autoclose(self) -> bool:
        """Whether :meth:`close` has nothing to release (no file to close)."""
        return self._autoclose

    @abstractmethod
    async def write(self, writer: Any) -> None:
        """Write the payload's bytes with ``await writer.write(chunk)``.

        Args:
            writer: the destination; its ``write(bytes)`` is awaitable.
        """

    async def write_with_length(self, writer: Any, content_length: int | None) -> None:
        """Write at most *content_length* bytes (all of them when None), aiohttp 3.12's
        variant of :meth:`write`.

        Args:
            writer: the destination.
            content_length: most bytes to write, or None.
        """
        if content_length is None:
            await self.write(writer)
        else:
            await self.write(_Truncating(writer, content_length))

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        """The payload as text.

        Raises:
            TypeError: the payload only knows how to :meth:`write` itself; use
                :meth:`as_bytes`.
        """
        raise TypeError(f"{type(self).__name__} cannot be decoded without writing it")

    async def as_bytes(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        """Everything :meth:`write` writes, in memory.

        Returns:
            The bytes.
        """
        collected = _Collector()
        await self.write(collected)
        return bytes(collected.data)

    async def close(self) -> None:
        """Release what the payload holds (a file object payload closes its file)."""

    def _source(self) -> _Value:
        """The payload's bytes as a part value: :meth:`write`, driven chunk by chunk."""
        return _WriteSource(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.content_type!r} size={self.size}>"


class _SourcePayload(Payload):
    """A built-in payload: its bytes come from a part value of :mod:`.formdata`, which
    :meth:`write` (and the request layer) read."""

    _part: _Value

    def _source(self) -> _Value:
        return self._part

    @property
    def size(self) -> int | None:
        """The length in bytes, or None when unknown (a text or unseekable file, a stream)."""
        return self._part.measure()

    @property
    def consumed(self) -> bool:
        """Whether the payload can no longer be sent (read once and not rewindable, or
        closed)."""
        return self._consumed or not self._part.replayable()

    async def write(self, writer: Any) -> None:
        """Write the payload (from its start again, if it was written before). A file is
        read here with ``read()``; a request that sends the payload reads it off the
        event loop instead (:mod:`hyperclient.filereads`).

        Raises:
            RuntimeError: an unseekable file or a stream that was already read.
        """
        part = self._part
        size = part.measure()
        part.rewind()
        async for chunk in part.chunks(size):
            await writer.write(chunk)


class BytesPayload(_SourcePayload):
    """Bytes (``bytes``, ``bytearray``, ``memoryview``), copied when the payload is made.

    Raises:
        TypeError: *value* is not bytes-like.
    """

    _autoclose = True

    def __init__(self, value: bytes | bytearray | memoryview, *args: Any, **kwargs: Any) -> None:
        if not isinstance(value, bytes | bytearray | memoryview):
            raise TypeError(f"value argument must be byte-ish, not {type(value)!r}")
        kwargs.setdefault("content_type", _OCTET_STREAM)
        data = bytes(value)
        super().__init__(data, *args, **kwargs)
        self._part = _BytesValue(data)

    @property
    def size(self) -> int:
        """The length in bytes."""
        return len(self._value)

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        """The bytes decoded with *encoding*."""
        text: str = self._value.decode(encoding, errors)
        return text

    async def as_bytes(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        """The bytes."""
        data: bytes = self._value
        return data


def text_encoding(encoding: str | None, content_type: str | None) -> tuple[str, str]:
    """The charset to encode text with and the ``Content-Type``, as aiohttp picks them:
    *encoding* names both; else the content type's ``charset``; else UTF-8."""
    if encoding is not None:
        return encoding, content_type or f"text/plain; charset={encoding}"
    if content_type is None:
        return "utf-8", "text/plain; charset=utf-8"
    return parse_content_type(content_type)[1].get("charset") or "utf-8", content_type


class StringPayload(BytesPayload):
    """Text, encoded once when the payload is made (``text/plain; charset=utf-8`` by
    default; *encoding*, or the ``charset`` of *content_type*, picks the encoding)."""

    def __init__(
        self,
        value: str,
        *args: Any,
        encoding: str | None = None,
        content_type: str | None = None,
        **kwargs: Any,
    ) -> None:
        charset, content_type = text_encoding(encoding, content_type)
        super().__init__(
            value.encode(charset), *args, encoding=charset, content_type=content_type, **kwargs
        )


class StringIOPayload(StringPayload):
    """A text stream, read to its end when the payload is made."""

    def __init__(self, value: io.StringIO | Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(value.read(), *args, **kwargs)


class IOBasePayload(_SourcePayload):
    """A file object, read in bounded pieces when sent and never before; sent again from
    where it stood when the payload was made (after a redirect), if it is seekable.

    Args:
        value: the file object (binary here; see :class:`TextIOPayload`).
        disposition: the ``Content-Disposition`` type set when the file has a name
            (``"attachment"``); None for no header.
    """

    def __init__(
        self, value: Any, disposition: str | None = "attachment", *args: Any, **kwargs: Any
    ) -> None:
        if "filename" not in kwargs:
            kwargs["filename"] = guess_filename(value, "") or None
        super().__init__(value, *args, **kwargs)
        self._part = FileSource(value, self._encoding or "utf-8")
        if (
            self._filename is not None
            and disposition is not None
            and "Content-Disposition" not in self._headers
        ):
            self.set_content_disposition(disposition, filename=self._filename)

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        """The file from its start position, read whole (blocking) and decoded."""
        data = self._read_all()
        return data if isinstance(data, str) else data.decode(encoding, errors)

    def _read_all(self) -> str | bytes:
        self._part.rewind()
        data: str | bytes = self._value.read()
        return data

    async def close(self) -> None:
        """Close the file (once the request that sent it is done with it)."""
        self._consumed = True
        self._value.close()


class TextIOPayload(IOBasePayload):
    """A text file object, encoded while it is sent (*encoding*, or the ``charset`` of
    *content_type*, else UTF-8). Its length in bytes is unknown, so a request body goes
    chunked."""

    def __init__(
        self,
        value: Any,
        *args: Any,
        encoding: str | None = None,
        content_type: str | None = None,
        **kwargs: Any,
    ) -> None:
        charset, content_type = text_encoding(encoding, content_type)
        super().__init__(value, *args, content_type=content_type, encoding=charset, **kwargs)

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        """The text from the start position, read whole (blocking)."""
        text = self._read_all()
        return text if isinstance(text, str) else text.decode(encoding, errors)


class BytesIOPayload(IOBasePayload):
    """A ``BytesIO``, sent from the position it had when the payload was made."""

    _autoclose = True

    async def close(self) -> None:
        """Nothing to release: the buffer is in memory (and stays readable)."""


class BufferedReaderPayload(IOBasePayload):
    """A buffered binary file (``open(path, "rb")``)."""


class JsonPayload(BytesPayload):
    """*value* serialised with *dumps* and encoded with *encoding* (``application/json``).

    Args:
        value: what to serialise.
        encoding: the text encoding of the serialised JSON.
        content_type: the ``Content-Type``.
        dumps: the serialiser, returning a str (``json.dumps`` by default).
    """

    def __init__(
        self,
        value: Any,
        encoding: str = "utf-8",
        content_type: str = "application/json",
        dumps: Callable[[Any], str] = json.dumps,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            dumps(value).encode(encoding),
            *args,
            content_type=content_type,
            encoding=encoding,
            **kwargs,
        )


class AsyncIterablePayload(_SourcePayload):
    """An async iterable of bytes (or a stream with ``readany()`` such as a response's
    ``content``): of unknown length (chunked) and sent once, unless :meth:`as_bytes`
    read it into memory first.

    Raises:
        TypeError: *value* is not an async iterable.
    """

    _autoclose = True

    def __init__(self, value: AsyncIterable[bytes] | Any, *args: Any, **kwargs: Any) -> None:
        if not isinstance(value, AsyncIterable) and not hasattr(value, "readany"):
            raise TypeError(
                "value argument must support collections.abc.AsyncIterable interface, "
                f"got {type(value)!r}"
            )
        kwargs.setdefault("content_type", _OCTET_STREAM)
        super().__init__(value, *args, **kwargs)
        self._part = StreamSource(value)

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        """The bytes :meth:`as_bytes` read, decoded.

        Raises:
            TypeError: :meth:`as_bytes` was not called first.
        """
        if isinstance(self._part, _BytesValue):
            return self._part.data.decode(encoding, errors)
        raise TypeError("Unable to decode - content not cached. Call as_bytes() first.")

    async def as_bytes(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        """The whole stream, read into memory once; the payload then sends these bytes
        (and can be sent again).

        Returns:
            The bytes.
        """
        part = self._part
        if isinstance(part, StreamSource):
            part = self._part = _BytesValue(await super().as_bytes())
        assert isinstance(part, _BytesValue)  # read once; from then on these bytes
        return part.data


# -- driving a write()-only payload ---------------------------------------------------------


class _Handoff:
    """What ``await writer.write(chunk)`` yields to :func:`_drive_write`: the chunk,
    addressed to the writer that sent it."""

    __slots__ = ("data", "writer")

    def __init__(self, writer: _Writer, data: bytes) -> None:
        self.writer = writer
        self.data = data

    def __await__(self) -> Generator[Any, None, None]:
        yield self

    def __repr__(self) -> str:
        # What asyncio prints ("Task got bad yield") if write() hands the writer to
        # another task: it must be awaited in the task that runs Payload.write().
        return "<payload writer.write() awaited outside the task sending the request>"


class _Bounce:
    """Pass what ``write()`` yielded (a future it waits on) up to the event loop."""

    __slots__ = ("yielded",)

    def __init__(self, yielded: Any) -> None:
        self.yielded = yielded

    def __await__(self) -> Generator[Any, Any, Any]:
        return (yield self.yielded)


class _Writer:
    """The *writer* a write()-only payload is given while a request sends it: what it
    writes goes out as the request body, one chunk at a time."""

    def __init__(self) -> None:
        self.output_size = 0  # bytes handed over so far, as aiohttp's StreamWriter counts

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        """Send *chunk*; returns once it is written (and the socket drained)."""
        if chunk:
            data = bytes(chunk)  # a bytearray may be reused by the caller once we return
            self.output_size += len(data)
            await _Handoff(self, data)

    async def drain(self) -> None:
        """Nothing to wait for: :meth:`write` returns once its chunk has been written."""

    async def write_eof(self, chunk: bytes = b"") -> None:
        """Write a last *chunk*; the request layer ends the body itself."""
        await self.write(chunk)


async def _drive_write(payload: Payload) -> AsyncGenerator[bytes, None]:
    """The bytes ``payload.write(writer)`` writes, pulled one chunk at a time.

    ``write()`` runs inside this generator, in the sending task, until it awaits
    ``writer.write(chunk)``: the chunk is yielded to the consumer, and ``write()`` stays
    suspended until the consumer asks for the next one. Anything else ``write()`` waits
    on goes up to the event loop, and the loop's answer (or a cancellation) comes back
    down to it. If the consumer stops early, closing this generator closes ``write()``,
    so its ``finally`` blocks run.

    Raises:
        ClientOSError: ``write()`` raised an ``OSError`` with an errno (as aiohttp).
        ClientConnectionError: ``write()`` raised another exception (its cause), as
            aiohttp reports a payload that fails while it is sent.
    """
    writer = _Writer()
    coro = payload.write(writer)
    to_send: Any = None
    to_throw: BaseException | None = None
    try:
        while True:
            try:
                if to_throw is not None:
                    exc, to_throw = to_throw, None
                    yielded = coro.throw(exc)
                else:
                    yielded = coro.send(to_send)
            except StopIteration:
                return
            except OSError as exc:
                if exc.errno is None or isinstance(exc, ClientConnectionError):
                    raise
                raise body_source_error(
                    exc, f"{type(payload).__name__}.write() raised {short_repr(exc)}"
                ) from exc
            except Exception as exc:
                if isinstance(exc, ClientConnectionError):
                    raise
                raise ClientConnectionError(
                    f"failed to send the request body: {type(payload).__name__}.write() "
                    f"raised {exc!r}"
                ) from exc
            to_send = None
            if isinstance(yielded, _Handoff) and yielded.writer is writer:
                yield yielded.data
                continue
            try:
                to_send = await _Bounce(yielded)
            except BaseException as exc:  # a cancellation (or the loop's error) goes to write()
                to_throw = exc
    finally:
        coro.close()


async def exactly(
    pieces: AsyncIterator[bytes],
    size: int,
    what: str,
    announced: str = "size",
    *,
    stop_at_size: bool = False,
) -> AsyncIterator[bytes]:
    """*pieces*, checked to add up to the *size* announced as ``Content-Length``: more or
    fewer bytes would desynchronise the connection (RFC 9112 §6.3), so either fails the
    request (``ClientConnectionError``) and the connection is not reused. The piece that
    would go past *size* is not sent.

    Args:
        what: who produces the pieces, for the message.
        announced: where *size* comes from, for the message: the payload's ``size`` or
            the caller's ``Content-Length``.
        stop_at_size: end once *size* bytes went by, without asking *pieces* for more
            (it is closed): a live pipe or queue may stay open long after them, and the
            request is whole.
    """
    sent = 0
    try:
        if stop_at_size and not size:
            return
        async for piece in pieces:
            sent += len(piece)
            if sent > size:
                raise ClientConnectionError(f"{what} wrote more than its {announced}, {size} bytes")
            yield piece
            if stop_at_size and sent == size:
                return
    finally:
        await close_pieces(pieces)
    if sent != size:
        raise ClientConnectionError(
            f"{what} wrote {sent} bytes, expected its {announced}, {size} bytes"
        )


class _WriteSource:
    """A payload's ``write()`` as a part value (see :func:`_drive_write`). It can be
    written again (after a redirect) unless the payload says it is consumed."""

    def __init__(self, payload: Payload) -> None:
        self.payload = payload

    def measure(self) -> int | None:
        return self.payload.size

    def replayable(self) -> bool:
        return not self.payload.consumed

    def rewind(self) -> None:
        if self.payload.consumed:
            raise RuntimeError(
                f"{type(self.payload).__name__} payload is consumed and cannot be sent again"
            )

    def chunks(self, size: int | None, read: FileRead = read_in_place) -> AsyncIterator[bytes]:
        # A payload's own write() reads what it holds as it sees fit (read unused).
        pieces = _drive_write(self.payload)
        if size is None:
            return pieces
        return exactly(pieces, size, f"{type(self.payload).__name__}.write()")


class _Collector:
    """A writer that keeps what is written (``as_bytes``)."""

    def __init__(self) -> None:
        self.data = bytearray()

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        self.data += chunk

    async def drain(self) -> None:
        """Nothing to wait for."""

    async def write_eof(self, chunk: bytes = b"") -> None:
        self.data += chunk


class _Truncating:
    """A writer passing on at most *limit* bytes (``write_with_length``)."""

    def __init__(self, writer: Any, limit: int) -> None:
        self.writer = writer
        self.left = limit

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        if self.left > 0:
            piece = chunk[: self.left]
            self.left -= len(piece)
            await self.writer.write(piece)

    async def drain(self) -> None:
        """Nothing to wait for."""

    async def write_eof(self, chunk: bytes = b"") -> None:
        await self.write(chunk)


def payload_body(payload: Payload) -> Body:
    """*payload* as a request body (see :func:`.formdata.source_body`): a file payload
    goes by sendfile as the same plain file passed as ``data=`` does."""
    return source_body(payload.content_type, payload._source())


# -- the registry --------------------------------------------------------------------------

_Factory = Callable[..., Payload]


class PayloadRegistry:
    """Which payload class wraps a value of which type (``aiohttp.payload.PayloadRegistry``).

    Registrations are tried in three groups: ``Order.try_first``, then ``Order.normal``
    (the exact type first, then ``isinstance``), then ``Order.try_last``.
    """

    def __init__(self) -> None:
        self._first: list[tuple[_Factory, Any]] = []
        self._normal: list[tuple[_Factory, Any]] = []
        self._last: list[tuple[_Factory, Any]] = []
        self._by_type: dict[type, _Factory] = {}

    def get(self, data: Any, *args: Any, **kwargs: Any) -> Payload:
        """The payload for *data*, made by the first matching factory with *args* and
        *kwargs*; *data* itself when it is already a payload (and no ``try_first``
        registration claims it).

        Raises:
            LookupError: no registration matches.
        """
        for factory, type_ in self._first:
            if isinstance(data, type_):
                return factory(data, *args, **kwargs)
        exact = self._by_type.get(type(data))
        if exact is not None:
            return exact(data, *args, **kwargs)
        if isinstance(data, Payload):
            return data
        for factory, type_ in (*self._normal, *self._last):
            if isinstance(data, type_):
                return factory(data, *args, **kwargs)
        raise LookupError(f"no payload is registered for {type(data).__name__}")

    def register(self, factory: _Factory, type: Any, *, order: Order = Order.normal) -> None:
        """Register *factory* for *type* (a type or a tuple of types).

        Raises:
            ValueError: *order* is not an :class:`Order`.
        """
        if order is Order.try_first:
            self._first.append((factory, type))
        elif order is Order.normal:
            self._normal.append((factory, type))
            for each in type if isinstance(type, tuple) else (type,):
                self._by_type[each] = factory
        elif order is Order.try_last:
            self._last.append((factory, type))
        else:
            raise ValueError(f"unsupported order {short_repr(order)}")


def get_payload(data: Any, *args: Any, **kwargs: Any) -> Payload:
    """The payload :data:`PAYLOAD_REGISTRY` makes for *data* (extra arguments go to the
    payload class).

    Raises:
        LookupError: no payload class is registered for *data*'s type.
    """
    return PAYLOAD_REGISTRY.get(data, *args, **kwargs)


def register_payload(factory: _Factory, type: Any, *, order: Order = Order.normal) -> None:
    """Register *factory* for values of *type* in :data:`PAYLOAD_REGISTRY`."""
    PAYLOAD_REGISTRY.register(factory, type, order=order)


class payload_type:
    """Class decorator registering a payload class for values of *type*::

        @payload_type(Point)
        class PointPayload(hyperclient.JsonPayload): ...

    Args:
        type: a type, or a tuple of types.
        order: where the registration is tried (:class:`Order`).
    """

    def __init__(self, type: Any, *, order: Order = Order.normal) -> None:
        self.type = type
        self.order = order

    def __call__(self, factory: type[Payload]) -> type[Payload]:
        register_payload(factory, self.type, order=self.order)
        return factory


#: The registry :func:`get_payload` consults, with the built-in classes registered.
PAYLOAD_REGISTRY = PayloadRegistry()
PAYLOAD_REGISTRY.register(BytesPayload, (bytes, bytearray, memoryview))
PAYLOAD_REGISTRY.register(StringPayload, str)
PAYLOAD_REGISTRY.register(StringIOPayload, io.StringIO)
PAYLOAD_REGISTRY.register(TextIOPayload, io.TextIOBase)
PAYLOAD_REGISTRY.register(BytesIOPayload, io.BytesIO)
PAYLOAD_REGISTRY.register(BufferedReaderPayload, (io.BufferedReader, io.BufferedRandom))
PAYLOAD_REGISTRY.register(IOBasePayload, io.IOBase)
PAYLOAD_REGISTRY.register(AsyncIterablePayload, AsyncIterable, order=Order.try_last)
