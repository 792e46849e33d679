"""Cookie storage and selection: RFC 6265 as a user agent applies it.

This module owns which cookies a response may store and which stored cookies a
request sends. It is pure: no sockets, no asyncio, and no reading of the wall
clock except through the ``clock`` a jar is given, so expiry is testable with a
fake clock. The response layer hands cookies in (``update_cookies`` with a
``SimpleCookie``, or ``update_cookies_from_headers`` with raw ``Set-Cookie``
values, parsed here by a tolerant RFC 6265 §5.2 parser); the request layer asks
``filter_cookies`` and writes ``cookie_header_value`` of the result.

Rules a jar keeps:

1. A ``Domain`` attribute must domain-match the response host (§5.1.3) and must
   not be a public suffix (§5.3 step 5), unless it equals the host, in which case
   the cookie is stored host-only. Public suffixes come from the optional
   ``publicsuffixlist`` package when it is installed, else from a short built-in
   list plus the rule that a single-label domain (``com``, ``localhost``) is one.
2. Limits follow the minimums of §6.1: 4096 bytes of name and value per cookie,
   50 cookies per domain and 3000 in all; when full, the least recently used
   cookie goes first (§5.3 step 12).
3. A cookie whose ``Max-Age`` is zero or less, or whose ``Expires`` is past, is
   not stored and deletes the stored cookie of the same name, domain and path.

Deliberate differences from aiohttp 3's jar:

* IP-address hosts are supported without ``unsafe=True``. A cookie from an IP
  host is always host-only (§5.1.3 never domain-matches an IP address), which
  cannot leak to another host, so refusing it buys no safety. ``unsafe=True``
  only relaxes what a ``Domain`` attribute may say on such a response: instead of
  refusing the cookie, the attribute is ignored and the cookie stays host-only.
* ``save()`` and ``load()`` use JSON, not pickle, so loading a jar file cannot
  run code.
* ``localhost``, ``*.localhost`` and loopback addresses count as secure origins,
  as browsers treat them, so ``Secure`` cookies work against local test servers.
"""

from __future__ import annotations

import calendar
import functools
import heapq
import importlib
import ipaddress
import json
import math
import os
import re
import time
from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Sized
from dataclasses import dataclass
from email.utils import formatdate
from http.cookies import BaseCookie, Morsel, SimpleCookie
from typing import Any, cast

from yarl import URL

__all__ = (
    "AbstractCookieJar",
    "ClearCookiePredicate",
    "CookieJar",
    "DummyCookieJar",
    "LooseCookies",
    "cookie_header_value",
    "parse_cookie_date",
    "parse_set_cookie",
)

LooseCookies = (
    Mapping[str, str | Morsel[str]] | Iterable[tuple[str, str | Morsel[str]]] | BaseCookie[str]
)
ClearCookiePredicate = Callable[[Morsel[str]], bool]

# RFC 6265 §6.1: a user agent should store at least 4096 bytes per cookie, 50
# cookies per domain and 3000 cookies in all; browsers use exactly these.
MAX_COOKIE_BYTES = 4096
MAX_ATTRIBUTE_BYTES = 1024  # RFC 6265bis §5.6: a longer attribute value is ignored
MAX_COOKIES_PER_DOMAIN = 50
MAX_COOKIES_TOTAL = 3000

# Latest expiry kept: 9999-12-31T23:59:59Z, so huge Max-Age values cannot overflow.
_MAX_TIME = 253402300799.0
#: RFC 6265bis §5.5: a cookie lives at most 400 days (Max-Age or Expires are clamped).
COOKIE_AGE_LIMIT = 400 * 86400
_JAR_FORMAT_VERSION = 1

# RFC 6265bis §5.6: a name or value with a control character other than HTAB is refused.
_CTL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# Used only for its ``value_encode``, which quotes values the way SimpleCookie does.
_ENCODER = SimpleCookie()
_MORSEL_FLAGS = ("secure", "httponly")
_EMPTY_URL = URL()


# --- public suffixes -----------------------------------------------------------------

# Multi-label public suffixes refused when ``publicsuffixlist`` is not installed;
# every single-label domain is refused as well.
_FALLBACK_PUBLIC_SUFFIXES = frozenset(
    {
        "ac.jp", "ac.nz", "ac.uk", "ac.za", "appspot.com", "azurewebsites.net",
        "blogspot.com", "cloudfront.net", "co.id", "co.il", "co.in", "co.jp", "co.kr",
        "co.nz", "co.uk", "co.za", "com.ar", "com.au", "com.br", "com.cn", "com.hk",
        "com.mx", "com.my", "com.sg", "com.tr", "com.tw", "com.ua", "edu.au", "fly.dev",
        "github.io", "gitlab.io", "gov.au", "gov.uk", "herokuapp.com", "ltd.uk",
        "me.uk", "ne.jp", "net.au", "net.cn", "net.nz", "netlify.app", "ngrok.io",
        "or.jp", "org.au", "org.cn", "org.nz", "org.uk", "org.za", "pages.dev",
        "plc.uk", "s3.amazonaws.com", "vercel.app", "workers.dev",
    }
)  # fmt: skip


