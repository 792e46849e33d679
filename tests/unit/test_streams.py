"""StreamReader: reads, iteration, flow control and errors (fed directly, no socket)."""

from __future__ import annotations

import asyncio
import collections
import gzip
import itertools
from collections.abc import Iterator

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hyperclient.compression import make_decoder
from hyperclient.errors import ClientPayloadError
from hyperclient.streams import StreamReader


class FlowRecorder:
    def __init__(self) -> None:
        self.events: list[str] = []

    def pause_reading(self) -> None:
        self.events.append("pause")

    def resume_reading(self) -> None:
        self.events.append("resume")


def stream(limit: int = 16) -> tuple[StreamReader, FlowRecorder]:
    flow = FlowRecorder()
    return StreamReader(flow, limit), flow


async def test_read_all_and_partial() -> None:
    s, _ = stream()
    s.feed_data(b"hello ")
    s.feed_data(b"world")
    assert await s.read(3) == b"hel"
    assert await s.read(5) == b"lo wo"  # across the pieces buffered
    s.feed_eof()
    assert await s.read() == b"rld"
    assert await s.read() == b""
    assert s.at_eof()


async def test_a_cancelled_readexactly_keeps_what_it_had_taken() -> None:
    """asyncio's StreamReader keeps the partial bytes of an interrupted readexactly();
    so do we (aiohttp drops them, and the next read starts in the middle of a record)."""
    s, _ = stream(limit=1024)
    s.feed_data(b"AAAA")
    task = asyncio.ensure_future(s.readexactly(8))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    s.feed_data(b"BBBBCCCC")
    assert await s.readexactly(8) == b"AAAABBBB"
    task = asyncio.ensure_future(s.readexactly(8))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    s.feed_eof()
    assert await s.read() == b"CCCC"


async def test_read_waits_for_data() -> None:
    s, _ = stream()
    task = asyncio.ensure_future(s.read())
    await asyncio.sleep(0)
    assert not task.done()
    s.feed_data(b"abc")
    await asyncio.sleep(0)
    assert not task.done()  # read() with no size waits for the end
    s.feed_eof()
    assert await task == b"abc"


async def test_readany_readexactly_readline() -> None:
    s, _ = stream(limit=1024)
    s.feed_data(b"line one\nline ")
    s.feed_data(b"two\nrest")
    s.feed_eof()
    assert await s.readline() == b"line one\n"
    assert await s.readline() == b"line two\n"
    assert await s.readexactly(2) == b"re"
    with pytest.raises(asyncio.IncompleteReadError) as info:
        await s.readexactly(5)
    assert info.value.partial == b"st"


async def test_readuntil_separator_split_across_pieces() -> None:
    s, _ = stream(limit=1024)
    s.feed_data(b"abc\r")
    s.feed_data(b"\ndef")
    s.feed_eof()
    assert await s.readuntil(b"\r\n") == b"abc\r\n"
    assert await s.read() == b"def"


async def test_iterators() -> None:
    s, _ = stream(limit=1024)
    s.feed_data(b"a\nbb\n")
    s.feed_data(b"ccc")
    s.feed_eof()
    assert [line async for line in s] == [b"a\n", b"bb\n", b"ccc"]

    s, _ = stream(limit=1024)
    s.feed_data(b"0123456789")
    s.feed_eof()
    assert [c async for c in s.iter_chunked(4)] == [b"0123", b"4567", b"89"]

    s, _ = stream(limit=1024)
    s.feed_data(b"xy")
    s.feed_data(b"z")
    s.feed_eof()
    assert b"".join([c async for c in s.iter_any()]) == b"xyz"

    s, _ = stream(limit=1024)
    s.feed_data(b"p1")
    s.feed_data(b"p2")
    s.feed_eof()
    assert [c async for c in s.iter_chunks()] == [(b"p1", False), (b"p2", False)]


async def test_flow_control_pauses_above_high_water_and_resumes_below_low() -> None:
    s, flow = stream(limit=16)  # high water 64, low water 16
    s.feed_data(b"x" * 64)
    assert flow.events == []
    s.feed_data(b"x")
    assert flow.events == ["pause"]
    s.feed_data(b"x" * 10)
    assert flow.events == ["pause"]  # paused once only
    await s.read(50)  # 25 left: still above low water
    assert flow.events == ["pause"]
    await s.read(10)  # 15 left
    assert flow.events == ["pause", "resume"]


