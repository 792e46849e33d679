"""HTTP authentication credentials: Basic (RFC 7617) and Digest (RFC 7616).

This module owns the text of ``Authorization`` headers and the parsing of
``WWW-Authenticate`` challenges (RFC 9110 §11). It is pure: no asyncio, no
sockets and no knowledge of redirects or retries; the session decides when to
send what these functions compute. ``BasicAuth`` keeps aiohttp 3's interface, a
named tuple of ``login``, ``password`` and ``encoding``.

Digest support is deliberately narrow: MD5, MD5-sess, SHA-256 and SHA-256-sess
with ``qop=auth``, or no ``qop`` at all (the RFC 2069 legacy form). ``auth-int``
would need the request body hashed before it is sent, so a challenge offering
only ``auth-int`` is refused rather than answered wrongly. Strings are hashed as
UTF-8, the only charset RFC 7616 §4 defines; for ASCII credentials this is the
same as ISO-8859-1.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple
from urllib.parse import quote

from multidict import MultiMapping
from yarl import URL

__all__ = (
    "BasicAuth",
    "Challenge",
    "DigestAuth",
    "encode_basic_auth",
    "parse_challenge",
    "parse_challenges",
    "pick_digest_challenge",
    "should_retry_with_digest",
)


# --- Basic ---------------------------------------------------------------------------


def _require_str(value: object, name: str) -> None:
    """Refuse ``None`` where aiohttp's interface promises a string."""
    if value is None:
        raise ValueError(f"{name} must be a str, not None")


class _BasicAuthFields(NamedTuple):
    login: str
    password: str = ""
    encoding: str = "latin1"


def origin_of(url: URL) -> tuple[str, str, int | None]:
    """The URL's origin (RFC 6454 §4): scheme, lower-case host and effective port, so that
    ``http://h/`` and ``http://H:80/`` are one origin. Credentials belong to one."""
    return url.scheme, (url.raw_host or "").lower(), url.port


def encode_basic_auth(login: str, password: str = "", encoding: str = "utf-8") -> str:
    """The ``Authorization`` (or ``Proxy-Authorization``) value ``Basic <base64>``.

    aiohttp 3's replacement for ``auth=BasicAuth(...)``; UTF-8 by default (RFC 7617 §2.1).

    Raises:
        ValueError: *login* contains a colon (RFC 7617 §2).
        UnicodeEncodeError: the credentials cannot be encoded with *encoding*.
    """
    return BasicAuth(login, password, encoding).encode()


class BasicAuth(_BasicAuthFields):
    """Credentials for the Basic scheme (RFC 7617).

    Args:
        login: the user-id; it must not contain a colon (RFC 7617 §2).
        password: the password; colons are allowed.
        encoding: how ``login:password`` becomes bytes before base64.

    Raises:
        ValueError: if ``login`` or ``password`` is None, or ``login`` has a colon.
    """

    __slots__ = ()

    def __new__(cls, login: str, password: str = "", encoding: str = "latin1") -> BasicAuth:
        _require_str(login, "login")
        _require_str(password, "password")
        if ":" in login:
            raise ValueError(f"a colon is not allowed in the login: {login!r}")
        return super().__new__(cls, login, password, encoding)

    def __repr__(self) -> str:
        # Keys, errors and logged arguments repr their credentials: the password must not
        # show (aiohttp's does). Whether one is set is still visible, for debugging.
        password = "'***'" if self.password else "''"
        return f"BasicAuth(login={self.login!r}, password={password}, encoding={self.encoding!r})"

    def encode(self) -> str:
        """Return the ``Authorization`` header value, ``Basic <base64>``.

        Raises:
            UnicodeEncodeError: if the credentials cannot be encoded with ``encoding``.
        """
        credentials = f"{self.login}:{self.password}".encode(self.encoding)
        return "Basic " + base64.b64encode(credentials).decode("ascii")

    @classmethod
    def decode(cls, auth_header: str, encoding: str = "latin1") -> BasicAuth:
        """Parse an ``Authorization: Basic`` header value.

        Args:
            auth_header: the header value, such as ``Basic dXNlcjpwYXNz``; the
                scheme is matched case-insensitively (RFC 9110 §11.1).
            encoding: how the decoded bytes become text.

        Returns:
            The credentials.

        Raises:
            ValueError: if the scheme is not Basic, the base64 is not strictly
                valid, the bytes do not decode or there is no colon.
        """
        scheme, _, credentials = auth_header.strip().partition(" ")
        if scheme.lower() != "basic":
            raise ValueError(f"unknown authorization scheme: {scheme!r:.40}, expected 'Basic'")
        credentials = credentials.strip(" ")
        if not credentials:
            raise ValueError(f"no credentials in authorization header: {auth_header!r:.80}")
        try:
            raw = base64.b64decode(credentials, validate=True)
        except ValueError as exc:  # binascii.Error, or non-ASCII text
            raise ValueError(f"invalid base64 in credentials: {credentials!r:.80}") from exc
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ValueError(f"credentials are not valid {encoding}: {raw!r:.80}") from exc
        login, colon, password = text.partition(":")
        if not colon:
            raise ValueError(f"no colon in decoded credentials: {text!r:.80}")
        return cls(login, password, encoding)

    @classmethod
    def from_url(cls, url: URL, *, encoding: str = "latin1") -> BasicAuth | None:
        """Take credentials from the userinfo of ``url``.

        Args:
            url: a URL such as ``http://user:pass@host/``; yarl percent-decodes
                ``user`` and ``password``.
            encoding: the encoding of the returned credentials.

        Returns:
            The credentials, or ``None`` if the URL carries none.

        Raises:
            TypeError: if ``url`` is not a ``yarl.URL``.
            ValueError: if the decoded user holds a colon.
        """
        _require_url(url)
        if url.user is None and url.password is None:
            return None
        return cls(url.user or "", url.password or "", encoding)


