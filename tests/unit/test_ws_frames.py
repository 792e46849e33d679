"""Tests for hyperclient.ws_frames: the frame reader, the frame writer and masking."""

from __future__ import annotations

import json
import os
import struct
import tracemalloc
import zlib
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperclient.errors import LocalProtocolError, PayloadTooBig, RemoteProtocolError
from hyperclient.ws_frames import (
    FrameReader,
    FrameWriter,
    MessageTooBig,
    WebSocketError,
    WSCloseCode,
    WSMessage,
    WSMsgType,
    mask,
)

TEXT, BINARY, CLOSE, PING, PONG, CONT = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0
RSV1, RSV2, RSV3 = 0x40, 0x20, 0x10


# -- helpers ------------------------------------------------------------------------------


def server_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask_key: bytes | None = None,
    length_bytes: int | None = None,
) -> bytes:
    """An unmasked frame as a server sends it (or masked with *mask_key*, to test refusal).

    *length_bytes* forces the length encoding (0 = 7-bit, 2 = 16-bit, 8 = 64-bit).
    """
    n = len(payload)
    if length_bytes is None:
        length_bytes = 0 if n < 126 else 2 if n < 65536 else 8
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    mask_bit = 0x80 if mask_key is not None else 0
    if length_bytes == 0:
        head += bytes([mask_bit | n])
    elif length_bytes == 2:
        head += bytes([mask_bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
    if mask_key is not None:
        return head + mask_key + reference_mask(payload, mask_key)
    return head + payload


def reference_mask(data: bytes, key: bytes) -> bytes:
    """The per-byte definition of RFC 6455 §5.3, independent of the code under test."""
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))


def decode_client_frames(data: bytes) -> Iterator[tuple[bool, int, int, bytes]]:
    """Parse (and check the masking of) frames the writer produced: (fin, rsv, opcode, payload)."""
    pos = 0
    while pos < len(data):
        b0, b1 = data[pos], data[pos + 1]
        assert b1 & 0x80, "client frames must be masked"
        n = b1 & 0x7F
        pos += 2
        if n == 126:
            (n,) = struct.unpack_from("!H", data, pos)
            assert n >= 126
            pos += 2
        elif n == 127:
            (n,) = struct.unpack_from("!Q", data, pos)
            assert n > 0xFFFF
            pos += 8
        key = data[pos : pos + 4]
        pos += 4
        payload = data[pos : pos + n]
        assert len(payload) == n
        pos += n
        yield bool(b0 & 0x80), b0 & 0x70, b0 & 0x0F, reference_mask(payload, key)


def drain(reader: FrameReader) -> list[WSMessage]:
    out = []
    while (msg := reader.next_message()) is not None:
        out.append(msg)
    return out


def feed(data: bytes, **kwargs: int | bool) -> list[WSMessage]:
    reader = FrameReader(**kwargs)  # type: ignore[arg-type]
    reader.receive_data(data)
    return drain(reader)


def feed_split(data: bytes, split: int, **kwargs: int | bool) -> list[WSMessage]:
    reader = FrameReader(**kwargs)  # type: ignore[arg-type]
    reader.receive_data(data[:split])
    out = drain(reader)
    reader.receive_data(data[split:])
    return out + drain(reader)


def feed_bytewise(data: bytes, **kwargs: int | bool) -> list[WSMessage]:
    reader = FrameReader(**kwargs)  # type: ignore[arg-type]
    out = []
    for i in range(len(data)):
        reader.receive_data(data[i : i + 1])
        out += drain(reader)
    assert reader.buffered == 0
    return out


def check_all_splits(data: bytes, expected: list[WSMessage], **kwargs: int | bool) -> None:
    """Every split point and a one-byte trickle give the same messages."""
    assert feed(data, **kwargs) == expected
    for split in range(len(data) + 1):
        assert feed_split(data, split, **kwargs) == expected, split
    assert feed_bytewise(data, **kwargs) == expected


def expect_error(
    data: bytes, code: int, message: str, *, splits: bool = True, **kwargs: int | bool
) -> WebSocketError:
    """Feeding *data* whole, at every split and byte by byte fails with *code* and *message*."""
    feeders: list[Callable[[], list[WSMessage]]] = [lambda: feed(data, **kwargs)]
    if splits:
        feeders.append(lambda: feed_bytewise(data, **kwargs))
        feeders += [
            lambda split=split: feed_split(data, split, **kwargs)  # type: ignore[misc]
            for split in range(len(data) + 1)
        ]
    exc = None
    for feeder in feeders:
        with pytest.raises(WebSocketError) as info:
            feeder()
        exc = info.value
        assert exc.code == code
        assert str(exc) == message
        assert isinstance(exc, RemoteProtocolError)
    assert exc is not None
    return exc


def deflate(data: bytes, wbits: int = 15) -> bytes:
    """Compress a whole message as RFC 7692 §7.2.1 says, tail removed."""
    c = zlib.compressobj(wbits=-wbits)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def msg(kind: WSMsgType, data: object, extra: object = "") -> WSMessage:
    return WSMessage(kind, data, extra)


# -- enums and message --------------------------------------------------------------------


def test_msg_type_values_match_aiohttp() -> None:
    assert [(m.name, m.value) for m in WSMsgType] == [
        ("CONTINUATION", 0x0),
        ("TEXT", 0x1),
        ("BINARY", 0x2),
        ("PING", 0x9),
        ("PONG", 0xA),
        ("CLOSE", 0x8),
        ("CLOSING", 0x100),
        ("CLOSED", 0x101),
        ("ERROR", 0x102),
    ]
    # aiohttp 3's lower-case aliases (mypy sees them as distinct members, hence getattr).
    for name in ("text", "binary", "ping", "pong", "close", "closing", "closed", "error"):
        assert getattr(WSMsgType, name) is WSMsgType[name.upper()]


def test_msg_types_and_close_codes_equal_aiohttp() -> None:
    aiohttp = pytest.importorskip("aiohttp")
    assert {m.name: m.value for m in WSCloseCode} == {m.name: m.value for m in aiohttp.WSCloseCode}
    ours = {name: m.value for name, m in WSMsgType.__members__.items()}
    assert ours == {name: m.value for name, m in aiohttp.WSMsgType.__members__.items()}