def _load_public_suffix_list() -> Callable[[str], bool] | None:
    """Return ``publicsuffixlist``'s check when the package is installed."""
    try:
        module = importlib.import_module("publicsuffixlist")
    except ImportError:
        return None
    psl = module.PublicSuffixList()

    def is_public(domain: str) -> bool:
        return bool(psl.is_public(domain))

    return is_public


_public_suffix_check = _load_public_suffix_list()


def _is_public_suffix(domain: str) -> bool:
    """Whether ``domain`` is a public suffix (RFC 6265 §5.3 step 5)."""
    if _public_suffix_check is not None:
        return _public_suffix_check(domain)
    return "." not in domain or domain in _FALLBACK_PUBLIC_SUFFIXES


# --- matching rules ------------------------------------------------------------------


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _domain_match(host: str, domain: str) -> bool:
    """RFC 6265 §5.1.3: does ``host`` domain-match ``domain``?"""
    if host == domain:
        return True
    return host.endswith("." + domain) and not _is_ip_address(host)


def _default_path(raw_path: str) -> str:
    """RFC 6265 §5.1.4: the directory of the response path."""
    if not raw_path.startswith("/"):
        return "/"
    directory = raw_path[: raw_path.rfind("/")]
    return directory or "/"


def path_match(request_path: str, cookie_path: str) -> bool:
    """RFC 6265 §5.1.4: does ``request_path`` path-match ``cookie_path``?"""
    if request_path == cookie_path:
        return True
    if not request_path.startswith(cookie_path):
        return False
    return cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"


def _is_loopback_host(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- dates and Set-Cookie parsing ----------------------------------------------------

_DATE_DELIMITERS = re.compile(r"[\x09\x20-\x2f\x3b-\x40\x5b-\x60\x7b-\x7e]+")
_TIME_TOKEN = re.compile(r"([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[^0-9].*)?", re.DOTALL)
_DAY_TOKEN = re.compile(r"([0-9]{1,2})(?:[^0-9].*)?", re.DOTALL)
_YEAR_TOKEN = re.compile(r"([0-9]{2,4})(?:[^0-9].*)?", re.DOTALL)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def parse_cookie_date(text: str) -> float | None:
    """Parse a cookie date with the algorithm of RFC 6265 §5.1.1.

    The algorithm is deliberately lenient: it finds a time, a day, a month and a
    year among the tokens in any order, so ``Wed, 09 Jun 2021 10:18:14 GMT``,
    ``Wednesday, 09-Jun-21 10:18:14 GMT`` and ``Jun 9 10:18:14 2021`` all parse.

    Args:
        text: the value of an ``Expires`` attribute.

    Returns:
        Seconds since the epoch (UTC), or ``None`` if ``text`` is not a date.
    """
    clock: tuple[int, int, int] | None = None
    day: int | None = None
    month: int | None = None
    year: int | None = None
    for token in _DATE_DELIMITERS.split(text):
        if not token:
            continue
        if clock is None and (found := _TIME_TOKEN.fullmatch(token)):
            clock = (int(found[1]), int(found[2]), int(found[3]))
        elif day is None and (found := _DAY_TOKEN.fullmatch(token)):
            day = int(found[1])
        elif month is None and token[:3].lower() in _MONTHS:
            month = _MONTHS.index(token[:3].lower()) + 1
        elif year is None and (found := _YEAR_TOKEN.fullmatch(token)):
            year = int(found[1])
    if clock is None or day is None or month is None or year is None:
        return None
    if 70 <= year <= 99:
        year += 1900
    elif 0 <= year <= 69:
        year += 2000
    hour, minute, second = clock
    if year < 1601 or hour > 23 or minute > 59 or second > 59:
        return None
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    return float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))


def _make_morsel(name: str, value: str, coded_value: str) -> Morsel[str]:
    """Build a morsel without ``Morsel.set``, which refuses names RFC 6265 user agents accept."""
    morsel: Morsel[str] = Morsel()
    # The pickle protocol of Morsel (stable since Python 3.5) sets the name and
    # both values without the stdlib's token check on the name.
    cast("Any", morsel).__setstate__({"key": name, "value": value, "coded_value": coded_value})
    return morsel


def set_cookie_text(raw: bytes) -> str:
    """A ``Set-Cookie`` field value as text: UTF-8, as servers send non-ASCII values and
    as the request head encodes them back, else Latin-1 (one character per byte)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


# The escapes ``SimpleCookie`` writes in a quoted value: a backslash and three octal
# digits for a byte, or a backslash before any other character but a newline.
_QUOTED_ESCAPE = re.compile(r"\\(?:([0-3][0-7]{2})|(.))")


def _unescape(found: re.Match[str]) -> str:
    octal, other = found.groups()
    return chr(int(octal, 8)) if octal is not None else other


def _unquote_value(raw: str) -> str:
    """Decode a double-quoted cookie value the way ``SimpleCookie`` does.

    One pass over the value: without the fix for CVE-2024-7592 (Python 3.11.7 has none),
    the stdlib's decoder searches again from each backslash, quadratic in their number."""
    inner = raw[1:-1]
    return _QUOTED_ESCAPE.sub(_unescape, inner) if "\\" in inner else inner