async def test_eof_detaches_the_protocol() -> None:
    s, flow = stream(limit=4)
    s.feed_data(b"x" * 20)
    s.feed_eof()
    await s.read()
    # The protocol may be serving another response now: it must not be resumed by us.
    assert flow.events == ["pause"]


async def test_exception_wakes_reader_and_first_error_wins() -> None:
    s, _ = stream()
    task = asyncio.ensure_future(s.read(1))
    await asyncio.sleep(0)
    first = ClientPayloadError("first")
    s.set_exception(first)
    s.set_exception(ClientPayloadError("second"))
    with pytest.raises(ClientPayloadError, match="first"):
        await task
    with pytest.raises(ClientPayloadError, match="first"):
        await s.read()


async def test_concurrent_reads_are_refused() -> None:
    s, _ = stream()
    task = asyncio.ensure_future(s.read(1))
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="already waiting"):
        await s.read(1)
    s.feed_eof()
    assert await task == b""


async def test_on_eof_callbacks() -> None:
    s, _ = stream()
    calls: list[int] = []
    s.on_eof(lambda: calls.append(1))
    s.feed_eof()
    s.on_eof(lambda: calls.append(2))  # already at EOF: called at once
    assert calls == [1, 2]


async def test_decoder_applied_lazily_in_bounded_pieces() -> None:
    s, _flow = stream(limit=1024)
    payload = b"a" * 200_000
    compressed = gzip.compress(payload)
    s.feed_data(compressed[:10])  # bytes fed before the decoder is set are decoded too
    decoder = make_decoder("gzip")
    assert decoder is not None
    s.set_decoder(decoder)
    s.feed_data(compressed[10:])
    s.feed_eof()
    sizes = []
    while True:
        piece = await s.readany()
        if not piece:
            break
        sizes.append(len(piece))
    assert sum(sizes) == len(payload)
    assert max(sizes) <= 1024  # never more than one buffer's worth decoded at a time


async def test_truncated_compressed_body_is_a_payload_error() -> None:
    s, _ = stream(limit=1024)
    decoder = make_decoder("gzip")
    assert decoder is not None
    s.set_decoder(decoder)
    s.feed_data(gzip.compress(b"hello world" * 100)[:-12])
    s.feed_eof()
    with pytest.raises(ClientPayloadError, match="truncated"):
        await s.read()


async def test_at_eof_only_once_every_coding_reached_its_end() -> None:
    """A loop on at_eof() saw a truncated body as complete: the end-marker check ran
    only on the next read, which the loop never made."""
    packed = gzip.compress(b"hello world" * 100)

    async def read_until_at_eof(body: bytes) -> bytes:
        s, _ = stream(limit=1024)
        s.set_decoder(make_decoder("gzip"))
        s.feed_data(body)
        s.feed_eof()
        got = b""
        while not s.at_eof():
            got += await s.read(100)
        return got

    assert await read_until_at_eof(packed) == b"hello world" * 100
    with pytest.raises(ClientPayloadError, match="truncated"):
        await read_until_at_eof(packed[:-12])
    # A body that decodes to nothing: at its end, and 0 bytes of it (not the 20 packed).
    empty, _ = stream()
    empty.set_decoder(make_decoder("gzip"))
    empty.feed_data(gzip.compress(b""))
    empty.feed_eof()
    assert empty.at_eof()
    assert (empty.total_bytes, empty.total_raw_bytes) == (0, 20)


async def test_a_zero_read_bufsize_still_decodes() -> None:
    s, _ = stream(limit=0)
    s.set_decoder(make_decoder("gzip"))
    s.feed_data(gzip.compress(b"abc" * 1000))
    s.feed_eof()
    assert await s.read() == b"abc" * 1000