def test_message_json() -> None:
    m = WSMessage(WSMsgType.TEXT, '{"a": [1]}', "")
    assert m.json() == {"a": [1]}
    assert m.json(loads=lambda s: ("custom", s)) == ("custom", '{"a": [1]}')
    assert m.type is WSMsgType.TEXT
    assert m.data == '{"a": [1]}'
    assert m.extra == ""
    assert json.loads(m.data) == m.json()


def test_error_classes() -> None:
    exc = WebSocketError(1002, "boom")
    assert exc.code == 1002
    assert exc.args == (1002, "boom")
    assert str(exc) == "boom"
    too_big = MessageTooBig("big")
    assert too_big.code == 1009
    assert isinstance(too_big, PayloadTooBig)
    assert isinstance(too_big, WebSocketError)


# -- reader: valid input ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (server_frame(TEXT, b"Hello"), msg(WSMsgType.TEXT, "Hello")),
        (server_frame(TEXT, b""), msg(WSMsgType.TEXT, "")),
        (server_frame(TEXT, "héllo €𝄞".encode()), msg(WSMsgType.TEXT, "héllo €𝄞")),
        (server_frame(BINARY, b"\x00\xff"), msg(WSMsgType.BINARY, b"\x00\xff")),
        (server_frame(BINARY, b""), msg(WSMsgType.BINARY, b"")),
        (server_frame(PING, b"p"), msg(WSMsgType.PING, b"p")),
        (server_frame(PONG, b""), msg(WSMsgType.PONG, b"")),
        (server_frame(PING, b"x" * 125), msg(WSMsgType.PING, b"x" * 125)),
        (server_frame(CLOSE, b""), msg(WSMsgType.CLOSE, 0, "")),
        (server_frame(CLOSE, b"\x03\xe8"), msg(WSMsgType.CLOSE, 1000, "")),
        (server_frame(CLOSE, b"\x03\xe9bye \xc3\xa9"), msg(WSMsgType.CLOSE, 1001, "bye é")),
        (server_frame(CLOSE, b"\x0f\xa0"), msg(WSMsgType.CLOSE, 4000, "")),
        (server_frame(CLOSE, b"\x0b\xb8"), msg(WSMsgType.CLOSE, 3000, "")),
        (server_frame(CLOSE, b"\x13\x87"), msg(WSMsgType.CLOSE, 4999, "")),
        # RFC 6455 §5.7 examples.
        (b"\x81\x05\x48\x65\x6c\x6c\x6f", msg(WSMsgType.TEXT, "Hello")),
        (b"\x89\x05\x48\x65\x6c\x6c\x6f", msg(WSMsgType.PING, b"Hello")),
        (b"\x8a\x05\x48\x65\x6c\x6c\x6f", msg(WSMsgType.PONG, b"Hello")),
    ],
)
def test_reader_single_frames_at_every_split(frame: bytes, expected: WSMessage) -> None:
    check_all_splits(frame, [expected])
    assert type(feed(frame)[0]) is WSMessage


@pytest.mark.parametrize("close_code", [1000, 1001, 1002, 1003, *range(1007, 1015), 3000, 4999])
def test_reader_accepts_valid_close_codes(close_code: int) -> None:
    [m] = feed(server_frame(CLOSE, struct.pack("!H", close_code) + b"r"))
    assert m == (WSMsgType.CLOSE, close_code, "r")


