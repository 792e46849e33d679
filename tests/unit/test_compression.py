"""Tests for hyperclient.compression: bounded, streamed content-coding decoders."""

from __future__ import annotations

import gzip
import os
import struct
import tracemalloc
import zlib
from collections.abc import Callable
from typing import Any, cast

import pytest
from backports import zstd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hyperclient import compression
from hyperclient.compression import (
    MAX_CODINGS,
    MAX_SMALL_MEMBERS,
    SMALL_MEMBER_SIZE,
    StackedDecoder,
    accept_encoding,
    make_decoder,
    make_encoder,
)
from hyperclient.errors import PayloadTooBig, RemoteProtocolError

brotli = pytest.importorskip("brotli")  # the dev extra has it; it ships no type hints

MiB = 1 << 20


def raw_deflate(data: bytes) -> bytes:
    obj = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return obj.compress(data) + obj.flush()


ENCODERS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": zstd.compress,
}


def encode(codings: str, data: bytes) -> bytes:
    """Apply each coding of a Content-Encoding value, in order."""
    for coding in codings.split(","):
        data = ENCODERS[coding.strip()](data)
    return data


def decode_all(
    decoder: StackedDecoder, blob: bytes, *, chunk: int = 4096, max_length: int = 65536
) -> bytes:
    """Feed *blob* in chunks, drain after each, check every piece's bound, then finish."""
    out = []
    for start in range(0, len(blob), chunk):
        out.append(decoder.decompress(blob[start : start + chunk], max_length))
        while decoder.has_pending():
            piece = decoder.decompress(b"", max_length)
            assert len(piece) <= max_length
            out.append(piece)
    assert all(len(piece) <= max_length for piece in out)
    decoder.finish()
    return b"".join(out)


def decoder_for(content_encoding: str, **kwargs: int) -> StackedDecoder:
    decoder = make_decoder(content_encoding, **kwargs)
    assert decoder is not None
    return decoder


# -- Accept-Encoding ----------------------------------------------------------------------


def test_accept_encoding_lists_installed_codecs() -> None:
    assert accept_encoding() == "gzip, deflate, br, zstd"


def test_accept_encoding_is_computed_once() -> None:
    assert accept_encoding() is accept_encoding()


# -- round trips --------------------------------------------------------------------------

payloads = st.one_of(
    st.binary(max_size=20_000),
    # compressible data, so that output outgrows input and max_length matters
    st.builds(lambda unit, n: unit * n, st.binary(min_size=1, max_size=50), st.integers(0, 5000)),
)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=payloads, chunk=st.integers(1, 5000), max_length=st.integers(1, 70_000))
def test_round_trip(coding: str, data: bytes, chunk: int, max_length: int) -> None:
    blob = encode(coding, data)
    assert decode_all(decoder_for(coding), blob, chunk=chunk, max_length=max_length) == data