def _require_url(url: object) -> None:
    if not isinstance(url, URL):
        raise TypeError(f"url must be a yarl.URL, not {type(url).__name__}")


# --- challenges ----------------------------------------------------------------------

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9110 §11.2: token68 stands alone after the scheme, up to a comma or the end.
_TOKEN68 = re.compile(r"([A-Za-z0-9\-._~+/]+=*)[ \t]*(?=,|\Z)")
_PARAM_START = re.compile(r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+)[ \t]*=[ \t]*")
_CTL = re.compile(r"[\x00-\x1f\x7f]")


class Challenge(NamedTuple):
    """One challenge of a ``WWW-Authenticate`` or ``Proxy-Authenticate`` field."""

    scheme: str
    """The auth-scheme as sent; compare it case-insensitively."""
    params: dict[str, str]
    """Auth-params with lower-cased names and unquoted values."""
    token68: str | None = None
    """The token68 form (``Negotiate abc==``), when the challenge uses it."""


def _skip(text: str, pos: int, chars: str) -> int:
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


def _read_quoted(text: str, pos: int) -> tuple[str, int]:
    """Read the quoted-string starting at ``text[pos] == '"'`` (RFC 9110 §5.6.4)."""
    out: list[str] = []
    pos += 1
    while pos < len(text):
        char = text[pos]
        if char == '"':
            return "".join(out), pos + 1
        if char == "\\" and pos + 1 < len(text):
            pos += 1
            char = text[pos]
        out.append(char)
        pos += 1
    raise ValueError(f"unterminated quoted-string in challenge: {text!r:.100}")


def _read_param_value(text: str, pos: int) -> tuple[str, int]:
    if pos < len(text) and text[pos] == '"':
        return _read_quoted(text, pos)
    # A token per RFC 9110 §11.2; tolerate anything up to the next comma.
    end = text.find(",", pos)
    end = len(text) if end == -1 else end
    return text[pos:end].rstrip(" \t"), end


def _read_challenge(text: str, pos: int) -> tuple[Challenge, int]:
    scheme = _TOKEN.match(text, pos)
    if scheme is None:
        raise ValueError(f"expected an auth-scheme at offset {pos}: {text!r:.100}")
    pos = _skip(text, scheme.end(), " \t")
    if token68 := _TOKEN68.match(text, pos):
        return Challenge(scheme[0], {}, token68[1]), token68.end()
    params: dict[str, str] = {}
    while param := _PARAM_START.match(text, pos):
        value, pos = _read_param_value(text, param.end())
        # RFC 9110 §11.2: a parameter occurs once; keep the first if repeated.
        params.setdefault(param[1].lower(), value)
        pos = _skip(text, pos, " \t")
        if pos < len(text) and text[pos] != ",":
            raise ValueError(f"expected ',' at offset {pos}: {text!r:.100}")
        pos = _skip(text, pos, " \t,")
    return Challenge(scheme[0], params, None), pos