@pytest.mark.parametrize("size", [125, 126, 127, 65535, 65536, 70000])
def test_reader_length_encodings(size: int) -> None:
    payload = os.urandom(size)
    data = server_frame(BINARY, payload) + server_frame(TEXT, b"after")
    expected = [msg(WSMsgType.BINARY, payload), msg(WSMsgType.TEXT, "after")]
    assert feed(data) == expected
    for split in (1, 2, 3, 4, 9, 10, 11, size // 2, len(data) - 6, len(data) - 1):
        assert feed_split(data, split) == expected


def test_reader_rfc_fragmented_text_example() -> None:
    # RFC 6455 §5.7: a fragmented unmasked text message.
    data = b"\x01\x03\x48\x65\x6c" + b"\x80\x02\x6c\x6f"
    check_all_splits(data, [msg(WSMsgType.TEXT, "Hello")])


def test_reader_fragmented_with_interleaved_control_frames() -> None:
    data = (
        server_frame(TEXT, b"he", fin=False)
        + server_frame(PING, b"1")
        + server_frame(CONT, b"l", fin=False)
        + server_frame(PONG, b"2")
        + server_frame(CONT, b"", fin=False)
        + server_frame(CLOSE, b"\x03\xe8")
        + server_frame(CONT, b"lo")
        + server_frame(BINARY, b"b1", fin=False)
        + server_frame(PING, b"3")
        + server_frame(CONT, b"b2")
    )
    expected = [
        msg(WSMsgType.PING, b"1"),
        msg(WSMsgType.PONG, b"2"),
        msg(WSMsgType.CLOSE, 1000, ""),
        msg(WSMsgType.TEXT, "hello"),
        msg(WSMsgType.PING, b"3"),
        msg(WSMsgType.BINARY, b"b1b2"),
    ]
    check_all_splits(data, expected)


def test_reader_control_message_returned_before_fragmented_message_ends() -> None:
    reader = FrameReader()
    reader.receive_data(server_frame(BINARY, b"a", fin=False) + server_frame(PING, b"p"))
    assert reader.next_message() == msg(WSMsgType.PING, b"p")
    assert reader.next_message() is None
    reader.receive_data(server_frame(CONT, b"b"))
    assert reader.next_message() == msg(WSMsgType.BINARY, b"ab")
    assert reader.next_message() is None


def test_reader_utf8_split_across_fragments() -> None:
    text = "a€𝄞é"
    raw = text.encode()
    # Cut inside every multi-byte sequence.
    for cut in range(len(raw) + 1):
        data = server_frame(TEXT, raw[:cut], fin=False) + server_frame(CONT, raw[cut:])
        assert feed(data) == [msg(WSMsgType.TEXT, text)], cut
    one_byte_frames = server_frame(TEXT, raw[:1], fin=False)
    one_byte_frames += b"".join(
        server_frame(CONT, raw[i : i + 1], fin=False) for i in range(1, len(raw))
    )
    one_byte_frames += server_frame(CONT, b"")
    check_all_splits(one_byte_frames, [msg(WSMsgType.TEXT, text)])


def test_reader_many_messages_in_one_read_and_buffered() -> None:
    frames = b"".join(server_frame(TEXT, str(i).encode()) for i in range(100))
    reader = FrameReader()
    reader.receive_data(frames + b"\x81")
    assert [m.data for m in drain(reader)] == [str(i) for i in range(100)]
    assert reader.buffered == 1
    reader.receive_data(bytearray(b"\x01"))
    reader.receive_data(memoryview(b"!"))
    reader.receive_data(b"")
    assert reader.next_message() == msg(WSMsgType.TEXT, "!")
    assert reader.buffered == 0


def test_reader_waits_for_large_frame_without_rejoining() -> None:
    payload = os.urandom(1 << 20)
    data = server_frame(BINARY, payload) + server_frame(TEXT, b"x")
    reader = FrameReader()
    for i in range(0, len(data), 65536):
        reader.receive_data(data[i : i + 65536])
        if i + 65536 < len(payload):
            assert reader.next_message() is None
            assert reader.buffered == i + 65536
    assert drain(reader) == [msg(WSMsgType.BINARY, payload), msg(WSMsgType.TEXT, "x")]


def test_reader_does_not_copy_a_backlog_as_more_bytes_arrive() -> None:
    """Bytes arriving while parsed-later frames wait are kept aside, not joined to them:
    joining on every arrival copied the whole backlog each time (quadratic)."""
    backlog = b"".join(server_frame(BINARY, b"%d" % i) for i in range(1000))
    reader = FrameReader()
    reader.receive_data(backlog)
    got = []
    for i in range(1000, 1500):  # one more frame in, one message out
        reader.receive_data(server_frame(BINARY, b"%d" % i))
        message = reader.next_message()
        assert message is not None
        got.append(message.data)
    assert reader._buf is backlog  # still parsed where it arrived: never copied
    got += [m.data for m in drain(reader)]
    assert got == [b"%d" % i for i in range(1500)]
    assert reader.buffered == 0


@settings(max_examples=200, deadline=None)
@given(
    messages=st.lists(
        st.one_of(
            st.tuples(st.just(TEXT), st.text(max_size=300).map(str.encode)),
            st.tuples(st.just(BINARY), st.binary(max_size=300)),
            st.tuples(st.sampled_from([PING, PONG]), st.binary(max_size=125)),
        ),
        max_size=8,
    ),
    fragment_size=st.integers(1, 200),
    read_size=st.integers(1, 100),
)
def test_reader_roundtrip_property(
    messages: list[tuple[int, bytes]], fragment_size: int, read_size: int
) -> None:
    stream = b""
    expected = []
    for opcode, payload in messages:
        if opcode in (TEXT, BINARY):
            chunks = [payload[i : i + fragment_size] for i in range(0, len(payload), fragment_size)]
            chunks = chunks or [b""]
            for i, chunk in enumerate(chunks):
                stream += server_frame(opcode if i == 0 else CONT, chunk, fin=i == len(chunks) - 1)
            data: object = payload.decode() if opcode == TEXT else payload
        else:
            stream += server_frame(opcode, payload)
            data = payload
        expected.append(msg(WSMsgType(opcode), data))
    reader = FrameReader()
    got = []
    for i in range(0, len(stream), read_size):
        reader.receive_data(stream[i : i + read_size])
        got += drain(reader)
    assert got == expected


# -- reader: protocol errors --------------------------------------------------------------


def test_reader_rejects_masked_frame() -> None:
    expect_error(server_frame(TEXT, b"hi", mask_key=b"abcd"), 1002, "masked frame from server")
    expect_error(
        server_frame(BINARY, b"x" * 200, mask_key=b"abcd"), 1002, "masked frame from server"
    )


@pytest.mark.parametrize(
    ("rsv", "shown"), [(RSV1, "0x40"), (RSV2, "0x20"), (RSV3, "0x10"), (RSV1 | RSV3, "0x50")]
)
def test_reader_rejects_reserved_bits_without_extension(rsv: int, shown: str) -> None:
    expect_error(server_frame(TEXT, b"x", rsv=rsv), 1002, f"reserved bits set: {shown}")


def test_reader_rejects_rsv2_rsv3_even_with_deflate() -> None:
    expect_error(server_frame(TEXT, b"x", rsv=RSV2), 1002, "reserved bits set: 0x20", compress=15)
    expect_error(
        server_frame(TEXT, b"x", rsv=RSV1 | RSV3), 1002, "reserved bits set: 0x50", compress=15
    )


def test_reader_rejects_rsv1_on_continuation() -> None:
    data = server_frame(TEXT, deflate(b"ab")[:1], fin=False, rsv=RSV1) + server_frame(
        CONT, b"x", rsv=RSV1
    )
    expect_error(data, 1002, "rsv1 set on a continuation frame", compress=15)


@pytest.mark.parametrize("opcode", [PING, PONG, CLOSE])
def test_reader_rejects_rsv1_on_control_frame(opcode: int) -> None:
    expect_error(
        server_frame(opcode, b"", rsv=RSV1),
        1002,
        "reserved bits set on a control frame: 0x40",
        compress=15,
    )


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_reader_rejects_unknown_opcodes(opcode: int) -> None:
    expect_error(server_frame(opcode, b"x"), 1002, f"invalid opcode: {opcode:#x}")


@pytest.mark.parametrize("opcode", [PING, PONG, CLOSE])
def test_reader_rejects_fragmented_control_frame(opcode: int) -> None:
    expect_error(
        server_frame(opcode, b"", fin=False), 1002, f"fragmented control frame: opcode {opcode:#x}"
    )


@pytest.mark.parametrize("opcode", [PING, PONG, CLOSE])
def test_reader_rejects_long_control_frame(opcode: int) -> None:
    expect_error(
        server_frame(opcode, b"\x03\xe8" + b"x" * 124),
        1002,
        "control frame too long: 126 bytes, expected no more than 125 bytes",
    )
    # Refused from the header alone: the payload is never waited for.
    reader = FrameReader()
    reader.receive_data(bytes([0x80 | opcode, 126, 0xFF, 0xFF]))
    with pytest.raises(WebSocketError, match="control frame too long: 65535 bytes"):
        reader.next_message()


def test_reader_rejects_continuation_without_start() -> None:
    expect_error(server_frame(CONT, b"x"), 1002, "continuation frame without a message to continue")
    expect_error(
        server_frame(TEXT, b"a") + server_frame(CONT, b"x"),
        1002,
        "continuation frame without a message to continue",
    )


@pytest.mark.parametrize("opcode", [TEXT, BINARY])
def test_reader_rejects_new_data_frame_during_fragmented_message(opcode: int) -> None:
    data = server_frame(BINARY, b"a", fin=False) + server_frame(opcode, b"b")
    expect_error(
        data, 1002, f"new data frame (opcode {opcode:#x}) before the fragmented message ended"
    )


def test_reader_rejects_non_minimal_and_invalid_lengths() -> None:
    expect_error(
        server_frame(BINARY, b"x" * 5, length_bytes=2),
        1002,
        "non-minimal frame length: 5 in a 16-bit field",
    )
    expect_error(
        server_frame(BINARY, b"x" * 200, length_bytes=8),
        1002,
        "non-minimal frame length: 200 in a 64-bit field",
    )
    expect_error(
        b"\x82\x7f" + struct.pack("!Q", 1 << 63),
        1002,
        f"invalid frame length: {1 << 63}",
        max_msg_size=0,
    )


@pytest.mark.parametrize(
    ("payload", "code", "message"),
    [
        (b"\x03", 1002, "close frame payload of 1 byte: b'\\x03'"),
        (b"\x03\xe7", 1002, "invalid close code: 999"),
        (b"\x03\xec", 1002, "invalid close code: 1004"),
        (b"\x03\xed", 1002, "invalid close code: 1005"),
        (b"\x03\xee", 1002, "invalid close code: 1006"),
        (b"\x03\xf7", 1002, "invalid close code: 1015"),
        (b"\x03\xf8", 1002, "invalid close code: 1016"),
        (b"\x0b\xb7", 1002, "invalid close code: 2999"),
        (b"\x13\x88", 1002, "invalid close code: 5000"),
        (b"\x00\x00", 1002, "invalid close code: 0"),
        (b"\xff\xff", 1002, "invalid close code: 65535"),
        (b"\x03\xe8\xff", 1007, "invalid utf-8 in close reason at byte 0: b'\\xff'"),
        (b"\x03\xe8ok\xc3", 1007, "invalid utf-8 in close reason at byte 2: b'\\xc3'"),
    ],
)
def test_reader_rejects_invalid_close_payloads(payload: bytes, code: int, message: str) -> None:
    expect_error(server_frame(CLOSE, payload), code, message)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\xff", "invalid utf-8 in text message at byte 0: b'\\xff'"),
        (b"ab\xc3(", "invalid utf-8 in text message at byte 2: b'\\xc3'"),
        (b"\xed\xa0\x80", "invalid utf-8 in text message at byte 0: b'\\xed'"),  # surrogate
        (b"ok\xf4\x90\x80\x80", "invalid utf-8 in text message at byte 2: b'\\xf4'"),  # > U+10FFFF
        (b"\xc0\xaf", "invalid utf-8 in text message at byte 0: b'\\xc0'"),  # overlong
        (b"abc\xe2\x82", "invalid utf-8 in text message at byte 3: b'\\xe2\\x82'"),  # truncated
    ],
)
def test_reader_rejects_invalid_utf8_text(payload: bytes, message: str) -> None:
    expect_error(server_frame(TEXT, payload), 1007, message)


