"""The SOCKS handshake state machine: bytes out, replies in at every split point."""

from __future__ import annotations

import errno

import pytest

from hyperclient.errors import LocalProtocolError, RemoteProtocolError
from hyperclient.socks import REPLY_ERRNO, SocksHandshake, SocksState

V4_OK = bytes([0, 90, 0x1F, 0x90, 10, 0, 0, 1])
V5_OK_IPV4 = bytes([5, 0, 0, 1, 127, 0, 0, 1, 0x04, 0x38])


def feed_split(handshake: SocksHandshake, data: bytes, at: int) -> None:
    """Feed *data* in two pieces split at *at* (an empty first piece included)."""
    handshake.receive_data(data[:at])
    handshake.receive_data(data[at:])


# -- SOCKS5 -------------------------------------------------------------------------------


def test_socks5_no_auth_with_an_ipv4_address() -> None:
    hs = SocksHandshake(5, "10.1.2.3", 443)
    assert hs.data_to_send() == b"\x05\x01\x00"
    assert hs.data_to_send() == b""
    hs.receive_data(b"\x05\x00")
    assert hs.state is SocksState.REPLY
    assert hs.data_to_send() == b"\x05\x01\x00\x01\x0a\x01\x02\x03\x01\xbb"
    hs.receive_data(V5_OK_IPV4)
    assert hs.is_done()
    assert hs.bound == ("127.0.0.1", 1080)
    assert hs.unused_data == b""


def test_socks5_sends_a_name_for_the_proxy_to_resolve() -> None:
    hs = SocksHandshake(5, "example.com.", 80)
    hs.data_to_send()
    hs.receive_data(b"\x05\x00")
    assert hs.data_to_send() == b"\x05\x01\x00\x03\x0bexample.com\x00\x50"


def test_socks5_sends_an_ipv6_address() -> None:
    hs = SocksHandshake(5, "[::1]", 80)
    hs.data_to_send()
    hs.receive_data(b"\x05\x00")
    assert hs.data_to_send() == b"\x05\x01\x00\x04" + bytes(15) + b"\x01\x00\x50"


@pytest.mark.parametrize(
    "reply",
    [
        V5_OK_IPV4,
        bytes([5, 0, 0, 4]) + bytes(15) + b"\x01" + b"\x00\x50",
        bytes([5, 0, 0, 3, 4]) + b"host" + b"\x00\x50",
    ],
)
def test_socks5_reply_parses_at_every_split_point(reply: bytes) -> None:
    for at in range(len(reply) + 1):
        hs = SocksHandshake(5, "example.com", 80)
        hs.receive_data(b"\x05\x00")
        feed_split(hs, reply + b"GET", at)
        assert hs.is_done()
        assert hs.unused_data == b"GET"
        assert hs.bound is not None


def test_socks5_username_and_password_rfc1929() -> None:
    hs = SocksHandshake(5, "example.com", 80, username="user", password="pässword")
    assert hs.data_to_send() == b"\x05\x02\x00\x02"
    hs.receive_data(b"\x05\x02")
    assert hs.state is SocksState.AUTH
    assert hs.data_to_send() == b"\x01\x04user\x09p\xc3\xa4ssword"
    hs.receive_data(b"\x01\x00")
    assert hs.data_to_send().startswith(b"\x05\x01\x00\x03")
    hs.receive_data(V5_OK_IPV4)
    assert hs.is_done()


@pytest.mark.parametrize("password", [None, ""])
def test_socks5_user_without_password_sends_an_empty_one(password: str | None) -> None:
    # socks5://user@proxy: curl sends PLEN 0 rather than refusing.
    hs = SocksHandshake(5, "example.com", 80, username="user", password=password)
    assert hs.data_to_send() == b"\x05\x02\x00\x02"
    hs.receive_data(b"\x05\x02")
    assert hs.data_to_send() == b"\x01\x04user\x00"


def test_socks5_proxy_may_skip_authentication_even_with_credentials() -> None:
    hs = SocksHandshake(5, "example.com", 80, username="user", password="pass")
    hs.data_to_send()
    hs.receive_data(b"\x05\x00")
    assert hs.state is SocksState.REPLY


def test_socks5_rejected_credentials() -> None:
    hs = SocksHandshake(5, "example.com", 80, username="user", password="bad")
    hs.receive_data(b"\x05\x02")
    with pytest.raises(RemoteProtocolError, match="rejected the username and password"):
        hs.receive_data(b"\x01\x01")
    assert hs.state is SocksState.FAILED
    with pytest.raises(RemoteProtocolError, match="already failed"):
        hs.receive_data(b"")


def test_socks5_proxy_wants_credentials_we_do_not_have() -> None:
    hs = SocksHandshake(5, "example.com", 80)
    with pytest.raises(RemoteProtocolError, match=r"none of the offered.*need credentials"):
        hs.receive_data(b"\x05\xff")