@pytest.mark.parametrize("coding", ["gzip", "zstd"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    members=st.lists(payloads, min_size=1, max_size=4),
    chunk=st.integers(1, 70_000),
    max_length=st.integers(1, 70_000),
)
def test_round_trip_of_several_members(
    coding: str, members: list[bytes], chunk: int, max_length: int
) -> None:
    """Several gzip members or zstd frames, however the input is cut and the output
    bounded. Two frames arriving in one piece spun for ever: the input was dropped once
    all of it was handed to the binding, which later gave back the second frame's bytes
    as unused_data, at offsets that no longer existed."""
    blob = b"".join(encode(coding, member) for member in members)
    decoder = decoder_for(coding)
    out = []
    steps = 0
    # Every step gives at least a byte of output (max_length=1 takes one per byte) or
    # moves on a member; more than that is a spin.
    bound = len(b"".join(members)) + 10 * len(members) + 1_000
    for start in range(0, len(blob), chunk):
        out.append(decoder.decompress(blob[start : start + chunk], max_length))
        while decoder.has_pending():
            steps += 1
            assert steps < bound, "the decoder does not progress"
            out.append(decoder.decompress(b"", max_length))
    decoder.finish()
    assert b"".join(out) == b"".join(members)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_every_split_point(coding: str) -> None:
    data = b"hello, compressed world! " * 40
    blob = encode(coding, data)
    for split in range(len(blob) + 1):
        decoder = decoder_for(coding)
        out = decoder.decompress(blob[:split], 100)
        out += decoder.flush()
        out += decoder.decompress(blob[split:], 100)
        out += decoder.flush()
        assert decoder.finish() == b""
        assert out == data, split


def test_raw_deflate_is_detected() -> None:
    data = b"raw deflate, as some servers send it " * 100
    blob = raw_deflate(data)
    assert blob[:2] != zlib.compress(data)[:2]
    assert decode_all(decoder_for("deflate"), blob) == data
    # the two detection bytes may arrive one at a time
    assert decode_all(decoder_for("deflate"), blob, chunk=1) == data


def test_zlib_deflate_is_detected() -> None:
    data = b"zlib-wrapped deflate, per RFC 9110 section 8.4.1.2 " * 100
    for level in (0, 1, 6, 9):
        assert decode_all(decoder_for("deflate"), zlib.compress(data, level), chunk=1) == data


def test_raw_deflate_is_not_checked_as_zlib() -> None:
    # A zlib stream with a wrong Adler-32 is corrupt; the same bytes without the header
    # would be raw deflate. Detection must not fall back to raw after a zlib error.
    blob = bytearray(zlib.compress(b"abc" * 100))
    blob[-1] ^= 0xFF
    with pytest.raises(RemoteProtocolError, match=r"^invalid deflate data: "):
        decode_all(decoder_for("deflate"), bytes(blob))


@pytest.mark.parametrize("content_encoding", ["gzip, br", "deflate, gzip", "zstd, deflate, br"])
def test_stacked_codings_decode_in_reverse(content_encoding: str) -> None:
    data = os.urandom(5000).hex().encode() * 4
    blob = encode(content_encoding, data)
    assert decode_all(decoder_for(content_encoding), blob, chunk=777, max_length=1000) == data


def test_stacked_codings_in_wrong_order_fail() -> None:
    blob = encode("gzip, br", b"data" * 100)
    with pytest.raises(RemoteProtocolError):
        decode_all(decoder_for("br, gzip"), blob)


def test_codings_are_case_insensitive_and_skip_identity() -> None:
    data = b"x" * 1000
    decoder = decoder_for(" identity ,GZIP,, identity")
    assert decoder.codings == ("gzip",)
    assert decode_all(decoder, gzip.compress(data)) == data


def test_x_gzip_is_gzip() -> None:
    assert decoder_for("x-gzip").codings == ("gzip",)


@pytest.mark.parametrize("content_encoding", ["", "identity", " identity , identity "])
def test_identity_only_gives_no_decoder(content_encoding: str) -> None:
    assert make_decoder(content_encoding) is None


# -- gzip members and trailing bytes --------------------------------------------------------


def test_concatenated_gzip_members() -> None:
    blob = gzip.compress(b"first ") + gzip.compress(b"second ") + gzip.compress(b"third")
    for chunk in (1, 2, 5, len(blob)):
        assert decode_all(decoder_for("gzip"), blob, chunk=chunk) == b"first second third"


@pytest.mark.parametrize("trailer", [b"\x00" * 8, b"garbage", b"\x1f", b"\x1fX"])
def test_trailing_garbage_after_gzip_is_ignored(trailer: bytes) -> None:
    blob = gzip.compress(b"payload") + trailer
    for chunk in (1, len(blob)):
        assert decode_all(decoder_for("gzip"), blob, chunk=chunk) == b"payload"


def test_truncated_second_gzip_member() -> None:
    second = gzip.compress(b"second")
    blob = gzip.compress(b"first") + second[:-3]
    with pytest.raises(RemoteProtocolError, match=r"^compressed body is truncated \(gzip\)$"):
        decode_all(decoder_for("gzip"), blob)


def test_zstd_frames_and_skippable_frames() -> None:
    skippable = b"\x50\x2a\x4d\x18" + (3).to_bytes(4, "little") + b"abc"
    blob = zstd.compress(b"one ") + skippable + zstd.compress(b"two")
    for chunk in (1, 3, len(blob)):
        assert decode_all(decoder_for("zstd"), blob, chunk=chunk) == b"one two"


# -- many members and frames (Rule 3) --------------------------------------------------------

SKIPPABLE = struct.pack("<II", 0x184D2A50, 0)  # an empty skippable frame, RFC 8878 §3.1.2
SMALL = {  # each decodes to fewer than SMALL_MEMBER_SIZE bytes
    "gzip": [gzip.compress(b""), gzip.compress(b"s" * (SMALL_MEMBER_SIZE - 1))],
    "zstd": [zstd.compress(b""), SKIPPABLE, zstd.compress(b"s" * (SMALL_MEMBER_SIZE - 1))],
}
UNIT = {"gzip": "member", "zstd": "frame"}


def large(coding: str) -> bytes:
    """A member (frame) that decodes to exactly SMALL_MEMBER_SIZE bytes: not small."""
    return bytes(ENCODERS[coding](b"L" * SMALL_MEMBER_SIZE))


def too_many_small(coding: str, count: int, larger: int) -> str:
    return (
        rf"^too many {coding} {UNIT[coding]}s that decode to under 1024 bytes each: {count}, "
        rf"expected no more than 1024 plus one per larger {UNIT[coding]} \({larger} so far\)$"
    )


@pytest.mark.parametrize(
    ("coding", "small"),
    [("gzip", SMALL["gzip"][0]), ("zstd", SMALL["zstd"][0]), ("zstd", SKIPPABLE)],
    ids=["gzip-empty-members", "zstd-empty-frames", "zstd-skippable-frames"],
)
def test_flood_of_small_members_is_refused(coding: str, small: bytes) -> None:
    # 2 MiB of members that decode to nothing: refused at the 1025th, in milliseconds,
    # however the body arrives.
    blob = small * (2 * MiB // len(small)) + ENCODERS[coding](b"end")
    for chunk in (4096, 65536, len(blob)):
        with pytest.raises(RemoteProtocolError, match=too_many_small(coding, 1025, 0)) as info:
            decode_all(decoder_for(coding), blob, chunk=chunk)
        assert info.value.in_body


@pytest.mark.parametrize("coding", ["gzip", "zstd"])
def test_each_larger_member_allows_one_more_small_one(coding: str) -> None:
    # pzstd puts a skippable frame before each frame and BGZF ends with an empty member:
    # a small member next to each larger one decodes at any length...
    smalls = SMALL[coding]
    pairs = b"".join(smalls[i % len(smalls)] + large(coding) for i in range(2000))
    blob = pairs + b"".join(smalls[i % len(smalls)] for i in range(MAX_SMALL_MEMBERS))
    expected = gzip.decompress(blob) if coding == "gzip" else zstd.decompress(blob)
    assert len(expected) > 2000 * SMALL_MEMBER_SIZE
    for chunk in (4096, len(blob)):
        assert decode_all(decoder_for(coding), blob, chunk=chunk) == expected
    # ...and the small members beyond that are what is refused.
    with pytest.raises(RemoteProtocolError, match=too_many_small(coding, 3025, 2000)):
        decode_all(decoder_for(coding), blob + smalls[0], chunk=4096)


def feed_split(coding: str, blob: bytes, split: int, max_length: int) -> bytes:
    """Decode *blob* given in two pieces, cut at *split*."""
    decoder = decoder_for(coding)
    out = []
    for piece in (blob[:split], blob[split:]):
        out.append(decoder.decompress(piece, max_length))
        while decoder.has_pending():
            out.append(decoder.decompress(b"", max_length))
    decoder.finish()
    return b"".join(out)


@pytest.mark.parametrize("coding", ["gzip", "zstd"])
def test_small_member_limit_does_not_depend_on_the_split(
    coding: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compression, "MAX_SMALL_MEMBERS", 2)
    small = SMALL[coding][-1]
    allowed = small + small + large(coding) + small  # three small ones: 2 + 1 larger
    refused = allowed + small
    expected = b"s" * 1023 * 2 + b"L" * 1024 + b"s" * 1023
    for max_length in (1, 65536):
        assert decode_all(decoder_for(coding), allowed, chunk=1, max_length=max_length) == expected
        with pytest.raises(RemoteProtocolError, match=r": 4, expected no more than 2 plus one"):
            decode_all(decoder_for(coding), refused, chunk=1, max_length=max_length)
    for split in range(len(refused) + 1):
        assert feed_split(coding, allowed, min(split, len(allowed)), 4096) == expected
        with pytest.raises(RemoteProtocolError, match=r": 4, expected no more than 2 plus one"):
            feed_split(coding, refused, split, 4096)


def count_input(
    monkeypatch: pytest.MonkeyPatch, target: str, real: Callable[..., Any]
) -> list[int]:
    """Make the decompressors *target* (made by *real*) record the bytes each call is given."""
    handed: list[int] = []

    class Counting:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._obj = real(*args, **kwargs)

        def decompress(self, data: bytes, max_length: int) -> bytes:
            handed.append(len(data))
            return cast(bytes, self._obj.decompress(data, max_length))

        def __getattr__(self, name: str) -> Any:
            return getattr(self._obj, name)

    monkeypatch.setattr(target, Counting)
    return handed


@pytest.mark.parametrize("coding", ["gzip", "zstd"])
def test_members_are_not_handed_the_rest_of_the_input(
    coding: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # When a member ends, the codec copies the rest of the input it was given
    # (unused_data): given all we hold, each member would copy the remaining body again.
    if coding == "gzip":
        handed = count_input(monkeypatch, "zlib.decompressobj", zlib.decompressobj)
    else:
        target = "hyperclient.compression._zstd.ZstdDecompressor"
        handed = count_input(monkeypatch, target, zstd.ZstdDecompressor)
    members = 3000
    blob = large(coding) * members  # 3 MiB out of ~60 kB: every member is a larger one
    assert decode_all(decoder_for(coding), blob, chunk=len(blob)) == b"L" * 1024 * members
    # Each member is given its own length at most twice, plus the first slice.
    assert sum(handed) <= 2 * len(blob) + compression._FIRST_FEED * members


def test_zstd_window_above_8_mib_is_rejected() -> None:
    # RFC 9659 section 3: the zstd content coding is limited to an 8 MB window.
    data = os.urandom(1 << 16) + b"\0" * (9 * MiB) + os.urandom(1 << 16)
    options = {int(zstd.CompressionParameter.window_log): 25}
    blob = zstd.compress(data, options=options)
    with pytest.raises(RemoteProtocolError, match=r"^invalid zstd data: ") as info:
        decode_all(decoder_for("zstd"), blob)
    assert isinstance(info.value.__cause__, zstd.ZstdError)


def test_brotli_trailing_data_is_rejected() -> None:
    with pytest.raises(RemoteProtocolError, match=r"^invalid br data: "):
        decode_all(decoder_for("br"), brotli.compress(b"payload") + b"junk")


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_truncated_body_fails_at_finish(coding: str) -> None:
    data = os.urandom(3000)
    blob = encode(coding, data)
    decoder = decoder_for(coding)
    decoder.decompress(blob[:-4])
    decoder.flush()
    with pytest.raises(RemoteProtocolError) as info:
        decoder.finish()
    assert info.value.message == f"compressed body is truncated ({coding})"
    assert info.value.in_body


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_single_byte_body_is_truncated(coding: str) -> None:
    decoder = decoder_for(coding)
    decoder.decompress(encode(coding, b"abc")[:1])
    decoder.flush()
    with pytest.raises(RemoteProtocolError, match=r"^compressed body is truncated"):
        decoder.finish()


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_empty_body_is_empty(coding: str) -> None:
    # Servers label empty replies "Content-Encoding: gzip"; browsers show them as empty.
    decoder = decoder_for(coding)
    assert decoder.decompress(b"") == b""
    assert not decoder.has_pending()
    decoder.finish()


@pytest.mark.parametrize(
    ("coding", "cause"),
    [("gzip", zlib.error), ("deflate", zlib.error), ("br", brotli.error), ("zstd", zstd.ZstdError)],
)
def test_corrupt_body(coding: str, cause: type[Exception]) -> None:
    blob = b"\x00\xff" * 50 if coding == "deflate" else b"this is not compressed at all" * 4
    with pytest.raises(RemoteProtocolError, match=rf"^invalid {coding} data: ") as info:
        decode_all(decoder_for(coding), blob)
    assert info.value.in_body
    assert isinstance(info.value.__cause__, cause)


def test_unknown_coding() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        make_decoder("gzip, foo")
    assert info.value.message == "unsupported content encoding: 'foo'"
    assert info.value.in_body


def test_too_many_codings() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        make_decoder(", ".join(["gzip"] * (MAX_CODINGS + 1)))
    assert info.value.message == "too many content encodings: 6, expected no more than 5"


def test_five_codings_are_accepted() -> None:
    content_encoding = "gzip, deflate, br, zstd, gzip"
    data = b"five layers " * 100
    blob = encode(content_encoding, data)
    assert decode_all(decoder_for(content_encoding), blob, chunk=10, max_length=64) == data


def test_max_total() -> None:
    decoder = decoder_for("gzip", max_total=1000)
    blob = gzip.compress(b"a" * 1001)
    assert decoder.decompress(blob, 600) == b"a" * 600
    with pytest.raises(PayloadTooBig) as info:
        decoder.decompress(b"", 600)
    assert info.value.message == "decompressed body exceeds limit of 1000 bytes"
    assert info.value.in_body


def test_max_total_allows_exact_size() -> None:
    assert (
        decode_all(decoder_for("br", max_total=1000), brotli.compress(b"b" * 1000)) == b"b" * 1000
    )


@pytest.mark.parametrize("max_length", [0, -1])
def test_max_length_must_be_positive(max_length: int) -> None:
    # zlib reads max_length=0 as "unbounded": it must never reach it.
    with pytest.raises(ValueError, match=rf"^max_length must be positive, got {max_length}$"):
        decoder_for("gzip").decompress(gzip.compress(b"a"), max_length)


def test_finish_with_pending_output_is_misuse() -> None:
    decoder = decoder_for("gzip")
    decoder.decompress(gzip.compress(b"a" * 1000), 10)
    assert decoder.has_pending()
    with pytest.raises(RuntimeError, match="drain it before finish"):
        decoder.finish()


def test_pending_input_is_held_until_drained() -> None:
    decoder = decoder_for("gzip")
    blob = gzip.compress(b"a" * 1000 + b"b" * 1000)
    assert decoder.decompress(blob[: len(blob) // 2], 10) == b"a" * 10
    # more input while output is pending is queued, not decoded ahead
    assert decoder.decompress(blob[len(blob) // 2 :], 10) == b"a" * 10
    assert decoder.flush() == b"a" * 980 + b"b" * 1000
    decoder.finish()


# -- decompression bombs --------------------------------------------------------------------


def pull_bomb(decoder: StackedDecoder, blob: bytes, max_length: int = 65536) -> int:
    """Decode *blob* in 16 KiB chunks; return the decoded size, checking each piece."""
    total = 0
    for start in range(0, len(blob), 16384):
        piece = decoder.decompress(blob[start : start + 16384], max_length)
        while True:
            assert len(piece) <= max_length
            assert piece.count(0) == len(piece)
            total += len(piece)
            if not decoder.has_pending():
                break
            piece = decoder.decompress(b"", max_length)
    decoder.finish()
    return total


@pytest.mark.parametrize("content_encoding", ["gzip", "deflate", "br", "zstd", "deflate, gzip"])
def test_bomb_is_decoded_in_bounded_memory(content_encoding: str) -> None:
    blob = encode(content_encoding, bytes(10 * MiB))
    assert len(blob) < 64 * 1024  # a ratio above 160
    tracemalloc.start()
    try:
        total = pull_bomb(decoder_for(content_encoding), blob)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 10 * MiB
    assert peak < 2 * MiB, peak


def test_brotli_without_output_limit_feeds_one_byte_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # brotli < 1.2 has no output_buffer_limit: one input byte at a time bounds each
    # process() call to one meta-block (<= 16 MiB, RFC 7932 section 9.2). The bomb is
    # larger than that bound, so decoding it in one call would break the memory check.
    monkeypatch.setattr(compression, "_brotli_has_output_limit", lambda: False)
    blob = brotli.compress(bytes(48 * MiB), quality=5)
    assert len(blob) < 100
    tracemalloc.start()
    try:
        total = pull_bomb(decoder_for("br"), blob)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 48 * MiB
    assert peak < 16 * MiB + 2 * MiB, peak
    data = os.urandom(20_000).hex().encode()
    assert decode_all(decoder_for("br"), brotli.compress(data), chunk=999, max_length=5000) == data


def test_inner_stages_get_bounded_input(monkeypatch: pytest.MonkeyPatch) -> None:
    # Rule 2: a stage is fed at most STAGE_INPUT_SIZE bytes of the previous stage's
    # output at a time, so a bomb nested inside another coding stays bounded too.
    fed: list[tuple[int, int]] = []
    decoder = decoder_for("gzip, gzip, gzip")
    for index, stage in enumerate(decoder._decoders):
        original = stage.decompress

        def spy(
            data: bytes,
            max_length: int,
            index: int = index,
            original: Callable[[bytes, int], bytes] = original,
        ) -> bytes:
            fed.append((index, len(data)))
            return original(data, max_length)

        monkeypatch.setattr(stage, "decompress", spy)
    data = os.urandom(150_000).hex().encode() * 2  # 600 kB, each layer ~2x smaller
    blob = encode("gzip, gzip, gzip", data)
    assert decode_all(decoder, blob, chunk=len(blob)) == data
    assert max(size for index, size in fed if index == 0) == len(blob)
    assert max(size for index, size in fed if index > 0) == compression.STAGE_INPUT_SIZE


def test_brotli_soft_limit_is_made_exact() -> None:
    # brotli 1.2's output_buffer_limit may overshoot (it grows in blocks); we do not.
    decoder = decoder_for("br")
    piece = decoder.decompress(brotli.compress(bytes(MiB)), 1000)
    assert len(piece) == 1000
    assert decoder.has_pending()


# -- request body encoders ----------------------------------------------------------------


def test_deflate_encoder_makes_zlib_data() -> None:
    encoder = make_encoder("deflate")
    data = b"request body " * 1000
    blob = encoder.compress(data[:5000]) + encoder.compress(data[5000:]) + encoder.flush()
    assert zlib.decompress(blob) == data  # zlib wrapper (RFC 1950), not raw
    assert encoder.name == "deflate"


def test_gzip_encoder_makes_gzip_data() -> None:
    encoder = make_encoder("GZIP")
    blob = encoder.compress(b"abc") + encoder.flush()
    assert gzip.decompress(blob) == b"abc"
    assert encoder.name == "gzip"


@pytest.mark.parametrize("name", ["br", "identity", ""])
def test_unknown_encoder(name: str) -> None:
    with pytest.raises(ValueError) as info:
        make_encoder(name)
    assert str(info.value) == f"unsupported content encoding for a request body: {name!r}"
