"""Content codings (RFC 9110 §8.4): bounded, streamed decoders and request-body encoders.

This module owns turning ``Content-Encoding`` into a chain of decoders and running that
chain with flat memory. It does no I/O and never imports asyncio: the body reader feeds
it the bytes it received and pulls the decoded bytes in pieces of a size it chooses.

Rule 1: no call ever returns more than the ``max_length`` it was given, whatever the
compression ratio. A decoder keeps the input it could not decode yet (and, for brotli,
the output the library produced beyond the limit) and ``decompress(b"", n)`` drains it.

Rule 2: the input a stage holds is bounded too. A :class:`StackedDecoder` pulls at most
:data:`STAGE_INPUT_SIZE` bytes from the previous stage, and only when the next stage has
nothing left to decode, so a decompression bomb at any depth costs O(chunk) memory.

Rule 3: the work per input byte is bounded too. Each gzip member or zstd frame is fed to
its decompressor in slices that start small and double, so the input left over when it
ends (which the codec copies) is never much longer than the member itself; and a body
made of many members or frames that decode to almost nothing (:data:`SMALL_MEMBER_SIZE`,
:data:`MAX_SMALL_MEMBERS`) is refused.

Rule 4: the end of the body is checked: a stream that stops before its end marker
(gzip trailer, final deflate block, last brotli meta-block, zstd frame end) is a
truncated body and raises :class:`RemoteProtocolError` from ``finish()``.

Optional codecs: ``br`` needs the ``brotli`` package and ``zstd`` needs
``compression.zstd`` (Python 3.14+) or ``backports.zstd``; without them those codings are
neither offered in ``Accept-Encoding`` nor accepted in a response.
"""

from __future__ import annotations

import functools
import importlib
import sys
import zlib
from collections.abc import Sequence
from types import ModuleType
from typing import Protocol, cast

from .errors import PayloadTooBig, RemoteProtocolError, short_repr

if sys.version_info >= (3, 14):  # pragma: no cover  # Defensive: the venv runs 3.11
    from compression import zstd as _zstd

    _HAS_ZSTD = True
else:
    try:
        from backports import zstd as _zstd

        _HAS_ZSTD = True
    except ImportError:  # pragma: no cover  # Defensive: the zstd extra is optional
        _HAS_ZSTD = False

__all__ = (
    "DEFAULT_MAX_LENGTH",
    "MAX_CODINGS",
    "MAX_SMALL_MEMBERS",
    "SMALL_MEMBER_SIZE",
    "STAGE_INPUT_SIZE",
    "Decoder",
    "Encoder",
    "StackedDecoder",
    "accept_encoding",
    "make_decoder",
    "make_encoder",
)

#: Default size (bytes) of one decoded piece handed to the body reader.
DEFAULT_MAX_LENGTH = 65536

#: Most content codings accepted in one response. urllib3 limits its ``MultiDecoder``
#: chain to 5 links as well: nobody stacks more, and each stage multiplies a bomb's ratio.
MAX_CODINGS = 5

#: Most bytes (of the previous stage's output) fed to an inner stage at a time.
STAGE_INPUT_SIZE = 65536

#: RFC 9659 §3: encoders of the "zstd" content coding must not need more than an 8 MB
#: window, so larger frames are rejected; 2**23 also bounds the decoder's memory.
ZSTD_WINDOW_LOG_MAX = 23

#: A gzip member or zstd frame (skippable ones included) that decodes to fewer bytes than
#: this is "small"; see :data:`MAX_SMALL_MEMBERS`.
SMALL_MEMBER_SIZE = 1024

#: Most small members (or frames) a body may hold, plus one per member that decodes to
#: :data:`SMALL_MEMBER_SIZE` bytes or more. Each member costs a new decompressor (about
#: 8 µs for zstd, 0.3 µs for zlib) however little it holds: a body of empty zstd frames
#: (9 bytes each, or 8 for a skippable frame) costs a second of CPU per MiB, one of
#: empty gzip members (20 bytes) 60 ms, all without yielding. aiohttp refuses more than
#: 1024 members per decompress call (``MAX_DECOMPRESS_MEMBERS``), which depends on how
#: the input was split; we count over the whole body, so the outcome does not.
#: Legitimate multi-member bodies have few small members, and at most one per larger
#: one: BGZF ends its 64 KiB-output members with one empty member, pzstd puts a 12-byte
#: skippable frame before each frame of a few MiB, and the seekable zstd format adds one
#: seek table; so those decode at any size.
MAX_SMALL_MEMBERS = 1024

