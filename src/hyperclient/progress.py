"""Upload progress of one request: ``UploadTracker`` (aiohttp 3.14's name and API).

The tracker is told what happens to a request's body and answers three questions: how
many times the request was sent (``attempts``: a redirect hop, a retry on a stale pooled
connection, a middleware sending again), how many payload bytes of the current attempt
left for the kernel (``bytes_written``), and whether the final attempt sent the whole
body (``upload_complete``).

Rules it keeps:

* It only listens. The request writes its body as if no tracker were there; a tracked
  request's body writer gets the connection's protocol wrapped in ``_WatchedWrites``,
  which counts the bytes written and reports when writing ends. Untracked requests pay
  an attribute read and an ``is None`` check in the session's send and the request's,
  nothing per byte.
* ``bytes_written`` is computed from the transport's unsent buffer, on access and also
  before and after each piece and around each wait for the socket to drain (so that a
  count stands when the connection then closes, and the list of piece starts stays
  short): bytes still queued in the event loop are not counted, bytes in the kernel's
  socket buffer are (nobody can see past it). It never steps back. Payload bytes, not
  wire bytes: the head, chunked framing and compression are taken out by remembering,
  for each piece of the body, how many payload bytes had been given and how many bytes
  had been written when it started, and interpolating inside a piece (exact without
  compression, an estimate with it; aiohttp estimates the same way).
* Attempts of one request never overlap: the body is written before the response head is
  awaited, so an attempt has ended (sent, cut short or failed) before the next one
  starts. Reports from a wrapper of an earlier attempt are ignored all the same.
* ``upload_complete`` settles exactly once, when the request returned or raised
  (``_finalize``): ``None`` when the final attempt sent the whole body (a request
  without a body sends all of its zero bytes), else the upload's own error, else
  ``UploadAbortedError``. The exception is marked retrieved, so a tracker nobody awaits
  logs nothing.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from typing import TYPE_CHECKING, Any

from .errors import UploadAbortedError

if TYPE_CHECKING:
    from .protocol import ResponseHandler

__all__ = ("UploadTracker",)


class _Attempt(enum.Enum):
    """Where the current attempt's body is."""

    NOT_SENT = "not sent"  # connecting, or nothing written yet
    WRITING = "writing"
    SENT = "sent"  # the whole body was handed to the connection
    CUT_SHORT = "cut short"  # writing stopped early: the server answered, or cancelled
    FAILED = "failed"  # writing raised (the tracker keeps the error)