def test_reader_rejects_invalid_utf8_across_fragments() -> None:
    # Truncated sequence at the end of the message.
    data = server_frame(TEXT, b"abc", fin=False) + server_frame(CONT, b"\xe2\x82")
    expect_error(data, 1007, "invalid utf-8 in text message at byte 3: b'\\xe2\\x82'")
    # A sequence started in one fragment and broken in the next.
    data = server_frame(TEXT, b"ab\xe2", fin=False) + server_frame(CONT, b"(x")
    expect_error(data, 1007, "invalid utf-8 in text message at byte 2: b'\\xe2'")


def test_reader_fails_fast_on_invalid_utf8_before_message_ends() -> None:
    reader = FrameReader()
    reader.receive_data(
        server_frame(TEXT, b"ok", fin=False) + server_frame(CONT, b"\xff", fin=False)
    )
    with pytest.raises(WebSocketError) as info:
        reader.next_message()
    assert info.value.code == 1007
    assert str(info.value) == "invalid utf-8 in text message at byte 2: b'\\xff'"
    assert isinstance(info.value.__cause__, UnicodeDecodeError)


def test_reader_fails_fast_on_a_surrogate_prefix() -> None:
    # ED A0..BF can only begin a surrogate (U+D800..DFFF), never valid UTF-8 (RFC 3629
    # §4): refused when its fragment arrives, not when the next one does.
    for second in (0xA0, 0xBF):
        reader = FrameReader()
        reader.receive_data(server_frame(TEXT, b"ok\xed" + bytes([second]), fin=False))
        with pytest.raises(WebSocketError) as info:
            reader.next_message()
        assert info.value.code == 1007
        assert str(info.value) == ("invalid utf-8 in text message at byte 2: b'\\xed'")
    # ED 80..9F is a valid start (U+D000..D7FF), completed by the next fragment.
    data = server_frame(TEXT, b"ok\xed\x9f", fin=False) + server_frame(CONT, b"\xbf!")
    check_all_splits(data, [msg(WSMsgType.TEXT, "ok\ud7ff!")])


def test_reader_stays_failed() -> None:
    reader = FrameReader()
    reader.receive_data(server_frame(0x3, b""))
    with pytest.raises(WebSocketError) as first:
        reader.next_message()
    reader.receive_data(server_frame(TEXT, b"ok"))
    with pytest.raises(WebSocketError) as second:
        reader.next_message()
    assert second.value is first.value
    assert reader.buffered == 0


def test_reader_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="invalid max_msg_size: -1"):
        FrameReader(max_msg_size=-1)
    with pytest.raises(ValueError, match="invalid compress window bits: 16, expected 8 to 15"):
        FrameReader(compress=16)


# -- reader: size limits ------------------------------------------------------------------


def test_reader_max_msg_size_single_frame() -> None:
    limit = 4 * 1024 * 1024
    assert feed(server_frame(BINARY, b"x" * limit)) == [msg(WSMsgType.BINARY, b"x" * limit)]
    # Refused from the header, before 4 MiB are buffered.
    exc = expect_error(
        server_frame(BINARY, b"x" * (limit + 1))[:20],
        1009,
        "message size 4194305 exceeds limit 4194304",
        splits=False,
    )
    assert isinstance(exc, MessageTooBig)
    assert isinstance(exc, PayloadTooBig)


