"""One ``asyncio.Protocol`` per socket: bytes in, parser events out to the waiting request.

``ResponseHandler`` moves bytes and wakes waiters; every HTTP rule lives in ``http1``. It
feeds the parser, hands the response head to the request waiting for it, fills the body
``StreamReader``, and tells its owner when a message is complete so the connection can go
back to the pool. It also owns the socket-level policies that need the loop: the read
timeout, write flow control, sending a file range with the loop's ``sendfile`` (and
noticing meanwhile that the server answered), and the rule that an idle connection which
receives anything (bytes or EOF) is dead and is never reused for another request.

Errors it sees are handed on raw (``RemoteProtocolError``, ``OSError``) to the head
waiter; body errors become ``ClientPayloadError`` on the stream, since the response
object already exists by then.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import weakref
from collections.abc import Callable
from time import monotonic as _monotonic
from typing import BinaryIO, cast

from .errors import (
    ClientOSError,
    ClientPayloadError,
    RemoteProtocolError,
    ServerDisconnectedError,
    SocketTimeoutError,
)
from .http1 import (
    NEED_DATA,
    PAUSED,
    EndOfMessage,
    InformationalResponse,
    ResponseHead,
    ResponseParser,
)
from .streams import StreamReader

if sys.platform == "linux":
    import fcntl
    import termios

__all__ = (
    "ResponseHandler",
    "SharedBufferReads",
    "WriteFlowControl",
    "close_or_abort",
    "receive_buffer",
)

_bytes = bytes
# The base class's writelines() joins its arguments into one bytes object.
_JOINING_WRITELINES = asyncio.WriteTransport.writelines
#: Seconds between two looks, while the kernel sends a file, at whether the server answered.
_ANSWER_CHECK_INTERVAL = 0.05
#: Bytes of a waiting answer looked at to tell whether it ends the upload (a head fits).
_PEEK_SIZE = 65536
#: ``struct tcp_info`` (linux/tcp.h): ``tcpi_bytes_acked``, a u64 at byte 120 (Linux 4.1+).
_TCP_INFO = sys.platform == "linux" and hasattr(socket, "TCP_INFO")
_TCP_INFO_SIZE = 128
_BYTES_ACKED_AT = 120


class WriteFlowControl(asyncio.Protocol):
    """The transport's write-buffer signals, kept for whoever drains: HTTP and WebSocket."""

    __slots__ = ("_drain_waiter", "_write_paused")

    # Set by subclasses' __init__ (slots cannot have class defaults).
    _write_paused: bool
    _drain_waiter: asyncio.Future[None] | None

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_drain()

    def _wake_drain(self) -> None:
        """Let whoever waits in ``drain()`` go on."""
        waiter = self._drain_waiter
        if waiter is not None:
            self._drain_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _fail_drain(self, exc: BaseException) -> None:
        """Whoever waits in ``drain()`` raises *exc*: the buffer will not drain any more."""
        waiter = self._drain_waiter
        if waiter is not None:
            self._drain_waiter = None
            if not waiter.done():
                waiter.set_exception(exc)


#: Size of the receive buffer shared by the connections of one event loop.
RECEIVE_BUFFER_SIZE = 256 * 1024
_receive_buffers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, memoryview] = (
    weakref.WeakKeyDictionary()
)


def receive_buffer(loop: asyncio.AbstractEventLoop) -> memoryview:
    """The loop's receive buffer: the socket is read into it, and the bytes copied out.

    asyncio's default ``recv(256 KiB)`` allocates a fresh 256 KiB object per read and
    shrinks it: above glibc's mmap threshold that is an mmap, mremap and munmap per read,
    which cost more than the rest of a small request. Reading into one buffer per loop
    (``BufferedProtocol``) allocates nothing; sharing it is safe because a loop reads one
    socket at a time and ``buffer_updated`` copies the bytes out before returning.
    """
    buffer = _receive_buffers.get(loop)
    if buffer is None:
        buffer = _receive_buffers[loop] = memoryview(bytearray(RECEIVE_BUFFER_SIZE))
    return buffer


class SharedBufferReads(asyncio.BufferedProtocol):
    """Read the socket into the loop's shared buffer and pass a copy to ``data_received``.

    Subclasses set ``_receive_buffer = receive_buffer(loop)`` and define ``data_received``.
    """

    # Empty: two bases with slots of their own cannot be combined (ResponseHandler has
    # the storage for _receive_buffer).
    __slots__ = ()

    _receive_buffer: memoryview

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._receive_buffer

    def buffer_updated(self, nbytes: int) -> None:
        # A copy: the buffer is overwritten by the next read of any connection.
        self.data_received(self._receive_buffer[:nbytes].tobytes())

    def data_received(self, data: bytes) -> None:
        raise NotImplementedError