def _is_oversized(name: str, value: str) -> bool:
    """Whether a cookie's name and value together exceed :data:`MAX_COOKIE_BYTES` in UTF-8."""
    length = len(name) + len(value)  # a character takes one to four bytes
    if length * 4 <= MAX_COOKIE_BYTES or length > MAX_COOKIE_BYTES:
        return length > MAX_COOKIE_BYTES
    encoded = len(name.encode("utf-8", "surrogatepass")) + len(
        value.encode("utf-8", "surrogatepass")
    )
    return encoded > MAX_COOKIE_BYTES


def parse_set_cookie(header_value: str) -> Morsel[str] | None:
    """Parse one ``Set-Cookie`` field value with the algorithm of RFC 6265 §5.2.

    Unlike ``http.cookies.SimpleCookie``, this keeps cookies whose names hold
    characters outside the RFC 2109 token set (``a[0]=1``, ``a b=1``) and never
    drops the whole header for one bad attribute.

    Args:
        header_value: the field value, without the ``Set-Cookie:`` name.

    Returns:
        A morsel holding the name, the value and the attributes understood
        (``expires``, ``max-age``, ``domain``, ``path``, ``secure``, ``httponly``,
        ``samesite``), or ``None`` when the header holds no cookie: no ``=``, an
        empty name, a control character in the name or value, or a name and value
        longer than :data:`MAX_COOKIE_BYTES` together (RFC 6265bis §5.6).
    """
    pair, _, attributes = header_value.partition(";")
    if "=" not in pair:  # §5.2 step 2
        return None
    name, _, raw_value = pair.partition("=")
    name, raw_value = name.strip(" \t"), raw_value.strip(" \t")
    if not name or _CTL.search(name) or _CTL.search(raw_value):
        return None
    if _is_oversized(name, raw_value):
        # RFC 6265bis §5.6: the whole field is ignored; checked before the value is
        # unquoted, so a hostile value costs no more than reading it.
        return None
    if len(raw_value) >= 2 and raw_value[0] == raw_value[-1] == '"':
        value = _unquote_value(raw_value)
    else:
        value = raw_value
    morsel = _make_morsel(name, value, raw_value)
    for attribute in attributes.split(";"):
        attr_name, _, attr_value = attribute.partition("=")
        attr_name, attr_value = attr_name.strip(" \t").lower(), attr_value.strip(" \t")
        if len(attr_value) > MAX_ATTRIBUTE_BYTES or (
            len(attr_value) * 4 > MAX_ATTRIBUTE_BYTES
            and len(attr_value.encode("utf-8", "surrogatepass")) > MAX_ATTRIBUTE_BYTES
        ):
            # RFC 6265bis §5.6: ignored, so that a stored cookie stays small (only the name
            # and value count against MAX_COOKIE_BYTES).
            continue
        if attr_name == "expires":  # §5.2.1: an unparsable date is ignored
            if parse_cookie_date(attr_value) is not None:
                morsel["expires"] = attr_value
        elif attr_name == "max-age":  # §5.2.2: [-]DIGIT+, anything else is ignored
            if re.fullmatch(r"-?[0-9]+", attr_value):
                morsel["max-age"] = attr_value
        elif attr_name == "domain":  # §5.2.3: an empty Domain is ignored
            if attr_value:
                morsel["domain"] = attr_value
        elif attr_name == "path":  # §5.2.4: a relative Path means the default path
            morsel["path"] = attr_value if attr_value.startswith("/") else ""
        elif attr_name in _MORSEL_FLAGS:  # §5.2.5, §5.2.6
            morsel[attr_name] = True
        elif attr_name == "samesite":  # RFC 6265bis §5.6.7
            morsel["samesite"] = attr_value
    return morsel


def cookie_header_value(cookies: BaseCookie[str]) -> str:
    """Join cookies into a ``Cookie`` request header value (RFC 6265 §5.4 step 4).

    Args:
        cookies: the result of ``filter_cookies``.

    Returns:
        ``name=value; name2=value2``, with each morsel's ``coded_value``.
    """
    return "; ".join(f"{morsel.key}={morsel.coded_value}" for morsel in cookies.values())


# --- jars ----------------------------------------------------------------------------


class AbstractCookieJar(Sized, Iterable[Morsel[str]]):
    """The cookie jar interface a ``ClientSession`` talks to (aiohttp's ``AbstractCookieJar``)."""

    def __init__(self, *, loop: object = None) -> None:
        """Accept aiohttp's ``loop`` argument; the jar never needs one."""

    @property
    @abstractmethod
    def unsafe(self) -> bool:
        """Whether ``Domain`` attributes on responses from IP hosts are tolerated."""

    @property
    @abstractmethod
    def quote_cookie(self) -> bool:
        """Whether values are quoted as ``SimpleCookie`` would quote them when sent."""

    @property
    def treat_as_secure_origin(self) -> frozenset[URL]:
        """Origins that receive ``Secure`` cookies over cleartext connections."""
        return frozenset()

    @abstractmethod
    def clear(self, predicate: ClearCookiePredicate | None = None) -> None:
        """Remove every cookie, or those for which ``predicate(morsel)`` is true."""

    @abstractmethod
    def clear_domain(self, domain: str) -> None:
        """Remove the cookies of ``domain`` and of all its subdomains."""

    @abstractmethod
    def update_cookies(self, cookies: LooseCookies, response_url: URL = _EMPTY_URL) -> None:
        """Store cookies received from ``response_url``, or shared ones if it is empty."""

    def update_cookies_from_headers(self, headers: Sequence[str], response_url: URL) -> None:
        """Store the cookies of raw ``Set-Cookie`` field values from ``response_url``."""
        parsed = [morsel for value in headers if (morsel := parse_set_cookie(value)) is not None]
        if parsed:
            self.update_cookies([(morsel.key, morsel) for morsel in parsed], response_url)

    @abstractmethod
    def filter_cookies(self, request_url: URL) -> BaseCookie[str]:
        """Return the cookies to send to ``request_url``."""