def test_reader_max_msg_size_reassembled() -> None:
    ok = server_frame(TEXT, b"a" * 6, fin=False) + server_frame(CONT, b"b" * 4)
    assert feed(ok, max_msg_size=10) == [msg(WSMsgType.TEXT, "a" * 6 + "b" * 4)]
    too_big = server_frame(TEXT, b"a" * 6, fin=False) + server_frame(CONT, b"b" * 5)
    expect_error(too_big, 1009, "message size 11 exceeds limit 10", max_msg_size=10)
    # Control frames do not count.
    ok = server_frame(BINARY, b"a" * 6, fin=False) + server_frame(PING, b"p" * 100)
    ok += server_frame(CONT, b"b" * 4)
    assert [m.type for m in feed(ok, max_msg_size=10)] == [WSMsgType.PING, WSMsgType.BINARY]
    # The count restarts for each message.
    two = server_frame(BINARY, b"a" * 10) + server_frame(BINARY, b"b" * 10)
    assert len(feed(two, max_msg_size=10)) == 2


def test_reader_unlimited() -> None:
    payload = b"z" * (5 * 1024 * 1024)
    expected = [msg(WSMsgType.BINARY, payload)]
    assert feed(server_frame(BINARY, payload), max_msg_size=0) == expected
    half = len(payload) // 2
    fragments = server_frame(BINARY, payload[:half], fin=False) + server_frame(CONT, payload[half:])
    assert feed(fragments, max_msg_size=0) == expected
    compressed = server_frame(BINARY, deflate(payload), rsv=RSV1)
    assert feed(compressed, max_msg_size=0, compress=15) == expected


# -- reader: permessage-deflate -----------------------------------------------------------


def server_deflate_stream(
    messages: list[bytes], *, wbits: int = 15, takeover: bool = True, fragment: int = 0
) -> bytes:
    """Frames a permessage-deflate server would send for BINARY *messages*."""
    c = zlib.compressobj(wbits=-wbits)
    out = b""
    for m in messages:
        if not takeover:
            c = zlib.compressobj(wbits=-wbits)
        data = c.compress(m) + c.flush(zlib.Z_SYNC_FLUSH)
        data = data[:-4]
        if fragment:
            chunks = [data[i : i + fragment] for i in range(0, len(data), fragment)]
            for i, chunk in enumerate(chunks):
                out += server_frame(
                    BINARY if i == 0 else CONT,
                    chunk,
                    fin=i == len(chunks) - 1,
                    rsv=RSV1 if i == 0 else 0,
                )
        else:
            out += server_frame(BINARY, data, rsv=RSV1)
    return out


def test_reader_deflate_rfc7692_examples() -> None:
    # RFC 7692 §7.2.3.1: "Hello" compressed in one frame, then in two fragments.
    hello = msg(WSMsgType.TEXT, "Hello")
    check_all_splits(b"\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00", [hello], compress=15)
    fragments = b"\x41\x03\xf2\x48\xcd" + b"\x80\x04\xc9\xc9\x07\x00"
    check_all_splits(fragments, [hello], compress=15)
    # §7.2.3.2: context takeover, the second "Hello" refers back to the first.
    shared = b"\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00" + b"\xc1\x05\xf2\x00\x11\x00\x00"
    check_all_splits(shared, [hello, hello], compress=15)
    # §7.2.3.3: a stored (uncompressed) block; §7.2.3.6 an empty message.
    check_all_splits(b"\xc1\x0b\x00\x05\x00\xfa\xffHello\x00", [hello], compress=15)
    check_all_splits(b"\xc1\x01\x00", [msg(WSMsgType.TEXT, "")], compress=15)
    # §7.2.3.4: a block with BFINAL set.
    check_all_splits(b"\xc1\x07\xf3\x48\xcd\xc9\xc9\x07\x00", [hello], compress=15)


def test_reader_deflate_empty_compressed_payload_is_an_empty_message() -> None:
    # RSV1 with no payload at all: the sync-flush tail alone would leave the inflater
    # inside a stored block 0xff00 bytes long, and later messages came out garbled.
    hello = msg(WSMsgType.BINARY, b"hello")
    empty = msg(WSMsgType.BINARY, b"")
    after = server_deflate_stream([b"hello", b"hello"])
    data = server_frame(BINARY, b"", rsv=RSV1) + server_frame(BINARY, b"\x00", rsv=RSV1) + after
    check_all_splits(data, [empty, empty, hello, hello], compress=15)
    # Also as empty fragments, and after a message (context kept).
    data = (
        server_deflate_stream([b"hello"])
        + server_frame(BINARY, b"", fin=False, rsv=RSV1)
        + server_frame(CONT, b"")
        + after
    )
    check_all_splits(data, [hello, empty, hello, hello], compress=15)


def test_reader_deflate_context_takeover_across_messages() -> None:
    messages = [b"the same words " * 20, b"the same words " * 20, os.urandom(100), b"end"]
    data = server_deflate_stream(messages)
    expected = [msg(WSMsgType.BINARY, m) for m in messages]
    assert feed(data, compress=15) == expected
    # Without takeover on the sender, a reader that resets per message also works.
    data = server_deflate_stream(messages, takeover=False)
    assert feed(data, compress=15, no_context_takeover=True) == expected
    assert feed_bytewise(data, compress=15, no_context_takeover=True) == expected


def test_reader_deflate_fragmented_with_interleaved_ping() -> None:
    payload = ("ünïcödé text " * 50).encode()
    compressed = deflate(payload)
    third = len(compressed) // 3
    data = (
        server_frame(TEXT, compressed[:third], fin=False, rsv=RSV1)
        + server_frame(PING, b"ping")
        + server_frame(CONT, compressed[third : 2 * third], fin=False)
        + server_frame(CONT, compressed[2 * third :])
    )
    expected = [msg(WSMsgType.PING, b"ping"), msg(WSMsgType.TEXT, payload.decode())]
    check_all_splits(data, expected, compress=15)


def test_reader_deflate_uncompressed_message_in_compressed_session() -> None:
    data = server_frame(TEXT, b"plain") + server_deflate_stream([b"zipped"])
    assert feed(data, compress=15) == [
        msg(WSMsgType.TEXT, "plain"),
        msg(WSMsgType.BINARY, b"zipped"),
    ]