class ResponseHandler(WriteFlowControl, SharedBufferReads):
    """Protocol for one HTTP/1.1 client connection.

    Args:
        loop: the running loop.
        max_line_size: longest status or header line accepted, in bytes.
        max_field_size: longest header field accepted, in bytes.
        max_headers: most header fields accepted.
        read_bufsize: body buffer size in bytes before reading pauses (x4).
    """

    # Slots: more than 30 instance attributes would cost CPython 3.11 its shared-key
    # instance dicts, and with them fast attribute access on every callback (measured:
    # +0.5 µs per request when a 30th attribute was added).
    __slots__ = (
        "__weakref__",
        "_closed",
        "_closed_waiter",
        "_connection_lost",
        "_continue_waiter",
        "_copied",
        "_custom_limits",
        "_eof",
        "_got_bytes",
        "_head_waiter",
        "_in_flight",
        "_keepalive_hint",
        "_last_read",
        "_loop",
        "_lost_exc",
        "_on_complete",
        "_on_stop",
        "_parser",
        "_payload",
        "_progress_mark",
        "_read_bufsize",
        "_read_timeout",
        "_read_timer",
        "_reading_paused",
        "_receive_buffer",
        "_reusable",
        "_sendfile_cut",
        "_stop_sending",
        "_upgraded",
        "_writing",
        "connect_durations",
        "first_byte_at",
        "transport",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        max_line_size: int = 8190,
        max_field_size: int = 8190,
        max_headers: int = 128,
        read_bufsize: int = 2**16,
    ) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self._receive_buffer = receive_buffer(loop)
        self._copied: _CopiedReads | None = None
        self._parser = ResponseParser(
            max_line_size=max_line_size, max_field_size=max_field_size, max_headers=max_headers
        )
        self._read_bufsize = read_bufsize
        self._head_waiter: asyncio.Future[tuple[ResponseHead, StreamReader | None]] | None = None
        self._continue_waiter: asyncio.Future[bool] | None = None
        self._payload: StreamReader | None = None
        self._in_flight = False
        self._reusable = True
        self._got_bytes = False
        self._writing = False
        self._stop_sending = False
        self._reading_paused = False
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        # Set while asyncio's sendfile holds the transport: cuts that send short.
        self._sendfile_cut: Callable[[], None] | None = None
        self._on_complete: Callable[[], None] | None = None
        self._on_stop: Callable[[], None] | None = None  # see on_stop_sending
        self._keepalive_hint: float | None = None
        #: ``time.monotonic()`` when the first byte of the current response arrived.
        self.first_byte_at: float | None = None
        #: (dns, connect, tls) durations in seconds, set by the connector that opened it.
        self.connect_durations: tuple[float | None, float | None, float | None] | None = None
        self._connection_lost = False
        self._eof = False
        self._upgraded = False
        self._custom_limits = False
        self._lost_exc: Exception | None = None
        # closed_future, made only when asked for (connector.close() asks; most never do).
        self._closed = False
        self._closed_waiter: asyncio.Future[None] | None = None
        # sock_read timeout: one timer, re-armed lazily (only when it fires) so that a
        # busy stream costs a float store per read, not a timer per read.
        self._read_timeout: float | None = None
        self._read_timer: asyncio.TimerHandle | None = None
        self._last_read = 0.0
        self._progress_mark: int | None = None  # see _upload_goes_on

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing asyncio.Transport.
        self.transport = cast(asyncio.Transport, transport)

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self._receive_buffer[:nbytes].tobytes())
        if nbytes == len(self._receive_buffer) and self._in_flight and not self._upgraded:
            # A large body is streaming in: for reads this big, copying out of the shared
            # buffer costs more than asyncio's own allocation, so let the transport hand
            # us fresh bytes until the response ends (see _CopiedReads).
            transport = self.transport
            if transport is not None and not transport.is_closing():
                transport.set_protocol(self._copied_reads)

    @property
    def _copied_reads(self) -> _CopiedReads:
        reads = self._copied
        if reads is None:
            reads = self._copied = _CopiedReads(self)
        return reads

    def data_received(self, data: bytes) -> None:
        if self._upgraded:
            # After a 101 the bytes belong to the next protocol: keep them for it (see
            # parser.trailing_data) until the owner swaps protocols, and the owner
            # resumes reading (a server may stream at once: no more than a read buffer's
            # worth waits here, as in aiohttp).
            parser = self._parser
            parser.receive_data(data)
            if parser.trailing_size() >= self._read_bufsize and self.transport is not None:
                self.transport.pause_reading()
            return
        if not self._in_flight:
            # Unsolicited bytes on an idle connection (RFC 9112 §9.8 lets a server close
            # idle connections; anything else is garbage or a desync): never read them as
            # the next response.
            self._reusable = False
            if self.transport is not None:
                self.transport.close()
            return
        if not self._got_bytes:
            self._got_bytes = True
            self.first_byte_at = _monotonic()
        if self._read_timeout is not None:
            self._last_read = self._loop.time()
        self._parser.receive_data(data)
        self._process()

    def eof_received(self) -> bool | None:
        self._reusable = False
        if self._upgraded and not self._eof:
            self._eof = True
            self._parser.receive_eof()
            return None
        self._eof = True
        if self._in_flight:
            self._parser.receive_eof()
            self._process()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._connection_lost = True
        self._lost_exc = exc
        self._reusable = False
        self._cancel_read_timer()
        if self._in_flight:
            if exc is None and not self._eof:
                # A FIN without eof_received (TLS transports): let the parser decide whether
                # the body was close-delimited and so complete.
                self._eof = True
                self._parser.receive_eof()
                self._process()
            if self._in_flight:
                self._fail(self._disconnect_error(exc))
        if self._drain_waiter is not None:  # the error is built only for a waiter
            self._fail_drain(self._disconnect_error(exc))
        self._set_closed()
        self.transport = None
        self._copied = None  # it points back at us

    # -- flow control of the body stream (called by StreamReader) ----------------------------

    def pause_reading(self) -> None:
        if not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self._reading_paused and self.transport is not None:
            self._reading_paused = False
            if self._read_timeout is not None:
                self._last_read = self._loop.time()
            self.transport.resume_reading()

    # -- state seen by the connector -----------------------------------------------------------

    def is_connected(self) -> bool:
        """True while the socket is open."""
        transport = self.transport
        return transport is not None and not transport.is_closing()

    def is_reusable(self) -> bool:
        """True when the connection may carry another request."""
        return self._reusable and not self._in_flight and self.is_connected()

    @property
    def keepalive_hint(self) -> float | None:
        """The server's ``Keep-Alive: timeout=`` of the last response, in seconds."""
        return self._keepalive_hint

    @property
    def got_response_bytes(self) -> bool:
        """True when any byte arrived for the current request."""
        return self._got_bytes

    @property
    def parser(self) -> ResponseParser:
        """The HTTP/1.1 parser (the WebSocket layer takes its trailing bytes)."""
        return self._parser

    def force_close(self) -> None:
        """Never reuse this connection."""
        self._reusable = False

    def close(self) -> None:
        """Close the socket now."""
        self._reusable = False
        self._close_transport()

    def _close_transport(self, *, abort: bool = False) -> None:
        """Close the socket (*abort*: dropping what is still buffered to send), or, while
        asyncio's sendfile holds the transport, cut that send short and let it close the
        socket once asyncio let go (closed under it, the send would wait for ever and
        asyncio would fail on its own bookkeeping)."""
        cut = self._sendfile_cut
        if cut is not None:
            cut()
        elif self.transport is not None:
            # Bytes still unsent are a request body nobody will read.
            close_or_abort(self.transport, abort=abort)

    def abort(self, exc: BaseException) -> None:
        """Close the socket now; a request or body in progress fails with *exc*."""
        if self._in_flight:
            self._fail(exc)
        else:
            self.close()

    def never_connected(self) -> None:
        """Opening the connection failed before it was made: there is nothing to close, so
        ``closed_future`` resolves now (``connector.close()`` may be waiting on it)."""
        if self.transport is None:
            self._set_closed()

    def _set_closed(self) -> None:
        self._closed = True
        waiter = self._closed_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def lost_exception(self) -> Exception | None:
        """Why the connection was lost (``None`` for a clean close, or while connected)."""
        return self._lost_exc

    @property
    def closed_future(self) -> asyncio.Future[None]:
        """Resolves once the socket is closed (a future, so nothing leaks if not awaited)."""
        waiter = self._closed_waiter
        if waiter is None:
            waiter = self._closed_waiter = self._loop.create_future()
            if self._closed:
                waiter.set_result(None)
        return waiter

    # -- the request's side ------------------------------------------------------------------

    def expect_response(
        self,
        method: str,
        on_complete: Callable[[], None] | None,
        *,
        read_until_eof: bool = True,
        read_timeout: float | None = None,
        expect_continue: bool = False,
        limits: tuple[int | None, int | None, int | None] | None = None,
        read_bufsize: int | None = None,
    ) -> asyncio.Future[tuple[ResponseHead, StreamReader | None]]:
        """Get ready for the response to a request about to be written.

        Returns the future of its head and body stream. *on_complete* is called once the
        whole response has been received (or has failed).
        """
        if self._connection_lost:
            raise self._disconnect_error(self._lost_exc)
        if limits is not None or self._custom_limits:
            # A session's or request's max_line_size/max_field_size/max_headers, for
            # this response only.
            self._parser.set_limits(*(limits or (None, None, None)))
            self._custom_limits = limits is not None
        self._parser.start(method, read_until_eof=read_until_eof)
        if read_bufsize is not None:
            self._read_bufsize = read_bufsize  # the session's, or this request's
        self._in_flight = True
        self._got_bytes = False
        self._stop_sending = False
        self._payload = None
        self._on_complete = on_complete
        waiter = self._head_waiter = self._loop.create_future()
        if expect_continue:
            self._continue_waiter = self._loop.create_future()
        if read_timeout is not None:
            self._read_timeout = read_timeout
            self._arm_read_timer(read_timeout)
        return waiter

    @property
    def continue_waiter(self) -> asyncio.Future[bool] | None:
        """True when a ``100 Continue`` arrives, False when a final status or error does."""
        return self._continue_waiter

    def write(self, data: bytes) -> None:
        """Write *data* (one call per request head: no per-header writes)."""
        transport = self.transport
        if transport is None or transport.is_closing():
            raise self._disconnect_error(self._lost_exc)
        transport.write(data)

    def write_pair(self, head: bytes, body: bytes) -> None:
        """Write *head* then a large *body*: one gathering send where it copies nothing.

        uvloop's and Python 3.12+'s socket transports send a list with one ``writev``;
        older asyncio joins the list (a copy of the whole body), so it gets two writes.
        """
        transport = self.transport
        if transport is None or transport.is_closing():
            raise self._disconnect_error(self._lost_exc)
        if type(transport).writelines is _JOINING_WRITELINES:
            transport.write(head)
            transport.write(body)
        else:
            transport.writelines((head, body))

    def writing(self, flag: bool, *, finished: bool = True) -> None:
        """Record whether a request body is being written; *finished* False when writing
        stopped before the whole body was sent (the server may still expect the rest).

        While the body is being written, ``sock_read`` counts a slow body source and a
        server taking the body as activity, and fires only for a server that stopped
        taking it (see ``_upload_goes_on``); the clock restarts when writing ends.
        """
        self._writing = flag
        if flag:
            return
        if not finished:
            # The stream position is unknown to the server: never reuse the connection.
            self._reusable = False
        if self._in_flight:
            if self._read_timeout is not None:
                self._last_read = self._loop.time()
        elif not self._reusable:
            # The response ended before we finished sending: the server will not read the
            # rest, so the connection is done.
            self._close_transport()

    def on_stop_sending(self, callback: Callable[[], None] | None) -> None:
        """Have *callback* called (once, from a loop callback) when the body being written
        must not be sent any further: :attr:`stop_sending` turned true because an answer
        ended the upload or the connection failed. A writer waiting on something other
        than the socket (its body source) learns it there; None forgets the callback."""
        self._on_stop = callback

    @property
    def stop_sending(self) -> bool:
        """True when the request body should not be sent any further: the response has
        ended, or a final status of 300 or more arrived before the upload ended (RFC 9112
        §9.6; curl stops likewise). The connection is then not reused."""
        return self._stop_sending or not self._in_flight

    @property
    def write_paused(self) -> bool:
        """True while the transport's write buffer is above its high-water mark."""
        return self._write_paused

    async def drain(self) -> None:
        """Wait until the transport's write buffer is below its low-water mark (at once when
        the body need not be sent any further, see :attr:`stop_sending`)."""
        if not self._write_paused or self._stop_sending:
            if self._connection_lost:
                raise self._disconnect_error(self._lost_exc)
            return
        waiter = self._drain_waiter = self._loop.create_future()
        await waiter

    def sendfile_pays(self) -> bool:
        """Whether :meth:`sendfile` should cost less CPU than writing the file here.

        Not under BBR congestion control: without the ``fq`` qdisc, BBR paces inside TCP
        with a timer, and a sendfile(2) that fills the whole send buffer at once fires it
        per burst (measured over loopback: ~17,000 timer interrupts for 1.3 GB against
        ~150 when writing 64 KiB pieces, and 0.46 CPU-s/GB against 0.22). Under CUBIC
        (Linux's default) sendfile halves the CPU (0.11 against 0.22). A Unix socket
        has no congestion control; a platform without ``TCP_CONGESTION`` is not Linux.
        """
        transport = self.transport
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is None:
            return False
        option = getattr(socket, "TCP_CONGESTION", None)
        if option is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
            return True
        try:
            algorithm = sock.getsockopt(socket.IPPROTO_TCP, option, 16)
        except OSError:  # pragma: no cover - Defensive: a socket closed under us
            return False
        return not algorithm.startswith(b"bbr")

    async def sendfile(
        self, file: BinaryIO, offset: int, count: int, timeout: float | None
    ) -> int | None:
        """Send *count* bytes of *file* from *offset* with the loop's ``sendfile``: the
        kernel copies them from the page cache to the socket (sendfile(2)).

        asyncio stops reading the socket while it sends. If the server answers in a way
        that ends the upload (see :attr:`stop_sending`) while the kernel waits on a server
        that stopped reading, the send is cut short instead of waiting for a reader that
        will not come back; then, or when this raises, whatever arrived is read before it
        returns, so that the early answer (RFC 9112 §9.6) is seen. After a range sent
        whole, nothing is read: call :meth:`read_pending` before sending more. (The last
        range of a body must be followed by ``writing(False)`` at once: a complete answer
        read before that would count as an early one.)

        Args:
            timeout: ``ClientTimeout.write``: seconds the range may go without the server
                acknowledging any of it (Linux; elsewhere, seconds the whole range may
                take), or None.

        Returns:
            The bytes sent (fewer than *count*: the file ended), or None when the server's
            answer cut the send short (how much went out is then unknown).

        Raises:
            asyncio.SendfileNotAvailableError: no sendfile on this connection (TLS, uvloop,
                a file the kernel refuses, or a socket already broken); nothing was sent.
            TimeoutError: *timeout* passed (without progress); part of the range may have
                been sent.
            OSError: sendfile(2) failed; part of the range may have been sent.
            ClientOSError, ServerDisconnectedError: the connection was already lost.
        """
        transport = self.transport
        if transport is None or transport.is_closing():
            raise self._disconnect_error(self._lost_exc)
        try:
            sent = await self._send_segment(transport, file, offset, count, timeout)
        except (NotImplementedError, RuntimeError) as exc:
            if not isinstance(exc, asyncio.SendfileNotAvailableError):
                # uvloop has no sendfile (NotImplementedError); asyncio refuses TLS
                # transports with a RuntimeError: both before sending (or pausing) anything.
                raise asyncio.SendfileNotAvailableError(str(exc)) from exc
            # asyncio says so when the first sendfile(2) call fails: nothing of the range
            # went out, but reading was paused, and the cause may be a server that answered
            # and reset the connection.
            await self.read_pending()
            raise
        except Exception:
            await self.read_pending()
            raise
        if sent is None:
            await self.read_pending()
        return sent

    async def _send_segment(
        self,
        transport: asyncio.Transport,
        file: BinaryIO,
        offset: int,
        count: int,
        timeout: float | None,
    ) -> int | None:
        """``loop.sendfile`` under *timeout*, cut short when an answer ends the upload or
        the connection is closed meanwhile."""
        loop = self._loop
        cut_for: str | None = None  # why the send was cut short: "answered" or "closed"
        sent: int | None = None
        try:
            async with asyncio.timeout(timeout) as deadline:
                if transport.get_write_buffer_size():
                    await self._flush(transport)
                if self.stop_sending:
                    return None
                checker: asyncio.TimerHandle

                def cut(reason: str) -> None:
                    nonlocal cut_for
                    if cut_for is None:
                        cut_for = reason
                        deadline.reschedule(loop.time())

                sock = transport.get_extra_info("socket")
                acked = _bytes_acked(sock)

                def check() -> None:
                    nonlocal checker, acked
                    if self._answer_ends_upload(transport):
                        cut("answered")
                        return
                    if timeout is not None and acked is not None:
                        # The write timeout bounds a stall, as it does each drain of a
                        # written body: while the server acknowledges bytes, it restarts.
                        now_acked = _bytes_acked(sock)
                        if now_acked is not None and now_acked != acked:
                            acked = now_acked
                            deadline.reschedule(loop.time() + timeout)
                    checker = loop.call_later(_ANSWER_CHECK_INTERVAL, check)

                checker = loop.call_later(_ANSWER_CHECK_INTERVAL, check)
                self._sendfile_cut = lambda: cut("closed")
                try:
                    sent = await loop.sendfile(transport, file, offset, count, fallback=False)
                finally:
                    checker.cancel()
                    self._sendfile_cut = None
        except TimeoutError:
            if cut_for is None:
                raise
        if cut_for == "closed":
            # close() or abort() came while asyncio held the transport: close it now.
            transport.close()
            raise self._disconnect_error(self._lost_exc)
        return sent

    async def _flush(self, transport: asyncio.Transport) -> None:
        """Wait until the transport has handed every buffered byte to the kernel.

        ``loop.sendfile`` waits for that itself, but a cancellation there (a timeout, an
        answer) would leave the transport half switched over, reading paused for good;
        a cancellation here is harmless. A high-water mark of 0 makes the transport
        pause us now and resume us once its buffer is empty.
        """
        low, high = transport.get_write_buffer_limits()
        transport.set_write_buffer_limits(high=0)
        try:
            await self.drain()
        finally:
            transport.set_write_buffer_limits(high=high, low=low)

    def _answer_ends_upload(self, transport: asyncio.Transport) -> bool:
        """Whether the bytes waiting on the socket (unread: asyncio's sendfile paused
        reading) end the upload as ``_on_head`` or ``_on_end`` would. Judged on a peeked
        copy, parsed by a parser of its own: the bytes stay for the transport to read."""
        if self._head_waiter is None:
            # The head was read between two segments; the end of that response is
            # noticed between segments too.
            return False
        sock = transport.get_extra_info("socket")
        if sock is None:  # pragma: no cover  # Defensive: socket transports have one
            return False
        waiting = _peek(sock.fileno())
        return bool(waiting) and _ends_upload(self._parser.trailing_data[0] + waiting)

    async def read_pending(self) -> None:
        """Let the transport read what arrived while asyncio's sendfile paused reading.

        Reading resumes when sendfile returns, but the transport's read callback runs in
        the loop iteration after the one whose poll found the socket readable: after one
        yield we would run first, and the next segment would pause reading again (and
        cancel that callback). After two, it has run.
        """
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    # -- events ------------------------------------------------------------------------------

    def _process(self) -> None:
        parser = self._parser
        try:
            while True:
                event = parser.next_event()
                if type(event) is _bytes:
                    payload = self._payload
                    assert payload is not None
                    payload.feed_data(event)
                    if parser.chunk_ended():
                        payload.end_http_chunk()
                elif event is NEED_DATA or event is PAUSED:
                    return
                elif type(event) is ResponseHead:
                    self._on_head(event)
                    body = parser.take_whole_body()
                    if body is not None:
                        if body:
                            payload = self._payload
                            assert payload is not None
                            payload.feed_data(body)
                        self._on_end()
                elif type(event) is EndOfMessage:
                    self._on_end()
                elif type(event) is InformationalResponse:
                    self._on_informational(event)
                else:  # pragma: no cover - the parser yields only the types above
                    raise AssertionError(f"unexpected parser event {event!r}")
        except RemoteProtocolError as exc:
            if self._eof and not exc.in_body:
                # The server hung up before a complete head: a disconnect, not a bad head.
                err = ServerDisconnectedError(f"Server disconnected: {exc.message}")
                err.__cause__ = exc
                self._fail(err)
                del err  # *exc*'s traceback holds this frame (a cycle through the cause)
            else:
                self._fail(exc)

    def _on_head(self, head: ResponseHead) -> None:
        self._keepalive_hint = head.keep_alive_timeout
        if not head.keep_alive:
            self._reusable = False
        waiter = self._continue_waiter
        if waiter is not None:
            # A final status instead of 100: the body must not be sent (RFC 9110 §10.1.1).
            self._continue_waiter = None
            if not waiter.done():
                waiter.set_result(False)
        payload: StreamReader | None
        if head.upgrade:
            # The bytes after this head belong to another protocol; the owner takes them.
            self._upgraded = True
            self._reusable = False
            self._in_flight = False
            self._cancel_read_timer()
            payload = None
        else:
            payload = self._payload = StreamReader(self, self._read_bufsize, loop=self._loop)
        if head.status >= 300:
            # An error or redirect before or while we upload (right after 100 Continue,
            # say): the server does not want the body, or the rest of it.
            if self._writing:
                self._halt_upload()
            else:
                self._stop_sending = True
        head_waiter = self._head_waiter
        self._head_waiter = None
        if head_waiter is not None and not head_waiter.done():
            head_waiter.set_result((head, payload))
        else:
            # Nobody waits any more (the request was cancelled): drop the connection.
            self._reusable = False
            self._close_transport()

    def _on_informational(self, info: InformationalResponse) -> None:
        waiter = self._continue_waiter
        if info.status == 100 and waiter is not None:
            self._continue_waiter = None
            if not waiter.done():
                waiter.set_result(True)

    def _halt_upload(self) -> None:
        """Tell the body writer to stop, waking it if it waits for the socket to drain."""
        self._stop_sending = True
        self._reusable = False
        self._wake_drain()
        self._tell_stop()

    def _tell_stop(self) -> None:
        """Call the ``on_stop_sending`` callback, if any (once)."""
        callback = self._on_stop
        if callback is not None:
            self._on_stop = None
            callback()

    def _on_end(self) -> None:
        self._in_flight = False
        self._cancel_read_timer()
        transport = self.transport
        if self._writing or (transport is not None and transport.get_write_buffer_size()):
            # A complete answer to an unfinished upload (still being written, or handed to
            # the transport and not all sent): stop sending (RFC 9112 §9.6); the stream
            # position can no longer be trusted (_halt_upload marks it), and the rest must
            # not go out ahead of the next request.
            self._halt_upload()
        elif self._parser.has_trailing_input():
            # Bytes beyond the response (an unsolicited second response, garbage).
            self._reusable = False
        if self._reading_paused:
            self.resume_reading()
        payload = self._payload
        self._payload = None
        if payload is not None:
            payload.feed_eof()
        self._complete()
        if not self._reusable and not self._writing:
            self._close_transport()

    def _complete(self) -> None:
        copied = self._copied
        transport = self.transport
        if copied is not None and transport is not None and transport.get_protocol() is copied:
            transport.set_protocol(self)  # back to the shared buffer for the next head
        callback = self._on_complete
        if callback is not None:
            self._on_complete = None
            callback()

    def _fail(self, exc: BaseException) -> None:
        """The connection is broken: fail whoever waits, close the socket."""
        self._in_flight = False
        self._reusable = False
        self._cancel_read_timer()
        head_waiter = self._head_waiter
        payload = self._payload
        self._head_waiter = self._payload = None
        cont = self._continue_waiter
        if cont is not None:
            self._continue_waiter = None
            if not cont.done():
                cont.set_result(False)
        if head_waiter is not None:
            if not head_waiter.done():
                head_waiter.set_exception(exc)
        elif payload is not None:
            payload.set_exception(_payload_error(exc))
        # A body writer waiting in drain() stops (stop_sending is now true). Unsent bytes
        # are dropped: a graceful close would wait for a peer that may never read them,
        # and until then neither connection_lost nor closed_future would come. (When the
        # connection was lost, connection_lost fails the waiter with the loss instead.)
        if not self._connection_lost:
            self._wake_drain()
        self._tell_stop()
        self._close_transport(abort=True)
        self._complete()

    def _disconnect_error(self, exc: BaseException | None) -> Exception:
        if exc is None:
            return ServerDisconnectedError()
        err: Exception
        if isinstance(exc, OSError):
            err = ClientOSError(exc.errno, f"connection lost: {exc.strerror or exc}")
        else:
            err = ServerDisconnectedError(f"connection lost: {exc!r}")
        err.__cause__ = exc
        return err

    # -- read timeout -------------------------------------------------------------------------

    def _on_read_timer(self) -> None:
        self._read_timer = None
        timeout = self._read_timeout
        if timeout is None or not self._in_flight:
            return
        if self._reading_paused or self._upload_goes_on():
            # The reader or the body source is slow, or the server is still taking our
            # body, not a silent server: the clock restarts.
            self._last_read = self._loop.time()
        deadline = self._last_read + timeout
        if self._loop.time() < deadline:
            self._read_timer = self._loop.call_at(deadline, self._on_read_timer)
            return
        self._fail(SocketTimeoutError(f"timeout on reading data from socket after {timeout}s"))

    def _upload_goes_on(self) -> bool:
        """At a ``sock_read`` expiry: whether our request is still going out at a pace set
        by us or by a server that takes it, which is not the server falling silent.

        Our bytes wait in the transport's buffer or the kernel's send queue (SIOCOUTQ,
        Linux): the server must have taken some since the last look, as the bytes it
        acknowledged (TCP_INFO, Linux) or else what waits for it show; the first look
        has nothing to compare with and counts as progress. Nothing waits and the body
        is still being written: the body source is the slow one. Nothing waits and the
        request is written: the server owes an answer.
        """
        transport = self.transport
        if transport is None:
            return False
        sock = transport.get_extra_info("socket")
        waiting = transport.get_write_buffer_size() + _unsent_bytes(sock)
        if not waiting:
            return self._writing
        acked = _bytes_acked(sock)
        mark = acked if acked is not None else -waiting  # a Unix socket; not Linux
        last, self._progress_mark = self._progress_mark, mark
        return last is None or mark != last

    def _arm_read_timer(self, timeout: float) -> None:
        """Start the ``sock_read`` clock now (re-armed lazily, see ``_on_read_timer``)."""
        self._progress_mark = None
        self._last_read = self._loop.time()
        self._read_timer = self._loop.call_at(self._last_read + timeout, self._on_read_timer)

    def _cancel_read_timer(self) -> None:
        self._read_timeout = None
        timer = self._read_timer
        if timer is not None:
            self._read_timer = None
            timer.cancel()