class UploadTracker:
    """Upload progress of one request: pass it as ``upload_tracker=`` (aiohttp 3.14).

    Read ``bytes_written`` while the request runs and await ``upload_complete`` to learn
    whether the body was sent::

        tracker = UploadTracker()
        async with session.post(url, data=big_file, upload_tracker=tracker) as resp:
            ...
        await tracker.upload_complete  # raises UploadAbortedError if it was cut short

    A tracker observes exactly one request, redirects and retries included.

    Attributes:
        attempts: how many times the request was sent so far (each redirect hop and each
            retry is one more; a connection that could not be made counts too).
        upload_complete: a future that settles once the request returned or raised:
            result ``None`` when the final attempt sent the whole body; exception
            ``UploadAbortedError`` when it was cut short or never sent (the server
            answered first, a cancellation, a connection error before writing), or the
            upload's own error (a lost connection, a failing body source).

    Raises:
        RuntimeError: when created outside a running event loop.
    """

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()  # RuntimeError outside a loop, as aiohttp
        self.attempts = 0
        self.upload_complete: asyncio.Future[None] = loop.create_future()
        self._bound = False
        # Set when the request returned or raised: no attempt can follow.
        self._final = False
        self._state = _Attempt.NOT_SENT
        self._error: BaseException | None = None
        # While the body is written: the wrapper the writer was given (its protocol's
        # transport says how much is still buffered).
        self._watcher: _WatchedWrites | None = None
        self._accepted = 0  # payload bytes given to the connection in this attempt
        self._wire = 0  # bytes written on the connection in this attempt, head included
        self._flushed = 0  # payload bytes known to have left the transport
        # (payload, wire) when each piece not yet known to be out started, oldest
        # first: the first one is the last piece start the transport has sent past.
        self._marks: deque[tuple[int, int]] = deque()

    def __repr__(self) -> str:
        return (
            f"<UploadTracker attempts={self.attempts} bytes_written={self.bytes_written}"
            f" {self._state.value}>"
        )

    @property
    def bytes_written(self) -> int:
        """Payload bytes of the current attempt that left for the kernel.

        Computed from the transport's unsent buffer on each access; what the kernel
        still holds in its socket buffer counts as written. Reset to 0 when an attempt
        starts; after a cut-short attempt, the last count seen while the connection was
        open.
        """
        self._refresh()
        return self._flushed

    # -- told by the session and the request -----------------------------------------------

    def _bind(self) -> None:
        """Claim the tracker for a request; a second request is refused."""
        if self._bound:
            raise RuntimeError("UploadTracker is already bound to a request")
        self._bound = True

    def _attempt_started(self) -> None:
        """The request is about to be sent (again): counting starts over."""
        self.attempts += 1
        self._state = _Attempt.NOT_SENT
        self._error = None
        self._watcher = None
        self._accepted = self._wire = self._flushed = 0
        self._marks.clear()

    def _sent_with_head(self, size: int) -> None:
        """The whole body (*size* bytes, maybe none) went out in the head's write."""
        if self._state is _Attempt.NOT_SENT:  # pragma: no branch - attempts never overlap
            self._state = _Attempt.SENT
            self._accepted = self._flushed = size

    def _watch(self, protocol: ResponseHandler) -> _WatchedWrites:
        """The head and body are about to be written on *protocol*: the writer's view."""
        watcher = _WatchedWrites(protocol, self)
        if self._state is _Attempt.NOT_SENT:  # pragma: no branch - attempts never overlap
            self._state = _Attempt.WRITING
            self._watcher = watcher
        return watcher

    def _accept(self, size: int) -> None:
        """A piece of *size* payload bytes is about to be written (before compression)."""
        if self._state is not _Attempt.WRITING:
            return  # pragma: no cover - Defensive: pieces come only while writing
        marks = self._marks
        # A piece that produced no bytes (a compressor keeping its input) gets no mark of
        # its own: its payload is credited to the next bytes that do go out.
        if not marks or marks[-1][1] < self._wire:
            self._refresh()  # drops the marks already sent past, so they stay few
            marks.append((self._accepted, self._wire))
        self._accepted += size

    def _piece_written(self) -> None:
        """The current piece was written whole: counted now, so that what the socket took
        at once stands if the connection is lost while the source makes the next one."""
        if self._state is _Attempt.WRITING:  # pragma: no branch - pieces come only then
            self._refresh()

    def _wrote(self, watcher: _WatchedWrites, size: int) -> None:
        if watcher is self._watcher:  # pragma: no branch - else an earlier attempt's writer
            self._wire += size

    def _refresh_for(self, watcher: _WatchedWrites) -> None:
        if watcher is self._watcher:  # pragma: no branch - else an earlier attempt's writer
            self._refresh()

    def _stopped(self, watcher: _WatchedWrites, finished: bool) -> None:
        """Writing ended: the whole body was written (*finished*), or it stopped early."""
        if watcher is not self._watcher:
            return  # pragma: no cover - Defensive: an earlier attempt's writer
        if finished:
            self._state = _Attempt.SENT
            # The tail still buffered goes out ahead of anything else on the connection.
            self._flushed = self._accepted
        else:
            self._refresh()  # before the connection is closed and its buffer dropped
            self._state = _Attempt.CUT_SHORT
        self._release()

    def _attempt_failed(self, exc: BaseException) -> None:
        """Sending raised *exc*; it is the upload's error unless the body was already
        sent or the attempt was cancelled (a cancelled upload is merely cut short)."""
        if (
            self._state is _Attempt.SENT
            or self._state is _Attempt.FAILED
            or isinstance(exc, asyncio.CancelledError)
        ):
            return
        if self._state is _Attempt.WRITING:
            # Writing the head failed (a connection closed as it was taken): a race no
            # test can time; the body's own failures end writing first.
            self._refresh()  # pragma: no cover
        self._state = _Attempt.FAILED
        self._error = exc
        self._release()

    def _finalize(self) -> None:
        """The request returned or raised: settle ``upload_complete`` now, or when the
        attempt still writing ends."""
        self._final = True
        if self._state is not _Attempt.WRITING:  # pragma: no branch - see the module doc
            self._settle()

    # -- inside -----------------------------------------------------------------------------

    def _release(self) -> None:
        self._watcher = None
        self._marks.clear()
        if self._final:
            self._settle()  # pragma: no cover - Defensive: a writer outliving its request

    def _settle(self) -> None:
        future = self.upload_complete
        if future.done():  # settled already, or cancelled by its owner
            return
        if self._state is _Attempt.SENT:
            future.set_result(None)
            return
        if self._error is not None:  # set exactly when the attempt FAILED
            future.set_exception(self._error)
        else:
            future.set_exception(UploadAbortedError("the request body was not fully sent"))
        future.exception()  # retrieved: an unawaited tracker must not log an error

    def _refresh(self) -> None:
        """Recompute ``_flushed`` from the transport's unsent buffer."""
        watcher = self._watcher
        transport = watcher._protocol.transport if watcher is not None else None
        if transport is None or transport.is_closing():
            # Closed: what was still buffered is dropped, so the last count stands.
            return
        out = self._wire - transport.get_write_buffer_size()
        marks = self._marks
        while len(marks) > 1 and marks[1][1] <= out:
            marks.popleft()
        if not marks:
            return  # only the head so far
        payload, wire = marks[0]
        end_payload, end_wire = marks[1] if len(marks) > 1 else (self._accepted, self._wire)
        if out > wire and end_wire > wire:
            # Inside a piece: its payload spread evenly over its bytes on the wire.
            sent = min(out, end_wire) - wire
            payload += (end_payload - payload) * sent // (end_wire - wire)
        # Never backwards, for progress bars: a TLS transport that holds records back
        # (during a handshake) counts them in its buffer, and a record is a little
        # larger than the plaintext it carries.
        if payload > self._flushed:
            self._flushed = payload


class _WatchedWrites:
    """A tracked request's connection protocol, as its body writer sees it: every write is
    counted and the end of writing reported; everything else is the protocol's own."""

    __slots__ = ("_protocol", "_tracker")

    def __init__(self, protocol: ResponseHandler, tracker: UploadTracker) -> None:
        self._protocol = protocol
        self._tracker = tracker

    def write(self, data: bytes) -> None:
        self._protocol.write(data)
        self._tracker._wrote(self, len(data))

    async def drain(self) -> None:
        # Counted around each wait, while the connection is surely open: if the server
        # then answers and closes, the last count is the one that stands.
        self._tracker._refresh_for(self)
        await self._protocol.drain()
        self._tracker._refresh_for(self)

    def writing(self, flag: bool, *, finished: bool = True) -> None:
        if not flag:
            # First: ending an unfinished upload closes the connection, and with it the
            # buffer the count is read from.
            self._tracker._stopped(self, finished)
        self._protocol.writing(flag, finished=finished)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._protocol, name)