@pytest.mark.parametrize("wbits", [8, 9, 12, 15])
def test_reader_deflate_window_bits(wbits: int) -> None:
    payload = os.urandom(64) * 200
    data = server_deflate_stream([payload, payload], wbits=max(wbits, 9), fragment=100)
    assert feed(data, compress=wbits) == [msg(WSMsgType.BINARY, payload)] * 2


def test_reader_deflate_bomb_is_bounded() -> None:
    limit = 1024 * 1024
    bomb = deflate(b"\x00" * (100 * limit))  # ~100 KiB of input for 100 MiB of output
    assert len(bomb) < limit
    exc = expect_error(
        server_frame(BINARY, bomb, rsv=RSV1),
        1009,
        "decompressed message size exceeds limit 1048576",
        splits=False,
        compress=15,
        max_msg_size=limit,
    )
    assert isinstance(exc, MessageTooBig)
    # Just at the limit is fine, one byte more is not.
    exact = server_frame(BINARY, deflate(b"\x00" * limit), rsv=RSV1)
    assert feed(exact, compress=15, max_msg_size=limit) == [msg(WSMsgType.BINARY, b"\x00" * limit)]
    over = server_frame(BINARY, deflate(b"\x00" * (limit + 1)), rsv=RSV1)
    expect_error(
        over,
        1009,
        "decompressed message size exceeds limit 1048576",
        splits=False,
        compress=15,
        max_msg_size=limit,
    )


def test_reader_deflate_bomb_across_fragments() -> None:
    compressed = deflate(b"a" * 10_000)
    half = len(compressed) // 2
    data = server_frame(TEXT, compressed[:half], fin=False, rsv=RSV1) + server_frame(
        CONT, compressed[half:]
    )
    expect_error(
        data, 1009, "decompressed message size exceeds limit 5000", compress=15, max_msg_size=5000
    )


def test_reader_deflate_compressed_wire_size_is_bounded() -> None:
    # Compressed bytes far beyond the limit are refused from the header.
    header = b"\xc2\x7f" + struct.pack("!Q", 10_000_000)
    expect_error(
        header,
        1009,
        "compressed message size 10000000 exceeds limit 1000",
        compress=15,
        max_msg_size=1000,
    )


def test_reader_deflate_invalid_data() -> None:
    exc = expect_error(
        server_frame(BINARY, b"\xff\xff\xff", rsv=RSV1),
        1007,
        "invalid compressed data: Error -3 while decompressing data: invalid block type",
        compress=15,
    )
    assert isinstance(exc.__cause__, zlib.error)


def test_reader_deflate_data_after_final_block() -> None:
    final_block = b"\xf3\x48\xcd\xc9\xc9\x07\x00"  # "Hello" with BFINAL set
    data = server_frame(BINARY, final_block, fin=False, rsv=RSV1) + server_frame(CONT, b"junk")
    expect_error(
        data,
        1007,
        "compressed data after the final deflate block: b'junk\\x00\\x00\\xff\\xff'",
        compress=15,
    )


def test_reader_deflate_invalid_utf8_after_inflation() -> None:
    expect_error(
        server_frame(TEXT, deflate(b"ok\xff"), rsv=RSV1),
        1007,
        "invalid utf-8 in text message at byte 2: b'\\xff'",
        compress=15,
    )


# -- masking ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 125, 4095, 4096, 4097, 70_000])
def test_mask_matches_definition(size: int) -> None:
    data = os.urandom(size)
    key = os.urandom(4)
    assert mask(data, key) == reference_mask(data, key)
    assert mask(mask(data, key), key) == data
    assert mask(bytearray(data), key) == reference_mask(data, key)


def test_mask_rfc_example() -> None:
    # RFC 6455 §5.7: masked "Hello" with key 37 fa 21 3d.
    assert mask(b"Hello", b"\x37\xfa\x21\x3d") == b"\x7f\x9f\x4d\x51\x58"


def test_mask_rejects_bad_key() -> None:
    with pytest.raises(ValueError, match=r"invalid masking key: b'abc', expected 4 bytes"):
        mask(b"x", b"abc")


@given(data=st.binary(max_size=10_000), key=st.binary(min_size=4, max_size=4))
def test_mask_property(data: bytes, key: bytes) -> None:
    assert mask(data, key) == reference_mask(data, key)


# -- writer -------------------------------------------------------------------------------


def one_frame(data: bytes) -> tuple[bool, int, int, bytes]:
    [frame] = list(decode_client_frames(data))
    return frame


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 100_000])
def test_writer_data_frames(size: int) -> None:
    writer = FrameWriter()
    payload = os.urandom(size)
    assert one_frame(writer.binary(payload)) == (True, 0, BINARY, payload)
    assert one_frame(writer.binary(bytearray(payload))) == (True, 0, BINARY, payload)
    text = "é" * (size // 2)
    assert one_frame(writer.text(text)) == (True, 0, TEXT, text.encode())


def test_writer_masks_with_fresh_keys() -> None:
    writer = FrameWriter()
    frames = [writer.text("same") for _ in range(20)]
    keys = {f[2:6] for f in frames}
    assert len(keys) > 15
    assert all(one_frame(f) == (True, 0, TEXT, b"same") for f in frames)


def test_writer_never_reuses_a_key_across_pool_refills() -> None:
    # 1,000 frames span several os.urandom() reads of 256 keys each.
    writer = FrameWriter()
    frames = [writer.binary(b"x") for _ in range(1000)]
    keys = [f[2:6] for f in frames]
    # Random 32-bit keys collide among 1,000 with probability ~1e-4; a reused pool would
    # repeat hundreds of them.
    assert len(set(keys)) >= 999
    assert all(one_frame(f) == (True, 0, BINARY, b"x") for f in frames)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_reuse_its_parents_buffered_keys() -> None:
    writer = FrameWriter()
    writer.binary(b"first")  # the parent now holds 255 unused keys
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.write(write_end, writer.binary(b"child")[2:6])
        finally:
            os._exit(0)
    os.close(write_end)
    child_key = os.read(read_end, 4)
    os.close(read_end)
    os.waitpid(pid, 0)
    parent_key = writer.binary(b"parent")[2:6]
    assert len(child_key) == 4
    assert child_key != parent_key


def test_writer_control_frames() -> None:
    writer = FrameWriter()
    assert one_frame(writer.ping()) == (True, 0, PING, b"")
    assert one_frame(writer.ping(b"x" * 125)) == (True, 0, PING, b"x" * 125)
    assert one_frame(writer.ping("é")) == (True, 0, PING, "é".encode())
    assert one_frame(writer.pong(memoryview(b"p"))) == (True, 0, PONG, b"p")
    assert one_frame(writer.close()) == (True, 0, CLOSE, b"\x03\xe8")
    assert one_frame(writer.close(None)) == (True, 0, CLOSE, b"")
    assert one_frame(writer.close(WSCloseCode.GOING_AWAY, "bye é")) == (
        True,
        0,
        CLOSE,
        b"\x03\xe9bye \xc3\xa9",
    )
    assert one_frame(writer.close(4000, "r" * 123)) == (True, 0, CLOSE, b"\x0f\xa0" + b"r" * 123)


@pytest.mark.parametrize(("method", "name"), [("ping", "ping"), ("pong", "pong")])
def test_writer_control_payload_too_long(method: str, name: str) -> None:
    with pytest.raises(LocalProtocolError) as info:
        getattr(FrameWriter(), method)(b"x" * 126)
    assert str(info.value) == (
        f"{name} payload too long: 126 bytes, expected no more than 125 bytes"
    )


def test_writer_close_reason_too_long() -> None:
    with pytest.raises(LocalProtocolError) as info:
        FrameWriter().close(1000, "r" * 124)
    assert str(info.value) == "close payload too long: 126 bytes, expected no more than 125 bytes"


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65536])
def test_writer_rejects_unsendable_close_codes(code: int) -> None:
    with pytest.raises(LocalProtocolError) as info:
        FrameWriter().close(code)
    assert str(info.value) == f"invalid close code: {code}"