class _CopiedReads(asyncio.Protocol):
    """A ``ResponseHandler`` seen as a plain ``Protocol``, installed while a large body
    streams in: the transport then reads into fresh bytes objects (no copy out of the
    shared buffer) and this forwards every callback to the handler."""

    __slots__ = ("_handler",)

    def __init__(self, handler: ResponseHandler) -> None:
        self._handler = handler

    def data_received(self, data: bytes) -> None:
        self._handler.data_received(data)

    def eof_received(self) -> bool | None:
        return self._handler.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._handler.connection_lost(exc)

    def pause_writing(self) -> None:
        self._handler.pause_writing()

    def resume_writing(self) -> None:
        self._handler.resume_writing()


def close_or_abort(transport: asyncio.WriteTransport, *, abort: bool = False) -> None:
    """Close *transport*, by abort when *abort* or when bytes wait in its buffer: a
    graceful close would keep the socket until a peer that stopped reading takes them."""
    if abort or transport.get_write_buffer_size():
        transport.abort()
    else:
        transport.close()


def _bytes_acked(sock: object) -> int | None:
    """How many bytes sent on *sock* the peer has acknowledged (``tcpi_bytes_acked``, RFC
    4898's tcpEStatsAppHCThruOctetsAcked), or None where the kernel does not say (not
    Linux, Linux before 4.1, not TCP)."""
    if not _TCP_INFO or sock is None:
        return None
    try:
        info = cast(socket.socket, sock).getsockopt(
            socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE
        )
    except OSError:  # a Unix socket, or closed meanwhile
        return None
    if len(info) < _TCP_INFO_SIZE:
        return None
    return int.from_bytes(info[_BYTES_ACKED_AT:_TCP_INFO_SIZE], sys.byteorder)