# A member's first input slice (bytes), doubled while the member goes on, up to the
# largest. When a member ends, zlib and zstd copy the rest of the slice they were given
# (``unused_data``): handing them everything we hold would copy it again for each member
# (quadratic in the members per piece). With doubling slices, what is left over is at
# most the member's own length plus the first slice.
_FIRST_FEED = 64
_MAX_FEED = 65536

_GZIP_MAGIC = b"\x1f\x8b"


def _load_brotli() -> ModuleType | None:
    """The ``brotli`` module, or None when the extra is not installed."""
    try:
        return importlib.import_module("brotli")
    except ImportError:  # pragma: no cover  # Defensive: the brotli extra is optional
        return None


_brotli = _load_brotli()


@functools.cache
def accept_encoding() -> str:
    """The ``Accept-Encoding`` value listing every coding this install can decode.

    Returns:
        ``"gzip, deflate"``, followed by ``", br"`` when brotli is importable and
        ``", zstd"`` when a zstd binding is; computed once.
    """
    codings = ["gzip", "deflate"]
    if _brotli is not None:
        codings.append("br")
    if _HAS_ZSTD:
        codings.append("zstd")
    return ", ".join(codings)


class Decoder(Protocol):
    """One content coding's incremental decoder.

    ``decompress`` accepts all of *data* (keeping what it cannot decode yet) and returns
    at most *max_length* bytes; ``unconsumed()`` says whether calling it again with
    ``b""`` may return more. ``finish()`` is called once the body ended and every piece
    was drained; it raises :class:`RemoteProtocolError` if the end marker never came.
    """

    def decompress(self, data: bytes, max_length: int) -> bytes: ...

    def unconsumed(self) -> bool: ...

    def flush(self) -> bytes: ...

    def finish(self) -> None: ...


def _check_max_length(max_length: int) -> None:
    """Reject limits that the codec libraries would read as "unbounded" (zlib's 0)."""
    if max_length < 1:
        raise ValueError(f"max_length must be positive, got {max_length!r}")


def _drain(decoder: Decoder) -> bytes:
    """Everything *decoder* still holds, in one piece (unbounded: small bodies only)."""
    pieces = []
    while decoder.unconsumed():
        piece = decoder.decompress(b"", DEFAULT_MAX_LENGTH)
        if not piece and not decoder.unconsumed():
            break
        pieces.append(piece)
    return b"".join(pieces)


def _truncated(coding: str) -> RemoteProtocolError:
    return RemoteProtocolError(f"compressed body is truncated ({coding})", in_body=True)


def _corrupt(coding: str, exc: Exception) -> RemoteProtocolError:
    return RemoteProtocolError(f"invalid {coding} data: {exc}", in_body=True)


class _MemberCount:
    """The members (or frames) of one body decoded so far; refuses too many small ones."""

    def __init__(self, coding: str, unit: str) -> None:
        self.coding = coding
        self.unit = unit  # what one member is called in messages: "member", "frame"
        #: Members decoded to their end.
        self.ended = 0
        self._output = 0  # bytes the current member decoded to so far
        self._small = 0
        self._large = 0

    def add_output(self, size: int) -> None:
        """Count *size* decoded bytes of the current member."""
        self._output += size

    def end_member(self) -> None:
        """The current member ended; raise if that makes one small member too many."""
        self.ended += 1
        if self._output >= SMALL_MEMBER_SIZE:
            self._large += 1
        else:
            self._small += 1
            if self._small > MAX_SMALL_MEMBERS + self._large:
                raise RemoteProtocolError(
                    f"too many {self.coding} {self.unit}s that decode to under "
                    f"{SMALL_MEMBER_SIZE} bytes each: {self._small}, expected no more than "
                    f"{MAX_SMALL_MEMBERS} plus one per larger {self.unit} ({self._large} so far)",
                    in_body=True,
                )
        self._output = 0


