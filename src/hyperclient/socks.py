"""The SOCKS client handshake (SOCKS4, SOCKS4a, SOCKS5), sans I/O.

``SocksHandshake`` is a small state machine: it produces the bytes to send
(``data_to_send``), consumes the proxy's replies at any split (``receive_data``), and
says when the tunnel is open (``is_done``). The connector drives it over a connected
socket and then speaks HTTP, or TLS, through the tunnel. Only the ``CONNECT`` command is
implemented: that is all an HTTP client needs.

* SOCKS5 (RFC 1928) with "no authentication" or username/password (RFC 1929). Whether
  the name is resolved locally (``socks5://``) or by the proxy (``socks5h://``) is the
  caller's choice: it passes an IP literal or a name, and the right address type follows.
* SOCKS4 needs an IPv4 address; SOCKS4a (the 4a extension) lets the proxy resolve a name.

Rule: a reply is checked byte by byte against the RFC before it is believed; anything
else is a ``RemoteProtocolError``. Bad input from our side (a 300-byte user name, an IPv6
address over SOCKS4) is a ``LocalProtocolError``, raised before any byte is produced.
"""

from __future__ import annotations

import enum
import errno
import ipaddress

from .errors import LocalProtocolError, RemoteProtocolError

__all__ = ("REPLY_ERRNO", "SocksHandshake", "SocksState")


class SocksState(enum.Enum):
    """Where the handshake is."""

    METHOD = "waiting for the method selection"
    AUTH = "waiting for the authentication status"
    REPLY = "waiting for the reply to CONNECT"
    DONE = "tunnel open"
    FAILED = "failed"


# RFC 1928 §6 reply field.
_SOCKS5_REPLIES = {
    0x01: "general SOCKS server failure",
    0x02: "connection not allowed by ruleset",
    0x03: "network unreachable",
    0x04: "host unreachable",
    0x05: "connection refused",
    0x06: "TTL expired",
    0x07: "command not supported",
    0x08: "address type not supported",
}
# The SOCKS4 protocol description, "CD" of the reply.
_SOCKS4_REPLIES = {
    91: "request rejected or failed",
    92: "request rejected: the proxy cannot reach identd on the client",
    93: "request rejected: identd reports a different user id",
}
#: The OS error closest to each SOCKS5 reply code, for the connector's ``OSError``.
REPLY_ERRNO = {
    0x03: errno.ENETUNREACH,
    0x04: errno.EHOSTUNREACH,
    0x05: errno.ECONNREFUSED,
    0x06: errno.ETIMEDOUT,
}

_NO_AUTH = 0x00
_USER_PASS = 0x02
_NO_ACCEPTABLE = 0xFF