@given(
    chunks=st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=12),
    ops=st.lists(
        st.tuples(
            st.sampled_from(
                ["read", "readexactly", "readline", "readchunk", "read_nowait", "unread"]
            ),
            st.integers(min_value=1, max_value=400),
        ),
        max_size=30,
    ),
)
@settings(max_examples=300, deadline=None)
def test_any_mix_of_reads_matches_a_plain_bytes_model(
    chunks: list[bytes], ops: list[tuple[str, int]]
) -> None:
    async def run() -> None:
        s, _ = stream(limit=64)
        for chunk in chunks:
            s.feed_data(chunk)
        s.feed_eof()
        model = b"".join(chunks)
        got = b""
        last = b""
        for op, n in ops:
            if op == "read":
                last = await s.read(n)
            elif op == "readexactly":
                if n > len(model) - len(got):
                    continue
                last = await s.readexactly(n)
            elif op == "readline":
                last = await s.readline()
            elif op == "readchunk":
                last, _ = await s.readchunk()
            elif op == "read_nowait":  # everything is buffered: n bytes, or all with -1
                last = s.read_nowait(-1 if n > 300 else n)
                assert len(last) == min(len(model) - len(got), n if n <= 300 else len(model))
            else:  # push the last piece back, as parsers built on top of us do
                s.unread_data(last)
                got = got[: len(got) - len(last)]
                last = b""
                continue
            got += last
            assert model.startswith(got)
        got += await s.read()
        assert got == model

    asyncio.run(run())


async def test_read_complete_only_when_the_whole_plain_body_is_here() -> None:
    s, _ = stream()
    s.feed_data(b"ab")
    assert s.read_complete() is None  # more may come
    s.feed_data(b"cd")
    assert await s.read(1) == b"a"
    s.feed_eof()
    assert s.read_complete() == b"bcd"
    assert s.read_complete() == b""
    assert s.at_eof()

    failed, _ = stream()
    failed.feed_data(b"x")
    failed.feed_eof()
    failed.set_exception(ClientPayloadError("boom"))
    assert failed.read_complete() is None
    with pytest.raises(ClientPayloadError, match="boom"):
        await failed.read()

    decoded, _ = stream()
    decoder = make_decoder("gzip")
    assert decoder is not None
    decoded.set_decoder(decoder)
    decoded.feed_data(gzip.compress(b"zipped"))
    decoded.feed_eof()
    assert decoded.read_complete() is None  # decoding goes through read()
    assert await decoded.read() == b"zipped"


async def test_iter_chunked_takes_buffered_bytes_and_waits_for_more() -> None:
    s, _ = stream(limit=1024)
    s.feed_data(b"abcdef")
    chunks = s.iter_chunked(4)
    assert await chunks.__anext__() == b"abcd"
    assert await chunks.__anext__() == b"ef"  # at most n: what is buffered
    pending = asyncio.ensure_future(chunks.__anext__())
    await asyncio.sleep(0)
    assert not pending.done()  # nothing buffered: it waits
    s.feed_data(b"ghijk")
    assert await pending == b"ghij"
    s.feed_eof()
    assert [c async for c in chunks] == [b"k"]


async def test_iter_chunked_raises_the_stream_error_before_buffered_bytes() -> None:
    s, _ = stream(limit=1024)
    s.feed_data(b"0123456789")
    chunks = s.iter_chunked(4)
    assert await chunks.__anext__() == b"0123"
    s.set_exception(ClientPayloadError("cut"))
    with pytest.raises(ClientPayloadError, match="cut"):
        await chunks.__anext__()


async def test_iter_chunked_of_zero_or_less_ends_like_read() -> None:
    for n in (0, -1):
        s, _ = stream(limit=1024)
        s.feed_data(b"data")
        s.feed_eof()
        got = [c async for c in s.iter_chunked(n)]
        assert got == ([] if n == 0 else [b"data"])


async def test_read_all_sleeps_until_the_end_and_never_pauses() -> None:
    s, flow = stream(limit=16)  # high water 64
    reader = asyncio.ensure_future(s.read())
    await asyncio.sleep(0)
    pieces = [bytes([65 + i]) * 40 for i in range(10)]  # 400 bytes, far above high water
    for piece in pieces:
        s.feed_data(piece)
        await asyncio.sleep(0)
        assert not reader.done()  # still collecting
    assert flow.events == []  # the whole body is wanted: pausing would only stall it
    s.feed_eof()
    assert await reader == b"".join(pieces)


async def test_read_all_resumes_a_paused_stream() -> None:
    s, flow = stream(limit=16)
    s.feed_data(b"x" * 100)  # above high water before anyone reads: paused
    assert flow.events == ["pause"]
    reader = asyncio.ensure_future(s.read())
    await asyncio.sleep(0)
    assert flow.events == ["pause", "resume"]
    s.feed_data(b"y" * 100)
    s.feed_eof()
    assert await reader == b"x" * 100 + b"y" * 100


