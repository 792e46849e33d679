"""WebSocket frames: parsing what the server sends, serialising what the client sends.

This module owns RFC 6455 §5 (framing, masking, fragmentation, control frames), the
close-frame rules of §7.4 and the per-message compression of RFC 7692
(permessage-deflate). It is a sans-I/O core: bytes in, :class:`WSMessage` out
(:class:`FrameReader`), values in, bytes out (:class:`FrameWriter`).

Rules:

1. Nothing here imports asyncio, touches a socket or keeps a clock. The I/O layer feeds
   bytes with :meth:`FrameReader.receive_data`, pulls messages with
   :meth:`FrameReader.next_message` and writes what :class:`FrameWriter` returns.
2. The reader is the client side of the connection: it refuses masked frames
   (RFC 6455 §5.1) and the writer always masks (RFC 6455 §5.3).
3. Any violation by the server raises :class:`WebSocketError` whose ``code`` is the
   close code the I/O layer should send before dropping the connection (RFC 6455
   §7.1.7, §7.4.1). After that the reader is dead: it raises the same error again.
4. Size limits are checked before bytes are buffered or inflated, so a hostile length
   field or a compression bomb costs at most ``max_msg_size`` bytes of memory.

Anchors read for behaviour (no code taken): websockets ``frames``/``extensions``,
wsproto ``frame_protocol``, aiohttp ``_websocket/reader_py``.
"""

from __future__ import annotations

import codecs
import io
import json
import os
import struct
import zlib
from collections.abc import Callable
from enum import IntEnum
from typing import Any, Final, NamedTuple

from .errors import LocalProtocolError, PayloadTooBig, RemoteProtocolError, short_repr

__all__ = (
    "FrameReader",
    "FrameWriter",
    "MessageTooBig",
    "WSCloseCode",
    "WSMessage",
    "WSMsgType",
    "WebSocketError",
    "is_valid_close_code",
    "mask",
)


class WSMsgType(IntEnum):
    """Message types: the RFC 6455 §5.2 opcodes plus aiohttp's connection states."""

    # RFC 6455 §11.8 opcodes.
    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    PING = 0x9
    PONG = 0xA
    CLOSE = 0x8

    # aiohttp's pseudo-types, produced by the I/O layer, never on the wire.
    CLOSING = 0x100
    CLOSED = 0x101
    ERROR = 0x102

    # aiohttp 3 keeps lower-case aliases; IntEnum turns equal values into aliases.
    text = TEXT
    binary = BINARY
    ping = PING
    pong = PONG
    close = CLOSE
    closing = CLOSING
    closed = CLOSED
    error = ERROR


class WSCloseCode(IntEnum):
    """Close codes of RFC 6455 §7.4.1 and the IANA registry, with aiohttp's names."""

    OK = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    ABNORMAL_CLOSURE = 1006
    INVALID_TEXT = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014


class WSMessage(NamedTuple):
    """One complete message.

    ``data`` is a ``str`` for TEXT, ``bytes`` for BINARY/PING/PONG and the close code
    (``int``, 0 when the frame had no payload, as aiohttp) for CLOSE, where ``extra``
    holds the reason.
    """

    type: WSMsgType
    data: Any
    extra: str | None

    def json(self, *, loads: Callable[[Any], Any] = json.loads) -> Any:
        """Parse ``data`` as JSON with *loads*."""
        return loads(self.data)


class WebSocketError(RemoteProtocolError):
    """The server broke RFC 6455 or RFC 7692; ``code`` is the close code to send back.

    Args:
        code: 1002 (protocol error), 1007 (invalid payload data) or 1009 (too big).
        message: what was wrong, lower-case, naming the bad value.
    """

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        # Same argument order as aiohttp's WebSocketError(code, message).
        self.args = (code, message)

    def __str__(self) -> str:
        return self.message


class MessageTooBig(WebSocketError, PayloadTooBig):
    """A message (after reassembly and inflation) is larger than ``max_msg_size``."""

    def __init__(self, message: str) -> None:
        super().__init__(WSCloseCode.MESSAGE_TOO_BIG, message)


# -- constants ------------------------------------------------------------------------------