_CookieKey = tuple[str, str]  # (path, name): a cookie's identity within its domain


@dataclass(slots=True)
class _StoredCookie:
    """One cookie with the metadata of RFC 6265 §5.3 that a morsel cannot hold."""

    morsel: Morsel[str]
    host_only: bool
    expires: float | None  # seconds since the epoch; None for a session cookie
    created: float
    sequence: int  # breaks ties between equal creation times
    last_access: int


class CookieJar(AbstractCookieJar):
    """A cookie store following RFC 6265 with aiohttp 3's interface.

    Args:
        unsafe: ignore, rather than refuse, a ``Domain`` attribute that names
            another host on a response from an IP address; the cookie stays
            host-only either way.
        quote_cookie: send values that need it double-quoted, as
            ``SimpleCookie`` would; when false, send values exactly as stored.
        treat_as_secure_origin: origins (``http://10.0.0.5:8080``) that
            receive ``Secure`` cookies over cleartext connections, in addition to
            https, wss and loopback hosts.
        clock: returns the current time in seconds since the epoch.
        loop: accepted for compatibility with aiohttp and ignored.

    Raises:
        ValueError: if an entry of ``treat_as_secure_origin`` is not an absolute URL.
    """

    def __init__(
        self,
        *,
        unsafe: bool = False,
        quote_cookie: bool = True,
        treat_as_secure_origin: Sequence[str | URL] | None = None,
        clock: Callable[[], float] = time.time,
        loop: object = None,
    ) -> None:
        super().__init__(loop=loop)
        self._unsafe = unsafe
        self._quote_cookie = quote_cookie
        self._clock = clock
        self._secure_origins = frozenset(
            _origin_of(origin) for origin in (treat_as_secure_origin or ())
        )
        # domain -> (path, name) -> cookie; shared cookies live under domain "".
        self._domains: dict[str, dict[_CookieKey, _StoredCookie]] = {}
        self._count = 0
        self._sequence = 0
        self._access = 0
        # Indexes so that a request, or a cookie stored into a full jar, does not walk all
        # of its up to 3000 cookies. The heaps keep entries of cookies removed or changed
        # since, checked when they come to the top (_remove_expired,
        # _pop_least_recently_used) and dropped when _add rebuilds them.
        self._expiry_heap: list[tuple[float, str, _CookieKey]] = []
        self._use_heap: list[tuple[int, float, int, str, _CookieKey]] = []
        self._secure_places: dict[str, set[tuple[str, str]]] = {}  # name -> {(domain, path)}

    @property
    def unsafe(self) -> bool:
        return self._unsafe

    @property
    def quote_cookie(self) -> bool:
        return self._quote_cookie

    @property
    def treat_as_secure_origin(self) -> frozenset[URL]:
        return self._secure_origins

    def __len__(self) -> int:
        self._remove_expired(self._clock())
        return self._count

    def __bool__(self) -> bool:
        # Checked on every request: no expiry sweep here (filter_cookies skips expired).
        return self._count > 0

    def __iter__(self) -> Iterator[Morsel[str]]:
        self._remove_expired(self._clock())
        return iter([cookie.morsel for cookie in self._stored()])

    # --- storing -----------------------------------------------------------------

    def update_cookies(self, cookies: LooseCookies, response_url: URL = _EMPTY_URL) -> None:
        """Store cookies from a response, or shared cookies given by the user.

        Args:
            cookies: names mapped to values or morsels (a ``SimpleCookie`` parsed
                from ``Set-Cookie``), or an iterable of such pairs. Morsels are
                copied, never kept.
            response_url: the URL the cookies came from. An empty ``URL()`` marks
                user-supplied cookies: without a ``Domain`` attribute they are sent
                to every host.
        """
        host = (response_url.raw_host or "").lower()
        items = cookies.items() if isinstance(cookies, Mapping) else cookies
        for name, given in items:
            morsel = _copy_morsel(name, given)
            if morsel is not None:
                self._store(morsel, host, response_url)

    def update_cookies_from_headers(self, headers: Sequence[str], response_url: URL) -> None:
        """Store the cookies of raw ``Set-Cookie`` field values from ``response_url``.

        The morsels :func:`parse_set_cookie` makes are ours: stored as they are, not
        copied and checked again as a caller's are by :meth:`update_cookies`; only what
        unquoting may have brought into the value (``\\012`` is a LF) is checked.
        """
        host = (response_url.raw_host or "").lower()
        for value in headers:
            morsel = parse_set_cookie(value)
            if morsel is not None and morsel.key.strip() and not _CTL.search(morsel.value):
                self._store(morsel, host, response_url)

    def _store(self, morsel: Morsel[str], host: str, response_url: URL) -> None:
        """Apply the storage model of RFC 6265bis §5.7 to one cookie."""
        placement = self._placement(str(morsel["domain"] or ""), host)
        if placement is None:
            return
        domain, host_only = placement
        path = str(morsel["path"] or "")
        if not path.startswith("/"):  # §5.2.4
            path = _default_path(response_url.raw_path)
        if not self._may_store(morsel, host, response_url, domain, path, host_only):
            return
        morsel["domain"], morsel["path"] = domain, path
        now = self._clock()
        expires = _expiry(morsel, now)
        key = (path, morsel.key)
        old = self._domains.get(domain, {}).get(key)
        if old is not None:
            self._remove(domain, key)
        if expires is not None and expires <= now:  # a deletion, not a cookie
            return
        if old is None:
            self._make_room(domain, now)
            self._sequence += 1
            created, sequence = now, self._sequence
        else:  # §5.3 step 11.3: a replacement keeps the creation time
            created, sequence = old.created, old.sequence
        cookie = _StoredCookie(morsel, host_only, expires, created, sequence, self._access)
        self._add(domain, key, cookie, is_new=old is None)

    def _add(self, domain: str, key: _CookieKey, cookie: _StoredCookie, *, is_new: bool) -> None:
        """Put *cookie* in its place and in the indexes."""
        self._domains.setdefault(domain, {})[key] = cookie
        self._count += 1
        if cookie.expires is not None:
            heapq.heappush(self._expiry_heap, (cookie.expires, domain, key))
        if is_new:  # a replacement keeps its predecessor's (see _pop_least_recently_used)
            heapq.heappush(self._use_heap, (*_use_order(cookie), domain, key))
        if cookie.morsel["secure"]:
            self._secure_places.setdefault(key[1], set()).add((domain, key[0]))
        if len(self._expiry_heap) + len(self._use_heap) > 4 * self._count + 64:
            self._reindex()  # amortised: the heaps have doubled since they were last rebuilt

    def _may_store(
        self,
        morsel: Morsel[str],
        host: str,
        response_url: URL,
        domain: str,
        path: str,
        host_only: bool,
    ) -> bool:
        """The secure-origin and name-prefix rules of RFC 6265bis §5.7 (steps 15, 16, 20,
        21) for a cookie from a response (*host* set); user-supplied ones pass."""
        if not host:
            return True
        secure = bool(morsel["secure"])
        secure_origin = self._is_secure(response_url, host)
        if secure and not secure_origin:
            return False  # step 15: only a secure origin sets a Secure cookie
        if not secure and not secure_origin and self._shadows_secure(morsel.key, domain, path):
            return False  # step 16: nor overwrites, shadows or deletes one
        name = morsel.key.lower()
        if name.startswith("__secure-") and not secure:
            return False  # step 20 (§4.1.3.1)
        if name.startswith("__host-"):
            # step 21 (§4.1.3.2): Secure, no Domain attribute, and Path=/ given.
            return secure and host_only and str(morsel["path"] or "") == "/"
        return True

    def _shadows_secure(self, name: str, domain: str, path: str) -> bool:
        """Whether a Secure cookie named *name* is stored whose domain domain-matches
        *domain* (or the reverse) and whose path *path* path-matches."""
        for stored_domain, stored_path in self._secure_places.get(name, ()):
            if not (_domain_match(stored_domain, domain) or _domain_match(domain, stored_domain)):
                continue
            cookie = self._domains[stored_domain][stored_path, name]
            if cookie.morsel["secure"] and path_match(path, stored_path):
                return True
        return False

    def _placement(self, domain_attribute: str, host: str) -> tuple[str, bool] | None:
        """Return (domain, host_only) for a cookie, or None if it must be refused."""
        domain = domain_attribute.lower()
        if domain.endswith("."):  # never matches a canonical host; aiohttp goes host-only
            domain = ""
        domain = domain.removeprefix(".")
        if domain and not domain.isascii():
            encoded = _ascii_domain(domain)
            if encoded is None:
                return None
            domain = encoded
        if not host:  # user-supplied: trust the Domain attribute, else share everywhere
            return domain, False
        if not domain or (domain == host and _is_ip_address(host)):
            return host, True
        if _is_ip_address(host):  # §5.1.3: an IP address only matches itself
            return (host, True) if self._unsafe else None
        if not _domain_match(host, domain):  # §5.3 step 6
            return None
        if _is_public_suffix(domain):  # §5.3 step 5
            return (host, True) if domain == host else None
        return domain, False

    def _make_room(self, domain: str, now: float) -> None:
        """Evict least recently used cookies to keep the §6.1 limits."""
        in_domain = self._domains.get(domain, {})
        if len(in_domain) < MAX_COOKIES_PER_DOMAIN and self._count < MAX_COOKIES_TOTAL:
            return
        self._remove_expired(now)  # §5.3 step 12: expired cookies go first
        if len(in_domain) >= MAX_COOKIES_PER_DOMAIN:  # a scan of at most 50 cookies
            oldest = min(in_domain.items(), key=lambda item: _use_order(item[1]))
            self._remove(domain, oldest[0])
        if self._count >= MAX_COOKIES_TOTAL:
            self._remove(*self._pop_least_recently_used())

    def _pop_least_recently_used(self) -> tuple[str, _CookieKey]:
        """The place of the stored cookie that comes first in :func:`_use_order`.

        Every stored cookie has an entry in ``_use_heap`` whose order is at most its
        own: a cookie's order only grows (its last access), and a replacement keeps the
        creation time and sequence of the cookie it replaces. So an entry at the top
        that is still exact names the least recently used cookie; one that is behind
        goes back with the cookie's order, and one of a removed cookie is dropped.
        """
        heap = self._use_heap
        while True:
            last_access, created, sequence, domain, key = heap[0]
            cookie = self._domains.get(domain, {}).get(key)
            if cookie is None or cookie.sequence != sequence:
                heapq.heappop(heap)
            elif cookie.last_access != last_access:
                heapq.heapreplace(heap, (cookie.last_access, created, sequence, domain, key))
            else:
                heapq.heappop(heap)
                return domain, key

    def _remove(self, domain: str, key: _CookieKey) -> None:
        cookies = self._domains[domain]
        del cookies[key]
        self._count -= 1
        if not cookies:
            del self._domains[domain]
        path, name = key
        places = self._secure_places.get(name)
        if places is not None:
            places.discard((domain, path))
            if not places:
                del self._secure_places[name]

    def _remove_expired(self, now: float) -> None:
        """Remove the cookies whose expiry time has come, found through ``_expiry_heap``
        (so a request costs nothing here unless one has)."""
        heap = self._expiry_heap
        while heap and heap[0][0] <= now:
            _, domain, key = heapq.heappop(heap)
            cookie = self._domains.get(domain, {}).get(key)
            # An entry may be of a cookie since removed or replaced with a later expiry.
            if cookie is not None and cookie.expires is not None and cookie.expires <= now:
                self._remove(domain, key)

    def _reindex(self) -> None:
        """Rebuild the indexes from the stored cookies, dropping stale heap entries."""
        self._expiry_heap, self._use_heap, self._secure_places = [], [], {}
        for domain, cookies in self._domains.items():
            for key, cookie in cookies.items():
                if cookie.expires is not None:
                    self._expiry_heap.append((cookie.expires, domain, key))
                self._use_heap.append((*_use_order(cookie), domain, key))
                if cookie.morsel["secure"]:
                    self._secure_places.setdefault(key[1], set()).add((domain, key[0]))
        heapq.heapify(self._expiry_heap)
        heapq.heapify(self._use_heap)

    def _stored(self) -> list[_StoredCookie]:
        return [cookie for cookies in self._domains.values() for cookie in cookies.values()]

    # --- selecting ---------------------------------------------------------------

    def filter_cookies(self, request_url: str | URL) -> BaseCookie[str]:
        """Select the cookies to send with a request (RFC 6265 §5.4).

        Args:
            request_url: the URL about to be requested; a ``str`` is made a ``URL``, as
                aiohttp does.

        Returns:
            A ``SimpleCookie`` of bare morsels (name and value only), longest path
            first and then oldest first. When two cookies share a name, only the
            first in that order is kept.
        """
        if not isinstance(request_url, URL):
            request_url = URL(request_url)
        now = self._clock()
        self._remove_expired(now)
        host = (request_url.raw_host or "").lower()
        request_path = request_url.raw_path if request_url.raw_path.startswith("/") else "/"
        secure = self._is_secure(request_url, host)
        matches: list[_StoredCookie] = []
        for domain in _candidate_domains(host):
            for (path, _), cookie in self._domains.get(domain, {}).items():
                if cookie.host_only and domain != host:
                    continue
                if not path_match(request_path, path):
                    continue
                if cookie.morsel["secure"] and not secure:
                    continue
                matches.append(cookie)
        matches.sort(key=lambda cookie: (-len(cookie.morsel["path"]), _creation_order(cookie)))
        self._access += 1
        selected = SimpleCookie()
        for cookie in matches:
            if cookie.morsel.key in selected:
                continue
            cookie.last_access = self._access  # §5.4 step 3
            selected[cookie.morsel.key] = self._outgoing(cookie.morsel)
        return selected

    def _is_secure(self, request_url: URL, host: str) -> bool:
        if request_url.scheme in ("https", "wss") or _is_loopback_host(host):
            return True
        if not self._secure_origins or not request_url.is_absolute():
            return False
        return request_url.origin() in self._secure_origins

    def _outgoing(self, morsel: Morsel[str]) -> Morsel[str]:
        """A bare morsel holding what goes on the wire for ``morsel``."""
        value = morsel.value
        if not self._quote_cookie:
            if ";" not in value and not _CTL.search(value):
                return _make_morsel(morsel.key, value, value)
            # Sent as is, a ";" (from a quoted "\073") would start a cookie the server
            # never set (a __Host- one, say): this value goes quoted whatever the option.
            coded = morsel.coded_value
            if not coded.startswith('"'):
                coded = _ENCODER.value_encode(value)[1]
            return _make_morsel(morsel.key, value, coded)
        coded = morsel.coded_value
        if not (coded.startswith('"') and len(coded) >= 2):  # a server's quoting is kept
            coded = _ENCODER.value_encode(value)[1]
        return _make_morsel(morsel.key, value, coded)

    # --- clearing ----------------------------------------------------------------

    def clear(self, predicate: ClearCookiePredicate | None = None) -> None:
        """Remove cookies.

        Args:
            predicate: called with each stored morsel; the cookies for which it
                returns true are removed. ``None`` removes every cookie.
        """
        if predicate is None:
            self._domains.clear()
            self._count = 0
            self._reindex()
            return
        self._remove_expired(self._clock())
        doomed = [
            (domain, key)
            for domain, cookies in self._domains.items()
            for key, cookie in cookies.items()
            if predicate(cookie.morsel)
        ]
        for domain, key in doomed:
            self._remove(domain, key)

    def clear_domain(self, domain: str) -> None:
        """Remove the cookies of ``domain`` and of its subdomains.

        Args:
            domain: a host name such as ``example.com``.
        """
        domain = domain.lower().removeprefix(".")
        self.clear(lambda morsel: _domain_match(str(morsel["domain"]), domain))

    # --- persistence -------------------------------------------------------------

    def save(self, file_path: str | os.PathLike[str]) -> None:
        """Write the jar to ``file_path`` as JSON.

        Args:
            file_path: where to write; an existing file is replaced.
        """
        self._remove_expired(self._clock())
        records = [
            {
                "name": cookie.morsel.key,
                "value": cookie.morsel.value,
                "coded_value": cookie.morsel.coded_value,
                "domain": cookie.morsel["domain"],
                "path": cookie.morsel["path"],
                "host_only": cookie.host_only,
                "expires": cookie.expires,
                "secure": bool(cookie.morsel["secure"]),
                "httponly": bool(cookie.morsel["httponly"]),
                "samesite": str(cookie.morsel["samesite"] or ""),
                "created": cookie.created,
            }
            for cookie in sorted(self._stored(), key=_creation_order)
        ]
        document = {"version": _JAR_FORMAT_VERSION, "cookies": records}
        with open(file_path, "w", encoding="utf-8") as file:
            json.dump(document, file, indent=1)

    def load(self, file_path: str | os.PathLike[str]) -> None:
        """Replace the jar's contents with those written by ``save``.

        Args:
            file_path: a file written by ``save``.

        Raises:
            ValueError: if the file is not a cookie jar of a known version.
            OSError: if the file cannot be read.
        """
        with open(file_path, encoding="utf-8") as file:
            document = json.load(file)
        if not isinstance(document, dict) or document.get("version") != _JAR_FORMAT_VERSION:
            raise ValueError(f"not a version {_JAR_FORMAT_VERSION} cookie jar: {str(file_path)!r}")
        records = document.get("cookies")
        if not isinstance(records, list):
            raise ValueError(f"cookie jar has no list of cookies: {str(file_path)!r}")
        loaded = [_cookie_from_record(index, record) for index, record in enumerate(records)]
        self._domains.clear()
        self._count = 0
        for cookie in sorted(loaded, key=lambda cookie: cookie.created):
            domain = str(cookie.morsel["domain"])
            cookies = self._domains.setdefault(domain, {})
            key = (str(cookie.morsel["path"]), cookie.morsel.key)
            if key not in cookies:
                self._count += 1
            self._sequence += 1
            cookie.sequence = self._sequence
            cookies[key] = cookie
        self._reindex()


