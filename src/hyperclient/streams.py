"""The response body stream: ``resp.content``.

``StreamReader`` owns the bytes of one response body between the socket and the reader:
it buffers what the protocol feeds it, wakes the reader, and applies flow control in both
directions: past ``high_water`` buffered bytes it asks the protocol to stop reading from
the socket, and once the reader drains it below ``low_water`` it lets the protocol read
again. It never touches a transport itself.

Content decoding (gzip, br, ...) happens here, lazily, on the reader's side: the protocol
feeds the bytes as they came off the wire and the reader pulls decoded pieces of at most
``limit`` bytes, so a body that decompresses a thousand-fold never sits in memory whole.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from .errors import ClientPayloadError, RemoteProtocolError

__all__ = ("EMPTY_PAYLOAD", "EofStream", "FlowControl", "StreamReader")

DEFAULT_LIMIT = 2**16


class EofStream(Exception):
    """Raised by ``readany`` style calls used as iterators when the stream is finished."""


class FlowControl(Protocol):
    """What a stream needs from the protocol feeding it."""

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


class Decoder(Protocol):
    """What a stream needs from a content decoder (see ``compression``)."""

    def decompress(self, data: bytes, max_length: int) -> bytes: ...

    def has_pending(self) -> bool: ...

    def finish(self) -> bytes: ...


class StreamReader:
    """An async byte stream of one response body, with flow control.

    Args:
        protocol: told to pause/resume reading as the buffer fills and drains.
        limit: the buffer size in bytes; reading pauses above four times this and
            resumes below it; also above ``limit / 16`` buffered pieces, resuming below
            a quarter of that.
        loop: the running loop.
    """

    __slots__ = (
        "_buffer",
        "_chunk_ends",
        "_decoder",
        "_eof",
        "_eof_callbacks",
        "_exception",
        "_high_pieces",
        "_high_water",
        "_loop",
        "_low_water",
        "_paused",
        "_pos",
        "_protocol",
        "_raw",
        "_raw_size",
        "_reading_all",
        "_size",
        "_total_bytes",
        "_total_decoded",
        "_waiter",
    )

    def __init__(
        self,
        protocol: FlowControl | None,
        limit: int = DEFAULT_LIMIT,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._protocol = protocol
        self._loop = loop if loop is not None else asyncio.get_running_loop()
        self._buffer: collections.deque[bytes] = collections.deque()
        self._pos = 0
        self._size = 0
        # Hysteresis: the transport reads up to 256 KiB at a time, so a high-water mark of
        # twice a 64 KiB buffer paused and resumed reading (two epoll_ctl calls) on nearly
        # every read of a large body. Four buffers' worth bounds memory just as well.
        self._high_water = limit * 4
        self._low_water = limit
        # Pieces count too (one per socket read, or per chunk of a chunked body): one
        # costs about 90 bytes besides its data (a deque slot, the bytes object, a chunk
        # end), so a body of 1-byte chunks would hold 90 times what the bytes count says.
        # Past limit/16 pieces (+64 for tiny limits) reading pauses, as aiohttp's does
        # (_high_water_chunks); it resumes below a quarter of that.
        self._high_pieces = (limit >> 4) + 64
        self._eof = False
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None
        # read() is collecting the whole body: wake it at the end only, never pause.
        self._reading_all = False
        self._exception: BaseException | None = None
        self._total_bytes = 0
        self._total_decoded = 0
        # Where the server's chunks end, in body bytes; a queue of its own once one does.
        self._chunk_ends: collections.deque[int] = _NO_ENDS
        self._eof_callbacks: list[Callable[[], None]] = []
        self._decoder: Decoder | None = None
        # Bytes waiting to be decoded; a queue of its own only once a decoder is set.
        self._raw: collections.deque[bytes] = _NO_RAW
        self._raw_size = 0

    def __repr__(self) -> str:
        state = "eof" if self._eof else f"{self._size} bytes"
        return f"<StreamReader {state}>"

    # -- the producer's side (the protocol) ----------------------------------------------

    def set_decoder(self, decoder: Decoder) -> None:
        """Decode the body with *decoder*, lazily as it is read.

        Bytes fed before the call (the head and first body bytes often arrive together)
        are decoded too.
        """
        self._decoder = decoder
        # Chunk ends are positions in body bytes, which decoding shifts (see end_http_chunk).
        self._chunk_ends = _NO_ENDS
        if self._raw is _NO_RAW:
            self._raw = collections.deque()
        if self._buffer:
            self._normalise_head()
            self._raw.extend(self._buffer)
            self._raw_size += self._size
            self._buffer.clear()
            self._size = 0

    def feed_data(self, data: bytes) -> None:
        """Append body bytes as they came off the wire."""
        size = len(data)
        self._total_bytes += size
        if self._decoder is None:
            buf = self._buffer
            self._size += size
        else:
            buf = self._raw
            self._raw_size += size
        buf.append(data)
        if self._reading_all:
            if len(buf) <= self._high_pieces:
                return  # read() sleeps until the end (see _read_to_end)
        elif not self._paused and (
            self._size + self._raw_size > self._high_water or len(buf) > self._high_pieces
        ):
            self._paused = True
            if self._protocol is not None:
                self._protocol.pause_reading()
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def feed_eof(self) -> None:
        """The body is complete: wake the reader and run the EOF callbacks."""
        self._eof = True
        # From here on the protocol may serve another response: never touch it again.
        self._protocol = None
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        callbacks, self._eof_callbacks = self._eof_callbacks, []
        for cb in callbacks:
            cb()

    def set_exception(self, exc: BaseException) -> None:
        """Fail the stream: pending and later reads raise *exc* (the first error wins)."""
        if self._exception is not None:
            return
        self._exception = exc
        self._protocol = None
        self._eof_callbacks.clear()
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_exception(exc)

    def on_eof(self, callback: Callable[[], None]) -> None:
        """Call *callback* once the body is complete (at once if it already is)."""
        if self._eof:
            callback()
        else:
            self._eof_callbacks.append(callback)

    # -- state -----------------------------------------------------------------------------

    def exception(self) -> BaseException | None:
        """The error the stream failed with, if any."""
        return self._exception

    def is_eof(self) -> bool:
        """True once the producer signalled the end of the body."""
        return self._eof

    def at_eof(self) -> bool:
        """True when the body is complete and every byte has been read."""
        if not self._eof or self._size:
            return False
        if self._decoder is None:
            return True
        # Decoding ends with a check that every coding reached its end marker: until it
        # passed, a truncated body would look complete to a loop on at_eof(). So decode
        # (one buffer's worth at most) and see: _fill stops at decoded bytes or after
        # the check, which drops the decoder.
        if self._exception is not None:
            return False
        try:
            self._fill()
        except ClientPayloadError:
            return False  # kept as the stream's error: the next read raises it
        return self._is_drained()

    def _is_drained(self) -> bool:
        return self._decoder is None and not self._size

    def get_read_buffer_limits(self) -> tuple[int, int]:
        """``(low, high)``: reading pauses above *high* buffered bytes and resumes below
        *low* (aiohttp's method; *low* is the ``read_bufsize``)."""
        return self._low_water, self._high_water

    @property
    def total_bytes(self) -> int:
        """Bytes of the body so far, decoded (as aiohttp counts them); without a
        ``Content-Encoding``, what :attr:`total_raw_bytes` says."""
        if self._raw is _NO_RAW:
            return self._total_bytes  # never decoded (a decoder, once done, is dropped)
        return self._total_decoded

    @property
    def total_raw_bytes(self) -> int:
        """Bytes received from the wire so far, before decoding (progress against
        ``Content-Length``)."""
        return self._total_bytes

    async def wait_eof(self) -> None:
        """Wait until the whole body has arrived (it stays buffered)."""
        while not self._eof:
            if self._exception is not None:
                raise self._exception
            if self._paused:
                self._resume()  # the body must come in whole, whatever is buffered
            await self._wait("wait_eof")

    def _has_pending(self) -> bool:
        return self._decoder is not None and self._decoder.has_pending()

    # -- the consumer's side -----------------------------------------------------------------

    async def _wait(self, func_name: str) -> None:
        if self._waiter is not None:
            raise RuntimeError(
                f"{func_name}() called while another coroutine is already waiting for data"
            )
        waiter = self._waiter = self._loop.create_future()
        try:
            await waiter
        finally:
            self._waiter = None

    def _decode_more(self) -> None:
        """Move decoded bytes from the raw queue until some are buffered, at most one
        buffer's worth per step."""
        decoder = self._decoder
        assert decoder is not None
        limit = self._low_water or DEFAULT_LIMIT  # read_bufsize=0: the codecs need a bound
        try:
            while not self._size and self._decoder is not None:
                if decoder.has_pending():
                    out = decoder.decompress(b"", limit)
                elif self._raw:
                    data = self._raw.popleft()
                    self._raw_size -= len(data)
                    out = decoder.decompress(data, limit)
                elif self._eof:
                    out = decoder.finish()
                    self._decoder = None  # done: the loop ends after this last piece
                else:
                    return
                if out:
                    self._buffer.append(out)
                    self._size += len(out)
                    self._total_decoded += len(out)
        except RemoteProtocolError as exc:
            err = ClientPayloadError(f"{exc.message}")
            err.__cause__ = exc
            self._exception = err
            raise err from exc
        finally:
            # Raw input that decoded to nothing (a long gzip comment, zstd skippable
            # frames, brotli metadata) was taken too: reading may have to resume, or it
            # would stay paused with nothing left for the consumer to take.
            if self._paused and self._below_low_water():
                self._resume()

    def _fill(self) -> None:
        """Make decoded data available if there is raw input and none is buffered
        (no-op without a decoder)."""
        if self._decoder is not None and not self._size:
            self._decode_more()

    async def _ensure_data(self, func_name: str) -> bool:
        """Wait until some bytes are buffered; False at the end of the body. Reading
        resumes before waiting if it was paused: the wait would never end."""
        while True:
            if self._exception is not None:
                raise self._exception
            self._fill()
            if self._size:
                return True
            if self._eof and not self._raw_size and not self._has_pending():
                if self._decoder is not None:
                    self._fill()
                    return self._size > 0
                return False
            if self._paused:
                self._resume()
            await self._wait(func_name)

    def _consumed(self, n: int) -> None:
        self._size -= n
        ends = self._chunk_ends
        if ends:
            # Forget the chunk ends the read position went past: readchunk() skips them
            # anyway, and kept for the whole body they grew with every chunk received.
            # One at the read position stays: readchunk() reports it, as aiohttp does.
            done = self._total_bytes - self._size
            while ends and ends[0] < done:
                ends.popleft()
        if self._paused and self._below_low_water():
            self._resume()

    def _below_low_water(self) -> bool:
        return (
            self._size + self._raw_size < self._low_water
            and len(self._buffer) + len(self._raw) <= self._high_pieces >> 2
        )

    def _resume(self) -> None:
        self._paused = False
        if self._protocol is not None:
            self._protocol.resume_reading()

    def _take(self, n: int) -> bytes:
        """Remove up to *n* buffered bytes (-1 = everything buffered).

        The first buffered chunk is consumed through an offset (``_pos``), so taking small
        pieces of a large chunk copies each byte once, not the remainder every time.
        """
        buf = self._buffer
        pos = self._pos
        if n < 0 or n >= self._size:
            first = buf.popleft()
            if not buf:
                data = first[pos:] if pos else first
            else:
                parts: list[bytes | memoryview] = [memoryview(first)[pos:] if pos else first]
                parts.extend(buf)
                buf.clear()
                data = b"".join(parts)
            self._pos = 0
        else:
            first = buf[0]
            avail = len(first) - pos
            if avail > n:
                data = first[pos : pos + n]
                self._pos = pos + n
            elif avail == n:
                data = first[pos:] if pos else first
                buf.popleft()
                self._pos = 0
            else:
                data = self._take_across(n)
        self._consumed(len(data))
        return data

    def _take_across(self, n: int) -> bytes:
        """Take *n* bytes spanning several buffered chunks."""
        buf = self._buffer
        parts: list[bytes] = []
        remaining = n
        while remaining:
            chunk = buf[0]
            pos = self._pos
            avail = len(chunk) - pos
            if avail <= remaining:
                parts.append(chunk[pos:] if pos else chunk)
                buf.popleft()
                self._pos = 0
                remaining -= avail
            else:
                parts.append(chunk[pos : pos + remaining])
                self._pos = pos + remaining
                remaining = 0
        return b"".join(parts)

    def _normalise_head(self) -> None:
        """Drop the consumed prefix of the first chunk (before reshaping the buffer)."""
        if self._pos:
            self._buffer[0] = self._buffer[0][self._pos :]
            self._pos = 0

    def read_complete(self) -> bytes | None:
        """The rest of the body when all of it is here already, else None.

        The common case of a small response, whose body arrived with its head: read
        without a coroutine. None when the body is still arriving, is being decoded, or
        the stream failed (then :meth:`read` is the way, and raises the error).
        """
        if (
            not self._eof
            or self._decoder is not None
            or self._exception is not None
            or self._waiter is not None
        ):
            return None
        return self._take(-1) if self._size else b""

    async def read(self, n: int = -1) -> bytes:
        """Read up to *n* bytes; with *n* < 0 read the whole remaining body."""
        if n == 0:
            return b""
        if n < 0:
            data = self.read_complete()
            if data is not None:
                return data
            if self._decoder is None:
                return await self._read_to_end()
            parts: list[bytes] = []
            try:
                while await self._ensure_data("read"):
                    parts.append(self._take(-1))
            except BaseException:
                if parts:  # cancelled (or failed): the next read starts where this one did
                    self.unread_data(b"".join(parts))
                raise
            if len(parts) == 1:
                return parts[0]
            return b"".join(parts)
        if not await self._ensure_data("read"):
            return b""
        return self._take(n)

    async def _read_to_end(self) -> bytes:
        """``read()`` of an undecoded body: sleep until its end, then take it in one piece.

        One wake-up per body instead of one per socket read (a 1 MiB body arrives in four
        or more reads). Reading is not paused meanwhile: the whole body is being collected
        in memory anyway, so the buffer limit would only stall it.
        """
        self._reading_all = True
        if self._paused:
            self._resume()
        # A body of many tiny pieces (1-byte chunks) wakes us every _high_pieces pieces
        # to join them, or it would cost ~90 bytes per byte (see __init__).
        blocks: list[bytes] = []
        try:
            while not self._eof and self._exception is None:
                await self._wait("read")
                if len(self._buffer) > self._high_pieces:
                    blocks.append(self._take(-1))
            if self._exception is not None:
                raise self._exception
        except BaseException:
            if blocks:  # cancelled (or failed): the next read starts where this one did
                self.unread_data(b"".join(blocks))
            raise
        finally:
            self._reading_all = False
        if blocks:
            if self._size:
                blocks.append(self._take(-1))
            return b"".join(blocks)
        return self._take(-1) if self._size else b""

    async def readany(self) -> bytes:
        """Read whatever is buffered (waiting for at least one byte); b"" at the end."""
        if not await self._ensure_data("readany"):
            return b""
        return self._take(-1)

    async def readchunk(self) -> tuple[bytes, bool]:
        """Read a piece of the body as received; returns ``(data, end_of_http_chunk)``.

        As in aiohttp: for a chunked body without a ``Content-Encoding``, a piece that
        ends one of the server's chunks comes with True (those bytes end where the chunk
        does); other pieces, and every piece of other bodies, with False.
        ``(b"", False)`` marks the end of the body.
        """
        ends = self._chunk_ends
        while ends:
            read_so_far = self._total_bytes - self._size
            end = ends[0]
            if end < read_so_far:
                ends.popleft()  # another read went past it
                continue
            ends.popleft()
            return self._take(end - read_so_far) if end > read_so_far else b"", True
        if not await self._ensure_data("readchunk"):
            return b"", False
        if self._chunk_ends:
            return await self.readchunk()  # a chunk ended while we waited
        self._normalise_head()
        data = self._buffer.popleft()
        self._consumed(len(data))
        return data, False

    def end_http_chunk(self) -> None:
        """The producer's mark: the bytes fed so far end one of the server's chunks."""
        if self._decoder is None:  # positions are in body bytes; decoded ones would shift
            if self._chunk_ends is _NO_ENDS:
                self._chunk_ends = collections.deque()
            self._chunk_ends.append(self._total_bytes)

    async def readexactly(self, n: int) -> bytes:
        """Read exactly *n* bytes or raise ``asyncio.IncompleteReadError``."""
        if n < 0:
            raise ValueError(f"readexactly size can not be less than zero: {n}")
        parts: list[bytes] = []
        got = 0
        try:
            while got < n:
                if not await self._ensure_data("readexactly"):
                    break
                data = self._take(n - got)
                parts.append(data)
                got += len(data)
        except BaseException:
            # Cancelled or timed out part way: nothing is lost, the next read starts with
            # the bytes this one had taken (as asyncio's StreamReader keeps them).
            self.unread_data(b"".join(parts))
            raise
        if got < n:
            raise asyncio.IncompleteReadError(b"".join(parts), n)
        return b"".join(parts)

    async def readuntil(self, separator: bytes = b"\n", *, max_size: int | None = None) -> bytes:
        """Read up to and including *separator* (or to the end of the body).

        The buffered bytes are searched where they lie, each once, and only the line is
        taken: a body of many short lines costs no more than reading it. A line that has
        to wait for more of the body is taken into one growing buffer as it arrives, so
        each byte (and each piece it came in) is searched once however slowly the line
        comes, and a line of tiny pieces costs its bytes, not a deque slot and a bytes
        object each.

        Raises:
            ValueError: the separator came after *max_size* bytes (default 16 times the
                buffer limit; that line is dropped), or *max_size* bytes went by without
                it (nothing is taken); aiohttp 3's ``max_size`` argument.
        """
        if not separator:
            raise ValueError("separator should be at least one-byte string")
        limit = max_size or self._high_water * 16
        end = self._find(separator) if self._size else -1
        if end != -1:
            if end > limit:
                self._take(end)  # the next read starts after that line, as in aiohttp
                raise ValueError(f"line of {end} bytes is longer than the limit, {limit} bytes")
            return self._take(end)
        return await self._readuntil_waiting(separator, limit)

    async def _readuntil_waiting(self, separator: bytes, limit: int) -> bytes:
        """readuntil() of a line that is not all here (the buffered bytes hold no
        separator): they are taken into *line*, and so is what each wake-up brings once
        searched, through the seam with the last ``len(separator) - 1`` bytes of *line*.
        If the read fails or is cancelled, what it took is pushed back (the chunk ends
        within it are forgotten)."""
        keep = len(separator) - 1  # the bytes of *line* a separator may begin in
        line = bytearray()
        try:
            while True:
                if len(line) + self._size > limit:
                    raise ValueError(
                        f"read {len(line) + self._size} bytes without {separator!r}, "
                        f"expected no more than {limit} bytes"
                    )
                if self._size:
                    line += self._take(-1)
                if not await self._ensure_data("readuntil"):
                    return bytes(line)
                end = self._find(separator, bytes(line[-keep:]) if keep else b"")
                if end != -1:
                    if len(line) + end > limit:
                        size = len(line) + end
                        self._take(end)
                        line = bytearray()  # dropped, as in readuntil()
                        raise ValueError(
                            f"line of {size} bytes is longer than the limit, {limit} bytes"
                        )
                    line += self._take(end)
                    return bytes(line)
        except BaseException:
            if line:
                self.unread_data(bytes(line))
            raise

    def _find(self, separator: bytes, carry: bytes = b"") -> int:
        """The offset just past the first *separator* in *carry* followed by the
        buffered bytes, counted from the read position (a separator beginning in *carry*
        ends in the buffer), or -1. *carry* is at most ``len(separator) - 1`` bytes
        already searched. Chunks are searched in place; a separator straddling two is
        found through their few seam bytes."""
        seplen = len(separator)
        offset = 0
        for index, chunk in enumerate(self._buffer):
            begin = self._pos if index == 0 else 0
            if carry:
                # Shorter than the separator, carry and the head hold none of their own:
                # a match here begins in carry, before any in the chunk.
                at = (carry + chunk[begin : begin + seplen - 1]).find(separator)
                if at != -1:
                    return offset - len(carry) + at + seplen
            at = chunk.find(separator, begin)
            if at != -1:
                return offset + at - begin + seplen
            if seplen > 1:
                if len(chunk) - begin >= seplen - 1:
                    carry = chunk[1 - seplen :]
                else:
                    carry = (carry + chunk[begin:])[1 - seplen :]
            offset += len(chunk) - begin
        return -1

    async def readline(self, *, max_line_length: int | None = None) -> bytes:
        """Read one line, ``\\n`` included (the last one may lack it).

        *max_line_length* (aiohttp 3) bounds the line, in bytes; see :meth:`readuntil`.
        """
        return await self.readuntil(b"\n", max_size=max_line_length)

    def read_nowait(self, n: int = -1) -> bytes:
        """Return buffered bytes without waiting (b"" if none)."""
        if self._exception is not None:
            raise self._exception
        if self._waiter is not None:
            raise RuntimeError("called while some coroutine is waiting for incoming data")
        self._fill()
        if not self._size:
            return b""
        return self._take(n)

    def unread_data(self, data: bytes) -> None:
        """Push *data* back to the front of the stream (aiohttp compatibility)."""
        if not data:
            return
        self._normalise_head()
        self._buffer.appendleft(data)
        self._size += len(data)

    # -- iteration ---------------------------------------------------------------------------

    def iter_chunked(self, n: int) -> AsyncIterator[bytes]:
        """Iterate over pieces of at most *n* bytes."""
        if n > 0:
            return _SizedChunkIterator(self, n)
        return _ChunkIterator(self.read, n)

    def iter_any(self) -> AsyncIterator[bytes]:
        """Iterate over pieces as they arrive."""
        return _ChunkIterator(lambda _n: self.readany(), 0)

    def iter_chunks(self) -> AsyncIterator[tuple[bytes, bool]]:
        """Iterate over ``(data, end_of_http_chunk)`` pairs."""
        return _PairIterator(self)

    def __aiter__(self) -> AsyncIterator[bytes]:
        """Iterate line by line."""
        return _ChunkIterator(lambda _n: self.readline(), 0)


class _ChunkIterator:
    __slots__ = ("_n", "_read")

    def __init__(self, read: Callable[[int], Awaitable[bytes]], n: int) -> None:
        self._read = read
        self._n = n

    def __aiter__(self) -> _ChunkIterator:
        return self

    async def __anext__(self) -> bytes:
        data = await self._read(self._n)
        if not data:
            raise StopAsyncIteration
        return data


class _SizedChunkIterator:
    """``iter_chunked(n)``: buffered bytes are taken without a coroutine per piece."""

    __slots__ = ("_n", "_stream")

    def __init__(self, stream: StreamReader, n: int) -> None:
        self._stream = stream
        self._n = n

    def __aiter__(self) -> _SizedChunkIterator:
        return self

    async def __anext__(self) -> bytes:
        stream = self._stream
        if stream._size and stream._exception is None:
            # What read(n) would return at once, minus its two coroutine frames.
            return stream._take(self._n)
        data = await stream.read(self._n)
        if not data:
            raise StopAsyncIteration
        return data


class _PairIterator:
    __slots__ = ("_stream",)

    def __init__(self, stream: StreamReader) -> None:
        self._stream = stream

    def __aiter__(self) -> _PairIterator:
        return self

    async def __anext__(self) -> tuple[bytes, bool]:
        data, end = await self._stream.readchunk()
        if not data and not end:
            raise StopAsyncIteration
        return data, end


class _EmptyStreamReader(StreamReader):
    """The body of a response that has none (HEAD, 204, 304)."""

    __slots__ = ()

    def __init__(self) -> None:
        self._protocol = None
        self._buffer = collections.deque()
        self._pos = 0
        self._size = 0
        self._high_water = self._low_water = DEFAULT_LIMIT
        self._high_pieces = 64
        self._eof = True
        self._paused = False
        self._waiter = None
        self._reading_all = False
        self._exception = None
        self._total_bytes = 0
        self._total_decoded = 0
        self._chunk_ends = _NO_ENDS
        self._eof_callbacks = []
        self._decoder = None
        self._raw = collections.deque()
        self._raw_size = 0

    def set_exception(self, exc: BaseException) -> None:
        """Nothing: this one stream is every bodiless response's, and has nothing to lose."""

    def __repr__(self) -> str:
        return "<EmptyStreamReader>"


#: The empty raw queue of streams without a decoder (never appended to).
_NO_RAW: collections.deque[bytes] = collections.deque(maxlen=0)
#: The chunk ends of streams that have none (never appended to).
_NO_ENDS: collections.deque[int] = collections.deque(maxlen=0)

#: The shared body of every response without one.
EMPTY_PAYLOAD: StreamReader = _EmptyStreamReader()