async def test_read_all_fails_with_the_stream_and_a_cancelled_read_restores_limits() -> None:
    s, flow = stream(limit=16)
    reader = asyncio.ensure_future(s.read())
    await asyncio.sleep(0)
    s.feed_data(b"partial")
    s.set_exception(ClientPayloadError("broken"))
    with pytest.raises(ClientPayloadError, match="broken"):
        await reader
    s, flow = stream(limit=16)
    reader = asyncio.ensure_future(s.read())
    await asyncio.sleep(0)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    s.feed_data(b"z" * 100)  # nobody collects the whole body now: flow control is back
    assert flow.events == ["pause"]


async def test_read_nowait_never_waits_and_refuses_beside_a_waiting_read() -> None:
    s, _ = stream()
    assert s.read_nowait() == b""  # nothing yet: empty, no wait
    waiting = asyncio.ensure_future(s.read(1))
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="while some coroutine is waiting"):
        s.read_nowait()
    s.feed_data(b"ab")
    assert await waiting == b"a"
    assert s.read_nowait() == b"b"
    s.set_exception(ClientPayloadError("broken"))
    with pytest.raises(ClientPayloadError, match="broken"):
        s.read_nowait()


@given(
    data=st.binary(max_size=400),
    separator=st.sampled_from([b"\n", b"\r\n", b"--boundary", b"aa"]),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=10),
)
@settings(max_examples=300, deadline=None)
def test_readuntil_matches_bytes_find_however_the_body_is_cut(
    data: bytes, separator: bytes, cuts: list[int]
) -> None:
    # The buffered pieces are searched in place now (they were joined and re-split on
    # every call): a separator across any seam must still be found, in order.
    async def run() -> None:
        s, _ = stream(limit=1024)
        points = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
        for a, b in itertools.pairwise(points):
            s.feed_data(data[a:b])
        s.feed_eof()
        rest = data
        while rest:
            at = rest.find(separator)
            expected = rest if at == -1 else rest[: at + len(separator)]
            assert await s.readuntil(separator) == expected
            rest = rest[len(expected) :]
        assert await s.readuntil(separator) == b""

    asyncio.run(run())


async def test_a_line_longer_than_the_buffer_arriving_piecemeal() -> None:
    # Waiting for the rest of a line must resume reading paused by the buffered part
    # (else the line never completes). The part it waited for is taken into the line as
    # it comes, so reading is never left paused while it waits.
    s, flow = stream(limit=16)  # pauses above 64 bytes
    s.feed_data(b"x" * 100)
    assert flow.events == ["pause"]
    reader = asyncio.ensure_future(s.readline())
    for _ in range(10):
        await asyncio.sleep(0)
        assert flow.events[-1] == "resume"
        s.feed_data(b"x" * 20)
    s.feed_data(b"\nnext\n")
    assert await reader == b"x" * 300 + b"\n"
    assert await s.readline() == b"next\n"


async def test_total_bytes_counts_the_decoded_body_and_total_raw_bytes_the_wire() -> None:
    body = b"spam " * 200
    packed = gzip.compress(body)
    s, _ = stream(limit=1024)
    s.set_decoder(make_decoder("gzip"))
    s.feed_data(packed)
    waiting = asyncio.ensure_future(s.wait_eof())
    await asyncio.sleep(0)
    assert not waiting.done()
    s.feed_eof()
    await waiting
    assert s.total_raw_bytes == len(packed)
    assert await s.read() == body
    assert s.total_bytes == len(body)  # aiohttp's meaning: what the application gets
    plain, _ = stream()
    plain.feed_data(b"abc")
    assert plain.total_bytes == plain.total_raw_bytes == 3