class DummyCookieJar(AbstractCookieJar):
    """A jar that stores nothing, for sessions that must not keep cookies."""

    @property
    def unsafe(self) -> bool:
        return False

    @property
    def quote_cookie(self) -> bool:
        return True

    def __len__(self) -> int:
        return 0

    def __bool__(self) -> bool:
        return False

    def __iter__(self) -> Iterator[Morsel[str]]:
        return iter(())

    def clear(self, predicate: ClearCookiePredicate | None = None) -> None:
        """Do nothing: there is nothing to clear."""

    def clear_domain(self, domain: str) -> None:
        """Do nothing: there is nothing to clear."""

    def update_cookies(self, cookies: LooseCookies, response_url: URL = _EMPTY_URL) -> None:
        """Drop the cookies."""

    def update_cookies_from_headers(self, headers: Sequence[str], response_url: URL) -> None:
        """Drop the cookies without parsing them."""

    def filter_cookies(self, request_url: URL) -> BaseCookie[str]:
        """Return an empty ``SimpleCookie``."""
        return SimpleCookie()


# --- helpers of CookieJar ------------------------------------------------------------


# RFC 1035 §2.3.4, which IDNA keeps (RFC 5890): a label holds at most 63 octets and a name
# 255 (253 characters as text). The IDNA codec splits labels at any of these four dots
# (RFC 3490 §3.1, requirement 1).
_MAX_LABEL_LENGTH = 63
_MAX_DOMAIN_LENGTH = 253
_IDNA_DOTS = re.compile("[.\u3002\uff0e\uff61]")