def parse_challenges(header_value: str) -> list[Challenge]:
    """Parse every challenge of one ``WWW-Authenticate`` field value (RFC 9110 §11.6.1).

    A field may hold several challenges, each followed by its comma-separated
    parameters: ``Basic realm="a, b", Digest realm="x", qop="auth,auth-int"``.

    Args:
        header_value: the field value.

    Returns:
        The challenges in the order sent.

    Raises:
        ValueError: if a quoted-string is unterminated or a challenge is malformed.
    """
    challenges: list[Challenge] = []
    pos = _skip(header_value, 0, " \t,")
    while pos < len(header_value):
        challenge, pos = _read_challenge(header_value, pos)
        challenges.append(challenge)
        pos = _skip(header_value, pos, " \t,")
    return challenges


def parse_challenge(www_authenticate: str) -> dict[str, str]:
    """Return the parameters of the first Digest challenge in a field value.

    Args:
        www_authenticate: a ``WWW-Authenticate`` field value.

    Returns:
        The Digest challenge's parameters, names lower-cased, values unquoted.

    Raises:
        ValueError: if the value does not parse or holds no Digest challenge.
    """
    for challenge in parse_challenges(www_authenticate):
        if challenge.scheme.lower() == "digest":
            return challenge.params
    raise ValueError(f"no digest challenge in: {www_authenticate!r:.100}")


# --- Digest --------------------------------------------------------------------------

# RFC 7616 §3.2 names -> hashlib names; strength ranks a choice among challenges.
_ALGORITHMS = {"MD5": "md5", "SHA-256": "sha256"}
_STRENGTH = {"MD5": 1, "SHA-256": 2}


def _algorithm_of(challenge: Mapping[str, str]) -> tuple[str, bool]:
    """Return the canonical algorithm name and whether it is a -sess variant."""
    given = challenge.get("algorithm", "MD5")  # RFC 7616 §3.3: MD5 when absent
    name = given.upper()
    session = name.endswith("-SESS")
    base = name.removesuffix("-SESS")
    if base not in _ALGORITHMS:
        raise ValueError(f"unsupported digest algorithm: {given!r:.40}")
    return base, session


