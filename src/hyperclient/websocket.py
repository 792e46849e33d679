"""``ClientWebSocketResponse``: a WebSocket over a connection the HTTP layer upgraded.

This module owns the asyncio side of RFC 6455: the opening handshake sent through the
session's ordinary request flow, then one :class:`WebSocketProtocol` per socket that
replaces the HTTP protocol on the transport, and the application-facing
:class:`ClientWebSocketResponse`.

Rules:

1. Every framing and negotiation rule lives in ``ws_frames`` and ``ws_handshake``; this
   module only moves bytes, wakes waiters and keeps timers. On upgrade the HTTP protocol
   is swapped out (``transport.set_protocol``) and its trailing bytes are fed to a fresh
   :class:`~hyperclient.ws_frames.FrameReader`: no mode flags in the HTTP protocol.
2. The protocol reacts to the server without the application: pings are answered,
   the server's close is completed, protocol violations fail the connection with the
   close code the reader chose, and heartbeat pings are timed with ``loop.call_at``
   timers. A ping the server never answers is noticed even when nobody awaits
   ``receive()``.
3. The protocol never holds a reference to the response object, so an unclosed
   ``ClientWebSocketResponse`` can be garbage-collected, which closes its socket with a
   ``ResourceWarning``.
4. Messages wait in a deque with one waiter future (cheaper than ``asyncio.Queue``);
   reading from the socket pauses while more than ``limit`` bytes wait to be received.

Anchors read for behaviour (no code taken): websockets ``asyncio/connection``, aiohttp
``client_ws``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import warnings
from collections import deque
from collections.abc import Callable, Coroutine, Iterable
from enum import Enum
from ssl import SSLContext
from types import TracebackType
from typing import Any, Final, cast

from multidict import CIMultiDict
from yarl import URL

from .auth import BasicAuth
from .awaitables import CoroutineHandle
from .errors import (
    ClientConnectionResetError,
    ServerDisconnectedError,
    ServerTimeoutError,
    WSMessageTypeError,
    WSServerHandshakeError,
    short_repr,
)
from .protocol import SharedBufferReads, WriteFlowControl, close_or_abort, receive_buffer
from .response import ClientResponse
from .tls import SSLSetting
from .typedefs import LooseHeaders, Query, StrOrURL
from .values import ClientTimeout
from .ws_frames import (
    FrameReader,
    FrameWriter,
    WebSocketError,
    WSCloseCode,
    WSMessage,
    WSMsgType,
    is_valid_close_code,
)
from .ws_handshake import HandshakeError, build_request_headers, check_response, generate_key

__all__ = (
    "DEFAULT_WS_CLIENT_TIMEOUT",
    "ClientWSTimeout",
    "ClientWebSocketResponse",
    "WebSocketProtocol",
    "ws_connect",
)


@dataclasses.dataclass(frozen=True, slots=True)
class ClientWSTimeout:
    """Time budgets of a WebSocket, in seconds; ``None`` means no limit (aiohttp 3).

    Attributes:
        ws_receive: the longest ``receive()`` waits for a message.
        ws_close: the longest ``close()`` waits for the server's close frame and for
            the server to close the TCP connection; it also bounds the opening handshake.
    """

    ws_receive: float | None = None
    ws_close: float | None = None

    def __post_init__(self) -> None:
        for field in ("ws_receive", "ws_close"):
            value = getattr(self, field)
            if value is not None and (not isinstance(value, int | float) or value < 0):
                raise ValueError(f"ClientWSTimeout.{field} must be None or >= 0, got {value!r}")


#: The reference's ``timeout=10.0``: ten seconds for the close handshake.
DEFAULT_WS_CLIENT_TIMEOUT: Final = ClientWSTimeout(ws_receive=None, ws_close=10.0)

_TEXT: Final = WSMsgType.TEXT
_BINARY: Final = WSMsgType.BINARY
_PING: Final = WSMsgType.PING
_PONG: Final = WSMsgType.PONG
_CLOSE: Final = WSMsgType.CLOSE
_CLOSED_MESSAGE: Final = WSMessage(WSMsgType.CLOSED, None, None)
_ENDS_ITERATION: Final = frozenset({WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED})

# RFC 6455 §7.1.5, §7.4.1: codes reported locally, never sent in a close frame.
_NO_STATUS_RECEIVED: Final = 1005
_ABNORMAL_CLOSURE: Final = int(WSCloseCode.ABNORMAL_CLOSURE)

# Bytes of received messages the application has not taken before reading pauses;
# aiohttp's client uses the same 64 KiB. Reading resumes below half of it.
DEFAULT_LIMIT: Final = 2**16
# What a queued message costs beyond its data (the tuple, the bytes object, the deque
# slot): empty messages are not free, and a server can send them two bytes apiece.
_MESSAGE_COST: Final = 128


class _State(Enum):
    OPEN = "open"  # messages flow both ways
    CLOSING = "closing"  # we sent a close frame and wait for the server's
    CLOSED = "closed"  # final: nothing more is received or sent


_OPEN: Final = _State.OPEN
_CLOSING: Final = _State.CLOSING
_CLOSED_STATE: Final = _State.CLOSED

# How long the server gets to close the TCP connection after the closing handshake when
# the WebSocket's close timeout is None (otherwise that timeout is used).
_EOF_TIMEOUT: Final = 10.0


def _expire(waiter: asyncio.Future[None], timeout: float) -> None:
    """Timer callback of ``receive(timeout=...)``."""
    if not waiter.done():
        waiter.set_exception(ServerTimeoutError(f"no message received within {timeout}s"))


class WebSocketProtocol(WriteFlowControl, SharedBufferReads):
    """The ``asyncio.Protocol`` of an upgraded connection: frames in, messages out.

    Args:
        loop: the running loop.
        reader: parses the server's frames.
        writer: serialises our frames (pongs and close frames sent on our own).
        autoclose: answer the server's close frame and close the connection at once.
        autoping: answer pings with pongs and keep PING/PONG from the application.
        heartbeat: seconds without receiving anything before we ping; the connection
            fails if nothing arrives within half of that after the ping.
        limit: bytes of undelivered messages above which reading pauses.
        eof_timeout: seconds to wait, once the close frames have crossed, for the
            server to close the TCP connection before we do.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        reader: FrameReader,
        writer: FrameWriter,
        *,
        autoclose: bool = True,
        autoping: bool = True,
        heartbeat: float | None = None,
        limit: int = DEFAULT_LIMIT,
        eof_timeout: float = _EOF_TIMEOUT,
    ) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self._receive_buffer = receive_buffer(loop)
        self._reader = reader
        self._writer = writer
        self._autoclose = autoclose
        self._autoping = autoping
        #: Messages received and not yet taken by ``receive()``.
        self.messages: deque[WSMessage] = deque()
        self._waiter: asyncio.Future[None] | None = None
        # What ``messages`` costs against the limit: the data of each TEXT/BINARY message
        # (and PING/PONG, when not answered for the application), plus _MESSAGE_COST.
        self._buffered = 0
        self._pending_pong: bytes | None = None  # the latest ping's, while writing waits
        self._parse_scheduled = False
        self._limit = limit
        self._reading_paused = False
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._state = _OPEN
        #: The server's close frame arrived (the application may not have replied yet).
        self.close_received = False
        #: Close code: the server's, the one we failed with, or 1006.
        self.close_code: int | None = None
        #: Why the connection failed, if it did.
        self.exception: BaseException | None = None
        # Resolved when the socket is gone (not when the closing handshake is over).
        self._closed: asyncio.Future[None] = loop.create_future()
        self._eof_timeout = eof_timeout
        self._eof_timer: asyncio.TimerHandle | None = None
        self._heartbeat = heartbeat
        self._last_received = 0.0
        self._ping_sent_at: float | None = None
        self._heartbeat_timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing asyncio.Transport.
        self.transport = cast(asyncio.Transport, transport)
        if self._heartbeat is not None:
            self._last_received = self._loop.time()
            self._schedule_heartbeat(self._last_received + self._heartbeat)

    def data_received(self, data: bytes) -> None:
        if self._state is _CLOSED_STATE or self.close_received:
            return  # RFC 6455 §5.5.1: nothing is read after a close frame
        if self._heartbeat is not None:
            self._last_received = self._loop.time()
        self._reader.receive_data(data)
        self._parse()

    def _parse(self) -> None:
        """Queue the messages the reader has complete, until over the limit: then reading
        pauses and the rest waits in the reader (one read may hold thousands of small or
        highly compressed messages) until ``receive()`` has taken enough."""
        reader = self._reader
        woken = False
        while not self._reading_paused:
            try:
                msg = reader.next_message()
            except WebSocketError as exc:
                self._fail(exc.code, exc)
                return
            if msg is None:
                break
            kind = msg[0]
            if kind is _TEXT or kind is _BINARY:
                if self._state is not _OPEN:
                    continue  # we sent a close frame: data is dropped (RFC 6455 §1.4)
                self.messages.append(msg)
                self._buffered += len(msg[1]) + _MESSAGE_COST
                if self._buffered > self._limit:
                    self._pause_reading()
                if not woken:
                    woken = True
                    self._wake()
                continue
            self._on_control(msg)
            if self.is_closed or self.close_received:
                return

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost finishes the job

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self._reader.buffered and self._state is not _CLOSED_STATE and not self.close_received:
            # Frames held while reading was paused (see _parse) are still the server's
            # messages, and its close frame may be among them: deliver them first (with
            # no transport, nothing pauses and nothing is written).
            self._reading_paused = False
            self._parse()
        if self._state is not _CLOSED_STATE:
            if self.close_code is None or not self.close_received:
                # RFC 6455 §7.1.5: closed without a close frame is code 1006.
                self.close_code = _ABNORMAL_CLOSURE
            if exc is not None and self.exception is None:
                err = ClientConnectionResetError(f"connection lost: {exc}")
                err.__cause__ = exc
                self.exception = err
        self._fail_senders("connection lost while writing")
        self._finish()
        self._cancel_eof_timer()
        self._set_closed()

    # -- what the response object uses -----------------------------------------------------------

    @property
    def is_closed(self) -> bool:
        """True once nothing more can be sent or received."""
        return self._state is _CLOSED_STATE

    @property
    def is_closing(self) -> bool:
        """True while our close frame waits for the server's."""
        return self._state is _CLOSING

    @property
    def can_send(self) -> bool:
        """True while data may be sent: open, and no close frame either way."""
        return self._state is _OPEN and not self.close_received and self.transport is not None

    def send(self, frame: bytes) -> None:
        """Write one serialised frame.

        Raises:
            ClientConnectionResetError: the WebSocket is closing or closed.
        """
        transport = self.transport
        if self._state is not _OPEN or self.close_received or transport is None:
            raise ClientConnectionResetError("cannot write to closing transport")
        transport.write(frame)

    async def drain(self) -> None:
        """Wait until the transport's write buffer is below its low-water mark.

        Raises:
            ClientConnectionResetError: the connection ended with the buffer still full.
        """
        if not self._write_paused:
            return
        if self._state is _CLOSED_STATE:
            raise ClientConnectionResetError("cannot write to closing transport")
        # One future for every sender: resume_writing wakes only the one it finds.
        waiter = self._drain_waiter
        if waiter is None:
            waiter = self._drain_waiter = self._loop.create_future()
        # Shielded: a cancelled sender must not cancel the future the others wait on.
        await asyncio.shield(waiter)

    async def wait_message(self, timeout: float | None) -> None:
        """Wait until a message is queued or the connection closed.

        Raises:
            ServerTimeoutError: nothing arrived within *timeout* seconds.
            RuntimeError: another task is already waiting.
        """
        if self._waiter is not None:
            raise RuntimeError("concurrent call to receive() is not allowed")
        waiter = self._waiter = self._loop.create_future()
        if timeout is None:
            try:
                await waiter
            finally:
                self._waiter = None
            return
        handle = self._loop.call_later(timeout, _expire, waiter, timeout)
        try:
            await waiter
        finally:
            self._waiter = None
            handle.cancel()
            # The timeout's traceback holds this frame: not the future holding it too.
            del waiter, handle

    def consumed(self, size: int) -> None:
        """The application took a message that cost *size*: resume reading if drained
        (first the messages already read, then the socket)."""
        self._buffered -= size
        if not self._reading_paused or self._buffered > self._limit // 2:
            return
        if self._reader.buffered:
            # Parsed later, not inside the receive() that called us (a close frame among
            # them would end the connection under the application's feet); reading stays
            # paused until then.
            if not self._parse_scheduled:
                self._parse_scheduled = True
                self._loop.call_soon(self._parse_held)
            return
        self._reading_paused = False
        if self.transport is not None:
            self.transport.resume_reading()

    def _parse_held(self) -> None:
        """Parse what waited in the reader while reading was paused, then read again."""
        self._parse_scheduled = False
        if self._state is _CLOSED_STATE or self.close_received:
            return
        self._reading_paused = False
        self._parse()
        if not self._reading_paused and self.transport is not None:
            self.transport.resume_reading()

    def start_closing(self, frame: bytes) -> None:
        """Send our close *frame* and wait for the server's (RFC 6455 §7.1.2).

        Messages not yet received are dropped, and reading resumes so that the
        server's close frame can arrive.
        """
        self._state = _CLOSING
        self.messages.clear()
        self.consumed(self._buffered)
        transport = self.transport
        if transport is None:
            self._finish()
            return
        transport.write(frame)

    def close_now(self, frame: bytes | None, close_code: int | None = None) -> None:
        """Send *frame* (if any and possible), close the socket, end the connection."""
        transport = self.transport
        if transport is not None and frame is not None and not transport.is_closing():
            transport.write(frame)
        if close_code is not None:
            self.close_code = close_code
        self._finish()
        if transport is None:
            return
        # A graceful close waits for the buffer to drain, which a peer that stopped reading
        # never lets happen; RFC 6455 §7.1.1 lets an endpoint close the connection "via
        # any means available when necessary".
        close_or_abort(transport)

    def end_handshake(self, reply: bytes | None) -> None:
        """The close frames have crossed (RFC 6455 §7.1.2), after our *reply* if given:
        the WebSocket is closed. The server should now close the TCP connection, so
        that it, not the client, keeps the TIME_WAIT state (§7.1.1); we close it
        ourselves if it has not within ``eof_timeout`` seconds (§5.5.1 "SHOULD wait").
        """
        transport = self.transport
        waits = transport is not None and not transport.is_closing()
        self._finish(waiting_for_eof=waits)
        if transport is None or not waits:
            return
        if reply is not None:
            transport.write(reply)
        if self._reading_paused:
            self._reading_paused = False  # the server's FIN must be seen
            transport.resume_reading()
        self._eof_timer = self._loop.call_later(self._eof_timeout, self.stop_waiting_for_eof)

    def stop_waiting_for_eof(self, *, graceful: bool = False) -> None:
        """Close the socket of a closed WebSocket now, without waiting for the server: by
        abort once the server let ``eof_timeout`` pass (a graceful TLS close would wait
        for its close_notify, up to 30 s more); *graceful* (the session is closing) with
        a FIN or close_notify, nobody waiting for it to complete."""
        self._cancel_eof_timer()
        transport = self.transport
        if transport is None:
            return
        close_or_abort(transport, abort=not graceful)
        if graceful:
            self._set_closed()

    def _cancel_eof_timer(self) -> None:
        timer = self._eof_timer
        if timer is not None:
            self._eof_timer = None
            timer.cancel()

    def _set_closed(self) -> None:
        """Release whoever waits for the connection to end (see :meth:`wait_closed`)."""
        if not self._closed.done():
            self._closed.set_result(None)

    def abort(self, close_code: int = _ABNORMAL_CLOSURE) -> None:
        """Drop the connection without a close frame (dead peer, timeout, GC)."""
        if self._state is not _CLOSED_STATE:
            self.close_code = close_code
        self._finish()
        transport = self.transport
        if transport is not None:
            transport.abort()

    async def wait_closed(self, timeout: float | None) -> bool:
        """Wait until the connection ends; False if *timeout* seconds passed first."""
        if self._closed.done():
            return True
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._closed)
        except TimeoutError:
            return False
        return True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Transport information (``peername``, ``sslcontext``...) while connected."""
        transport = self.transport
        if transport is None:
            return default
        return transport.get_extra_info(name, default)

    # -- events ----------------------------------------------------------------------------------

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _push(self, msg: WSMessage) -> None:
        self.messages.append(msg)
        self._wake()

    def resume_writing(self) -> None:
        super().resume_writing()  # first: the pong's write may pause writing again
        pong = self._pending_pong
        if pong is not None:
            self._pending_pong = None
            if self._state is _OPEN and self.transport is not None:
                self.transport.write(self._writer.pong(pong))

    def _on_control(self, msg: WSMessage) -> None:
        kind = msg[0]
        if kind is _PING:
            if self._autoping:
                # RFC 6455 §5.5.3: a pong echoes the ping's payload. While our buffer is
                # full (the server does not read), only the latest ping is answered, when
                # it drains, which §5.5.3 allows: pings must not fill it without end.
                if self._state is _OPEN and self.transport is not None:
                    if self._write_paused:
                        self._pending_pong = msg[1]
                    else:
                        self.transport.write(self._writer.pong(msg[1]))
                return
            if self._state is _OPEN:
                self._queue_control(msg)
            return
        if kind is _PONG:
            if not self._autoping and self._state is _OPEN:
                self._queue_control(msg)
            return
        assert kind is _CLOSE
        self._on_close_frame(msg)

    def _queue_control(self, msg: WSMessage) -> None:
        """Queue a PING or PONG for the application (``autoping=False``), at its cost."""
        self._push(msg)
        self._buffered += len(msg[1]) + _MESSAGE_COST
        if self._buffered > self._limit:
            self._pause_reading()

    def _on_close_frame(self, msg: WSMessage) -> None:
        code = msg[1]
        self.close_received = True
        # ws_frames reports an empty close payload as code 0 (aiohttp's value);
        # RFC 6455 §7.1.5 calls that "no status received", 1005.
        self.close_code = code or _NO_STATUS_RECEIVED
        if self._state is _CLOSING:
            # The answer to our close frame (RFC 6455 §7.1.2): done.
            self.end_handshake(None)
            return
        self._push(msg)
        if self._autoclose:
            # RFC 6455 §5.5.1: reply with a close frame, echoing the status code.
            reply = self._writer.close(code if is_valid_close_code(code) else None)
            self.end_handshake(reply)

    def _fail(self, code: int, exc: BaseException) -> None:
        """_Fail the WebSocket Connection_ (RFC 6455 §7.1.7) with close *code*."""
        frame = None
        if self._state is _OPEN and not self.close_received:
            # A short reason helps whoever reads the server's logs; 123 bytes fit.
            reason = str(exc).encode("utf-8")[:123].decode("utf-8", "ignore")
            frame = self._writer.close(code, reason)
        self.exception = exc
        self._push(WSMessage(WSMsgType.ERROR, exc, None))
        self.close_now(frame, code)

    def _finish(self, *, waiting_for_eof: bool = False) -> None:
        """The connection is over: stop timers, wake everyone. Those waiting for it to
        close return now, unless the socket stays open for the server's FIN (then when
        it goes: end_handshake bounds that wait)."""
        if self._state is _CLOSED_STATE:
            return
        self._state = _CLOSED_STATE
        timer = self._heartbeat_timer
        if timer is not None:
            self._heartbeat_timer = None
            timer.cancel()
        if not waiting_for_eof:
            self._set_closed()
        self._wake()
        self._fail_senders("cannot write to closing transport")

    def _fail_senders(self, message: str) -> None:
        """Senders blocked in drain() raise: the buffer will not drain any more."""
        waiter = self._drain_waiter
        if waiter is None:
            return  # nobody to tell: no error built (connection_lost and _finish both call)
        self._fail_drain(ClientConnectionResetError(message))
        if not waiter.cancelled():
            # Each drain() retrieves it through shield(); when all of them were
            # cancelled nobody would, and asyncio would log it as never retrieved.
            waiter.exception()

    def _pause_reading(self) -> None:
        if self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()

    # -- heartbeat ---------------------------------------------------------------------------

    def _schedule_heartbeat(self, when: float) -> None:
        self._heartbeat_timer = self._loop.call_at(when, self._on_heartbeat)

    def _on_heartbeat(self) -> None:
        """Ping after ``heartbeat`` seconds of silence; fail if still silent after half."""
        self._heartbeat_timer = None
        heartbeat = self._heartbeat
        if heartbeat is None or self._state is not _OPEN or self.close_received:
            return
        now = self._loop.time()
        sent_at = self._ping_sent_at
        if self._reading_paused:
            # The application is slow, not the server: pongs wait behind its messages.
            self._last_received = now
        if sent_at is not None:
            self._ping_sent_at = None
            if self._last_received < sent_at:
                self._on_no_pong(heartbeat)
                return
        # Timers are re-armed lazily: receiving data only stores a time.
        due = self._last_received + heartbeat
        if now < due:
            self._schedule_heartbeat(due)
            return
        if self.transport is None:
            return
        self.transport.write(self._writer.ping())
        self._ping_sent_at = now
        self._schedule_heartbeat(now + heartbeat / 2)

    def _on_no_pong(self, heartbeat: float) -> None:
        exc = ServerTimeoutError(f"no pong received within {heartbeat / 2}s of a heartbeat ping")
        self.exception = exc
        self._push(WSMessage(WSMsgType.ERROR, exc, None))
        self.abort(_ABNORMAL_CLOSURE)


class ClientWebSocketResponse:
    """A client WebSocket; ``session.ws_connect()`` makes them.

    Iterating with ``async for`` yields messages until the connection closes. Use
    ``async with`` or call :meth:`close`; an unclosed WebSocket that is garbage-collected
    drops its connection with a ``ResourceWarning``.
    """

    def __init__(
        self,
        connection: WebSocketProtocol,
        writer: FrameWriter,
        response: ClientResponse,
        *,
        protocol: str | None = None,
        compress: int = 0,
        client_notakeover: bool = False,
        timeout: ClientWSTimeout = DEFAULT_WS_CLIENT_TIMEOUT,
        autoclose: bool = True,
        autoping: bool = True,
        heartbeat: float | None = None,
        decode_text: bool = True,
    ) -> None:
        self._conn = connection
        self._decode_text = decode_text
        self._writer = writer
        self._response = response
        self._protocol = protocol
        self._compress = compress
        self._client_notakeover = client_notakeover
        self._timeout = timeout
        self._receive_timeout = timeout.ws_receive or None  # 0: no limit, as in aiohttp
        self._autoclose = autoclose
        self._autoping = autoping
        self._heartbeat = heartbeat

    def __del__(self, _warnings: Any = warnings) -> None:
        conn = getattr(self, "_conn", None)
        if conn is not None and not conn.is_closed:
            message = f"Unclosed websocket {self!r}"
            if not conn._loop.is_closed():
                conn.abort()
            _warnings.warn(message, ResourceWarning, source=self)

    def __repr__(self) -> str:
        state = "closed" if self._conn.is_closed else "open"
        return f"<ClientWebSocketResponse({self._response.url}) {state}>"

    # -- attributes --------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once the connection is closed (by either side)."""
        return self._conn.is_closed

    @property
    def close_code(self) -> int | None:
        """The close code once closed: the server's, ours on a failure, or 1006."""
        return self._conn.close_code

    @property
    def protocol(self) -> str | None:
        """The subprotocol the server chose, or ``None``."""
        return self._protocol

    @property
    def compress(self) -> int:
        """The server's permessage-deflate window bits, 0 when compression is off."""
        return self._compress

    @property
    def client_notakeover(self) -> bool:
        """True when we reset our compressor per message (``client_no_context_takeover``)."""
        return self._client_notakeover

    @property
    def autoclose(self) -> bool:
        """Whether the server's close frame is answered automatically."""
        return self._autoclose

    @property
    def autoping(self) -> bool:
        """Whether pings are answered automatically."""
        return self._autoping

    @property
    def heartbeat(self) -> float | None:
        """Seconds of silence before a heartbeat ping, or ``None``."""
        return self._heartbeat

    @property
    def timeout(self) -> ClientWSTimeout:
        """The receive and close time budgets."""
        return self._timeout

    def exception(self) -> BaseException | None:
        """Why the connection failed, if it did."""
        return self._conn.exception

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Transport information (``peername``, ``ssl_object``...), or *default* once closed."""
        return self._conn.get_extra_info(name, default)

    # -- sending -----------------------------------------------------------------------------

    async def send_str(self, data: str, compress: int | None = None) -> None:
        """Send a TEXT message.

        Args:
            data: the text.
            compress: 0 sends this message uncompressed although compression is on.

        Raises:
            TypeError: *data* is not a ``str``.
            ClientConnectionResetError: the WebSocket is closing or closed.
        """
        if not isinstance(data, str):
            raise TypeError(f"data argument must be str, got {type(data).__name__}")
        conn = self._conn
        conn.send(self._writer.text(data, compress=False if compress == 0 else None))
        if conn._write_paused:
            await conn.drain()

    async def send_bytes(
        self, data: bytes | bytearray | memoryview, compress: int | None = None
    ) -> None:
        """Send a BINARY message (see :meth:`send_str` for *compress*).

        Raises:
            TypeError: *data* is not bytes-like.
            ClientConnectionResetError: the WebSocket is closing or closed.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data argument must be bytes-like, got {type(data).__name__}")
        conn = self._conn
        conn.send(self._writer.binary(data, compress=False if compress == 0 else None))
        if conn._write_paused:
            await conn.drain()

    async def send_json(
        self,
        data: Any,
        compress: int | None = None,
        *,
        dumps: Callable[[Any], str] = json.dumps,
    ) -> None:
        """Send *data* serialised with *dumps* as a TEXT message."""
        await self.send_str(dumps(data), compress=compress)

    async def send_json_bytes(
        self, data: Any, compress: int | None = None, *, dumps: Callable[[Any], bytes]
    ) -> None:
        """Send *data* serialised with *dumps*, which returns bytes (orjson...), as a
        BINARY message."""
        await self.send_bytes(dumps(data), compress=compress)

    async def send_frame(
        self, message: bytes | bytearray | memoryview, opcode: int, compress: int | None = None
    ) -> None:
        """Send one whole frame of type *opcode* (a ``WSMsgType``) with *message* as payload.

        A CLOSE frame starts the closing handshake as :meth:`close` does, without waiting
        for the server's close frame (``receive()`` then returns CLOSED once it arrives).

        Args:
            message: the payload; for CLOSE, empty or a 2-byte close code and a reason.
            opcode: TEXT, BINARY, PING, PONG or CLOSE.
            compress: 0 sends a TEXT or BINARY frame uncompressed although compression
                is on.

        Raises:
            ValueError: another opcode, or a payload not valid for *opcode*
                (``LocalProtocolError``).
            ClientConnectionResetError: the WebSocket is closing or closed.
        """
        frame = self._writer.frame(opcode, message, compress=False if compress == 0 else None)
        conn = self._conn
        if opcode != WSMsgType.CLOSE:
            conn.send(frame)
        elif conn.close_received and not conn.is_closed:
            conn.end_handshake(frame)  # the server closed first (autoclose off): our reply
        elif not conn.can_send:
            raise ClientConnectionResetError("cannot write to closing transport")
        else:
            conn.start_closing(frame)
        if conn._write_paused:
            await conn.drain()

    async def ping(self, message: bytes | str = b"") -> None:
        """Send a PING (at most 125 bytes, RFC 6455 §5.5)."""
        conn = self._conn
        conn.send(self._writer.ping(message))
        if conn._write_paused:
            await conn.drain()

    async def pong(self, message: bytes | str = b"") -> None:
        """Send an unsolicited PONG (RFC 6455 §5.5.3)."""
        conn = self._conn
        conn.send(self._writer.pong(message))
        if conn._write_paused:
            await conn.drain()

    def _shutdown(self, code: int) -> None:
        """Close at once, without waiting for the server (the session is closing)."""
        conn = self._conn
        if not conn.is_closed:
            conn.close_now(self._writer.close(code, ""), code)
        else:
            conn.stop_waiting_for_eof(graceful=True)

    async def close(self, *, code: int = WSCloseCode.OK, message: bytes | str = b"") -> bool:
        """Close the WebSocket (RFC 6455 §7.1.2): send a close frame, await the server's.

        Waits at most ``timeout.ws_close`` seconds for the server's close frame and for
        the server to close the TCP connection (RFC 6455 §7.1.1), then drops it
        (``close_code`` 1006 if no close frame came).

        Args:
            code: the close code to send.
            message: the reason, UTF-8, at most 123 bytes.

        Returns:
            True if this call closed the WebSocket, False if it was already closed.

        Raises:
            LocalProtocolError: *code* may not be sent or *message* is too long (a
                ``ValueError``).
        """
        conn = self._conn
        if conn.is_closed:
            # The handshake is over; the socket may still wait for the server's FIN
            # (bounded by ``eof_timeout``): it is gone when close() returns.
            await conn.wait_closed(None)
            return False
        if conn.is_closing:
            # Another close() (which gives up on its own), or send_frame(CLOSE) (nobody).
            if not await conn.wait_closed(self._timeout.ws_close):
                conn.abort(_ABNORMAL_CLOSURE)
            return False
        reason = message.decode("utf-8") if isinstance(message, bytes) else message
        frame = self._writer.close(code, reason)
        if conn.close_received:
            # The server closed first and autoclose is off: our reply ends it.
            conn.end_handshake(frame)
            await conn.wait_closed(None)
            return True
        conn.start_closing(frame)
        try:
            if not await conn.wait_closed(self._timeout.ws_close):
                conn.abort(_ABNORMAL_CLOSURE)
        except BaseException:
            conn.abort(_ABNORMAL_CLOSURE)
            raise
        return True

    # -- receiving ---------------------------------------------------------------------------

    async def receive(self, timeout: float | None = None) -> WSMessage:
        """The next message.

        Returns a CLOSE message once when the server closes (then CLOSED), ERROR with
        the exception when the connection failed (then CLOSED), and CLOSED once closed.

        Args:
            timeout: seconds to wait; ``timeout.ws_receive`` when ``None`` or 0 (where
                0 or ``None`` means no limit, as in aiohttp).

        Raises:
            ServerTimeoutError: no message within the timeout (an ``asyncio.TimeoutError``);
                the WebSocket stays open.
            RuntimeError: another task is already in ``receive()``.
        """
        conn = self._conn
        messages = conn.messages
        if not timeout:
            timeout = self._receive_timeout
        while not messages:
            if conn.is_closed:
                return _CLOSED_MESSAGE
            if conn.close_received:
                # autoclose is off and the application read CLOSE: reading again ends it.
                await self.close()
                return _CLOSED_MESSAGE
            if timeout is None and conn._waiter is None:
                # The common case inline: one future, no timer, no extra coroutine.
                waiter = conn._waiter = conn._loop.create_future()
                try:
                    await waiter
                finally:
                    conn._waiter = None
            else:
                await conn.wait_message(timeout)
        msg = messages.popleft()
        kind = msg[0]
        if kind is _TEXT or kind is _BINARY or kind is _PING or kind is _PONG:
            # (PING and PONG are queued with autoping=False only.)
            conn._buffered -= len(msg[1]) + _MESSAGE_COST
            if conn._reading_paused:
                conn.consumed(0)
            if kind is _TEXT and not self._decode_text:
                # aiohttp 3.14's decode_text=False: TEXT data as UTF-8 bytes (validated).
                return WSMessage(_TEXT, msg[1].encode("utf-8"), msg[2])
        return msg

    async def receive_str(self, *, timeout: float | None = None) -> str:
        """The next message, which must be TEXT.

        Raises:
            WSMessageTypeError: it is not (a ``TypeError``).
        """
        msg = await self.receive(timeout)
        if msg[0] is not _TEXT:
            raise WSMessageTypeError(
                f"received {msg[0].name} message, expected TEXT: {short_repr(msg[1])}"
            )
        data: str = msg[1]
        return data

    async def receive_bytes(self, *, timeout: float | None = None) -> bytes:
        """The next message, which must be BINARY.

        Raises:
            WSMessageTypeError: it is not (a ``TypeError``).
        """
        msg = await self.receive(timeout)
        if msg[0] is not _BINARY:
            raise WSMessageTypeError(
                f"received {msg[0].name} message, expected BINARY: {short_repr(msg[1])}"
            )
        data: bytes = msg[1]
        return data

    async def receive_json(
        self, *, loads: Callable[[str], Any] = json.loads, timeout: float | None = None
    ) -> Any:
        """The next TEXT message parsed with *loads*."""
        return loads(await self.receive_str(timeout=timeout))

    def __aiter__(self) -> ClientWebSocketResponse:
        return self

    async def __anext__(self) -> WSMessage:
        msg = await self.receive()
        if msg[0] in _ENDS_ITERATION:
            raise StopAsyncIteration
        return msg

    async def __aenter__(self) -> ClientWebSocketResponse:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