def _ascii_domain(domain: str) -> str | None:
    """The IDNA (ASCII) form of a non-ASCII ``Domain`` attribute, or None if it has none.

    The stdlib's punycode encoder is quadratic in a label's length, and a label too long
    for DNS can only fail after it ran: such a domain is refused before encoding."""
    if len(domain) > _MAX_DOMAIN_LENGTH or any(
        len(label) > _MAX_LABEL_LENGTH for label in _IDNA_DOTS.split(domain)
    ):
        return None
    return _encode_idna(domain)


# A response commonly repeats one Domain over many fields, and redirects repeat them again.
@functools.lru_cache(maxsize=256)
def _encode_idna(domain: str) -> str | None:
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None


def _origin_of(origin: str | URL) -> URL:
    url = URL(origin) if isinstance(origin, str) else origin
    if not url.is_absolute():
        raise ValueError(f"secure origin is not an absolute URL: {str(origin)!r}")
    return url.origin()


def _candidate_domains(host: str) -> list[str]:
    """The stored domains that may match ``host``: itself, its parents and ``""``."""
    if not host:
        return [""]
    if _is_ip_address(host):
        return [host, ""]
    labels = host.split(".")
    return [".".join(labels[index:]) for index in range(len(labels))] + [""]


def _creation_order(cookie: _StoredCookie) -> tuple[float, int]:
    return cookie.created, cookie.sequence


