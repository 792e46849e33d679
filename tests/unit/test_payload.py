"""The payload classes without a socket: their attributes against aiohttp's, and the
adapter that drives a write()-only payload one chunk at a time."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import aiohttp.payload
import pytest

import hyperclient
from hyperclient import payload as hp
from hyperclient.payload import payload_body

CASES: dict[str, Any] = {
    "bytes": lambda m: m.BytesPayload(b"abc"),
    "bytes-filename": lambda m: m.BytesPayload(b"abc", filename="a.png"),
    "bytes-headers": lambda m: m.BytesPayload(b"abc", headers={"X-A": "1", "Content-Type": "a/b"}),
    "string": lambda m: m.StringPayload("é"),
    "string-encoding": lambda m: m.StringPayload("é", encoding="latin-1"),
    "string-charset": lambda m: m.StringPayload("é", content_type="text/x; charset=utf-16"),
    "string-type-no-charset": lambda m: m.StringPayload("é", content_type="text/x"),
    "stringio": lambda m: m.StringIOPayload(io.StringIO("é io")),
    "bytesio": lambda m: m.BytesIOPayload(io.BytesIO(b"0123456789")),
    "json": lambda m: m.JsonPayload({"a": "é"}),
    "json-encoding": lambda m: m.JsonPayload(["é"], encoding="utf-16"),
    "json-dumps": lambda m: m.JsonPayload({"a": 1}, dumps=lambda o: json.dumps(o, indent=2)),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_attributes_match_aiohttp(case: str) -> None:
    ours, theirs = CASES[case](hp), CASES[case](aiohttp.payload)
    assert dict(ours.headers) == dict(theirs.headers)
    assert ours.content_type == theirs.content_type
    assert (ours.size, ours.filename, ours.encoding) == (
        theirs.size,
        theirs.filename,
        theirs.encoding,
    )
    assert await ours.as_bytes() == await theirs.as_bytes()
    assert ours.decode("latin-1") == theirs.decode("latin-1")
    assert not ours.consumed


async def test_file_payload_filename_and_disposition_match_aiohttp(tmp_path: Any) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG" * 10)
    with open(path, "rb") as f1, open(path, "rb") as f2:  # noqa: ASYNC230 - tiny local file
        f1.read(4), f2.read(4)  # both start after the first 4 bytes
        ours, theirs = hp.BufferedReaderPayload(f1), aiohttp.payload.BufferedReaderPayload(f2)
        assert dict(ours.headers) == dict(theirs.headers)
        assert dict(ours.headers) == {
            "Content-Type": "image/png",
            "Content-Disposition": 'attachment; filename="photo.png"',
        }
        assert (ours.filename, ours.size) == ("photo.png", 36) == (theirs.filename, theirs.size)
        assert await ours.as_bytes() == await theirs.as_bytes() == b"\x89PNG" * 9
        assert await ours.as_bytes() == b"\x89PNG" * 9  # again, from the start position
        assert ours.decode("latin-1") == (b"\x89PNG" * 9).decode("latin-1")
        no_disposition = hp.IOBasePayload(f1, disposition=None)
        assert "Content-Disposition" not in no_disposition.headers
        await ours.close()
        assert f1.closed
        assert ours.consumed


def test_get_payload_picks_aiohttps_classes() -> None:
    for value, cls in [
        (b"x", hp.BytesPayload),
        (bytearray(b"x"), hp.BytesPayload),
        ("x", hp.StringPayload),
        (io.StringIO("x"), hp.StringIOPayload),
        (io.BytesIO(b"x"), hp.BytesIOPayload),
    ]:
        assert type(hp.get_payload(value)) is cls
        assert type(aiohttp.payload.get_payload(value)).__name__ == cls.__name__
    payload = hp.StringPayload("x")
    assert hp.get_payload(payload) is payload


def test_bytes_payload_refuses_other_types_and_lookup_error_is_aiohttps() -> None:
    with pytest.raises(TypeError, match="byte-ish"):
        hp.BytesPayload("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="AsyncIterable"):
        hp.AsyncIterablePayload(b"x")
    with pytest.raises(hp.LookupError, match="no payload is registered for object"):
        hp.get_payload(object())
    assert not issubclass(hp.LookupError, LookupError)  # as aiohttp's, not the builtin
    with pytest.raises(ValueError, match="unsupported order"):
        hp.PAYLOAD_REGISTRY.register(hp.BytesPayload, int, order="bad")  # type: ignore[arg-type]


def test_exports() -> None:
    names = [n for n in aiohttp.__all__ if n in aiohttp.payload.__all__]
    assert names
    for name in names:
        assert getattr(hyperclient, name) is getattr(hp, name), name
    assert hp.Order.try_first == "try_first"


async def test_async_iterable_payload_decodes_only_after_as_bytes() -> None:
    async def gen() -> Any:
        yield b"a"
        yield b"b"

    payload = hp.AsyncIterablePayload(gen())
    assert payload.size is None
    with pytest.raises(TypeError, match="as_bytes"):
        payload.decode()
    assert await payload.as_bytes() == b"ab"
    assert payload.decode() == "ab"
    assert await payload.as_bytes() == b"ab"  # kept, and replayable now
    assert payload_body(payload).replayable()


class Counting(hp.Payload):
    def __init__(self, chunks: int) -> None:
        super().__init__(None)
        self.chunks = chunks
        self.produced = 0
        self.closed = False

    async def write(self, writer: Any) -> None:
        try:
            for i in range(self.chunks):
                self.produced += 1
                await writer.write(bytearray([i]) * 3)
                await asyncio.sleep(0)
        finally:
            self.closed = True


async def test_write_is_pulled_one_chunk_at_a_time() -> None:
    payload = Counting(1000)
    body = payload_body(payload)
    assert (body.size, body.content_type) == (None, "application/octet-stream")
    pieces = body.chunks()
    assert await anext(pieces) == b"\x00\x00\x00"
    # write() stays suspended in writer.write() until the next piece is asked for.
    await asyncio.sleep(0.01)
    assert payload.produced == 1
    assert await anext(pieces) == b"\x01\x01\x01"
    assert payload.produced == 2
    await pieces.aclose()  # type: ignore[attr-defined]
    assert payload.closed  # the finally block of write() ran
    assert body.replayable()


async def test_write_with_length_and_as_bytes_of_a_write_only_payload() -> None:
    assert await Counting(4).as_bytes() == b"\x00" * 3 + b"\x01" * 3 + b"\x02" * 3 + b"\x03" * 3
    collected = hp._Collector()
    await Counting(4).write_with_length(collected, 5)
    assert bytes(collected.data) == b"\x00\x00\x00\x01\x01"
    with pytest.raises(TypeError, match="cannot be decoded"):
        Counting(1).decode()


async def test_a_payload_written_past_its_size_is_stopped() -> None:
    payload = Counting(3)
    payload._size = 5
    pieces = payload_body(payload).chunks()
    assert await anext(pieces) == b"\x00" * 3
    with pytest.raises(hyperclient.ClientConnectionError, match="more than its size, 5 bytes"):
        await anext(pieces)
    assert payload.closed


async def test_os_error_in_write_becomes_client_os_error() -> None:
    class Broken(hp.Payload):
        async def write(self, writer: Any) -> None:
            raise ConnectionResetError(104, "reset")

    with pytest.raises(hyperclient.ClientOSError) as caught:
        await anext(payload_body(Broken(None)).chunks())
    assert caught.value.errno == 104
    assert isinstance(caught.value.__cause__, ConnectionResetError)


async def test_consumed_payload_cannot_be_sent() -> None:
    payload = Counting(1)
    payload._consumed = True
    body = payload_body(payload)
    assert not body.replayable()
    with pytest.raises(RuntimeError, match="consumed and cannot be sent again"):
        body.chunks()