class SocksHandshake:
    """Open a SOCKS tunnel to *host*:*port*.

    Args:
        version: 4 or 5. Version 4 sends a name with the 4a extension.
        host: an IP literal, or a name for the proxy to resolve (SOCKS4a, SOCKS5).
        port: the destination port.
        username: SOCKS5: offered as RFC 1929 credentials with *password*; SOCKS4: the
            user id.
        password: SOCKS5 only; None or empty with a *username* sends an empty password,
            as curl does for ``socks5://user@proxy``.

    Raises:
        LocalProtocolError: for a destination or credentials the protocol cannot carry.
    """

    def __init__(
        self,
        version: int,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        if version not in (4, 5):
            raise LocalProtocolError(f"unsupported socks version: {version!r}")
        if not 0 < port < 65536:
            raise LocalProtocolError(f"invalid destination port: {port!r}")
        self.version = version
        self._buf = bytearray()
        self._out = bytearray()
        if version == 5 and username is None and password is not None:
            raise LocalProtocolError("socks5 credentials need a username with the password")
        self._credentials = _credentials(username, password) if version == 5 else None
        self._request = (
            _socks5_request(host, port) if version == 5 else _socks4_request(host, port, username)
        )
        self.state = SocksState.METHOD if version == 5 else SocksState.REPLY
        #: The SOCKS5 reply code of a refusal (see ``REPLY_ERRNO``), else None.
        self.reply_code: int | None = None
        #: The address and port the proxy bound for us, once done.
        self.bound: tuple[str, int] | None = None
        if version == 5:
            methods = [_NO_AUTH] if self._credentials is None else [_NO_AUTH, _USER_PASS]
            self._out += bytes([5, len(methods), *methods])
        else:
            self._out += self._request

    def data_to_send(self) -> bytes:
        """The bytes to write to the proxy now (possibly none)."""
        data = bytes(self._out)
        self._out.clear()
        return data

    def is_done(self) -> bool:
        """True once the tunnel is open: what follows is the destination's."""
        return self.state is SocksState.DONE

    @property
    def unused_data(self) -> bytes:
        """Bytes received after the final reply (the destination spoke first)."""
        return bytes(self._buf) if self.state is SocksState.DONE else b""

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the proxy; replies may arrive split anywhere.

        Raises:
            RemoteProtocolError: the proxy refused, or sent something SOCKS does not allow.
        """
        if self.state is SocksState.FAILED:
            raise RemoteProtocolError("socks handshake already failed")
        self._buf += data
        try:
            while self.state is not SocksState.DONE and self._step():
                pass
        except RemoteProtocolError:
            self.state = SocksState.FAILED
            raise

    def receive_eof(self) -> None:
        """The proxy closed the connection.

        Raises:
            RemoteProtocolError: unless the handshake had finished.
        """
        if self.state is not SocksState.DONE:
            state = self.state
            self.state = SocksState.FAILED
            raise RemoteProtocolError(
                f"socks{self.version} proxy closed the connection {state.value}"
            )

    # -- one step per reply; False: need more bytes ----------------------------------------------

    def _step(self) -> bool:
        if self.state is SocksState.METHOD:
            return self._on_method()
        if self.state is SocksState.AUTH:
            return self._on_auth()
        return self._on_reply5() if self.version == 5 else self._on_reply4()

    def _take(self, size: int) -> bytes | None:
        if len(self._buf) < size:
            return None
        data = bytes(self._buf[:size])
        del self._buf[:size]
        return data

    def _on_method(self) -> bool:
        # RFC 1928 §3: VER, METHOD.
        reply = self._take(2)
        if reply is None:
            return False
        _check_version(reply[0], 5)
        method = reply[1]
        if method == _NO_AUTH:
            self._out += self._request
            self.state = SocksState.REPLY
        elif method == _USER_PASS and self._credentials is not None:
            self._out += self._credentials
            self.state = SocksState.AUTH
        elif method == _NO_ACCEPTABLE:
            wanted = "credentials" if self._credentials is None else "another method"
            raise RemoteProtocolError(
                f"socks5 proxy accepted none of the offered authentication methods "
                f"(it may need {wanted})"
            )
        else:
            raise RemoteProtocolError(
                f"socks5 proxy chose a method we did not offer: {method:#04x}"
            )
        return True

    def _on_auth(self) -> bool:
        # RFC 1929 §2: VER (1), STATUS (0 is success).
        reply = self._take(2)
        if reply is None:
            return False
        if reply[0] != 1:
            raise RemoteProtocolError(
                f"invalid socks5 authentication reply version: {reply[0]:#04x}, expected 0x01"
            )
        if reply[1] != 0:
            raise RemoteProtocolError("socks5 proxy rejected the username and password")
        self._out += self._request
        self.state = SocksState.REPLY
        return True

    def _on_reply5(self) -> bool:
        # RFC 1928 §6: VER, REP, RSV, ATYP, BND.ADDR, BND.PORT.
        if len(self._buf) < 5:
            return False
        _check_version(self._buf[0], 5)
        code = self._buf[1]
        if code != 0:
            self.reply_code = code
            reason = _SOCKS5_REPLIES.get(code, "unknown reply code")
            raise RemoteProtocolError(f"socks5 proxy could not connect: {reason} ({code:#04x})")
        if self._buf[2] != 0:
            raise RemoteProtocolError(f"invalid socks5 reserved byte: {self._buf[2]:#04x}")
        atyp = self._buf[3]
        if atyp == 1:
            size = 4 + 4 + 2
        elif atyp == 4:
            size = 4 + 16 + 2
        elif atyp == 3:
            size = 4 + 1 + self._buf[4] + 2
        else:
            raise RemoteProtocolError(f"invalid socks5 address type: {atyp:#04x}")
        reply = self._take(size)
        if reply is None:
            return False
        raw = reply[4:-2]
        if atyp == 3:
            host = raw[1:].decode("ascii", "replace")
        else:
            host = str(ipaddress.ip_address(raw))
        self.bound = (host, int.from_bytes(reply[-2:], "big"))
        self.state = SocksState.DONE
        return True

    def _on_reply4(self) -> bool:
        # SOCKS4: VN (0), CD (90 granted), DSTPORT, DSTIP.
        reply = self._take(8)
        if reply is None:
            return False
        if reply[0] != 0:
            raise RemoteProtocolError(
                f"invalid socks4 reply version: {reply[0]:#04x}, expected 0x00"
            )
        code = reply[1]
        if code != 90:
            reason = _SOCKS4_REPLIES.get(code, f"unknown reply code {code}")
            raise RemoteProtocolError(f"socks4 proxy could not connect: {reason}")
        self.bound = (str(ipaddress.IPv4Address(reply[4:8])), int.from_bytes(reply[2:4], "big"))
        self.state = SocksState.DONE
        return True


def _check_version(got: int, expected: int) -> None:
    if got != expected:
        raise RemoteProtocolError(
            f"invalid socks reply version: {got:#04x}, expected {expected:#04x} "
            "(is this a SOCKS proxy?)"
        )


def _credentials(username: str | None, password: str | None) -> bytes | None:
    """RFC 1929 §2: VER (1), ULEN, UNAME, PLEN, PASSWD; a user name of 1 to 255 bytes.

    The RFC draws PASSWD as 1 to 255 bytes too, but a user given without a password
    (``socks5://user@proxy``) gets an empty one, PLEN 0: what curl sends, and what
    proxies that check the user name only accept.
    """
    if username is None:
        return None
    user = username.encode("utf-8")
    secret = (password or "").encode("utf-8")
    if not 0 < len(user) < 256:
        raise LocalProtocolError(f"socks5 username must be 1 to 255 bytes, got {len(user)}")
    if len(secret) > 255:
        raise LocalProtocolError(f"socks5 password must be at most 255 bytes, got {len(secret)}")
    return bytes([1, len(user)]) + user + bytes([len(secret)]) + secret


def _socks5_request(host: str, port: int) -> bytes:
    """RFC 1928 §4: VER, CMD (1 CONNECT), RSV, ATYP, DST.ADDR, DST.PORT."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        name = _encode_name(host, "socks5")
        if not 0 < len(name) < 256:
            raise LocalProtocolError(f"socks5 host name too long: {host!r:.60}") from None
        dest = bytes([3, len(name)]) + name
    else:
        dest = bytes([1 if address.version == 4 else 4]) + address.packed
    return bytes([5, 1, 0]) + dest + port.to_bytes(2, "big")


def _socks4_request(host: str, port: int, user_id: str | None) -> bytes:
    """SOCKS4: VN (4), CD (1 CONNECT), DSTPORT, DSTIP, USERID, NUL; 4a: then host, NUL."""
    user = (user_id or "").encode("utf-8")
    if b"\x00" in user:
        raise LocalProtocolError("socks4 user id must not contain NUL")
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        name = _encode_name(host, "socks4a")
        if not name or b"\x00" in name:
            raise LocalProtocolError(f"invalid socks4a host name: {host!r:.60}") from None
        # SOCKS4a: the invalid address 0.0.0.1 says "the name follows".
        return (
            bytes([4, 1])
            + port.to_bytes(2, "big")
            + bytes([0, 0, 0, 1])
            + user
            + b"\x00"
            + name
            + b"\x00"
        )
    if address.version != 4:
        raise LocalProtocolError(f"socks4 cannot carry an IPv6 address: {host!r}")
    return bytes([4, 1]) + port.to_bytes(2, "big") + address.packed + user + b"\x00"


def _encode_name(host: str, version: str) -> bytes:
    """A host name as sent on the wire: ASCII (yarl's hosts already are), else IDNA."""
    name = host.rstrip(".")
    try:
        return name.encode("ascii")
    except UnicodeEncodeError:
        pass
    try:
        return name.encode("idna")
    except UnicodeError as exc:
        raise LocalProtocolError(f"invalid {version} host name: {host!r:.60}") from exc