class _ZlibDecoder:
    """gzip (RFC 1952) and deflate (RFC 1950, or raw RFC 1951) through :mod:`zlib`.

    zlib honours ``max_length`` exactly; the input it did not reach stays in our buffer,
    past ``_offset``, and is handed over in slices (Rule 3).
    """

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._obj: zlib._Decompress | None = None
        self._input = b""  # input received; the part before _offset was decoded
        self._offset = 0
        self._feed = _FIRST_FEED  # size of the next slice given to the current member
        self._full = False  # the last call filled max_length: more output may be waiting
        self._seen_input = False
        # gzip members (or deflate streams) decoded to their end
        self._members = _MemberCount(coding, "member" if coding == "gzip" else "stream")
        self._ignoring = False  # trailing bytes after the last member: dropped

    def _start(self, head: bytes) -> zlib._Decompress | None:
        """A decompressor for the stream starting with *head* (its first 2 bytes, or fewer
        when no more came yet), None if more bytes are needed."""
        if self.coding == "gzip":
            if self._members.ended and not head.startswith(_GZIP_MAGIC[: len(head)]):
                # Bytes after a complete member that are not another member: urllib3
                # ignores such trailing garbage ("acceptable in other gzip clients"), and
                # so do we.
                self._ignoring = True
                return None
            if self._members.ended and len(head) < 2:
                return None
            # RFC 1952 member; concatenated members form one body (RFC 1952 §2.2).
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        if self._members.ended:
            self._ignoring = True  # bytes after the final deflate block
            return None
        if len(head) < 2:
            return None
        # RFC 9110 §8.4.1.2 says "deflate" is the zlib format (RFC 1950), but servers
        # also send raw RFC 1951 data. A zlib header has CM=8, CINFO<=7 and a 16-bit
        # value divisible by 31 (RFC 1950 §2.2); anything else is taken as raw deflate.
        cmf, flg = head[0], head[1]
        is_zlib = cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0
        return zlib.decompressobj(zlib.MAX_WBITS if is_zlib else -zlib.MAX_WBITS)

    def decompress(self, data: bytes, max_length: int) -> bytes:
        _check_max_length(max_length)
        if data:
            self._seen_input = True
            rest = self._input[self._offset :]
            self._input = rest + data if rest else data
            self._offset = 0
        out = bytearray()
        view = memoryview(self._input)
        while not self._ignoring and len(out) < max_length:
            if self._obj is None:
                if self._offset >= len(view):
                    break
                self._obj = self._start(self._input[self._offset : self._offset + 2])
                if self._obj is None:
                    break
                self._feed = _FIRST_FEED
            piece = view[self._offset : self._offset + self._feed]
            try:
                decoded = self._obj.decompress(piece, max_length - len(out))
            except zlib.error as exc:
                raise _corrupt(self.coding, exc) from exc
            out += decoded
            self._members.add_output(len(decoded))
            if self._obj.eof:
                self._offset += len(piece) - len(self._obj.unused_data)
                self._obj = None
                self._members.end_member()
                continue
            left = len(self._obj.unconsumed_tail)  # max_length was reached
            self._offset += len(piece) - left
            if left or self._offset >= len(view):
                break
            self._feed = min(2 * self._feed, _MAX_FEED)
        if self._ignoring or self._offset >= len(self._input):
            self._input, self._offset = b"", 0
        self._full = len(out) >= max_length
        return bytes(out)

    def unconsumed(self) -> bool:
        return self._full or (
            self._offset < len(self._input) and not self._ignoring and self._obj is not None
        )

    def flush(self) -> bytes:
        return _drain(self)

    def finish(self) -> None:
        if not self._seen_input:
            # An empty body labelled "gzip" (seen on 204-like replies) is just empty.
            return
        if self._obj is not None or self._members.ended == 0:
            raise _truncated(self.coding)
        # A lone b"\x1f" after a complete gzip member is trailing garbage, not a member.


class _BrotliDecompressor(Protocol):
    """The part of ``brotli.Decompressor`` we use (the package ships no type hints)."""

    def process(self, data: bytes, **kwargs: int) -> bytes: ...

    def can_accept_more_data(self) -> bool: ...

    def is_finished(self) -> bool: ...


@functools.cache
def _brotli_has_output_limit() -> bool:
    """Whether ``Decompressor.process`` takes ``output_buffer_limit`` (brotli >= 1.2)."""
    assert _brotli is not None
    try:
        _brotli.Decompressor().process(b"", output_buffer_limit=1)
    except TypeError:
        return False
    return True