def _unsent_bytes(sock: object) -> int:
    """Bytes written to *sock* that the peer has not acknowledged (SIOCOUTQ: in the send
    queue, sent or not), or 0 where the kernel does not say."""
    if not _TCP_INFO or sock is None:
        return 0
    try:
        fd = cast(socket.socket, sock).fileno()
        answer = fcntl.ioctl(fd, termios.TIOCOUTQ, b"\0\0\0\0")  # SIOCOUTQ == TIOCOUTQ
    except (OSError, ValueError):  # a Unix socket's queue counts too; closed meanwhile
        return 0
    return int.from_bytes(answer, sys.byteorder)


def _peek(fd: int) -> bytes:
    """Up to :data:`_PEEK_SIZE` bytes waiting on socket *fd*, left there (MSG_PEEK)."""
    if fd < 0:  # pragma: no cover  # Defensive: closed sockets are not checked
        return b""
    sock = socket.socket(fileno=fd)
    try:
        # A new socket object takes socket.getdefaulttimeout(): with one set, recv() would
        # wait that long for bytes, with the loop stopped.
        sock.settimeout(0.0)
        return sock.recv(_PEEK_SIZE, socket.MSG_PEEK)
    except OSError:  # nothing there (the socket does not block), or an error the send reports
        return b""
    finally:
        sock.detach()  # the transport owns the descriptor


def _ends_upload(data: bytes) -> bool:
    """Whether a response starting with *data* ends the upload it answers: a final status
    of 300 or more (``_on_head``) or a complete response (``_on_end``).

    The method is not known here: parsed as the answer to a POST, a response to HEAD is
    never complete, which only errs on the side of sending on.
    """
    parser = ResponseParser()
    parser.start("POST")
    parser.receive_data(data)
    try:
        while True:
            event = parser.next_event()
            if type(event) is ResponseHead:
                if event.status >= 300:
                    return True
            elif type(event) is EndOfMessage:
                return True
            elif event is NEED_DATA or event is PAUSED:
                return False
    except RemoteProtocolError:
        # Let the connection's own parser fail it, once reading resumes.
        return False


def _payload_error(exc: BaseException) -> BaseException:
    if isinstance(exc, ClientPayloadError | SocketTimeoutError):
        return exc
    if isinstance(exc, RemoteProtocolError):
        message = exc.message
    elif isinstance(exc, ServerDisconnectedError):
        message = "response payload is not completed: connection closed"
    else:
        message = f"response payload is not completed: {exc}"
    err = ClientPayloadError(message)
    err.__cause__ = exc
    return err