def test_socks5_method_we_did_not_offer() -> None:
    hs = SocksHandshake(5, "example.com", 80)
    with pytest.raises(RemoteProtocolError, match="did not offer: 0x02"):
        hs.receive_data(b"\x05\x02")


@pytest.mark.parametrize(
    ("code", "text", "os_errno"),
    [
        (0x01, "general SOCKS server failure", None),
        (0x02, "not allowed by ruleset", None),
        (0x04, "host unreachable", errno.EHOSTUNREACH),
        (0x05, "connection refused", errno.ECONNREFUSED),
        (0x09, "unknown reply code", None),
    ],
)
def test_socks5_refusals_name_the_reason(code: int, text: str, os_errno: int | None) -> None:
    hs = SocksHandshake(5, "example.com", 80)
    hs.receive_data(b"\x05\x00")
    with pytest.raises(RemoteProtocolError, match=text):
        hs.receive_data(bytes([5, code, 0, 1]) + bytes(6))
    assert hs.reply_code == code
    assert REPLY_ERRNO.get(code) == os_errno


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"HTTP/1.1 400 Bad Request\r\n", "invalid socks reply version: 0x48"),
        (b"\x05\x00\x01\x01" + bytes(6), "invalid socks5 reserved byte"),
        (b"\x05\x00\x00\x07" + bytes(6), "invalid socks5 address type: 0x07"),
    ],
)
def test_socks5_garbage_replies(reply: bytes, message: str) -> None:
    hs = SocksHandshake(5, "example.com", 80)
    if reply.startswith(b"\x05"):
        hs.receive_data(b"\x05\x00")
    with pytest.raises(RemoteProtocolError, match=message):
        hs.receive_data(reply)


def test_eof_before_the_reply_is_an_error() -> None:
    hs = SocksHandshake(5, "example.com", 80)
    hs.receive_data(b"\x05")
    with pytest.raises(RemoteProtocolError, match="closed the connection waiting for the method"):
        hs.receive_eof()


def test_eof_after_the_reply_is_the_origins_business() -> None:
    hs = SocksHandshake(4, "10.0.0.1", 80)
    hs.receive_data(V4_OK)
    hs.receive_eof()
    assert hs.is_done()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"username": "u" * 256, "password": "p"}, "username must be 1 to 255 bytes, got 256"),
        ({"username": "", "password": "p"}, "username must be 1 to 255 bytes, got 0"),
        ({"username": "u", "password": "p" * 256}, "password must be at most 255 bytes, got 256"),
        ({"password": "p"}, "need a username with the password"),
    ],
)
def test_socks5_credentials_that_cannot_be_sent(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(LocalProtocolError, match=message):
        SocksHandshake(5, "example.com", 80, **kwargs)


def test_bad_destinations_are_refused_before_sending() -> None:
    with pytest.raises(LocalProtocolError, match="invalid destination port: 0"):
        SocksHandshake(5, "example.com", 0)
    with pytest.raises(LocalProtocolError, match="host name too long"):
        SocksHandshake(5, "a" * 256, 80)
    with pytest.raises(LocalProtocolError, match="unsupported socks version: 6"):
        SocksHandshake(6, "example.com", 80)


# -- SOCKS4 and 4a -------------------------------------------------------------------------


def test_socks4_with_an_ipv4_address_and_user_id() -> None:
    hs = SocksHandshake(4, "10.0.0.1", 8080, username="bob")
    assert hs.data_to_send() == b"\x04\x01\x1f\x90\x0a\x00\x00\x01bob\x00"
    for at in range(len(V4_OK) + 1):
        hs = SocksHandshake(4, "10.0.0.1", 8080)
        feed_split(hs, V4_OK, at)
        assert hs.is_done()
        assert hs.bound == ("10.0.0.1", 8080)


def test_socks4a_sends_the_name_after_an_invalid_address() -> None:
    hs = SocksHandshake(4, "example.com", 80)
    assert hs.data_to_send() == b"\x04\x01\x00\x50\x00\x00\x00\x01\x00example.com\x00"


@pytest.mark.parametrize(
    ("code", "message"),
    [(91, "rejected or failed"), (92, "cannot reach identd"), (93, "different user id")],
)
def test_socks4_refusals(code: int, message: str) -> None:
    hs = SocksHandshake(4, "10.0.0.1", 80)
    with pytest.raises(RemoteProtocolError, match=message):
        hs.receive_data(bytes([0, code]) + bytes(6))


def test_socks4_reply_version_must_be_zero() -> None:
    hs = SocksHandshake(4, "10.0.0.1", 80)
    with pytest.raises(RemoteProtocolError, match="invalid socks4 reply version: 0x05"):
        hs.receive_data(b"\x05\x00" + bytes(6))


def test_socks4_cannot_carry_ipv6() -> None:
    with pytest.raises(LocalProtocolError, match="cannot carry an IPv6 address"):
        SocksHandshake(4, "::1", 80)
    with pytest.raises(LocalProtocolError, match="must not contain NUL"):
        SocksHandshake(4, "10.0.0.1", 80, username="a\x00b")