class _BrotliDecoder:
    """br (RFC 7932) through the ``brotli`` package.

    brotli >= 1.2 bounds each ``process`` call with ``output_buffer_limit``, but the
    bound is soft (the buffer grows in blocks and may pass the limit), so output beyond
    *max_length* is kept here and handed out on the next calls.

    Older brotli decodes a whole input in one call, and a few hundred bytes of br expand
    to hundreds of MiB (421 bytes hold 256 MiB of zeros). There we feed the input **one
    byte per call**: a byte can complete at most one meta-block, whose length is at most
    2**24 bytes (RFC 7932 §9.2, MLEN), so one call yields at most 16 MiB and the memory
    held stays below ~16 MiB plus the input chunk. Each byte costs a call (~0.2 µs);
    brotli >= 1.2 avoids both costs.
    """

    coding = "br"

    def __init__(self, *, output_limit: bool | None = None) -> None:
        assert _brotli is not None
        self._obj = cast(_BrotliDecompressor, _brotli.Decompressor())
        self._error: type[Exception] = _brotli.error
        self._use_limit = _brotli_has_output_limit() if output_limit is None else output_limit
        self._input = b""  # input not handed to brotli yet
        self._input_offset = 0
        self._output = b""  # output produced beyond what callers took so far
        self._output_offset = 0
        self._seen_input = False
        self._maybe_more = False  # the last process() filled its limit: more may be waiting

    def decompress(self, data: bytes, max_length: int) -> bytes:
        _check_max_length(max_length)
        if data:
            self._seen_input = True
            rest = self._input[self._input_offset :]
            self._input = rest + data if rest else data
            self._input_offset = 0
        if self._output_offset >= len(self._output):
            try:
                self._output = self._produce(max_length)
            except self._error as exc:
                raise _corrupt("br", exc) from exc
            self._output_offset = 0
        end = self._output_offset + max_length
        out = self._output[self._output_offset : end]
        self._output_offset = min(end, len(self._output))
        return out

    def _produce(self, max_length: int) -> bytes:
        """The next decoded bytes, possibly more than *max_length* (never far more)."""
        if self._use_limit:
            # can_accept_more_data() only reports unread *input*: brotli 1.2 says True
            # while decoded output is still waiting, so a full buffer means "ask again".
            if self._maybe_more or not self._obj.can_accept_more_data():
                out = self._obj.process(b"", output_buffer_limit=max_length)
            else:
                data = self._input[self._input_offset :]
                self._input, self._input_offset = b"", 0
                out = self._obj.process(data, output_buffer_limit=max_length) if data else b""
            self._maybe_more = len(out) >= max_length
            return out
        while self._input_offset < len(self._input):
            byte = self._input[self._input_offset : self._input_offset + 1]
            self._input_offset += 1
            out = self._obj.process(byte)
            if out:
                return out
        self._input, self._input_offset = b"", 0
        return b""

    def unconsumed(self) -> bool:
        return (
            self._output_offset < len(self._output)
            or self._input_offset < len(self._input)
            or self._maybe_more
            or (self._use_limit and not self._obj.can_accept_more_data())
        )

    def flush(self) -> bytes:
        return _drain(self)

    def finish(self) -> None:
        if self._seen_input and not self._obj.is_finished():
            raise _truncated("br")