def test_writer_rejects_reason_without_code_and_bad_text() -> None:
    with pytest.raises(LocalProtocolError) as info:
        FrameWriter().close(None, "why")
    assert str(info.value) == "close reason without a code: 'why'"
    with pytest.raises(LocalProtocolError) as info:
        FrameWriter().text("a\ud800")
    assert str(info.value) == "text is not encodable as utf-8: 'a\\ud800'"
    assert isinstance(info.value.__cause__, UnicodeEncodeError)
    with pytest.raises(LocalProtocolError, match="close reason is not encodable"):
        FrameWriter().close(1000, "\udfff")


def test_writer_rejects_bad_window_bits() -> None:
    for bits in (8, 16):
        with pytest.raises(ValueError, match=f"invalid compress window bits: {bits}"):
            FrameWriter(compress=bits)


def inflate_messages(frames: list[bytes], *, takeover: bool = True, wbits: int = 15) -> list[bytes]:
    """Decompress the writer's messages as a permessage-deflate server would."""
    d = zlib.decompressobj(wbits=-wbits)
    out = []
    for frame in frames:
        fin, rsv, _, payload = one_frame(frame)
        assert fin
        if not rsv:
            out.append(payload)
            continue
        assert rsv == RSV1
        if not takeover:
            d = zlib.decompressobj(wbits=-wbits)
        out.append(d.decompress(payload + b"\x00\x00\xff\xff"))
    return out


def test_writer_deflate_with_context_takeover() -> None:
    writer = FrameWriter(compress=15)
    noise = os.urandom(1000)
    messages = [noise, noise, b"", os.urandom(5000)]
    frames = [writer.binary(m) for m in messages]
    assert inflate_messages(frames) == messages
    # The second copy refers back to the first: much smaller.
    assert len(frames[1]) < len(frames[0]) // 2
    # A fresh decompressor per message cannot decode it: takeover was used.
    with pytest.raises(zlib.error):
        inflate_messages(frames, takeover=False)


def test_writer_deflate_without_context_takeover() -> None:
    writer = FrameWriter(compress=15, no_context_takeover=True)
    messages = [b"repeat me " * 30, b"repeat me " * 30, b"end"]
    frames = [writer.binary(m) for m in messages]
    assert inflate_messages(frames, takeover=False) == messages
    assert len(frames[0]) == len(frames[1])


def test_writer_deflate_per_message_opt_out_and_control_frames() -> None:
    writer = FrameWriter(compress=12)
    plain = writer.text("plain", compress=False)
    assert one_frame(plain) == (True, 0, TEXT, b"plain")
    zipped = writer.text("zipped", compress=True)
    assert one_frame(zipped)[1] == RSV1
    assert one_frame(writer.ping(b"p")) == (True, 0, PING, b"p")
    assert one_frame(writer.close(1000)) == (True, 0, CLOSE, b"\x03\xe8")
    assert inflate_messages([plain, zipped], wbits=12) == [b"plain", b"zipped"]


@settings(max_examples=100, deadline=None)
@given(
    messages=st.lists(
        st.one_of(st.text(max_size=500), st.binary(max_size=5000)), min_size=1, max_size=6
    ),
    takeover=st.booleans(),
    wbits=st.integers(9, 15),
)
def test_writer_reader_deflate_roundtrip(
    messages: list[str | bytes], takeover: bool, wbits: int
) -> None:
    """Writer output, unmasked by the test decoder, read back by a FrameReader."""
    writer = FrameWriter(compress=wbits, no_context_takeover=not takeover)
    reader = FrameReader(compress=wbits, no_context_takeover=not takeover)
    for m in messages:
        frame = writer.text(m) if isinstance(m, str) else writer.binary(m)
        fin, rsv, opcode, payload = one_frame(frame)
        reader.receive_data(server_frame(opcode, payload, fin=fin, rsv=rsv))
        kind = WSMsgType.TEXT if isinstance(m, str) else WSMsgType.BINARY
        assert reader.next_message() == msg(kind, m)


@given(data=st.binary(max_size=70_000) | st.text(max_size=1000))
@settings(max_examples=50, deadline=None)
def test_writer_roundtrip_property(data: bytes | str) -> None:
    writer = FrameWriter()
    frame = writer.text(data) if isinstance(data, str) else writer.binary(data)
    fin, rsv, opcode, payload = one_frame(frame)
    assert (fin, rsv) == (True, 0)
    assert opcode == (TEXT if isinstance(data, str) else BINARY)
    assert payload == (data.encode() if isinstance(data, str) else data)


# -- cross-check against the websockets library ------------------------------------------