async def test_readchunk_reports_where_the_servers_chunks_end() -> None:
    # aiohttp's meaning, which code rebuilding messages from HTTP chunks relies on: True
    # only with the bytes that end a chunk (every piece said True).
    s, _ = stream(limit=1024)
    s.feed_data(b"01234")  # the first half of a 10-byte chunk
    assert await s.readchunk() == (b"01234", False)
    s.feed_data(b"56789")
    s.end_http_chunk()
    s.feed_data(b"abc")
    s.end_http_chunk()
    s.feed_data(b"de")
    s.end_http_chunk()
    assert await s.readchunk() == (b"56789", True)
    assert await s.read(1) == b"a"  # another read takes part of the next chunk
    assert await s.readchunk() == (b"bc", True)
    assert await s.read(2) == b"de"  # and all of the one after it
    s.feed_eof()
    assert await s.readchunk() == (b"", True)  # its end, reached by read(): as aiohttp
    assert await s.readchunk() == (b"", False)
    # A decoded body has no meaningful positions: False, as for unchunked bodies.
    z, _ = stream(limit=1024)
    packed = gzip.compress(b"hello")
    z.feed_data(packed[:9])  # a chunk that came with the head, before the decoder was set
    z.end_http_chunk()
    z.set_decoder(make_decoder("gzip"))
    first = asyncio.ensure_future(z.readchunk())
    await asyncio.sleep(0)
    z.feed_data(packed[9:])
    z.end_http_chunk()
    z.feed_eof()
    assert await first == (b"hello", False)  # not a (b"", True) for that raw chunk's end
    assert await z.readchunk() == (b"", False)


async def test_the_shared_empty_body_cannot_be_failed() -> None:
    """Every bodiless response shares it: an error set through one response (a read
    given up, a spent deadline) must not reach all the others."""
    from hyperclient.streams import EMPTY_PAYLOAD

    EMPTY_PAYLOAD.set_exception(ClientPayloadError("through one response"))
    assert EMPTY_PAYLOAD.exception() is None
    assert await EMPTY_PAYLOAD.read() == b""


class CountingDeque(collections.deque[bytes]):
    """A stream's buffer that counts the pieces its reads visit: each one yielded by
    iteration (the separator search, joins) or popped from the front."""

    visits = 0

    def __iter__(self) -> Iterator[bytes]:
        for piece in super().__iter__():
            self.visits += 1
            yield piece

    def popleft(self) -> bytes:
        self.visits += 1
        return super().popleft()


async def _visits_for_one_line(pieces: int, piece: bytes, separator: bytes) -> int:
    """Pieces visited by one readuntil() whose line comes as *pieces* tiny pieces, the
    reader woken every 10 of them."""
    s, _ = stream(limit=2**16)
    buffer = s._buffer = CountingDeque()
    reader = asyncio.ensure_future(s.readuntil(separator))
    for i in range(pieces):
        s.feed_data(piece)
        if i % 10 == 9:
            await asyncio.sleep(0)
    s.feed_data(separator + b"next")
    assert await reader == piece * pieces + separator
    assert await s.read(4) == b"next"
    return buffer.visits


@pytest.mark.parametrize(("piece", "separator"), [(b"x", b"\n"), (b"xy", b"\r\n\r\n")])
async def test_readuntil_visits_each_piece_a_bounded_number_of_times(
    piece: bytes, separator: bytes
) -> None:
    # Each wake-up walked every piece buffered since the line began: quadratic in the
    # pieces (a chunked body of 1-byte chunks made one readline() cost 17 s of CPU).
    # Now what it searched is taken into the line, so each piece is visited about twice
    # (searched, then taken) however many wake-ups there are: 4 times the pieces, 4 times
    # the work (it was 16 times).
    small = await _visits_for_one_line(1000, piece, separator)
    large = await _visits_for_one_line(4000, piece, separator)
    assert small <= 3 * 1000
    assert large <= 3 * 4000
    assert large <= 4.5 * small


async def test_a_line_of_tiny_pieces_is_held_as_its_bytes_not_as_pieces() -> None:
    # The pieces a waiting readline() searched are taken into its line: the buffer does
    # not keep a deque slot, a bytes object and a chunk end for each byte.
    s, flow = stream(limit=2**16)
    reader = asyncio.ensure_future(s.readline())
    for i in range(20_000):
        s.feed_data(b"x")
        s.end_http_chunk()
        if i % 100 == 99:
            await asyncio.sleep(0)
            assert len(s._buffer) == 0
            assert len(s._chunk_ends) <= 1
    assert "pause" not in flow.events  # what the line took is not counted as buffered
    s.feed_data(b"\n")
    s.end_http_chunk()
    assert await reader == b"x" * 20_000 + b"\n"
    assert await s.readchunk() == (b"", True)  # the end of the chunk the line ended with