class _ZstdDecoder:
    """zstd (RFC 8878) through ``compression.zstd`` or ``backports.zstd``.

    A body may hold several frames, skippable ones included (RFC 8878 §3.1); each frame
    gets a fresh decompressor, fed in slices (Rule 3). ``max_length`` is honoured exactly
    by the binding, which keeps the part of a slice it did not reach.
    """

    coding = "zstd"

    def __init__(self) -> None:
        self._obj: _zstd.ZstdDecompressor | None = None
        self._input = b""  # input received; the part before _offset went to the binding
        self._offset = 0
        self._piece_start = 0  # where the last piece given to the binding began
        self._feed = _FIRST_FEED  # size of the next slice given to the current frame
        self._full = False
        self._seen_input = False
        self._frames = _MemberCount("zstd", "frame")

    def decompress(self, data: bytes, max_length: int) -> bytes:
        _check_max_length(max_length)
        if data:
            self._seen_input = True
            # The binding may still hold part of the last piece it was given (and hand
            # it back as unused_data when the frame ends): that piece stays.
            keep = self._piece_start if self._obj is not None else self._offset
            rest = self._input[keep:]
            self._input = rest + data if rest else data
            self._offset -= keep
            self._piece_start -= keep
        out = bytearray()
        view = memoryview(self._input)
        try:
            while len(out) < max_length:
                if self._obj is None:
                    if self._offset >= len(view):
                        break
                    self._obj = _zstd.ZstdDecompressor(
                        options={_zstd.DecompressionParameter.window_log_max: ZSTD_WINDOW_LOG_MAX}
                    )
                    self._feed = _FIRST_FEED
                if self._obj.needs_input:
                    if self._offset >= len(view):
                        break
                    piece = view[self._offset : self._offset + self._feed]
                    self._piece_start = self._offset
                    self._offset += len(piece)
                    decoded = self._obj.decompress(piece, max_length - len(out))
                    self._feed = min(2 * self._feed, _MAX_FEED)
                else:
                    decoded = self._obj.decompress(b"", max_length - len(out))
                out += decoded
                self._frames.add_output(len(decoded))
                if self._obj.eof:
                    # The binding keeps what it did not reach, and hands the rest of the
                    # input back once the frame ends: that is where the next one starts.
                    # It is the end of the last piece given, which is still buffered.
                    self._offset -= len(self._obj.unused_data)
                    self._obj = None
                    self._frames.end_member()
                elif not decoded and self._offset >= len(view):
                    break
        except _zstd.ZstdError as exc:
            raise _corrupt("zstd", exc) from exc
        if self._obj is None and self._offset >= len(self._input):
            self._input, self._offset = b"", 0
        self._full = len(out) >= max_length
        return bytes(out)

    def unconsumed(self) -> bool:
        return self._full or self._offset < len(self._input)

    def flush(self) -> bytes:
        return _drain(self)

    def finish(self) -> None:
        if self._seen_input and (
            self._obj is not None or self._offset < len(self._input) or self._frames.ended == 0
        ):
            raise _truncated("zstd")


def _new_decoder(coding: str) -> Decoder:
    """The decoder for one (lower-cased, known) coding."""
    if coding == "br":
        return _BrotliDecoder()
    if coding == "zstd":
        return _ZstdDecoder()
    return _ZlibDecoder(coding)


def _parse_codings(content_encoding: str) -> list[str]:
    """The codings in a ``Content-Encoding`` value, in the order they were applied."""
    codings = []
    # RFC 9110 §5.6.1: a list may hold empty elements, which recipients ignore.
    for element in content_encoding.split(","):
        coding = element.strip(" \t").lower()
        if not coding or coding == "identity":
            continue
        if coding == "x-gzip":
            coding = "gzip"  # RFC 9110 §8.4.1.3: x-gzip is gzip
        if coding not in _supported_codings():
            raise RemoteProtocolError(
                f"unsupported content encoding: {short_repr(coding)}", in_body=True
            )
        codings.append(coding)
    if len(codings) > MAX_CODINGS:
        raise RemoteProtocolError(
            f"too many content encodings: {len(codings)}, expected no more than {MAX_CODINGS}",
            in_body=True,
        )
    return codings


@functools.cache
def _supported_codings() -> frozenset[str]:
    return frozenset(coding.strip() for coding in accept_encoding().split(","))