def _use_order(cookie: _StoredCookie) -> tuple[int, float, int]:
    return cookie.last_access, cookie.created, cookie.sequence


def _copy_morsel(name: str, given: str | Morsel[str]) -> Morsel[str] | None:
    """A private copy of a cookie the caller gave, or None if it cannot be sent."""
    if isinstance(given, Morsel):
        morsel = _make_morsel(name, str(given.value), str(given.coded_value))
        for attribute, attr_value in given.items():
            if attr_value:
                morsel[attribute] = attr_value
    else:
        morsel = _make_morsel(name, given, _ENCODER.value_encode(given)[1])
    text = f"{morsel.key}={morsel.value}{morsel.coded_value}"
    if not name.strip() or ";" in name or "=" in name or _CTL.search(text):
        return None
    return None if _is_oversized(morsel.key, morsel.coded_value) else morsel


def _expiry(morsel: Morsel[str], now: float) -> float | None:
    """RFC 6265bis §5.7 step 3: Max-Age wins over Expires, both clamped to
    :data:`COOKIE_AGE_LIMIT` (§5.6.1, §5.6.2); None for a session cookie."""
    latest = min(now + COOKIE_AGE_LIMIT, _MAX_TIME)
    max_age = str(morsel["max-age"])
    if re.fullmatch(r"-?[0-9]+", max_age):
        if max_age.startswith("-") or not max_age.strip("0"):
            return float("-inf")  # §5.6.2: zero or negative, the earliest time
        # Past the limit whatever its digits (int() refuses over 4300 of them).
        seconds = int(max_age) if len(max_age) < 16 else COOKIE_AGE_LIMIT
        return min(now + seconds, latest)
    expires: object = morsel["expires"]
    if isinstance(expires, int | float) and not isinstance(expires, bool):
        if math.isnan(expires):  # no time at all; it would also upset the expiry heap
            return None
        return min(now + expires, latest)  # Morsel's own meaning: seconds from now
    if isinstance(expires, str) and expires:
        when = parse_cookie_date(expires)
        return None if when is None else min(when, latest)
    return None