_FIN: Final = 0x80
_RSV1: Final = 0x40
_RSV_ALL: Final = 0x70
_OPCODE: Final = 0x0F
_MASKED: Final = 0x80

_OP_CONT: Final = 0x0
_OP_TEXT: Final = 0x1
_OP_BINARY: Final = 0x2
_OP_CLOSE: Final = 0x8
_OP_PING: Final = 0x9
_OP_PONG: Final = 0xA

# RFC 6455 §5.5: control frames carry at most 125 bytes and are never fragmented.
MAX_CONTROL_PAYLOAD: Final = 125

# RFC 7692 §7.2.1: the compressor's sync flush ends with an empty stored block whose
# four bytes are removed by the sender and put back by the receiver (§7.2.2).
_DEFLATE_TAIL: Final = b"\x00\x00\xff\xff"

# Deflate's worst case (incompressible data in stored blocks) adds 5 bytes per 64 KiB
# block: compressed bytes beyond limit + limit/8192 + this slack can't fit the limit.
_DEFLATE_SLACK: Final = 1024

_MSG_TYPES: Final = {
    _OP_TEXT: WSMsgType.TEXT,
    _OP_BINARY: WSMsgType.BINARY,
    _OP_PING: WSMsgType.PING,
    _OP_PONG: WSMsgType.PONG,
}

# The primitive behind codecs.getincrementaldecoder("utf-8"): decodes what it can and
# says how many bytes it used, leaving an incomplete trailing sequence for the next
# call unless final. Called directly, it skips the wrapper's Python-level decode().
_utf8_decode: Final = codecs.utf_8_decode

# Builds a WSMessage without NamedTuple's Python-level __new__ (hot path).
_new_tuple: Final = tuple.__new__


def is_valid_close_code(code: int) -> bool:
    """Whether *code* may appear in a close frame (RFC 6455 §7.4.1, §7.4.2).

    1004 is reserved, 1005/1006/1015 are for reporting only and 1016-2999 are
    unassigned; 3000-3999 are IANA-registered and 4000-4999 private.
    """
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def _inflate_window(bits: int) -> int:
    """zlib ``wbits`` for a raw inflater accepting a peer window of *bits*."""
    # zlib (>= 1.2.9) silently deflates with a 9-bit window when 8 is asked for, so a
    # peer that agreed to 8 may reference 512 bytes back: decode with at least 9.
    return -max(bits, 9)


# -- reader -------------------------------------------------------------------------------