# -- connecting ---------------------------------------------------------------------------


class _WSRequestContextManager(CoroutineHandle[ClientWebSocketResponse]):
    """What ``session.ws_connect()`` returns: awaitable, and an async context manager.

    Also a ``Coroutine`` (``send``/``throw``/``close``), as aiohttp's is, so that
    ``asyncio.create_task(session.ws_connect(url))`` and ``gather()`` accept it.
    """

    __slots__ = ("_ws",)

    def __init__(self, coro: Coroutine[Any, Any, ClientWebSocketResponse]) -> None:
        self._coro = coro
        self._ws: ClientWebSocketResponse | None = None

    async def __aenter__(self) -> ClientWebSocketResponse:
        self._ws = await self._coro
        return self._ws

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._ws is not None
        await self._ws.close()


def _ws_timeout(timeout: object, receive_timeout: float | None) -> ClientWSTimeout:
    """The reference's float ``timeout`` (close) or aiohttp 3's ``ClientWSTimeout``."""
    if isinstance(timeout, ClientWSTimeout):
        result = timeout
    elif timeout is None or (isinstance(timeout, int | float) and not isinstance(timeout, bool)):
        result = ClientWSTimeout(ws_close=timeout)
    else:
        raise TypeError(f"timeout must be a float or a ClientWSTimeout, got {timeout!r}")
    if receive_timeout is not None:
        result = dataclasses.replace(result, ws_receive=receive_timeout)
    return result