websockets_frames = pytest.importorskip("websockets.frames")
websockets_pmd = pytest.importorskip("websockets.extensions.permessage_deflate")
websockets_streams = pytest.importorskip("websockets.streams")


def ws_parse_client_frames(data: bytes, extensions: list[object]) -> list[object]:
    """Parse our client frames with websockets' server-side parser."""
    reader = websockets_streams.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    frames = []
    while True:
        parser = websockets_frames.Frame.parse(reader.read_exact, mask=True, extensions=extensions)
        try:
            next(parser)
        except StopIteration as done:
            frames.append(done.value)
        except EOFError:
            return frames
        else:  # pragma: no cover - parse wanted more data than there is
            raise AssertionError("incomplete frame")


def test_websockets_oracle_reads_our_frames() -> None:
    Opcode = websockets_frames.Opcode
    writer = FrameWriter()
    data = (
        writer.text("héllo")
        + writer.binary(b"\x00" * 70_000)
        + writer.ping(b"p")
        + writer.pong(b"")
        + writer.close(1001, "away")
    )
    frames = ws_parse_client_frames(data, [])
    assert [(f.opcode, bytes(f.data)) for f in frames] == [  # type: ignore[attr-defined]
        (Opcode.TEXT, "héllo".encode()),
        (Opcode.BINARY, b"\x00" * 70_000),
        (Opcode.PING, b"p"),
        (Opcode.PONG, b""),
        (Opcode.CLOSE, b"\x03\xe9away"),
    ]


@pytest.mark.parametrize("takeover", [True, False])
def test_websockets_oracle_decompresses_our_frames(takeover: bool) -> None:
    # The server's view: remote = the client (us).
    server_ext = websockets_pmd.PerMessageDeflate(
        remote_no_context_takeover=not takeover,
        local_no_context_takeover=False,
        remote_max_window_bits=10,
        local_max_window_bits=15,
    )
    writer = FrameWriter(compress=10, no_context_takeover=not takeover)
    messages = ["text " * 100, "text " * 100, "x"]
    data = b"".join(writer.text(m) for m in messages)
    frames = ws_parse_client_frames(data, [server_ext])
    assert [bytes(f.data).decode() for f in frames] == messages  # type: ignore[attr-defined]


@pytest.mark.parametrize("takeover", [True, False])
def test_websockets_oracle_frames_read_by_us(takeover: bool) -> None:
    Frame, Opcode = websockets_frames.Frame, websockets_frames.Opcode
    server_ext = websockets_pmd.PerMessageDeflate(
        remote_no_context_takeover=False,
        local_no_context_takeover=not takeover,
        remote_max_window_bits=15,
        local_max_window_bits=11,
    )
    sent = [
        Frame(Opcode.TEXT, "ça va ".encode() * 100),
        Frame(Opcode.PING, b"hb"),
        Frame(Opcode.BINARY, os.urandom(300) * 3),
        Frame(Opcode.TEXT, "ça va ".encode() * 100),
        Frame(Opcode.CLOSE, b"\x03\xe8done"),
    ]
    data = b"".join(f.serialize(mask=False, extensions=[server_ext]) for f in sent)
    expected = [
        msg(WSMsgType.TEXT, "ça va " * 100),
        msg(WSMsgType.PING, b"hb"),
        msg(WSMsgType.BINARY, sent[2].data),
        msg(WSMsgType.TEXT, "ça va " * 100),
        msg(WSMsgType.CLOSE, 1000, "done"),
    ]
    assert feed(data, compress=11, no_context_takeover=not takeover) == expected
    assert feed_bytewise(data, compress=11, no_context_takeover=not takeover) == expected
    # Without the extension the same bytes are a protocol error (RSV1 set).
    with pytest.raises(WebSocketError, match=r"reserved bits set: 0x40"):
        feed(data)


def test_websockets_oracle_plain_frames_read_by_us() -> None:
    Frame, Opcode = websockets_frames.Frame, websockets_frames.Opcode
    sent = [
        Frame(Opcode.TEXT, b"frag", fin=False),
        Frame(Opcode.PING, b""),
        Frame(Opcode.CONT, b"mented"),
        Frame(Opcode.BINARY, b"\x01" * 65536),
        Frame(Opcode.CLOSE, b""),
    ]
    data = b"".join(f.serialize(mask=False) for f in sent)
    assert feed(data) == [
        msg(WSMsgType.PING, b""),
        msg(WSMsgType.TEXT, "fragmented"),
        msg(WSMsgType.BINARY, b"\x01" * 65536),
        msg(WSMsgType.CLOSE, 0, ""),
    ]


@pytest.mark.parametrize("opcode", [TEXT, BINARY])
def test_tiny_fragments_cost_about_what_they_carry(opcode: int) -> None:
    """A message in 100,000 one-byte fragments (and as many empty ones) is gathered in one
    buffer: not a list of 200,000 objects, many times the bytes the size limit counts."""
    pieces = [server_frame(opcode, b"", fin=False)]
    for _ in range(100_000):
        pieces.append(server_frame(CONT, b"x", fin=False))
        pieces.append(server_frame(CONT, b"", fin=False))
    pieces.append(server_frame(CONT, b"", fin=True))
    data = b"".join(pieces)
    reader = FrameReader()
    tracemalloc.start()
    try:
        reader.receive_data(data)
        del data, pieces
        tracemalloc.reset_peak()
        (msg,) = drain(reader)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert msg.data == ("x" * 100_000 if opcode == TEXT else b"x" * 100_000)
    # The message itself is 100 KB (text: up to 4 bytes a character while gathered).
    assert peak < 1_000_000


@pytest.mark.parametrize("opcode", [BINARY, PING])
def test_a_consumed_read_is_not_kept_until_more_bytes_arrive(opcode: int) -> None:
    """An idle WebSocket must not hold the last read, a whole large message, in memory."""
    payload = b"x" * (100 if opcode == PING else 1_000_000)
    reader = FrameReader(max_msg_size=0)
    tracemalloc.start()
    try:
        data = server_frame(opcode, payload)
        del payload
        reader.receive_data(data)
        del data
        (msg,) = drain(reader)
        del msg
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 10_000
    assert reader.buffered == 0
    # And the reader goes on as before.
    reader.receive_data(server_frame(TEXT, b"next"))
    assert drain(reader) == [WSMessage(WSMsgType.TEXT, "next", "")]