class StackedDecoder:
    """The decoders for every coding of a response, run as a bounded pipeline.

    Feed each received chunk with ``decompress(chunk)``, then call
    ``decompress(b"")`` while :meth:`has_pending` is true; every call returns at most
    *max_length* bytes, so memory stays flat whatever the compression ratio.

    Args:
        codings: the codings in the order they were applied (header order).
        max_total: most decoded bytes accepted for the whole body, or None.
    """

    def __init__(self, codings: Sequence[str], *, max_total: int | None = None) -> None:
        if not codings:
            raise ValueError("a stacked decoder needs at least one coding")
        self.codings = tuple(codings)
        self.max_total = max_total
        #: Decoded bytes returned so far.
        self.total = 0
        # RFC 9110 §8.4: codings are listed in the order applied; undo the last first.
        self._decoders = [_new_decoder(coding) for coding in reversed(self.codings)]
        self._fresh = b""  # received bytes the first stage has not been given yet

    def decompress(self, data: bytes, max_length: int = DEFAULT_MAX_LENGTH) -> bytes:
        """Feed *data* (may be empty) and return the next decoded piece.

        Args:
            data: bytes received from the peer, or ``b""`` to drain.
            max_length: most bytes returned (positive).

        Returns:
            At most *max_length* bytes; ``b""`` only when nothing more can be decoded
            without more input (then :meth:`has_pending` is false).

        Raises:
            RemoteProtocolError: the data is not valid for one of the codings.
            PayloadTooBig: the decoded body passed *max_total*.
        """
        _check_max_length(max_length)
        self._fresh = self._fresh + data if self._fresh else data
        out = self._pull(len(self._decoders) - 1, max_length)
        self.total += len(out)
        if self.max_total is not None and self.total > self.max_total:
            raise PayloadTooBig(
                f"decompressed body exceeds limit of {self.max_total} bytes", in_body=True
            )
        return out

    def _pull(self, index: int, limit: int) -> bytes:
        """Up to *limit* bytes out of stage *index*, feeding it from stage ``index - 1``."""
        decoder = self._decoders[index]
        while True:
            if decoder.unconsumed():
                feed = b""
            elif index == 0:
                feed, self._fresh = self._fresh, b""
                if not feed:
                    return b""
            else:
                feed = self._pull(index - 1, STAGE_INPUT_SIZE)
                if not feed:
                    return b""
            out = decoder.decompress(feed, limit)
            if out:
                return out

    def has_pending(self) -> bool:
        """Whether ``decompress(b"")`` may return more bytes."""
        return bool(self._fresh) or any(decoder.unconsumed() for decoder in self._decoders)

    def flush(self) -> bytes:
        """All pending output in one piece (bounded only by *max_total*)."""
        pieces = []
        while piece := self.decompress(b""):
            pieces.append(piece)
        return b"".join(pieces)

    def finish(self) -> bytes:
        """Check that every coding reached its end marker; call once the body ended.

        Returns:
            ``b""``: every decoded byte was already returned by :meth:`decompress` (the
            bytes return keeps the ``streams.Decoder`` interface).

        Raises:
            RemoteProtocolError: a coding's stream is truncated.
            RuntimeError: output is still pending (drain it first).
        """
        if self.has_pending():
            raise RuntimeError("decoded output is still pending; drain it before finish()")
        for decoder in self._decoders:
            decoder.finish()
        return b""


def make_decoder(content_encoding: str, *, max_total: int | None = None) -> StackedDecoder | None:
    """The decoder for a response's ``Content-Encoding``, or None for identity.

    Args:
        content_encoding: the header value, e.g. ``"gzip, br"``.
        max_total: most decoded bytes accepted for the body, or None.

    Raises:
        RemoteProtocolError: a coding is unknown (or its codec is not installed), or more
            than :data:`MAX_CODINGS` are stacked.
    """
    codings = _parse_codings(content_encoding)
    if not codings:
        return None
    return StackedDecoder(codings, max_total=max_total)


class Encoder:
    """Compresses a request body for ``deflate`` (zlib format, RFC 1950) or ``gzip``.

    Args:
        name: ``"deflate"`` or ``"gzip"``.
        level: zlib compression level (-1 is zlib's default, 6).
    """

    def __init__(self, name: str, level: int = -1) -> None:
        if name == "deflate":
            wbits = zlib.MAX_WBITS  # RFC 9110 §8.4.1.2: deflate means zlib-wrapped
        elif name == "gzip":
            wbits = 16 + zlib.MAX_WBITS
        else:
            raise ValueError(f"unsupported content encoding for a request body: {name!r}")
        self.name = name
        self._obj = zlib.compressobj(level, zlib.DEFLATED, wbits)

    def compress(self, data: bytes) -> bytes:
        """Compressed bytes for *data* (may be empty while zlib buffers)."""
        return self._obj.compress(data)

    def flush(self) -> bytes:
        """The rest of the compressed stream, trailer included; the encoder is done."""
        return self._obj.flush(zlib.Z_FINISH)


def make_encoder(name: str) -> Encoder:
    """The encoder for a request ``Content-Encoding`` (``compress=True`` means deflate).

    Raises:
        ValueError: *name* is not ``deflate`` or ``gzip``.
    """
    return Encoder(name.lower())