async def test_a_waiting_readuntil_gives_back_what_it_took_when_it_fails() -> None:
    # Cancelled (or timed out) while waiting for the rest of its line: the next read
    # starts with the bytes it had taken, as before (nothing was taken while waiting).
    s, _ = stream(limit=1024)
    s.feed_data(b"ab")
    s.feed_data(b"c\r")
    reader = asyncio.ensure_future(s.readuntil(b"\r\n"))
    await asyncio.sleep(0)
    s.feed_data(b"de\r")
    await asyncio.sleep(0)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    s.feed_data(b"\nrest")
    assert await s.readuntil(b"\r\n") == b"abc\rde\r\n"
    # max_size bytes without the separator: nothing is taken.
    reader = asyncio.ensure_future(s.readuntil(b"\r\n", max_size=10))
    await asyncio.sleep(0)
    s.feed_data(b"0123456789")
    with pytest.raises(ValueError, match="without"):
        await reader
    assert await s.read(14) == b"rest0123456789"
    # The separator after max_size bytes: that line is dropped, the rest stays.
    reader = asyncio.ensure_future(s.readuntil(b"\r\n", max_size=10))
    await asyncio.sleep(0)
    s.feed_data(b"012345")
    await asyncio.sleep(0)
    s.feed_data(b"6789\r\nafter")
    with pytest.raises(ValueError, match="line of 12 bytes"):
        await reader
    s.feed_eof()
    assert await s.read() == b"after"


