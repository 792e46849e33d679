"""Tests for hyperclient.ws_handshake: key/accept, request headers, response checks."""

from __future__ import annotations

import base64

import pytest
from multidict import CIMultiDict

from hyperclient.errors import LocalProtocolError, RemoteProtocolError
from hyperclient.ws_handshake import (
    HandshakeError,
    HandshakeResult,
    accept_for,
    build_request_headers,
    check_response,
    generate_key,
)

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def response(*extra: tuple[str, str], drop: str | None = None) -> CIMultiDict[str]:
    """A valid 101 response head for KEY, plus *extra* headers, minus *drop*."""
    headers: CIMultiDict[str] = CIMultiDict(
        [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", ACCEPT)]
    )
    if drop is not None:
        del headers[drop]
    headers.extend(extra)
    return headers


def fails(
    headers: CIMultiDict[str] | dict[str, str],
    message: str,
    *,
    status: int = 101,
    protocols: tuple[str, ...] = (),
    compress: int = 0,
) -> HandshakeError:
    with pytest.raises(HandshakeError) as info:
        check_response(status, headers, KEY, protocols, compress)
    assert str(info.value) == message
    assert info.value.status == status
    assert isinstance(info.value, RemoteProtocolError)
    return info.value


# -- key and accept -----------------------------------------------------------------------


def test_accept_rfc6455_vector() -> None:
    # RFC 6455 §1.3.
    assert accept_for(KEY) == ACCEPT


def test_generate_key() -> None:
    keys = {generate_key() for _ in range(50)}
    assert len(keys) == 50
    for key in keys:
        assert len(base64.b64decode(key, validate=True)) == 16
        assert len(key) == 24


# -- request headers ----------------------------------------------------------------------


def test_request_headers_minimal() -> None:
    assert build_request_headers(KEY) == [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", KEY),
        ("Sec-WebSocket-Version", "13"),
    ]


def test_request_headers_full() -> None:
    headers = build_request_headers(
        KEY,
        protocols=["chat", "superchat"],
        compress=15,
        origin="https://example.com",
    )
    assert headers[4:] == [
        ("Sec-WebSocket-Protocol", "chat, superchat"),
        ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"),
        ("Origin", "https://example.com"),
    ]


@pytest.mark.parametrize(
    ("compress", "takeover", "offer"),
    [
        (15, False, "permessage-deflate; client_max_window_bits"),
        (12, False, "permessage-deflate; client_max_window_bits; server_max_window_bits=12"),
        (9, False, "permessage-deflate; client_max_window_bits; server_max_window_bits=9"),
        (
            15,
            True,
            "permessage-deflate; client_max_window_bits; client_no_context_takeover",
        ),
    ],
)
def test_request_extension_offer(compress: int, takeover: bool, offer: str) -> None:
    headers = dict(
        build_request_headers(KEY, compress=compress, client_no_context_takeover=takeover)
    )
    assert headers["Sec-WebSocket-Extensions"] == offer


def test_request_extension_offer_matches_aiohttp() -> None:
    helpers = pytest.importorskip("aiohttp._websocket.helpers")
    for bits in range(9, 16):
        ours = dict(build_request_headers(KEY, compress=bits))["Sec-WebSocket-Extensions"]
        assert ours == helpers.ws_ext_gen(compress=bits)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"protocols": ["a b"]}, "invalid subprotocol: 'a b'"),
        ({"protocols": ["ok", ""]}, "invalid subprotocol: ''"),
        ({"protocols": ["x,y"]}, "invalid subprotocol: 'x,y'"),
        ({"protocols": ["a", "a"]}, "duplicate subprotocols: ['a', 'a']"),
        ({"compress": 8}, "invalid compress: 8, expected 9 to 15"),
        ({"compress": 16}, "invalid compress: 16, expected 9 to 15"),
        ({"origin": "http://x\r\nEvil: 1"}, "invalid origin: 'http://x\\r\\nEvil: 1'"),
    ],
)
def test_request_headers_reject_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(LocalProtocolError) as info:
        build_request_headers(KEY, **kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message


# -- response checks: success -------------------------------------------------------------


def test_check_response_minimal() -> None:
    assert check_response(101, response(), KEY, (), 0) == HandshakeResult()
    assert HandshakeResult() == HandshakeResult(None, 0, False, False, 0, 0)


def test_check_response_is_case_insensitive_and_tolerant() -> None:
    headers: CIMultiDict[str] = CIMultiDict(
        [
            ("upgrade", "WebSocket"),
            ("CONNECTION", "keep-alive"),
            ("connection", "UPGRADE"),
            ("sec-websocket-accept", f" {ACCEPT} "),
        ]
    )
    assert check_response(101, headers, KEY, (), 0).protocol is None
    listed = response(("Connection", "keep-alive,  Upgrade "), drop="Connection")
    assert check_response(101, listed, KEY) == HandshakeResult()


def test_check_response_plain_mapping() -> None:
    headers = {"Upgrade": "websocket", "Connection": "upgrade", "Sec-WebSocket-Accept": ACCEPT}
    assert check_response(101, headers, KEY) == HandshakeResult()


def test_check_response_subprotocol() -> None:
    result = check_response(101, response(("Sec-WebSocket-Protocol", "chat")), KEY, ["x", "chat"])
    assert result.protocol == "chat"
    # The server may choose none of them.
    assert check_response(101, response(), KEY, ["chat"]).protocol is None


@pytest.mark.parametrize(
    ("compress", "takeover", "answer", "expected"),
    [
        ("15", False, "permessage-deflate", HandshakeResult(None, 15, False, False, 15, 15)),
        (
            "15",
            False,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            HandshakeResult(None, 15, True, True, 15, 15),
        ),
        (
            "15",
            False,
            "permessage-deflate; server_max_window_bits=8; client_max_window_bits=10",
            HandshakeResult(None, 8, False, False, 8, 10),
        ),
        (
            "12",
            False,
            "Permessage-Deflate; Server_Max_Window_Bits=10",
            HandshakeResult(None, 10, False, False, 10, 15),
        ),
        (
            "12",
            False,
            'permessage-deflate; server_max_window_bits="12"; client_max_window_bits = 9',
            HandshakeResult(None, 12, False, False, 12, 9),
        ),
        # Our client_no_context_takeover offer stands even if the server does not echo it.
        ("15", True, "permessage-deflate", HandshakeResult(None, 15, True, False, 15, 15)),
        ("15", False, " , permessage-deflate ,", HandshakeResult(None, 15, False, False, 15, 15)),
    ],
)
def test_check_response_deflate(
    compress: str, takeover: bool, answer: str, expected: HandshakeResult
) -> None:
    headers = response(("Sec-WebSocket-Extensions", answer))
    result = check_response(
        101, headers, KEY, (), int(compress), client_no_context_takeover=takeover
    )
    assert result == expected


def test_check_response_no_extension_when_offered() -> None:
    assert check_response(101, response(), KEY, (), 15).compress == 0
    empty = response(("Sec-WebSocket-Extensions", ""))
    assert check_response(101, empty, KEY, (), 15).compress == 0
    # RFC 9110 §5.6.1: a list of empty elements names no extension (this raised
    # IndexError), with compression offered or not.
    for value in (",", " , , ", ",,"):
        commas = response(("Sec-WebSocket-Extensions", value))
        assert check_response(101, commas, KEY, (), 15) == HandshakeResult(protocol=None)
        assert check_response(101, commas, KEY, (), 0) == HandshakeResult(protocol=None)


# -- response checks: failures ------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 301, 400, 403, 426, 500])
def test_check_response_status(status: int) -> None:
    fails(response(), f"invalid response status: {status}", status=status)


def test_check_response_upgrade_header() -> None:
    fails(response(drop="Upgrade"), "missing upgrade header")
    fails(
        response(("Upgrade", "h2c"), drop="Upgrade"),
        "invalid upgrade header: 'h2c'",
    )
    fails(
        response(("Upgrade", "websocket"), ("Upgrade", "h2c"), drop="Upgrade"),
        "invalid upgrade header: 'websocket, h2c'",
    )


def test_check_response_connection_header() -> None:
    fails(response(drop="Connection"), "missing connection header")
    fails(
        response(("Connection", "keep-alive"), drop="Connection"),
        "invalid connection header: 'keep-alive', expected 'upgrade'",
    )
    fails(
        response(("Connection", "upgraded"), drop="Connection"),
        "invalid connection header: 'upgraded', expected 'upgrade'",
    )


def test_check_response_accept_header() -> None:
    fails(response(drop="Sec-WebSocket-Accept"), "missing sec-websocket-accept header")
    wrong = accept_for("AQIDBAUGBwgJCgsMDQ4PEA==")
    fails(
        response(("Sec-WebSocket-Accept", wrong), drop="Sec-WebSocket-Accept"),
        f"invalid sec-websocket-accept: {wrong!r}, expected {ACCEPT!r}",
    )
    fails(
        response(("Sec-WebSocket-Accept", ACCEPT)),
        # The repr of the bad value is cut to 50 characters.
        f"invalid sec-websocket-accept: '{ACCEPT}, {ACCEPT[:16]}..., expected {ACCEPT!r}",
    )


def test_check_response_subprotocol_failures() -> None:
    fails(response(("Sec-WebSocket-Protocol", "chat")), "unexpected subprotocol: 'chat'")
    fails(
        response(("Sec-WebSocket-Protocol", "other")),
        "unexpected subprotocol: 'other'",
        protocols=("chat",),
    )
    fails(
        response(("Sec-WebSocket-Protocol", "chat, x")),
        "multiple subprotocols: 'chat, x'",
        protocols=("chat", "x"),
    )
    fails(
        response(("Sec-WebSocket-Protocol", "chat"), ("Sec-WebSocket-Protocol", "x")),
        "multiple subprotocols: 'chat, x'",
        protocols=("chat", "x"),
    )


@pytest.mark.parametrize(
    ("compress", "answer", "message"),
    [
        (0, "permessage-deflate", "unexpected extension: 'permessage-deflate'"),
        (15, "x-webkit-deflate-frame", "unexpected extension: 'x-webkit-deflate-frame'"),
        (15, "permessage-deflate, x-foo", "unexpected extension: 'x-foo'"),
        (
            15,
            "permessage-deflate, permessage-deflate",
            "multiple permessage-deflate responses: 'permessage-deflate, permessage-deflate'",
        ),
        (15, "per message", "invalid extension: 'per message'"),
        (15, "permessage-deflate; a b", "invalid extension parameter: 'a b' in permessage-deflate"),
        (15, "permessage-deflate; x=", "invalid extension parameter: 'x=' in permessage-deflate"),
        (
            15,
            "permessage-deflate; foo",
            "unknown permessage-deflate parameter: 'foo'",
        ),
        (
            15,
            "permessage-deflate; foo=1",
            "unknown permessage-deflate parameter: 'foo=1'",
        ),
        (
            15,
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "duplicate permessage-deflate parameter: 'server_no_context_takeover'",
        ),
        (
            15,
            "permessage-deflate; server_max_window_bits=10; Server_Max_Window_Bits=10",
            "duplicate permessage-deflate parameter: 'Server_Max_Window_Bits'",
        ),
        (
            15,
            "permessage-deflate; server_no_context_takeover=1",
            "invalid permessage-deflate parameter: 'server_no_context_takeover=1'",
        ),
        (
            15,
            "permessage-deflate; client_no_context_takeover=yes",
            "invalid permessage-deflate parameter: 'client_no_context_takeover=yes'",
        ),
        (
            15,
            "permessage-deflate; server_max_window_bits=16",
            "invalid permessage-deflate parameter: 'server_max_window_bits=16'",
        ),
        (
            15,
            "permessage-deflate; server_max_window_bits=7",
            "invalid permessage-deflate parameter: 'server_max_window_bits=7'",
        ),
        (
            15,
            "permessage-deflate; server_max_window_bits=010",
            "invalid permessage-deflate parameter: 'server_max_window_bits=010'",
        ),
        (
            15,
            "permessage-deflate; server_max_window_bits",
            "invalid permessage-deflate parameter: 'server_max_window_bits'",
        ),
        (
            15,
            "permessage-deflate; client_max_window_bits",
            "invalid permessage-deflate parameter: 'client_max_window_bits'",
        ),
        (
            15,
            "permessage-deflate; client_max_window_bits=16",
            "invalid permessage-deflate parameter: 'client_max_window_bits=16'",
        ),
        (
            15,
            "permessage-deflate; client_max_window_bits=8",
            "unsupported permessage-deflate parameter: 'client_max_window_bits=8'",
        ),
        (
            10,
            "permessage-deflate; server_max_window_bits=11",
            "invalid permessage-deflate parameter: 'server_max_window_bits=11', "
            "expected no more than 10",
        ),
        (
            10,
            "permessage-deflate",
            "missing permessage-deflate parameter: 'server_max_window_bits', "
            "expected no more than 10",
        ),
    ],
)
def test_check_response_extension_failures(compress: int, answer: str, message: str) -> None:
    fails(response(("Sec-WebSocket-Extensions", answer)), message, compress=compress)


def test_check_response_extension_over_several_header_lines() -> None:
    headers = response(
        ("Sec-WebSocket-Extensions", "permessage-deflate"),
        ("Sec-WebSocket-Extensions", "permessage-deflate"),
    )
    fails(
        headers,
        "multiple permessage-deflate responses: 'permessage-deflate, permessage-deflate'",
        compress=15,
    )


# -- cross-check against the websockets library ------------------------------------------


websockets_server = pytest.importorskip("websockets.server")
websockets_http11 = pytest.importorskip("websockets.http11")
websockets_datastructures = pytest.importorskip("websockets.datastructures")
websockets_pmd = pytest.importorskip("websockets.extensions.permessage_deflate")


def websockets_answer(
    request_headers: list[tuple[str, str]], **server_kwargs: object
) -> tuple[int, CIMultiDict[str]]:
    """How a websockets server answers our request headers."""
    headers = websockets_datastructures.Headers([("Host", "example.com"), *request_headers])
    request = websockets_http11.Request("/", headers)
    server = websockets_server.ServerProtocol(**server_kwargs)
    resp = server.accept(request)
    return resp.status_code, CIMultiDict(resp.headers.raw_items())


@pytest.mark.parametrize(
    ("factory_kwargs", "compress", "takeover", "expected"),
    [
        ({}, 15, False, HandshakeResult("chat", 15, False, False, 15, 15)),
        (
            {"server_max_window_bits": 11, "client_max_window_bits": 12},
            15,
            False,
            HandshakeResult("chat", 11, False, False, 11, 12),
        ),
        (
            {"server_no_context_takeover": True, "client_no_context_takeover": True},
            15,
            False,
            HandshakeResult("chat", 15, True, True, 15, 15),
        ),
        ({}, 10, True, HandshakeResult("chat", 10, True, False, 10, 15)),
    ],
)
def test_websockets_server_accepts_our_request(
    factory_kwargs: dict[str, object], compress: int, takeover: bool, expected: HandshakeResult
) -> None:
    key = generate_key()
    request = build_request_headers(
        key,
        protocols=["other", "chat"],
        compress=compress,
        client_no_context_takeover=takeover,
        origin="https://example.com",
    )
    status, headers = websockets_answer(
        request,
        subprotocols=["chat"],
        extensions=[websockets_pmd.ServerPerMessageDeflateFactory(**factory_kwargs)],
    )
    assert status == 101
    result = check_response(
        status, headers, key, ["other", "chat"], compress, client_no_context_takeover=takeover
    )
    assert result == expected


def test_websockets_server_without_extension() -> None:
    key = generate_key()
    status, headers = websockets_answer(build_request_headers(key, compress=15))
    assert check_response(status, headers, key, (), 15) == HandshakeResult()
    # A wrong key is caught.
    with pytest.raises(HandshakeError, match="invalid sec-websocket-accept"):
        check_response(status, headers, generate_key(), (), 15)