_RECORD_FIELDS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "value": str,
    "coded_value": str,
    "domain": str,
    "path": str,
    "host_only": bool,
    "expires": (int, float, type(None)),
    "secure": bool,
    "httponly": bool,
    "samesite": str,
    "created": (int, float),
}


def _cookie_from_record(index: int, record: object) -> _StoredCookie:
    """Check one record of a saved jar and rebuild the cookie."""
    if not isinstance(record, dict):
        raise ValueError(f"cookie {index} is not an object: {record!r:.80}")
    for field, kind in _RECORD_FIELDS.items():
        if not isinstance(record.get(field), kind):
            raise ValueError(f"cookie {index} has an invalid {field!r}: {record.get(field)!r:.80}")
    morsel = _make_morsel(record["name"], record["value"], record["coded_value"])
    morsel["domain"], morsel["path"] = record["domain"], record["path"]
    for flag in _MORSEL_FLAGS:
        if record[flag]:
            morsel[flag] = True
    if record["samesite"]:
        morsel["samesite"] = record["samesite"]
    expires = record["expires"]
    if expires is not None and not math.isfinite(expires):
        raise ValueError(f"cookie {index} has an invalid 'expires': {expires!r}")
    if expires is not None:
        morsel["expires"] = formatdate(min(float(expires), _MAX_TIME), usegmt=True)
    created = float(record["created"])
    return _StoredCookie(morsel, record["host_only"], expires, created, 0, 0)