async def test_a_cancelled_read_of_a_decoded_body_gives_back_what_it_took() -> None:
    # read() of a gzip body takes the decoded bytes as they come: cancelled half way, the
    # next read must start with them (they were lost).
    body = b"".join(b"line %d\n" % i for i in range(1000))
    wire = gzip.compress(body)
    s, _ = stream(limit=1024)
    s.set_decoder(make_decoder("gzip"))
    s.feed_data(wire[: len(wire) // 2])
    reader = asyncio.ensure_future(s.read())
    await asyncio.sleep(0)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    s.feed_data(wire[len(wire) // 2 :])
    s.feed_eof()
    assert await s.read() == body


@given(
    pieces=st.lists(
        st.tuples(
            st.binary(min_size=1, max_size=8).map(lambda b: bytes(b"\r\nx"[c % 3] for c in b)),
            st.booleans(),
        ),
        max_size=40,
    ),
    separator=st.sampled_from([b"\n", b"\r\n", b"\r\n\r\n", b"\n\n\n", b"\r\n\r", b"x\rx"]),
    skip=st.integers(min_value=0, max_value=8),
)
# A separator across four 1-byte pieces; one begun in what a waiting read took; one
# begun in the last byte of a piece whose start was read (the seam is that byte).
@example(
    pieces=[(b"x\r", False), (b"\n", False), (b"\r", False), (b"\nx", False)],
    separator=b"\r\n\r\n",
    skip=0,
)
@example(pieces=[(b"xx\r", True), (b"\nx", False)], separator=b"\r\n", skip=0)
@example(pieces=[(b"xx\r\n\r\n\r", False), (b"\nxx", False)], separator=b"\r\n\r\n", skip=0)
@settings(max_examples=500, deadline=None)
def test_readuntil_matches_bytes_find_while_the_body_arrives(
    pieces: list[tuple[bytes, bool]], separator: bytes, skip: int
) -> None:
    # The body arrives in small pieces of \r, \n and x, the reader woken after some of
    # them (True), so that lines begin in the middle of a piece and readuntil() waits
    # with a separator begun in what it took (b"\r\n\r\n" over 1-byte pieces, say);
    # separators that overlap themselves test the seams.
    async def run() -> None:
        s, _ = stream(limit=1024)

        async def feed() -> None:
            for piece, wake in pieces:
                s.feed_data(piece)
                if wake:
                    await asyncio.sleep(0)
            s.feed_eof()

        feeder = asyncio.ensure_future(feed())
        rest = b"".join(piece for piece, _ in pieces)
        if skip:  # start the first line inside a piece
            head = await s.read(skip)
            assert rest.startswith(head)
            rest = rest[len(head) :]
        while rest:
            at = rest.find(separator)
            expected = rest if at == -1 else rest[: at + len(separator)]
            assert await s.readuntil(separator) == expected
            rest = rest[len(expected) :]
        assert await s.readuntil(separator) == b""
        await feeder

    asyncio.run(run())


async def test_chunk_ends_are_forgotten_once_read_past() -> None:
    # Every chunk end used to be kept until readchunk() popped it: 40 bytes per chunk of
    # the whole body for readany(), read(n), iter_chunked() or readline() (154 MB for
    # 80 MB of 20-byte chunks). Now at most one per buffered piece (+1) stays.
    for how in ("readany", "read", "iter_chunked", "readline"):
        s, _ = stream(limit=2**16)
        chunked = s.iter_chunked(25)
        most = got = 0
        for i in range(10_000):
            s.feed_data(b"0123456789abcde\n")
            s.end_http_chunk()
            if i % 64 == 63:
                while s._size:
                    if how == "readany":
                        got += len(await s.readany())
                    elif how == "read":
                        got += len(await s.read(25))
                    elif how == "iter_chunked":
                        got += len(await chunked.__anext__())
                    else:
                        got += len(await s.readline())
                    most = max(most, len(s._chunk_ends))
                assert len(s._chunk_ends) <= 1, how
        assert most <= 65, how
        s.feed_eof()
        got += len(await s.read())
        assert got == 160_000, how


@given(
    chunks=st.lists(st.binary(min_size=1, max_size=20), min_size=1, max_size=20),
    ops=st.lists(
        st.tuples(
            st.sampled_from(["read", "readany", "readline", "readchunk", "iter_chunked"]),
            st.integers(min_value=1, max_value=30),
        ),
        max_size=40,
    ),
)
@settings(max_examples=300, deadline=None)
def test_readchunk_after_any_mix_of_reads_matches_a_model(
    chunks: list[bytes], ops: list[tuple[str, int]]
) -> None:
    # aiohttp's meaning: readchunk() returns the bytes up to the next chunk end not yet
    # reported, with True; one the other reads went past is forgotten, one they stopped
    # at exactly is reported with b"". Chunk ends the read position passed are dropped at
    # once (they are not all kept until a readchunk()).
    async def run() -> None:
        s, _ = stream(limit=64)
        ends = list(itertools.accumulate(len(c) for c in chunks))
        for chunk in chunks:
            s.feed_data(chunk)
            s.end_http_chunk()
        s.feed_eof()
        body = b"".join(chunks)
        pos = 0
        for op, n in ops:
            if op == "readchunk":
                ends = [e for e in ends if e >= pos]
                if ends:
                    end = ends.pop(0)
                    assert await s.readchunk() == (body[pos:end], True)
                    pos = end
                else:
                    assert await s.readchunk() == (b"", False)
                continue
            if op == "read":
                data = await s.read(n)
            elif op == "readany":
                data = await s.readany()
            elif op == "readline":
                data = await s.readline()
            else:
                data = await s.iter_chunked(n).__anext__() if pos < len(body) else b""
            assert data == body[pos : pos + len(data)]
            pos += len(data)
            done = s._total_bytes - s._size
            assert all(end >= done for end in s._chunk_ends)
            assert len(s._chunk_ends) <= len(s._buffer) + 1

    asyncio.run(run())


async def test_a_flood_of_tiny_pieces_pauses_reading() -> None:
    # Bytes alone let 256 KiB of 1-byte chunks in (about 90 bytes of memory each);
    # past limit/16 pieces reading pauses too, and resumes once they are read.
    s, flow = stream(limit=2**16)  # 4160 pieces
    for _ in range(4160):
        s.feed_data(b"x")
    assert flow.events == []
    s.feed_data(b"x")
    assert flow.events == ["pause"]
    await s.read(4161 - 1040)  # 1040 pieces, 1040 bytes left: a quarter of the pieces
    assert flow.events == ["pause", "resume"]
    # read() of the whole body does not pause, but joins the pieces as they come.
    s, flow = stream(limit=2**16)
    reader = asyncio.ensure_future(s.read())
    await asyncio.sleep(0)
    for i in range(20_000):
        s.feed_data(b"x")
        if i % 1000 == 999:
            await asyncio.sleep(0)
            assert len(s._buffer) <= 4161
    reader.cancel()  # what it joined is given back
    with pytest.raises(asyncio.CancelledError):
        await reader
    assert s._size == 20_000
    s.feed_eof()
    assert await s.read() == b"x" * 20_000
    assert flow.events == []