def _handshake_timeout(session_timeout: ClientTimeout, ws_close: float | None) -> ClientTimeout:
    """The session's budgets with ``total`` capped by the WebSocket's close timeout."""
    total = session_timeout.total
    if ws_close is None or (total is not None and total <= ws_close):
        return session_timeout
    return dataclasses.replace(session_timeout, total=ws_close)


def ws_connect(
    session: Any,
    url: str | URL,
    *,
    decode_text: bool = True,
    method: str = "GET",
    protocols: Iterable[str] = (),
    timeout: ClientWSTimeout | float | None = DEFAULT_WS_CLIENT_TIMEOUT,
    receive_timeout: float | None = None,
    autoclose: bool = True,
    autoping: bool = True,
    heartbeat: float | None = None,
    auth: BasicAuth | None = None,
    origin: str | None = None,
    params: Query = None,
    headers: LooseHeaders | None = None,
    proxy: StrOrURL | None = None,
    proxy_auth: BasicAuth | None = None,
    ssl: SSLSetting | None = True,
    verify_ssl: bool | None = None,
    fingerprint: bytes | None = None,
    ssl_context: SSLContext | None = None,
    server_hostname: str | None = None,
    proxy_headers: LooseHeaders | None = None,
    compress: int = 0,
    max_msg_size: int = 4 * 1024 * 1024,
) -> _WSRequestContextManager:
    """Open a WebSocket through *session* (``ClientSession.ws_connect`` delegates here).

    The handshake is an ordinary GET through the session (its connector, cookies,
    default headers and auth) with the upgrade headers of RFC 6455 §4.1, redirects not
    followed. Arguments are those of ``ClientSession.ws_connect``.
    """
    return _WSRequestContextManager(
        _connect(
            session,
            url,
            method=method,
            protocols=tuple(protocols),
            ws_timeout=_ws_timeout(timeout, receive_timeout),
            autoclose=autoclose,
            autoping=autoping,
            heartbeat=heartbeat,
            compress=compress,
            max_msg_size=max_msg_size,
            decode_text=decode_text,
            origin=origin,
            headers=headers,
            request_kwargs={
                "auth": auth,
                "params": params,
                "proxy": proxy,
                "proxy_auth": proxy_auth,
                "ssl": ssl,
                "verify_ssl": verify_ssl,
                "fingerprint": fingerprint,
                "ssl_context": ssl_context,
                "server_hostname": server_hostname,
                "proxy_headers": proxy_headers,
            },
        )
    )