def _qop_of(challenge: Mapping[str, str]) -> str | None:
    """Return "auth", or None for the legacy form without qop."""
    offered = challenge.get("qop")
    if offered is None:
        return None
    options = {option.strip().lower() for option in offered.split(",")}
    if "auth" not in options:
        raise ValueError(f"unsupported qop: {offered!r:.40}, expected 'auth'")
    return "auth"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class DigestAuth:
    """Answers Digest challenges (RFC 7616) for one set of credentials.

    The object counts requests per server nonce: each ``authorization`` call with
    the same nonce sends the next ``nc``, and a new nonce starts again at 1
    (RFC 7616 §3.4).

    Args:
        login: the user name.
        password: the password.

    Raises:
        ValueError: if ``login`` or ``password`` is None.
    """

    def __init__(self, login: str, password: str) -> None:
        _require_str(login, "login")
        _require_str(password, "password")
        self.login = login
        self.password = password
        self._nonce: str | None = None
        self._nonce_count = 0

    def authorization(
        self,
        method: str,
        url: URL,
        challenge: Mapping[str, str],
        *,
        cnonce: str | None = None,
    ) -> str:
        """Compute the ``Authorization`` header value answering ``challenge``.

        Args:
            method: the request method, such as ``GET``.
            url: the request URL; its path and query are the digest-uri.
            challenge: parameters from ``parse_challenge`` or ``pick_digest_challenge``.
            cnonce: the client nonce; random when omitted. Only tests pass one.

        Returns:
            ``Digest username="...", realm="...", ...``.

        Raises:
            ValueError: if the challenge lacks a realm or nonce, holds a control
                character, or asks for an algorithm or qop this module lacks.
        """
        realm, nonce = challenge.get("realm"), challenge.get("nonce")
        if realm is None or nonce is None:
            raise ValueError(
                f"digest challenge needs a realm and a nonce: {dict(challenge)!r:.100}"
            )
        opaque = challenge.get("opaque")
        for value in (realm, nonce, opaque or ""):
            if _CTL.search(value):
                raise ValueError(f"control character in digest challenge: {value!r:.80}")
        algorithm, session = _algorithm_of(challenge)
        qop = _qop_of(challenge)
        if session and qop is None:
            raise ValueError(
                f"algorithm {algorithm + '-sess'!r} needs a qop, the challenge has none"
            )
        hash_name = _ALGORITHMS[algorithm]

        def digest(text: str) -> str:
            return hashlib.new(hash_name, text.encode("utf-8"), usedforsecurity=False).hexdigest()

        uri = url.raw_path_qs
        # RFC 7616 §3.4.2 and §3.4.3.
        ha1 = digest(f"{self.login}:{realm}:{self.password}")
        ha2 = digest(f"{method}:{uri}")
        parts = [*self._username_fields(realm, challenge, digest)]
        parts += [f"realm={_quoted(realm)}", f"nonce={_quoted(nonce)}", f"uri={_quoted(uri)}"]
        if "algorithm" in challenge:
            parts.append(f"algorithm={algorithm}{'-sess' if session else ''}")
        if qop is None:  # RFC 2069 §2.1.1
            response = digest(f"{ha1}:{nonce}:{ha2}")
            parts.append(f'response="{response}"')
        else:
            cnonce = secrets.token_hex(16) if cnonce is None else cnonce
            if _CTL.search(cnonce) or '"' in cnonce:
                raise ValueError(f"invalid cnonce: {cnonce!r:.80}")
            nc = f"{self._next_count(nonce):08x}"
            if session:  # RFC 7616 §3.4.2
                ha1 = digest(f"{ha1}:{nonce}:{cnonce}")
            response = digest(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
            parts += [f'response="{response}"', f"qop={qop}", f"nc={nc}", f'cnonce="{cnonce}"']
        if opaque is not None:
            parts.append(f"opaque={_quoted(opaque)}")
        return "Digest " + ", ".join(parts)

    def _username_fields(
        self, realm: str, challenge: Mapping[str, str], digest: Callable[[str], str]
    ) -> list[str]:
        """RFC 7616 §3.4.4: a hashed, plain or RFC 8187-encoded user name."""
        if challenge.get("userhash", "").lower() == "true":
            return [f'username="{digest(f"{self.login}:{realm}")}"', "userhash=true"]
        if self.login.isascii() and not _CTL.search(self.login):
            return [f"username={_quoted(self.login)}"]
        return [f"username*=UTF-8''{quote(self.login, safe='')}"]

    def _next_count(self, nonce: str) -> int:
        if nonce != self._nonce:
            self._nonce, self._nonce_count = nonce, 0
        self._nonce_count += 1
        return self._nonce_count


def _strength(challenge: Mapping[str, str]) -> int:
    """How good a Digest challenge is to answer; 0 if it cannot be answered."""
    if "realm" not in challenge or "nonce" not in challenge:
        return 0
    try:
        algorithm, session = _algorithm_of(challenge)
        qop = _qop_of(challenge)
    except ValueError:
        return 0
    if session and qop is None:
        return 0
    return _STRENGTH[algorithm]


def pick_digest_challenge(www_authenticate_values: Iterable[str]) -> dict[str, str] | None:
    """Choose the strongest Digest challenge this module can answer.

    RFC 7616 §3.7 lets a server offer one challenge per algorithm, most preferred
    first, and lets local policy override the order; ours prefers SHA-256 to
    MD5 and otherwise keeps the server's order. Field values that do not parse
    are skipped.

    Args:
        www_authenticate_values: every ``WWW-Authenticate`` field value of a response.

    Returns:
        The chosen challenge's parameters, or ``None`` if none can be answered.
    """
    best: dict[str, str] | None = None
    best_strength = 0
    for value in www_authenticate_values:
        try:
            challenges = parse_challenges(value)
        except ValueError:
            continue
        for challenge in challenges:
            if challenge.scheme.lower() != "digest":
                continue
            strength = _strength(challenge.params)
            if strength > best_strength:
                best, best_strength = challenge.params, strength
    return best


def should_retry_with_digest(status: int, headers: MultiMapping[str]) -> dict[str, str] | None:
    """Return the Digest challenge to answer if a response asks for one.

    Args:
        status: the response status; 401 reads ``WWW-Authenticate`` and 407
            reads ``Proxy-Authenticate`` (RFC 9110 §11.6.1, §11.7.1).
        headers: the response headers.

    Returns:
        The challenge's parameters, or ``None`` when there is nothing to answer.
    """
    if status == 401:
        field = "WWW-Authenticate"
    elif status == 407:
        field = "Proxy-Authenticate"
    else:
        return None
    return pick_digest_challenge(headers.getall(field, []))