class FrameReader:
    """Incremental parser of the frames a server sends, yielding whole messages.

    Args:
        max_msg_size: largest message accepted, in bytes, counted after reassembly and
            inflation (0 = no limit). aiohttp's default is 4 MiB.
        compress: permessage-deflate is on, with the server's LZ77 window of this many
            bits (8-15); 0 when the extension was not negotiated (RFC 7692 §7.1.2.1).
        no_context_takeover: the server agreed to ``server_no_context_takeover``: each
            message starts with an empty window (RFC 7692 §7.1.1.1).
    """

    def __init__(
        self,
        *,
        max_msg_size: int = 4 * 1024 * 1024,
        compress: int = 0,
        no_context_takeover: bool = False,
    ) -> None:
        if max_msg_size < 0:
            raise ValueError(f"invalid max_msg_size: {max_msg_size!r}")
        if compress and not 8 <= compress <= 15:
            raise ValueError(f"invalid compress window bits: {compress!r}, expected 8 to 15")
        self._max_msg_size = max_msg_size
        self._compress = compress
        self._no_context_takeover = no_context_takeover
        # Bits a server may set on a first data frame: RSV1 means "compressed".
        self._allowed_rsv = _RSV1 if compress else 0

        # Received bytes: the frames still to parse are _buf[_pos:] followed by the
        # chunks in _more. Chunks are only joined once _buf is parsed up to a frame that
        # they complete (_wanted), so a 1 MiB frame arriving in 64 KiB reads is copied
        # once, not once per read, and bytes arriving while frames wait to be parsed
        # are not copied with them each time; a bytes buffer also slices twice as fast
        # as a bytearray for the many small frames case.
        self._buf = b""
        self._pos = 0
        self._more: list[bytes] = []
        self._more_size = 0
        self._wanted = 0  # bytes missing from _buf[_pos:] for the next step
        self._error: WebSocketError | None = None

        # The fragmented data message in progress (RFC 6455 §5.4), if any.
        self._msg_opcode: int | None = None
        self._msg_compressed = False
        self._msg_size = 0  # bytes of payload so far (after inflation)
        self._msg_wire_size = 0  # bytes of payload on the wire so far
        # A fragmented message so far (None between messages): one growing buffer, not a
        # list of fragments: a server's 1-byte or empty fragments would cost tens of bytes
        # of list entry and object each, many times what max_msg_size counts.
        self._binary_so_far: bytearray | None = None
        self._is_text = False
        self._text_so_far: io.StringIO | None = None
        self._utf8_tail = b""  # an incomplete UTF-8 sequence ending the last fragment

        self._inflater: Any = None  # zlib._Decompress, created on first use

    @property
    def buffered(self) -> int:
        """Bytes received but not yet consumed as frames."""
        return len(self._buf) - self._pos + self._more_size

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Append bytes read from the connection; they are parsed by :meth:`next_message`."""
        if type(data) is not bytes:
            data = bytes(data)
        if not data or self._error is not None:
            return
        if self._pos >= len(self._buf) and not self._more:
            # Everything before was consumed: the new bytes are the buffer, no copy.
            self._buf = data
            self._pos = 0
            self._wanted = 0
            return
        self._more.append(data)
        self._more_size += len(data)
        if self._wanted and self._more_size >= self._wanted:
            self._wanted = 0  # the awaited step can be taken: next_message joins

    def _join(self) -> None:
        """Make the unparsed bytes one buffer (each byte is copied here once)."""
        self._buf = b"".join([self._buf[self._pos :], *self._more])
        self._pos = 0
        self._more = []
        self._more_size = 0
        self._wanted = 0

    def next_message(self) -> WSMessage | None:
        """Parse buffered frames up to the next complete message.

        Control messages (PING, PONG, CLOSE) come out as soon as their frame is
        complete, even in the middle of a fragmented data message (RFC 6455 §5.4).

        Returns:
            The message, or ``None`` when more data is needed.

        Raises:
            WebSocketError: the server broke the protocol; ``code`` is the close code
                to send (:class:`MessageTooBig`, code 1009, for size limits).
        """
        if self._error is not None:
            raise self._error
        if self._wanted:
            return None
        try:
            message = self._parse()
            while message is None and self._more and self._more_size >= self._wanted:
                self._join()
                message = self._parse()
            if self._pos and self._pos >= len(self._buf):
                # All consumed: an idle WebSocket must not keep the last read (a whole
                # large message) until more bytes arrive.
                self._buf = b""
                self._pos = 0
            return message
        except WebSocketError as exc:
            self._error = exc
            self._buf = b""
            self._pos = 0
            self._more = []
            self._more_size = 0
            raise

    def _parse(self) -> WSMessage | None:
        """The loop of :meth:`next_message`: frames until a message or missing bytes."""
        buf = self._buf
        limit = self._max_msg_size
        while True:
            pos = self._pos
            size = len(buf)
            if size - pos < 2:
                self._wanted = 2 - (size - pos)
                return None
            b0 = buf[pos]
            length = buf[pos + 1]
            start = pos + 2
            if length >= 126:
                if length & _MASKED:
                    # RFC 6455 §5.1: a client MUST close on a masked frame from a server.
                    raise WebSocketError(WSCloseCode.PROTOCOL_ERROR, "masked frame from server")
                length, start = self._extended_length(buf, pos, length)
                if not length:
                    return None
            # The common case, an unfragmented uncompressed TEXT or BINARY frame, is
            # checked inline; anything else (and every rule) goes to _check_header.
            # Checks run before waiting for the payload, so a bad or oversized frame is
            # refused without buffering it.
            fast = (b0 == 0x81 or b0 == 0x82) and self._msg_opcode is None
            if not fast:
                self._check_header(b0, b0 & _OPCODE, length)
            elif limit and length > limit:
                raise MessageTooBig(f"message size {length} exceeds limit {limit}")
            end = start + length
            if end > size:
                self._wanted = end - size
                return None
            self._pos = end
            if fast:
                if b0 == 0x82:
                    return _new_tuple(WSMessage, (WSMsgType.BINARY, buf[start:end], ""))
                try:
                    text = buf[start:end].decode("utf-8")
                    return _new_tuple(WSMessage, (WSMsgType.TEXT, text, ""))
                except UnicodeDecodeError as exc:
                    raise _invalid_utf8("text message", exc) from exc
            message: WSMessage | None
            if b0 & _OPCODE >= _OP_CLOSE:
                message = self._control(b0 & _OPCODE, buf[start:end])
            else:
                message = self._data_frame(b0, b0 & _OPCODE, buf[start:end])
            if message is not None:
                return message

    def _extended_length(self, buf: bytes, pos: int, code: int) -> tuple[int, int]:
        """Length and payload start of a frame with a 16- or 64-bit length (RFC 6455 §5.2).

        Returns ``(0, 0)`` (and sets ``_wanted``) when the length is not all received.
        """
        avail = len(buf) - pos
        if code == 126:
            if avail < 4:
                self._wanted = 4 - avail
                return 0, 0
            length = (buf[pos + 2] << 8) | buf[pos + 3]
            if length < 126:
                # RFC 6455 §5.2: "the minimal number of bytes MUST be used".
                raise WebSocketError(
                    WSCloseCode.PROTOCOL_ERROR,
                    f"non-minimal frame length: {length} in a 16-bit field",
                )
            return length, pos + 4
        if avail < 10:
            self._wanted = 10 - avail
            return 0, 0
        length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
        if length >> 63:
            # RFC 6455 §5.2: the most significant bit MUST be 0.
            raise WebSocketError(WSCloseCode.PROTOCOL_ERROR, f"invalid frame length: {length}")
        if length <= 0xFFFF:
            raise WebSocketError(
                WSCloseCode.PROTOCOL_ERROR,
                f"non-minimal frame length: {length} in a 64-bit field",
            )
        return length, pos + 10

    def _check_header(self, b0: int, opcode: int, length: int) -> None:
        """Refuse a frame from its first bytes (RFC 6455 §5.2, §5.4, §5.5)."""
        rsv = b0 & _RSV_ALL
        if opcode >= _OP_CLOSE:
            if opcode > _OP_PONG:
                raise WebSocketError(WSCloseCode.PROTOCOL_ERROR, f"invalid opcode: {opcode:#x}")
            if rsv:
                raise WebSocketError(
                    WSCloseCode.PROTOCOL_ERROR,
                    f"reserved bits set on a control frame: {rsv:#04x}",
                )
            if not b0 & _FIN:
                raise WebSocketError(
                    WSCloseCode.PROTOCOL_ERROR, f"fragmented control frame: opcode {opcode:#x}"
                )
            if length > MAX_CONTROL_PAYLOAD:
                raise WebSocketError(
                    WSCloseCode.PROTOCOL_ERROR,
                    f"control frame too long: {length} bytes, expected no more than "
                    f"{MAX_CONTROL_PAYLOAD} bytes",
                )
            return
        if opcode > _OP_BINARY:
            raise WebSocketError(WSCloseCode.PROTOCOL_ERROR, f"invalid opcode: {opcode:#x}")
        if rsv & ~self._allowed_rsv:
            # RFC 6455 §5.2: a nonzero RSV bit without a negotiated extension fails.
            raise WebSocketError(WSCloseCode.PROTOCOL_ERROR, f"reserved bits set: {rsv:#04x}")
        if opcode == _OP_CONT:
            if self._msg_opcode is None:
                raise WebSocketError(
                    WSCloseCode.PROTOCOL_ERROR, "continuation frame without a message to continue"
                )
            if rsv:
                # RFC 7692 §6.1: RSV1 is set on the first frame of a message only.
                raise WebSocketError(WSCloseCode.PROTOCOL_ERROR, "rsv1 set on a continuation frame")
            compressed = self._msg_compressed
            wire_size = self._msg_wire_size + length
        else:
            if self._msg_opcode is not None:
                raise WebSocketError(
                    WSCloseCode.PROTOCOL_ERROR,
                    f"new data frame (opcode {opcode:#x}) before the fragmented message ended",
                )
            compressed = bool(rsv)
            wire_size = length
        limit = self._max_msg_size
        if limit:
            if not compressed:
                if wire_size > limit:
                    raise MessageTooBig(f"message size {wire_size} exceeds limit {limit}")
            elif wire_size > limit + (limit >> 13) + _DEFLATE_SLACK:
                # Refuse compressed bytes that cannot inflate to within the limit
                # before buffering them; the inflated size is checked in _inflate.
                raise MessageTooBig(f"compressed message size {wire_size} exceeds limit {limit}")

    def _control(self, opcode: int, payload: bytes) -> WSMessage:
        """Build the message of a complete control frame (RFC 6455 §5.5)."""
        if opcode != _OP_CLOSE:
            return WSMessage(_MSG_TYPES[opcode], payload, "")
        # RFC 6455 §5.5.1: empty, or a 2-byte code then an optional UTF-8 reason.
        if not payload:
            return WSMessage(WSMsgType.CLOSE, 0, "")
        if len(payload) == 1:
            raise WebSocketError(
                WSCloseCode.PROTOCOL_ERROR, f"close frame payload of 1 byte: {payload!r}"
            )
        code = (payload[0] << 8) | payload[1]
        if not is_valid_close_code(code):
            raise WebSocketError(WSCloseCode.PROTOCOL_ERROR, f"invalid close code: {code}")
        try:
            reason = payload[2:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _invalid_utf8("close reason", exc) from exc
        return WSMessage(WSMsgType.CLOSE, code, reason)

    def _data_frame(self, b0: int, opcode: int, payload: bytes) -> WSMessage | None:
        """Add one frame to the fragmented or compressed message; return it when done."""
        fin = b0 >= _FIN
        if opcode != _OP_CONT:
            self._msg_opcode = opcode
            self._msg_compressed = bool(b0 & _RSV1)
            self._msg_size = 0
            self._msg_wire_size = 0
            self._is_text = opcode == _OP_TEXT
        self._msg_wire_size += len(payload)
        if self._msg_compressed:
            payload = self._inflate(payload, fin)
        self._msg_size += len(payload)
        if self._is_text:
            # RFC 6455 §8.1: fail fast on invalid UTF-8, even mid-message.
            tail = self._utf8_tail
            if tail:
                payload = tail + payload
            try:
                text, used = _utf8_decode(payload, "strict", fin)
            except UnicodeDecodeError as exc:
                offset = self._msg_size - len(payload)
                raise _invalid_utf8("text message", exc, offset) from exc
            rest = self._utf8_tail = payload[used:]
            if rest and rest[0] == 0xED and len(rest) > 1 and rest[1] > 0x9F:
                # CPython's decoder waits for a third byte before refusing ED A0..BF,
                # which can only start a surrogate (RFC 3629 §4): refuse it now.
                self._refuse_utf8(rest)
            so_far = self._text_so_far
            if so_far is None and fin:  # a whole message in one frame: the common case
                self._msg_opcode = None
                return _new_tuple(WSMessage, (WSMsgType.TEXT, text, ""))
            if so_far is None:
                so_far = self._text_so_far = io.StringIO()
            so_far.write(text)
            if not fin:
                return None
            self._msg_opcode = None
            self._text_so_far = None
            return _new_tuple(WSMessage, (WSMsgType.TEXT, so_far.getvalue(), ""))
        whole = self._binary_so_far
        if whole is None and fin:
            self._msg_opcode = None
            return _new_tuple(WSMessage, (WSMsgType.BINARY, payload, ""))
        if whole is None:
            whole = self._binary_so_far = bytearray()
        whole += payload
        if not fin:
            return None
        self._msg_opcode = None
        self._binary_so_far = None
        return _new_tuple(WSMessage, (WSMsgType.BINARY, bytes(whole), ""))

    def _refuse_utf8(self, rest: bytes) -> None:
        """Raise the 1007 error for the invalid sequence *rest* ending the message so far."""
        try:
            _utf8_decode(rest, "strict", True)
        except UnicodeDecodeError as exc:
            raise _invalid_utf8("text message", exc, self._msg_size - len(rest)) from exc

    def _inflate(self, payload: bytes, fin: bool) -> bytes:
        """Decompress one frame of a compressed message, within ``max_msg_size``."""
        if fin and not self._msg_wire_size:
            # A compressed message with no payload at all (RFC 7692 §7.2.3.6 asks for a
            # 0x00 octet): the sync-flush tail alone would start a stored block whose
            # length is read from the next message's bytes, garbling every message after
            # it. It is the empty message, and the inflater is left as it was.
            return b""
        inflater = self._inflater
        if inflater is None:
            inflater = self._inflater = zlib.decompressobj(wbits=_inflate_window(self._compress))
        if fin:
            # RFC 7692 §7.2.2: put back the tail of the sync flush the sender removed.
            payload += _DEFLATE_TAIL
        limit = self._max_msg_size
        try:
            if limit:
                # Ask for one byte past what is allowed: getting it proves the message
                # is too big without inflating the rest (a bomb stops here).
                allowed = limit - self._msg_size
                data: bytes = inflater.decompress(payload, allowed + 1)
                if len(data) > allowed:
                    raise MessageTooBig(f"decompressed message size exceeds limit {limit}")
            else:
                data = inflater.decompress(payload)
        except zlib.error as exc:
            raise WebSocketError(
                WSCloseCode.INVALID_TEXT, f"invalid compressed data: {exc}"
            ) from exc
        if inflater.eof:
            # A block with BFINAL set ends what zlib will decode (RFC 7692 §7.2.3.3
            # allows it); only the tail we appended may follow it.
            if inflater.unused_data not in (b"", _DEFLATE_TAIL):
                raise WebSocketError(
                    WSCloseCode.INVALID_TEXT,
                    "compressed data after the final deflate block: "
                    f"{short_repr(inflater.unused_data)}",
                )
            if fin:
                self._inflater = None
        elif fin and self._no_context_takeover:
            # RFC 7692 §7.1.1.1: without context takeover each message starts afresh.
            self._inflater = None
        return data


def _invalid_utf8(what: str, exc: UnicodeDecodeError, offset: int = 0) -> WebSocketError:
    """The 1007 error for invalid UTF-8 (RFC 6455 §8.1), naming the bad bytes."""
    bad = exc.object[exc.start : exc.end]
    return WebSocketError(
        WSCloseCode.INVALID_TEXT,
        f"invalid utf-8 in {what} at byte {offset + exc.start}: {short_repr(bytes(bad))}",
    )


# -- writer -------------------------------------------------------------------------------

# Below this size XOR-ing two big ints is fastest; above it four strided
# ``bytes.translate`` calls win (see ``mask``).
_TRANSLATE_THRESHOLD: Final = 4096
_xor_tables: list[bytes] = []


def _xor_table(k: int) -> bytes:
    """The 256-byte translation table that XORs every byte with *k*."""
    if not _xor_tables:
        _xor_tables.extend(bytes(b ^ x for b in range(256)) for x in range(256))
    return _xor_tables[k]


def _mask_into(out: bytearray, offset: int, payload: bytes | bytearray, key: bytes) -> None:
    """Write *payload* masked with *key* into ``out[offset:]`` (RFC 6455 §5.3)."""
    n = len(payload)
    if n < _TRANSLATE_THRESHOLD:
        # One bignum XOR: three C-level passes, no Python loop.
        keys = (key * (n // 4 + 1))[:n]
        masked = int.from_bytes(payload, "little") ^ int.from_bytes(keys, "little")
        out[offset:] = masked.to_bytes(n, "little")
    else:
        # Byte i is XOR-ed with key[i % 4]: translate each of the four strided slices.
        for i in range(4):
            out[offset + i :: 4] = payload[i::4].translate(_xor_table(key[i]))


def mask(payload: bytes | bytearray, key: bytes) -> bytes:
    """XOR *payload* with the 4-byte *key* repeated (RFC 6455 §5.3); also unmasks.

    Args:
        payload: the bytes to (un)mask.
        key: the masking key, exactly 4 bytes.

    Returns:
        The masked bytes, the same length as *payload*.
    """
    if len(key) != 4:
        raise ValueError(f"invalid masking key: {short_repr(key)}, expected 4 bytes")
    out = bytearray(len(payload))
    _mask_into(out, 0, payload, key)
    return bytes(out)


def _encode(text: str, what: str) -> bytes:
    """*text* as UTF-8; lone surrogates cannot be sent (RFC 6455 §5.6)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise LocalProtocolError(f"{what} is not encodable as utf-8: {short_repr(text)}") from exc