async def _connect(
    session: Any,
    url: str | URL,
    *,
    method: str,
    protocols: tuple[str, ...],
    ws_timeout: ClientWSTimeout,
    autoclose: bool,
    autoping: bool,
    heartbeat: float | None,
    compress: int,
    max_msg_size: int,
    decode_text: bool,
    origin: str | None,
    headers: Any,
    request_kwargs: dict[str, Any],
) -> ClientWebSocketResponse:
    if heartbeat is not None and not heartbeat > 0:
        raise ValueError(f"invalid heartbeat: {heartbeat!r}, expected a positive number")
    if max_msg_size < 0:
        raise ValueError(f"invalid max_msg_size: {max_msg_size!r}")
    key = generate_key()
    upgrade = build_request_headers(key, protocols=protocols, compress=compress, origin=origin)
    real_headers: CIMultiDict[str] = CIMultiDict(headers or ())
    for name, value in upgrade:
        real_headers[name] = value
    resp: ClientResponse = await session._request(
        method,
        url,
        headers=real_headers,
        allow_redirects=False,
        raise_for_status=False,
        read_until_eof=False,
        timeout=_handshake_timeout(session.timeout, ws_timeout.ws_close),
        **request_kwargs,
    )
    # No await from here on: the bytes after the 101 must reach the new protocol before
    # the loop reads the socket again.
    try:
        result = check_response(resp.status, resp.headers, key, protocols, compress)
    except HandshakeError as exc:
        resp.close()
        raise WSServerHandshakeError(
            resp.request_info,
            resp.history,
            status=resp.status,
            message=exc.message,
            headers=resp.headers,
        ) from exc
    except BaseException:
        resp.close()  # whatever went wrong, the upgraded socket must not stay open
        raise
    conn = resp.connection
    http_protocol = conn.protocol if conn is not None else None
    if conn is None or http_protocol is None:
        resp.close()
        raise ServerDisconnectedError("Server disconnected right after the websocket handshake")
    transport = http_protocol.transport
    trailing, eof = http_protocol.parser.trailing_data
    loop = asyncio.get_running_loop()
    reader = FrameReader(
        max_msg_size=max_msg_size,
        compress=result.server_max_window_bits,
        no_context_takeover=result.server_no_context_takeover,
    )
    writer = FrameWriter(
        compress=result.client_max_window_bits,
        no_context_takeover=result.client_no_context_takeover,
    )
    ws_protocol = WebSocketProtocol(
        loop,
        reader,
        writer,
        autoclose=autoclose,
        autoping=autoping,
        heartbeat=heartbeat,
        eof_timeout=_EOF_TIMEOUT if ws_timeout.ws_close is None else ws_timeout.ws_close,
    )
    # The socket is ours now: free the pool slot without closing it.
    conn.detach()
    resp.release()
    if transport is None:
        # The server sent its frames and closed while this task was held up after the
        # head (an awaiting trace hook): the socket is gone but the HTTP parser still
        # holds what arrived. Deliver it, then the closure: the server's close frame if
        # it sent one, else 1006 (RFC 6455 §7.1.5).
        if trailing:
            ws_protocol.data_received(trailing)
        ws_protocol.connection_lost(http_protocol.lost_exception)
    else:
        transport.set_protocol(ws_protocol)
        ws_protocol.connection_made(transport)
        transport.resume_reading()  # paused if the server sent much after the 101
        if http_protocol.write_paused:
            ws_protocol.pause_writing()
        if trailing:
            ws_protocol.data_received(trailing)
        if eof:
            transport.close()
    cls = session._ws_response_class or ClientWebSocketResponse
    ws: ClientWebSocketResponse = cls(
        ws_protocol,
        writer,
        resp,
        protocol=result.protocol,
        compress=result.compress,
        client_notakeover=result.client_no_context_takeover,
        timeout=ws_timeout,
        autoclose=autoclose,
        autoping=autoping,
        heartbeat=heartbeat,
        decode_text=decode_text,
    )
    websockets = getattr(session, "_websockets", None)
    if websockets is not None:  # the session closes what its connector no longer tracks
        websockets.add(ws)
    return ws