def _header(first: int, length: int, key: bytes) -> bytes:
    """Frame header with the MASK bit and *key* (RFC 6455 §5.2)."""
    if length < 126:
        return struct.pack("!BB4s", first, _MASKED | length, key)
    if length <= 0xFFFF:
        return struct.pack("!BBH4s", first, _MASKED | 126, length, key)
    return struct.pack("!BBQ4s", first, _MASKED | 127, length, key)


# Masking keys are taken from one os.urandom() read of this many bytes (256 keys):
# a getrandom() system call per frame was a visible share of a small message's cost.
_KEY_POOL_SIZE: Final = 1024
_fork_generation = 0


def _forked() -> None:
    # A child must not reuse the keys its parent buffered (and may already have sent).
    global _fork_generation
    _fork_generation += 1


if hasattr(os, "register_at_fork"):  # no fork, nothing to guard (Windows)
    os.register_at_fork(after_in_child=_forked)


class FrameWriter:
    """Serialises the frames a client sends: always masked, optionally compressed.

    Masking keys come from :func:`os.urandom`: RFC 6455 §5.3 asks for keys "derived
    from a strong source of entropy" so that the peer (or script in a browser) cannot
    predict them; ``random.getrandbits`` (aiohttp) is a Mersenne Twister whose state
    can be recovered from 624 observed keys. Each writer reads 256 keys at a time and
    uses each once; a forked child reads its own.

    Args:
        compress: permessage-deflate is on, compressing with an LZ77 window of this
            many bits (9-15, the negotiated ``client_max_window_bits``); 0 for off.
        no_context_takeover: the client agreed to ``client_no_context_takeover``: each
            message is compressed without reference to earlier ones (RFC 7692 §7.1.1.2).
        compress_level: zlib level, 0-9 or -1 for zlib's default.
    """

    def __init__(
        self,
        *,
        compress: int = 0,
        no_context_takeover: bool = False,
        compress_level: int = zlib.Z_DEFAULT_COMPRESSION,
    ) -> None:
        if compress and not 9 <= compress <= 15:
            # zlib cannot deflate with an 8-bit window (it silently uses 9).
            raise ValueError(f"invalid compress window bits: {compress!r}, expected 9 to 15")
        self._compress = compress
        self._deflater: Any = None
        if compress:
            self._deflater = zlib.compressobj(compress_level, zlib.DEFLATED, -compress)
        # RFC 7692 §7.1.1.2: a full flush empties the window, so the next message does
        # not refer back to this one, without reallocating the compressor.
        self._flush_mode = zlib.Z_FULL_FLUSH if no_context_takeover else zlib.Z_SYNC_FLUSH
        self._keys = b""
        self._key_pos = 0
        self._keys_generation = _fork_generation

    def _next_key(self) -> bytes:
        """A masking key never used before (RFC 6455 §5.3)."""
        pos = self._key_pos
        if pos >= len(self._keys) or self._keys_generation != _fork_generation:
            self._keys = os.urandom(_KEY_POOL_SIZE)
            self._keys_generation = _fork_generation
            pos = 0
        self._key_pos = pos + 4
        return self._keys[pos : pos + 4]

    def text(self, data: str, *, compress: bool | None = None) -> bytes:
        """A TEXT frame holding *data* encoded as UTF-8.

        Args:
            data: the message.
            compress: ``False`` sends this message uncompressed even when
                permessage-deflate is on.
        """
        return self._data(_OP_TEXT, _encode(data, "text"), compress)

    def binary(
        self, data: bytes | bytearray | memoryview, *, compress: bool | None = None
    ) -> bytes:
        """A BINARY frame holding *data* (see :meth:`text` for *compress*)."""
        return self._data(_OP_BINARY, bytes(data), compress)

    def ping(self, data: bytes | bytearray | memoryview | str = b"") -> bytes:
        """A PING frame (RFC 6455 §5.5.2).

        Raises:
            LocalProtocolError: *data* is longer than 125 bytes.
        """
        return self._control(_OP_PING, "ping", data)

    def pong(self, data: bytes | bytearray | memoryview | str = b"") -> bytes:
        """A PONG frame (RFC 6455 §5.5.3); see :meth:`ping`."""
        return self._control(_OP_PONG, "pong", data)

    def close(self, code: int | None = WSCloseCode.OK, reason: str = "") -> bytes:
        """A CLOSE frame (RFC 6455 §5.5.1).

        Args:
            code: the close code, or ``None`` for an empty payload (then no reason).
            reason: UTF-8 text; code and reason fit in 125 bytes.

        Raises:
            LocalProtocolError: the code may not be sent (1004-1006, 1015, < 1000...),
                a reason without a code, or a payload over 125 bytes.
        """
        if code is None:
            if reason:
                raise LocalProtocolError(f"close reason without a code: {short_repr(reason)}")
            return self._frame(_FIN | _OP_CLOSE, b"")
        if not is_valid_close_code(code):
            raise LocalProtocolError(f"invalid close code: {code!r}")
        return self._control(
            _OP_CLOSE, "close", code.to_bytes(2, "big") + _encode(reason, "close reason")
        )

    def frame(
        self, opcode: int, payload: bytes | bytearray | memoryview, *, compress: bool | None = None
    ) -> bytes:
        """One whole frame of type *opcode* carrying *payload* (aiohttp's ``send_frame``).

        TEXT payloads are sent as given (not checked for UTF-8); a CLOSE payload is empty
        or a close code followed by a UTF-8 reason, checked as :meth:`close` does.

        Raises:
            LocalProtocolError: *opcode* is not TEXT, BINARY, PING, PONG or CLOSE (a
                continuation frame cannot be sent on its own), or the payload is not
                valid for it.
        """
        if opcode in (_OP_TEXT, _OP_BINARY):
            return self._data(opcode, bytes(payload), compress)
        if opcode in (_OP_PING, _OP_PONG):
            return self._control(opcode, "ping" if opcode == _OP_PING else "pong", payload)
        if opcode != _OP_CLOSE:
            raise LocalProtocolError(f"cannot send a frame with opcode {int(opcode)!r}")
        if not payload:
            return self.close(None)
        if len(payload) < 2:
            raise LocalProtocolError(f"close payload too short: {short_repr(bytes(payload))}")
        try:
            reason = bytes(payload[2:]).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LocalProtocolError(
                f"close reason is not UTF-8: {short_repr(bytes(payload[2:]))}"
            ) from exc
        return self.close(int.from_bytes(payload[:2], "big"), reason)

    def _control(self, opcode: int, name: str, data: bytes | bytearray | memoryview | str) -> bytes:
        payload = _encode(data, name) if isinstance(data, str) else bytes(data)
        if len(payload) > MAX_CONTROL_PAYLOAD:
            raise LocalProtocolError(
                f"{name} payload too long: {len(payload)} bytes, expected no more than "
                f"{MAX_CONTROL_PAYLOAD} bytes"
            )
        return self._frame(_FIN | opcode, payload)

    def _data(self, opcode: int, payload: bytes, compress: bool | None) -> bytes:
        deflater = self._deflater
        if deflater is None or compress is False:
            return self._frame(_FIN | opcode, payload)
        # RFC 7692 §7.2.1: compress, sync-flush, drop the trailing 00 00 ff ff. A sync
        # or full flush always ends with that empty stored block.
        data = deflater.compress(payload) + deflater.flush(self._flush_mode)
        return self._frame(_FIN | _RSV1 | opcode, data[:-4])

    def _frame(self, first: int, payload: bytes) -> bytes:
        key = self._next_key()
        n = len(payload)
        header = _header(first, n, key)
        if n < _TRANSLATE_THRESHOLD:
            # Same bignum XOR as _mask_into, concatenated without a bytearray detour.
            keys = (key * (n // 4 + 1))[:n]
            masked = int.from_bytes(payload, "little") ^ int.from_bytes(keys, "little")
            return header + masked.to_bytes(n, "little")
        h = len(header)
        out = bytearray(h + n)
        out[:h] = header
        _mask_into(out, h, payload, key)
        return bytes(out)
