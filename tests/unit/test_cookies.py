from __future__ import annotations

import ast
import asyncio
import calendar
import encodings.idna
import http.cookies
import json
import pathlib
import sys
from collections.abc import Iterator
from email.utils import formatdate
from http.cookies import Morsel, SimpleCookie
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from hyperclient import cookies as cookies_module
from hyperclient.cookies import (
    MAX_COOKIE_BYTES,
    MAX_COOKIES_PER_DOMAIN,
    MAX_COOKIES_TOTAL,
    AbstractCookieJar,
    CookieJar,
    DummyCookieJar,
    cookie_header_value,
    parse_cookie_date,
    parse_set_cookie,
    set_cookie_text,
)

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def jar(clock: FakeClock) -> CookieJar:
    return CookieJar(clock=clock)


def set_cookies(jar: CookieJar, url: str, *headers: str) -> None:
    jar.update_cookies_from_headers(list(headers), URL(url))


def sent(jar: AbstractCookieJar, url: str) -> str:
    return cookie_header_value(jar.filter_cookies(URL(url)))


# --- module shape --------------------------------------------------------------------


def test_module_does_not_import_asyncio() -> None:
    tree = ast.parse(pathlib.Path(cookies_module.__file__).read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "asyncio" not in imported


def test_jar_is_sized_iterable_and_abstract() -> None:
    jar = CookieJar()
    assert isinstance(jar, AbstractCookieJar)
    assert len(jar) == 0
    assert list(jar) == []
    with pytest.raises(TypeError):
        AbstractCookieJar()  # type: ignore[abstract]


def test_constructor_accepts_loop_and_reports_options() -> None:
    jar = CookieJar(unsafe=True, quote_cookie=False, loop=object())
    assert jar.unsafe is True
    assert jar.quote_cookie is False
    assert jar.treat_as_secure_origin == frozenset()


# --- RFC 6265 §3.1 examples ----------------------------------------------------------


def test_rfc6265_example_host_only(jar: CookieJar) -> None:
    set_cookies(jar, "http://example.com/", "SID=31d4d96e407aad42")
    assert sent(jar, "http://example.com/") == "SID=31d4d96e407aad42"
    assert sent(jar, "http://www.example.com/") == ""


def test_rfc6265_example_domain_and_path(jar: CookieJar) -> None:
    set_cookies(
        jar,
        "http://example.com/",
        "SID=31d4d96e407aad42; Path=/; Domain=example.com",
        "lang=en-US; Path=/; Domain=example.com",
    )
    assert sent(jar, "http://example.com/") == "SID=31d4d96e407aad42; lang=en-US"
    assert sent(jar, "http://www.example.com/a") == "SID=31d4d96e407aad42; lang=en-US"


def test_rfc6265_example_secure_httponly(jar: CookieJar) -> None:
    set_cookies(
        jar,
        "https://example.com/",
        "SID=31d4d96e407aad42; Path=/; Secure; HttpOnly",
        "lang=en-US; Path=/; Domain=example.com",
    )
    assert sent(jar, "https://example.com/") == "SID=31d4d96e407aad42; lang=en-US"
    assert sent(jar, "http://example.com/") == "lang=en-US"


def test_rfc6265_example_expires_then_delete(jar: CookieJar, clock: FakeClock) -> None:
    clock.now = calendar.timegm((2021, 6, 1, 0, 0, 0))
    set_cookies(jar, "http://example.com/", "lang=en-US; Expires=Wed, 09 Jun 2021 10:18:14 GMT")
    assert sent(jar, "http://example.com/") == "lang=en-US"
    set_cookies(jar, "http://example.com/", "lang=; Expires=Sun, 06 Nov 1994 08:49:37 GMT")
    assert sent(jar, "http://example.com/") == ""
    assert len(jar) == 0


# --- domain matching (§5.1.3, §5.3 steps 5-6) -----------------------------------------


def test_filter_cookies_accepts_a_str_url(jar: CookieJar) -> None:
    """aiohttp makes a str a URL; it raised AttributeError here."""
    set_cookies(jar, "http://example.com/a/", "k=v; Path=/a")
    set_cookies(jar, "https://example.com/", "s=1; Secure")
    assert cookie_header_value(jar.filter_cookies("http://example.com/a/b")) == "k=v"
    assert cookie_header_value(jar.filter_cookies("https://example.com/")) == "s=1"
    assert sent(jar, "http://example.com/a/b") == "k=v"


def test_host_only_cookie_is_not_sent_to_subdomains_or_parents(jar: CookieJar) -> None:
    set_cookies(jar, "http://www.example.com/", "a=1")
    assert sent(jar, "http://www.example.com/") == "a=1"
    assert sent(jar, "http://sub.www.example.com/") == ""
    assert sent(jar, "http://example.com/") == ""
    (morsel,) = jar
    assert morsel["domain"] == "www.example.com"


@pytest.mark.parametrize("domain", ["example.com", ".example.com", "EXAMPLE.com"])
def test_domain_cookie_reaches_domain_and_subdomains(jar: CookieJar, domain: str) -> None:
    set_cookies(jar, "http://www.example.com/", f"a=1; Domain={domain}")
    assert sent(jar, "http://example.com/") == "a=1"
    assert sent(jar, "http://www.example.com/") == "a=1"
    assert sent(jar, "http://a.b.example.com/") == "a=1"
    assert sent(jar, "http://notexample.com/") == ""
    assert sent(jar, "http://example.org/") == ""
    (morsel,) = jar
    assert morsel["domain"] == "example.com"


def test_domain_equal_to_host_matches_subdomains(jar: CookieJar) -> None:
    set_cookies(jar, "http://example.com/", "a=1; Domain=example.com")
    assert sent(jar, "http://www.example.com/") == "a=1"


@pytest.mark.parametrize(
    ("host", "domain"),
    [
        ("example.com", "other.com"),
        ("example.com", "www.example.com"),  # the host must domain-match, not the reverse
        ("example.com", "ample.com"),  # suffix without a dot boundary
        ("www.example.com", "w.example.com"),
    ],
)
def test_domain_not_matching_host_is_refused(jar: CookieJar, host: str, domain: str) -> None:
    set_cookies(jar, f"http://{host}/", f"a=1; Domain={domain}")
    assert len(jar) == 0


def test_empty_domain_attribute_is_ignored(jar: CookieJar) -> None:
    set_cookies(jar, "http://www.example.com/", "a=1; Domain=")
    assert sent(jar, "http://www.example.com/") == "a=1"
    assert sent(jar, "http://x.www.example.com/") == ""


def test_trailing_dot_domain_is_host_only(jar: CookieJar) -> None:
    set_cookies(jar, "http://www.example.com/", "a=1; Domain=example.com.")
    assert sent(jar, "http://www.example.com/") == "a=1"
    assert sent(jar, "http://example.com/") == ""


@pytest.mark.parametrize(
    ("host", "domain"),
    [
        ("www.example.com", "com"),
        ("foo.co.uk", "co.uk"),
        ("www.foo.co.uk", "co.uk"),
        ("a.gov.uk", "gov.uk"),
        ("x.github.io", "github.io"),
        ("app.herokuapp.com", "herokuapp.com"),
        ("shop.com.au", "com.au"),
        ("a.localhost", "localhost"),
    ],
)
def test_public_suffix_domain_is_refused(jar: CookieJar, host: str, domain: str) -> None:
    set_cookies(jar, f"http://{host}/", f"a=1; Domain={domain}")
    assert len(jar) == 0


def test_registrable_domain_under_public_suffix_is_accepted(jar: CookieJar) -> None:
    set_cookies(jar, "http://www.foo.co.uk/", "a=1; Domain=foo.co.uk")
    assert sent(jar, "http://shop.foo.co.uk/") == "a=1"
    assert sent(jar, "http://bar.co.uk/") == ""


@pytest.mark.parametrize("host", ["github.io", "co.uk", "localhost"])
def test_public_suffix_domain_equal_to_host_is_host_only(jar: CookieJar, host: str) -> None:
    set_cookies(jar, f"http://{host}/", f"a=1; Domain={host}")
    assert sent(jar, f"http://{host}/") == "a=1"
    assert sent(jar, f"http://x.{host}/") == ""


def test_publicsuffixlist_package_is_used_when_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class FakeList:
        def is_public(self, domain: str) -> bool:
            return domain in {"example.com", "com"}

    fake = type(sys)("publicsuffixlist")
    fake.PublicSuffixList = FakeList  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "publicsuffixlist", fake)
    check = cookies_module._load_public_suffix_list()
    assert check is not None
    monkeypatch.setattr(cookies_module, "_public_suffix_check", check)
    jar = CookieJar()
    set_cookies(jar, "http://www.example.com/", "a=1; Domain=example.com")
    set_cookies(jar, "http://x.foo.co.uk/", "b=1; Domain=foo.co.uk")
    assert [morsel.key for morsel in jar] == ["b"]


def test_publicsuffixlist_absent_means_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "publicsuffixlist", None)
    assert cookies_module._load_public_suffix_list() is None


def test_idna_domain_attribute(jar: CookieJar) -> None:
    url = URL("http://www.bücher.example/")
    jar.update_cookies_from_headers(["a=1; Domain=bücher.example"], url)
    assert sent(jar, "http://xn--bcher-kva.example/") == "a=1"


@pytest.fixture
def idna_labels_encoded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Record each label the stdlib's IDNA codec encodes (its punycode step is
    quadratic in a label's length), with the jar's cache of encoded domains empty."""
    labels: list[str] = []
    real = encodings.idna.ToASCII

    def counting(label: str) -> bytes:
        labels.append(label)
        return real(label)

    monkeypatch.setattr(encodings.idna, "ToASCII", counting)
    cookies_module._encode_idna.cache_clear()
    yield labels
    cookies_module._encode_idna.cache_clear()


def test_idna_domain_too_long_for_dns_is_refused_before_encoding(
    jar: CookieJar, idna_labels_encoded: list[str]
) -> None:
    """RFC 1035 §2.3.4: labels of at most 63 octets, names of at most 253 characters. 127
    Domains of 505 non-ASCII characters each stalled the loop for 1.9 seconds."""
    url = URL("http://www.example/")
    long_label = "".join(chr(0x100 + index) for index in range(64))
    long_name = ".".join(["\u00fc" * 20] * 12) + ".example"  # 12 short labels, 259 characters
    jar.update_cookies_from_headers(
        [f"a=1; Domain={long_label}.example", f"b=1; Domain={long_name}"], url
    )
    assert len(jar) == 0
    assert idna_labels_encoded == []
    # Labels split at the ideographic full stop too (RFC 3490 §3.1), as the codec splits them.
    host = URL("http://www.xn--bcher-kva.example/")
    jar.update_cookies_from_headers(["c=1; Domain=b\u00fccher\u3002example"], host)
    assert sent(jar, "http://www.xn--bcher-kva.example/") == "c=1"
    assert idna_labels_encoded == ["b\u00fccher", "example"]


def test_idna_label_of_63_characters_is_still_encoded(
    jar: CookieJar, idna_labels_encoded: list[str]
) -> None:
    label = "a" * 62 + "\u00fc"  # too long once encoded: refused by the codec, as before
    jar.update_cookies_from_headers([f"a=1; Domain={label}.example"], URL("http://x.example/"))
    assert len(jar) == 0
    assert idna_labels_encoded == [label]


def test_a_repeated_idna_domain_is_encoded_once(
    jar: CookieJar, idna_labels_encoded: list[str]
) -> None:
    url = URL("http://www.xn--bcher-kva.example/")
    headers = [f"c{index}=1; Domain=b\u00fccher.example" for index in range(5)]
    jar.update_cookies_from_headers(headers, url)
    jar.update_cookies_from_headers(headers, url)  # a redirect hop sending them again
    assert len(jar) == 5
    assert idna_labels_encoded == ["b\u00fccher", "example"]


# --- IP-address hosts ----------------------------------------------------------------


def test_ip_host_cookie_is_host_only_by_default(jar: CookieJar) -> None:
    set_cookies(jar, "http://127.0.0.1:8080/", "a=1")
    assert sent(jar, "http://127.0.0.1:9000/") == "a=1"
    assert sent(jar, "http://127.0.0.2/") == ""
    assert sent(jar, "http://0.1/") == ""


def test_ip_domain_equal_to_host_is_accepted(jar: CookieJar) -> None:
    set_cookies(jar, "http://10.0.0.1/", "a=1; Domain=10.0.0.1")
    assert sent(jar, "http://10.0.0.1/") == "a=1"


@pytest.mark.parametrize("domain", ["10.0.0.2", "0.0.1", "example.com"])
def test_ip_host_with_foreign_domain_is_refused(jar: CookieJar, domain: str) -> None:
    set_cookies(jar, "http://10.0.0.1/", f"a=1; Domain={domain}")
    assert len(jar) == 0


def test_unsafe_jar_ignores_foreign_domain_on_ip_host(clock: FakeClock) -> None:
    jar = CookieJar(unsafe=True, clock=clock)
    set_cookies(jar, "http://10.0.0.1/", "a=1; Domain=10.0.0.2")
    assert sent(jar, "http://10.0.0.1/") == "a=1"
    assert sent(jar, "http://10.0.0.2/") == ""


def test_ipv6_host(jar: CookieJar) -> None:
    set_cookies(jar, "http://[2001:db8::1]/", "a=1")
    assert sent(jar, "http://[2001:db8::1]/") == "a=1"
    assert sent(jar, "http://[2001:db8::2]/") == ""


def test_ip_is_never_domain_matched_by_a_suffix(jar: CookieJar) -> None:
    set_cookies(jar, "http://example.com/", "a=1; Domain=example.com")
    assert sent(jar, "http://1.2.3.4/") == ""


# --- paths (§5.1.4) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response_path", "expected"),
    [("", "/"), ("/", "/"), ("/a", "/"), ("/a/", "/a"), ("/a/b/c", "/a/b"), ("/a/b/", "/a/b")],
)
def test_default_path(jar: CookieJar, response_path: str, expected: str) -> None:
    jar.update_cookies_from_headers(["a=1"], URL("http://example.com").with_path(response_path))
    (morsel,) = jar
    assert morsel["path"] == expected


@pytest.mark.parametrize(
    ("request_path", "matches"),
    [
        ("/a/b", True),
        ("/a/b/", True),
        ("/a/b/c/d", True),
        ("/a/bc", False),
        ("/a", False),
        ("/", False),
        ("/A/b", False),
    ],
)
def test_path_match(jar: CookieJar, request_path: str, matches: bool) -> None:
    set_cookies(jar, "http://example.com/a/b/page", "a=1")
    assert (sent(jar, f"http://example.com{request_path}") == "a=1") is matches


@pytest.mark.parametrize(
    ("request_path", "matches"), [("/foo/", True), ("/foo/bar", True), ("/foo", False)]
)
def test_path_with_trailing_slash(jar: CookieJar, request_path: str, matches: bool) -> None:
    set_cookies(jar, "http://example.com/", "a=1; Path=/foo/")
    assert (sent(jar, f"http://example.com{request_path}") == "a=1") is matches


@pytest.mark.parametrize("attribute", ["Path=", "Path=relative/x", "path=x"])
def test_relative_or_empty_path_means_default_path(jar: CookieJar, attribute: str) -> None:
    set_cookies(jar, "http://example.com/dir/page", f"a=1; {attribute}")
    (morsel,) = jar
    assert morsel["path"] == "/dir"


def test_path_compared_in_raw_form(jar: CookieJar) -> None:
    set_cookies(jar, "http://example.com/", "a=1; Path=/a%20b")
    assert sent(jar, "http://example.com/a%20b/c") == "a=1"


def test_same_name_different_paths_are_distinct(jar: CookieJar) -> None:
    set_cookies(jar, "http://example.com/", "a=root; Path=/", "a=deep; Path=/x")
    assert len(jar) == 2
    # Only one morsel per name fits a SimpleCookie: the most specific one wins.
    assert sent(jar, "http://example.com/x/y") == "a=deep"
    assert sent(jar, "http://example.com/") == "a=root"


# --- Secure (§5.4 step 1) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "delivered"),
    [
        ("http://example.com/", False),
        ("ws://example.com/", False),
        ("https://example.com/", True),
        ("wss://example.com/", True),
    ],
)
def test_secure_only_over_secure_schemes(jar: CookieJar, url: str, delivered: bool) -> None:
    set_cookies(jar, "https://example.com/", "a=1; Secure")
    assert (sent(jar, url) == "a=1") is delivered


@pytest.mark.parametrize("host", ["localhost", "app.localhost", "127.0.0.1", "127.1.2.3", "[::1]"])
def test_loopback_hosts_are_secure_origins(jar: CookieJar, host: str) -> None:
    set_cookies(jar, f"http://{host}/", "a=1; Secure")
    assert sent(jar, f"http://{host}:8080/") == "a=1"


def test_treat_as_secure_origin(clock: FakeClock) -> None:
    jar = CookieJar(
        treat_as_secure_origin=["http://10.0.0.5:8080", URL("http://intra")], clock=clock
    )
    assert jar.treat_as_secure_origin == {URL("http://10.0.0.5:8080"), URL("http://intra")}
    set_cookies(jar, "http://10.0.0.5:8080/", "a=1; Secure")
    set_cookies(jar, "http://intra/", "b=1; Secure")
    assert sent(jar, "http://10.0.0.5:8080/x") == "a=1"
    assert sent(jar, "http://10.0.0.5:8081/x") == ""
    assert sent(jar, "http://intra/") == "b=1"


def test_treat_as_secure_origin_must_be_absolute() -> None:
    with pytest.raises(ValueError, match=r"secure origin is not an absolute URL: '/path'"):
        CookieJar(treat_as_secure_origin=["/path"])


# --- expiry (§5.2.1, §5.2.2, §5.3 step 3) ---------------------------------------------


def test_max_age_expires_with_the_clock(jar: CookieJar, clock: FakeClock) -> None:
    set_cookies(jar, "http://example.com/", "a=1; Max-Age=10")
    clock.advance(9.9)
    assert sent(jar, "http://example.com/") == "a=1"
    clock.advance(0.1)
    assert sent(jar, "http://example.com/") == ""
    assert len(jar) == 0


def test_expires_attribute(jar: CookieJar, clock: FakeClock) -> None:
    expires = formatdate(T0 + 60, usegmt=True)
    set_cookies(jar, "http://example.com/", f"a=1; Expires={expires}")
    clock.advance(59)
    assert len(jar) == 1
    clock.advance(1)
    assert len(jar) == 0


def test_max_age_overrides_expires_in_either_order(jar: CookieJar, clock: FakeClock) -> None:
    past = formatdate(T0 - 3600, usegmt=True)
    set_cookies(
        jar,
        "http://example.com/",
        f"a=1; Expires={past}; Max-Age=100",
        f"b=1; Max-Age=100; Expires={past}",
    )
    assert sent(jar, "http://example.com/") == "a=1; b=1"
    clock.advance(100)
    assert sent(jar, "http://example.com/") == ""


@pytest.mark.parametrize("max_age", ["abc", "+5", "1.5", ""])
def test_invalid_max_age_falls_back_to_expires(
    jar: CookieJar, clock: FakeClock, max_age: str
) -> None:
    expires = formatdate(T0 + 50, usegmt=True)
    set_cookies(jar, "http://example.com/", f"a=1; Max-Age={max_age}; Expires={expires}")
    clock.advance(49)
    assert len(jar) == 1
    clock.advance(1)
    assert len(jar) == 0


def test_last_max_age_wins(jar: CookieJar, clock: FakeClock) -> None:
    set_cookies(jar, "http://example.com/", "a=1; Max-Age=5; Max-Age=50; Max-Age=junk")
    clock.advance(40)
    assert len(jar) == 1


def test_invalid_attributes_leave_a_session_cookie(jar: CookieJar, clock: FakeClock) -> None:
    set_cookies(jar, "http://example.com/", "a=1; Expires=garbage; Max-Age=x; Weird=1; =2; ;")
    clock.advance(10**9)
    assert sent(jar, "http://example.com/") == "a=1"


@pytest.mark.parametrize(
    "attribute", ["Max-Age=0", "Max-Age=-1", "Expires=Thu, 01 Jan 1970 00:00:00 GMT"]
)
def test_deletion_removes_existing_cookie(jar: CookieJar, attribute: str) -> None:
    set_cookies(jar, "http://example.com/", "a=1", "b=2")
    set_cookies(jar, "http://example.com/", f"a=; {attribute}")
    assert sent(jar, "http://example.com/") == "b=2"
    assert [morsel.key for morsel in jar] == ["b"]


def test_deletion_only_hits_matching_domain_and_path(jar: CookieJar) -> None:
    set_cookies(jar, "http://example.com/", "a=1; Path=/x")
    set_cookies(jar, "http://example.com/", "a=; Max-Age=0; Path=/y")
    assert len(jar) == 1


def test_huge_max_age_does_not_overflow(jar: CookieJar, clock: FakeClock) -> None:
    set_cookies(jar, "http://example.com/", f"a=1; Max-Age={10**400}")
    clock.advance(399 * 86400)
    assert sent(jar, "http://example.com/") == "a=1"
    # A Max-Age of 5000 digits, too long for int(), given through the API: no ValueError.
    huge: Morsel[str] = Morsel()
    huge.set("b", "2", "2")
    huge["max-age"] = "9" * 5000
    jar.update_cookies({"b": huge}, URL("http://example.com/"))
    assert sent(jar, "http://example.com/") == "a=1; b=2"


@pytest.mark.parametrize(
    "header",
    [f"a=1; Max-Age={401 * 86400}", "a=1; Expires=Fri, 31 Dec 9999 23:59:59 GMT"],
)
def test_lifetimes_are_clamped_to_400_days(jar: CookieJar, clock: FakeClock, header: str) -> None:
    # RFC 6265bis §5.6.1, §5.6.2: the user agent MUST clamp to its cookie-age limit.
    set_cookies(jar, "http://example.com/", header)
    clock.advance(399 * 86400)
    assert sent(jar, "http://example.com/") == "a=1"
    clock.advance(2 * 86400)
    assert sent(jar, "http://example.com/") == ""


def test_a_non_secure_origin_cannot_set_or_touch_secure_cookies(jar: CookieJar) -> None:
    """RFC 6265bis §5.7 steps 15 and 16: a Secure cookie from http is ignored, and an
    http response cannot overwrite, shadow or delete a Secure cookie (it could)."""
    set_cookies(jar, "http://a.example/", "s=1; Secure")
    assert len(jar) == 0
    set_cookies(jar, "https://a.example/", "sid=secret; Secure; Path=/")
    set_cookies(jar, "http://a.example/", "sid=attacker; Path=/")
    set_cookies(jar, "http://sub.a.example/", "sid=attacker; Domain=a.example; Path=/app")
    set_cookies(jar, "http://a.example/", "sid=x; Max-Age=0; Path=/")
    assert sent(jar, "https://a.example/app") == "sid=secret"
    # A secure origin may replace it; other names are untouched by the rule.
    set_cookies(jar, "http://a.example/", "other=1")
    set_cookies(jar, "https://a.example/", "sid=new; Secure; Path=/")
    assert sent(jar, "https://a.example/") == "sid=new; other=1"
    # localhost counts as a secure origin (see the module docstring).
    set_cookies(jar, "http://localhost/", "s=1; Secure")
    assert sent(jar, "http://localhost/") == "s=1"


@pytest.mark.parametrize(
    ("url", "header", "stored"),
    [
        ("https://a.example/", "__Secure-x=1; Secure", True),
        ("https://a.example/", "__Secure-x=1", False),
        ("https://a.example/", "__secure-x=1", False),  # prefixes match in any case
        ("https://a.example/", "__Host-x=1; Secure; Path=/", True),
        ("https://a.example/", "__Host-x=1; Secure", False),  # no Path=/ given
        ("https://a.example/", "__Host-x=1; Secure; Path=/p", False),
        ("https://a.example/", "__Host-x=1; Secure; Path=/; Domain=a.example", False),
        ("https://a.example/", "__HOST-x=1; Path=/", False),
    ],
)
def test_cookie_name_prefixes(jar: CookieJar, url: str, header: str, stored: bool) -> None:
    # RFC 6265bis §4.1.3: what the prefixes promise the server, the jar must check.
    set_cookies(jar, url, header)
    assert len(jar) == (1 if stored else 0)


def test_replacement_without_expiry_becomes_session_cookie(
    jar: CookieJar, clock: FakeClock
) -> None:
    set_cookies(jar, "http://example.com/", "a=1; Max-Age=10")
    set_cookies(jar, "http://example.com/", "a=2")
    clock.advance(100)
    assert sent(jar, "http://example.com/") == "a=2"


def test_morsel_max_age_and_expires_via_update_cookies(jar: CookieJar, clock: FakeClock) -> None:
    cookie: SimpleCookie = SimpleCookie()
    cookie["a"] = "1"
    cookie["a"]["max-age"] = 5
    cookie["b"] = "2"
    cookie["b"]["expires"] = 7  # Morsel's meaning: seconds from now
    jar.update_cookies(cookie, URL("http://example.com/"))
    clock.advance(5)
    assert sent(jar, "http://example.com/") == "b=2"
    clock.advance(2)
    assert sent(jar, "http://example.com/") == ""


# --- parse_cookie_date (§5.1.1) -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Wed, 09 Jun 2021 10:18:14 GMT", (2021, 6, 9, 10, 18, 14)),
        ("Wednesday, 09-Jun-21 10:18:14 GMT", (2021, 6, 9, 10, 18, 14)),
        ("Sun Nov  6 08:49:37 1994", (1994, 11, 6, 8, 49, 37)),
        ("Sun, 06 Nov 1994 08:49:37 GMT", (1994, 11, 6, 8, 49, 37)),
        ("06-nov-94 8:9:7", (1994, 11, 6, 8, 9, 7)),
        ("1 JANUARY 70 00:00:00", (1970, 1, 1, 0, 0, 0)),
        ("1 jan 69 00:00:00", (2069, 1, 1, 0, 0, 0)),
        ("29 Feb 2024 23:59:59", (2024, 2, 29, 23, 59, 59)),
        ("31 Dec 9999 23:59:59 GMT", (9999, 12, 31, 23, 59, 59)),
        ("10:00:00am 5th May 2030", (2030, 5, 5, 10, 0, 0)),
    ],
)
def test_parse_cookie_date(text: str, expected: tuple[int, ...]) -> None:
    assert parse_cookie_date(text) == calendar.timegm((*expected, 0, 0, 0))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        "09 Jun 2021",  # no time
        "Jun 2021 10:18:14",  # no day
        "09 2021 10:18:14",  # no month
        "09 Jun 10:18:14",  # no year
        "30 Feb 2021 10:00:00",
        "32 Jan 2021 10:00:00",
        "00 Jan 2021 10:00:00",
        "1 Jan 2021 24:00:00",
        "1 Jan 2021 10:60:00",
        "1 Jan 2021 10:00:60",
        "1 Jan 1600 10:00:00",
        "1 Jan 12345 10:00:00",
    ],
)
def test_parse_cookie_date_rejects(text: str) -> None:
    assert parse_cookie_date(text) is None


@given(st.integers(min_value=-11644473600, max_value=253402300799))
def test_parse_cookie_date_round_trips_http_dates(timestamp: int) -> None:
    assert parse_cookie_date(formatdate(timestamp, usegmt=True)) == timestamp


# --- parse_set_cookie (§5.2) ----------------------------------------------------------


def test_parse_set_cookie_attributes_case_insensitive() -> None:
    morsel = parse_set_cookie(
        " SID = abc ; PATH=/x; DOMAIN=Example.COM; SECURE; HttpOnly; MAX-AGE=5; "
        "EXPIRES=Wed, 09 Jun 2021 10:18:14 GMT; SameSite=Lax"
    )
    assert morsel is not None
    assert (morsel.key, morsel.value, morsel.coded_value) == ("SID", "abc", "abc")
    assert morsel["path"] == "/x"
    assert morsel["domain"] == "Example.COM"
    assert morsel["secure"] is True
    assert morsel["httponly"] is True
    assert morsel["max-age"] == "5"
    assert morsel["expires"] == "Wed, 09 Jun 2021 10:18:14 GMT"
    assert morsel["samesite"] == "Lax"


def test_parse_set_cookie_ignores_attribute_values_over_1024_bytes() -> None:
    """RFC 6265bis §5.6: a server cannot make a stored cookie large through attributes."""
    long_path, long_domain = "/" + "p" * 1024, "d" * 1021 + ".com"
    morsel = parse_set_cookie(
        f"a=b; Path={long_path}; Domain={long_domain}; SameSite={'x' * 2000}; Path=/ok"
    )
    assert morsel is not None
    assert (morsel["path"], morsel["domain"], morsel["samesite"]) == ("/ok", "", "")
    at_limit = parse_set_cookie(f"a=b; Path=/{'p' * 1023}")
    assert at_limit is not None
    assert at_limit["path"] == "/" + "p" * 1023


@pytest.mark.parametrize("header", ["novalue", "", "=value", " =value", "a=b\x00c", "a\x7f=b"])
def test_parse_set_cookie_ignores_non_cookies(header: str) -> None:
    assert parse_set_cookie(header) is None


@pytest.mark.parametrize(
    ("header", "name", "value", "coded"),
    [
        ("a[0]=1", "a[0]", "1", "1"),
        ("a b=c d", "a b", "c d", "c d"),
        ("path=1", "path", "1", "1"),  # a reserved attribute name is still a cookie name
        ("a=", "a", "", ""),
        ("a==b=", "a", "=b=", "=b="),
        ('a="x y"', "a", "x y", '"x y"'),
        ('a="\\"q\\""', "a", '"q"', '"\\"q\\""'),
        ("a=b,c", "a", "b,c", "b,c"),
        ("a=\u00e9", "a", "\u00e9", "\u00e9"),
    ],
)
def test_parse_set_cookie_names_and_values(header: str, name: str, value: str, coded: str) -> None:
    morsel = parse_set_cookie(header)
    assert morsel is not None
    assert (morsel.key, morsel.value, morsel.coded_value) == (name, value, coded)


def test_tolerant_parser_keeps_what_simplecookie_drops(jar: CookieJar) -> None:
    assert "a[0]" not in SimpleCookie("a[0]=1")
    set_cookies(jar, "http://example.com/", "a[0]=1", "b=2; Weird")
    assert sent(jar, "http://example.com/") == "a[0]=1; b=2"


@given(st.text(alphabet='\\"0123478a\n\t\u00e9;', max_size=24))
def test_quoted_values_decode_as_simplecookie_decodes_them(inner: str) -> None:
    quoted = f'"{inner}"'
    assert cookies_module._unquote_value(quoted) == http.cookies._unquote(quoted)


def test_quoted_values_are_decoded_without_the_stdlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the fix for CVE-2024-7592 (Python 3.11.7 has none), the stdlib's decoder is
    quadratic in the number of backslashes: 31 fields of 8 KB stalled the loop 2.6 s."""

    def refuse(value: str) -> str:
        raise AssertionError("http.cookies._unquote was called")

    monkeypatch.setattr(http.cookies, "_unquote", refuse)
    morsel = parse_set_cookie('a="x\\"y\\\\z\\012\\q"')
    assert morsel is not None
    assert morsel.value == 'x"y\\z\nq'


def test_set_cookie_over_4096_bytes_is_ignored_before_unquoting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """RFC 6265bis §5.6: name and value over 4096 octets together ignore the whole field,
    before the value is decoded (so resp.cookies shows no such cookie either)."""
    decoded: list[str] = []
    real = cookies_module._unquote_value

    def counting(raw: str) -> str:
        decoded.append(raw)
        return real(raw)

    monkeypatch.setattr(cookies_module, "_unquote_value", counting)
    over = 'a="' + "\\\\" * 2047 + '"'  # 1 + 4096 bytes
    assert parse_set_cookie(over) is None
    assert parse_set_cookie("a=" + "\u00e9" * 2048) is None  # 4097 bytes in UTF-8
    assert decoded == []
    at_limit = parse_set_cookie(' ab = "' + "\\\\" * 2046 + '" ; Path=/')  # 2 + 4094 bytes
    assert at_limit is not None
    assert at_limit.value == "\\" * 2046
    assert decoded == ['"' + "\\\\" * 2046 + '"']
    fits = parse_set_cookie("\u00e9=" + "\u00e9" * 2047)  # 2 + 4094 bytes
    assert fits is not None
    assert fits.value == "\u00e9" * 2047


@given(st.text())
def test_parse_set_cookie_never_raises(header: str) -> None:
    morsel = parse_set_cookie(header)
    if morsel is not None:
        assert morsel.key


# --- ordering (§5.4 step 2) -----------------------------------------------------------


def test_longest_path_first_then_oldest(jar: CookieJar, clock: FakeClock) -> None:
    set_cookies(jar, "http://example.com/", "late=1; Path=/")
    clock.now -= 100  # creation order is by time, not by arrival
    set_cookies(jar, "http://example.com/", "early=1; Path=/")
    clock.now += 200
    set_cookies(jar, "http://example.com/", "deep=1; Path=/a/b", "mid=1; Path=/a")
    assert sent(jar, "http://example.com/a/b/c") == "deep=1; mid=1; early=1; late=1"


def test_same_time_keeps_arrival_order(jar: CookieJar) -> None:
    set_cookies(jar, "http://example.com/", "z=1", "a=1", "m=1")
    assert sent(jar, "http://example.com/") == "z=1; a=1; m=1"


def test_replacement_keeps_creation_time(jar: CookieJar, clock: FakeClock) -> None:
    set_cookies(jar, "http://example.com/", "a=1", "b=1")
    clock.advance(10)
    set_cookies(jar, "http://example.com/", "a=2")
    assert sent(jar, "http://example.com/") == "a=2; b=1"


def test_host_only_and_domain_cookie_share_identity(jar: CookieJar) -> None:
    set_cookies(jar, "http://example.com/", "a=1")
    set_cookies(jar, "http://example.com/", "a=2; Domain=example.com")
    assert len(jar) == 1
    assert sent(jar, "http://www.example.com/") == "a=2"


# --- limits (§6.1) -------------------------------------------------------------------


def test_cookie_size_limit(jar: CookieJar) -> None:
    name = "n"
    fits = "v" * (MAX_COOKIE_BYTES - len(name))
    set_cookies(jar, "http://example.com/", f"{name}={fits}", f"big={fits}")
    assert [morsel.key for morsel in jar] == ["n"]
    jar.update_cookies({"u": "\u00e9" * 2048}, URL("http://example.com/"))  # 4097 bytes
    assert len(jar) == 1


def test_per_domain_limit_evicts_least_recently_used(jar: CookieJar, clock: FakeClock) -> None:
    for index in range(MAX_COOKIES_PER_DOMAIN):
        clock.advance(1)
        set_cookies(jar, "http://example.com/", f"c{index}=1; Path=/p{index}")
    # Reading c0 makes c1 the least recently used cookie.
    assert sent(jar, "http://example.com/p0") == "c0=1"
    set_cookies(jar, "http://example.com/", "new=1")
    names = {morsel.key for morsel in jar}
    assert len(names) == MAX_COOKIES_PER_DOMAIN
    assert "new" in names
    assert "c0" in names
    assert "c1" not in names
    set_cookies(jar, "http://other.example/", "x=1")
    assert len(jar) == MAX_COOKIES_PER_DOMAIN + 1


def test_per_domain_limit_prefers_evicting_expired(jar: CookieJar, clock: FakeClock) -> None:
    for index in range(MAX_COOKIES_PER_DOMAIN - 1):
        set_cookies(jar, "http://example.com/", f"c{index}=1")
    clock.advance(1)
    set_cookies(jar, "http://example.com/", "short=1; Max-Age=5")  # the newest cookie
    clock.advance(10)
    set_cookies(jar, "http://example.com/", "new=1")
    assert "c0" in {morsel.key for morsel in jar}
    assert len(jar) == MAX_COOKIES_PER_DOMAIN


def test_replacing_in_a_full_domain_evicts_nothing(jar: CookieJar) -> None:
    for index in range(MAX_COOKIES_PER_DOMAIN):
        set_cookies(jar, "http://example.com/", f"c{index}=1")
    set_cookies(jar, "http://example.com/", "c0=2")
    assert len(jar) == MAX_COOKIES_PER_DOMAIN
    set_cookies(jar, "http://example.com/", "c1=; Max-Age=0")
    assert len(jar) == MAX_COOKIES_PER_DOMAIN - 1


def test_total_limit_evicts_oldest(jar: CookieJar, clock: FakeClock) -> None:
    domains = MAX_COOKIES_TOTAL // MAX_COOKIES_PER_DOMAIN
    for domain in range(domains):
        clock.advance(1)
        jar.update_cookies(
            {f"c{index}": "1" for index in range(MAX_COOKIES_PER_DOMAIN)},
            URL(f"http://d{domain}.example/"),
        )
    assert len(jar) == MAX_COOKIES_TOTAL
    set_cookies(jar, "http://fresh.example/", "new=1")
    assert len(jar) == MAX_COOKIES_TOTAL
    assert sent(jar, "http://fresh.example/") == "new=1"
    assert sent(jar, "http://d0.example/").count("=") == MAX_COOKIES_PER_DOMAIN - 1
    assert "c0=1" not in sent(jar, "http://d0.example/").split("; ")


def test_total_limit_evicts_least_recently_used(
    monkeypatch: pytest.MonkeyPatch, jar: CookieJar, clock: FakeClock
) -> None:
    """§5.3 step 12 with reads, a replacement and a deletion between the evictions."""
    monkeypatch.setattr(cookies_module, "MAX_COOKIES_TOTAL", 4)
    for name in "abcd":
        clock.advance(1)
        set_cookies(jar, f"http://{name}.example/", f"{name}=1")
    assert sent(jar, "http://a.example/") == "a=1"  # a read: a is now newer than c and d
    sent(jar, "http://unrelated.example/")
    set_cookies(jar, "http://b.example/", "b=2")  # replaced after both reads: newer than a
    set_cookies(jar, "http://c.example/", "c=; Max-Age=0")  # deleted: room for e
    for name in "efg":
        clock.advance(1)
        set_cookies(jar, f"http://{name}.example/", f"{name}=1")
    # f evicted d (never read), then g evicted a (read before b was replaced).
    assert sorted(morsel.key for morsel in jar) == ["b", "e", "f", "g"]
    assert sent(jar, "http://b.example/") == "b=2"


def test_replacing_a_cookie_moves_its_expiry(jar: CookieJar, clock: FakeClock) -> None:
    set_cookies(jar, "http://example.com/", "a=1; Max-Age=5", "b=1; Max-Age=100")
    set_cookies(jar, "http://example.com/", "a=2; Max-Age=100", "b=2; Max-Age=5")
    clock.advance(10)
    assert sent(jar, "http://example.com/") == "a=2"
    assert len(jar) == 1


def test_a_loaded_jar_expires_and_evicts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path, clock: FakeClock
) -> None:
    monkeypatch.setattr(cookies_module, "MAX_COOKIES_TOTAL", 3)
    source = CookieJar(clock=clock)
    for name, max_age in (("a", 99), ("b", 10), ("c", 99)):
        clock.advance(1)
        set_cookies(source, f"http://{name}.example/", f"{name}=1; Max-Age={max_age}")
    source.save(tmp_path / "jar.json")
    jar = CookieJar(clock=clock)
    jar.load(tmp_path / "jar.json")
    clock.advance(20)
    assert sorted(morsel.key for morsel in jar) == ["a", "c"]  # b expired
    set_cookies(jar, "http://d.example/", "d=1")
    set_cookies(jar, "http://e.example/", "e=1")  # full: a, the oldest, goes
    assert sorted(morsel.key for morsel in jar) == ["c", "d", "e"]


def test_nan_expires_makes_a_session_cookie(tmp_path: pathlib.Path, jar: CookieJar) -> None:
    """A NaN never compared as expired, and save() wrote a file load() refused."""
    morsel: Morsel[str] = Morsel()
    morsel.set("a", "1", "1")
    morsel["expires"] = float("nan")
    jar.update_cookies([("a", morsel)], URL("http://example.com/"))
    jar.save(tmp_path / "jar.json")
    jar.load(tmp_path / "jar.json")
    assert sent(jar, "http://example.com/") == "a=1"


# --- shared (user-supplied) cookies --------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://example.com/", "https://other.org/deep/path", "http://127.0.0.1:1/", ""]
)
def test_shared_cookies_go_everywhere(jar: CookieJar, url: str) -> None:
    jar.update_cookies({"token": "abc"})
    assert sent(jar, url) == "token=abc"
    (morsel,) = jar
    assert morsel["domain"] == ""
    assert morsel["path"] == "/"


def test_shared_cookies_from_pairs_and_morsels(jar: CookieJar) -> None:
    cookie: SimpleCookie = SimpleCookie()
    cookie["m"] = "1"
    cookie["m"]["domain"] = "example.com"
    cookie["m"]["path"] = "/api"
    jar.update_cookies([("p", "2"), ("m", cookie["m"])])
    assert sent(jar, "http://www.example.com/api/x") == "m=1; p=2"
    assert sent(jar, "http://other.com/api/x") == "p=2"
    assert cookie["m"]["domain"] == "example.com"  # the caller's morsel is untouched


def test_update_cookies_copies_morsels(jar: CookieJar) -> None:
    cookie: SimpleCookie = SimpleCookie("a=1")
    jar.update_cookies(cookie, URL("http://example.com/"))
    cookie["a"].set("a", "changed", "changed")
    assert sent(jar, "http://example.com/") == "a=1"


@pytest.mark.parametrize(
    "cookies",
    [{"a": "x\r\ny"}, {"a;b": "1"}, {"a=b": "1"}, {"": "1"}, {" ": "1"}, {"a\n": "1"}],
)
def test_unsendable_cookies_are_refused(jar: CookieJar, cookies: dict[str, str]) -> None:
    jar.update_cookies(cookies, URL("http://example.com/"))
    assert len(jar) == 0


def test_update_cookies_from_simplecookie_response(jar: CookieJar) -> None:
    jar.update_cookies(
        SimpleCookie("a=1; Domain=example.com; Path=/x"), URL("http://www.example.com/")
    )
    assert sent(jar, "http://example.com/x") == "a=1"


# --- quoting -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quote", "expected"),
    [
        # SimpleCookie escapes Latin-1 octets as octal: a server's raw value is re-quoted.
        (True, 'a="b c"; q="xyz"; e="\\351"'),
        (False, "a=b c; q=xyz; e=\u00e9"),
    ],
)
def test_quote_cookie(clock: FakeClock, quote: bool, expected: str) -> None:
    jar = CookieJar(quote_cookie=quote, clock=clock)
    jar.update_cookies({"a": "b c"}, URL("http://example.com/"))
    set_cookies(jar, "http://example.com/", 'q="xyz"', "e=\u00e9")
    assert sent(jar, "http://example.com/") == expected


def test_quoting_matches_simplecookie(jar: CookieJar) -> None:
    value = 'has space;semi"quote\\slash'
    jar.update_cookies({"a": value}, URL("http://example.com/"))
    expected: SimpleCookie = SimpleCookie()
    expected["a"] = value
    assert (
        jar.filter_cookies(URL("http://example.com/"))["a"].coded_value == expected["a"].coded_value
    )


def test_filtered_morsels_are_bare(jar: CookieJar) -> None:
    set_cookies(jar, "https://example.com/", "a=1; Domain=example.com; Path=/; Secure")
    filtered = jar.filter_cookies(URL("https://example.com/"))
    assert isinstance(filtered, SimpleCookie)
    assert filtered.output(header="", sep=";").strip() == "a=1"


# --- iteration, clearing -------------------------------------------------------------


def test_iteration_yields_stored_morsels(jar: CookieJar) -> None:
    set_cookies(jar, "https://www.example.com/a/b", "a=1; Secure; HttpOnly; SameSite=Strict")
    (morsel,) = jar
    assert isinstance(morsel, Morsel)
    assert morsel["domain"] == "www.example.com"
    assert morsel["path"] == "/a"
    assert morsel["secure"] is True
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Strict"


def test_clear_all_and_by_predicate(jar: CookieJar) -> None:
    set_cookies(jar, "http://example.com/", "a=1", "b=2", "c=3")
    jar.clear(lambda morsel: morsel.key == "b")
    assert sent(jar, "http://example.com/") == "a=1; c=3"
    jar.clear()
    assert len(jar) == 0
    set_cookies(jar, "http://example.com/", "d=4")
    assert sent(jar, "http://example.com/") == "d=4"


def test_clear_domain(jar: CookieJar) -> None:
    set_cookies(jar, "http://example.com/", "a=1")
    set_cookies(jar, "http://sub.example.com/", "b=1")
    set_cookies(jar, "http://www.example.com/", "c=1; Domain=example.com")
    set_cookies(jar, "http://notexample.com/", "d=1")
    set_cookies(jar, "http://example.org/", "e=1")
    jar.clear_domain(".Example.com")
    assert sorted(morsel.key for morsel in jar) == ["d", "e"]


def test_clear_domain_never_suffix_matches_ip_addresses(jar: CookieJar) -> None:
    set_cookies(jar, "http://10.0.0.1/", "a=1")
    jar.clear_domain("0.0.1")
    assert len(jar) == 1
    jar.clear_domain("10.0.0.1")
    assert len(jar) == 0


# --- save and load -------------------------------------------------------------------


def test_save_load_round_trip(tmp_path: pathlib.Path, clock: FakeClock) -> None:
    jar = CookieJar(clock=clock)
    set_cookies(
        jar,
        "https://www.example.com/dir/page",
        "host=1; Secure; HttpOnly; SameSite=Lax",
        "dom=2; Domain=example.com; Path=/; Max-Age=100",
        'quoted="a b"',
    )
    jar.update_cookies({"shared": "3"})
    clock.advance(1)
    set_cookies(jar, "https://www.example.com/", "later=4; Path=/dir")
    path = tmp_path / "jar.json"
    jar.save(path)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["version"] == 1

    loaded = CookieJar(clock=clock)
    loaded.load(str(path))
    for url in [
        "https://www.example.com/dir/x",
        "http://www.example.com/dir/x",
        "https://sub.www.example.com/dir/x",
        "https://example.com/dir/",
        "http://elsewhere/",
    ]:
        assert sent(loaded, url) == sent(jar, url), url
    by_name = {morsel.key: morsel for morsel in loaded}
    assert by_name["host"]["httponly"] is True
    assert by_name["host"]["samesite"] == "Lax"
    assert by_name["dom"]["domain"] == "example.com"
    assert by_name["dom"]["expires"] == formatdate(T0 + 100, usegmt=True)
    assert by_name["quoted"].value == "a b"
    clock.advance(100)
    assert "dom" not in {morsel.key for morsel in loaded}


def test_load_replaces_contents(tmp_path: pathlib.Path, jar: CookieJar) -> None:
    path = tmp_path / "empty.json"
    CookieJar().save(path)
    set_cookies(jar, "http://example.com/", "a=1")
    jar.load(path)
    assert len(jar) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[]", "not a version 1 cookie jar"),
        ('{"version": 2, "cookies": []}', "not a version 1 cookie jar"),
        ('{"version": 1}', "cookie jar has no list of cookies"),
        ('{"version": 1, "cookies": [1]}', "cookie 0 is not an object: 1"),
        ('{"version": 1, "cookies": [{"name": 5}]}', "cookie 0 has an invalid 'name': 5"),
    ],
)
def test_load_rejects_bad_files(
    tmp_path: pathlib.Path, jar: CookieJar, content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        jar.load(path)


def test_load_rejects_infinite_expiry(tmp_path: pathlib.Path, jar: CookieJar) -> None:
    path = tmp_path / "jar.json"
    source = CookieJar()
    source.update_cookies({"a": "1"})
    source.save(path)
    document = json.loads(path.read_text(encoding="utf-8"))
    document["cookies"][0]["expires"] = float("inf")
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ValueError, match="cookie 0 has an invalid 'expires': inf"):
        jar.load(path)


def test_load_rejects_pickle(tmp_path: pathlib.Path, jar: CookieJar) -> None:
    path = tmp_path / "jar.pickle"
    path.write_bytes(b"\x80\x04\x95\x00")
    with pytest.raises(ValueError):
        jar.load(path)


# --- DummyCookieJar and cookie_header_value ---------------------------------------------


def test_dummy_jar_stores_nothing() -> None:
    jar = DummyCookieJar()
    jar.update_cookies({"a": "1"})
    jar.update_cookies_from_headers(["b=2"], URL("http://example.com/"))
    jar.clear()
    jar.clear_domain("example.com")
    assert len(jar) == 0
    assert list(jar) == []
    assert isinstance(jar.filter_cookies(URL("http://example.com/")), SimpleCookie)
    assert not jar.filter_cookies(URL("http://example.com/"))
    assert jar.unsafe is False
    assert jar.quote_cookie is True


def test_cookie_header_value() -> None:
    assert cookie_header_value(SimpleCookie()) == ""
    assert cookie_header_value(SimpleCookie('a=1; b="x y"')) == 'a=1; b="x y"'


# --- aiohttp as an oracle ------------------------------------------------------------


@pytest.mark.parametrize(
    ("response_url", "headers", "request_urls"),
    [
        (
            "http://www.example.com/dir/page",
            # (No Secure cookie from http: aiohttp keeps it, RFC 6265bis §5.7 does not.)
            ["a=1", "b=2; Domain=example.com", "c=3; Path=/", "d=4; Path=/other"],
            [
                "http://www.example.com/dir/x",
                "https://www.example.com/dir/x",
                "http://example.com/",
                "http://a.www.example.com/dir",
                "http://www.example.com/",
                "http://www.example.com/other/y",
            ],
        ),
        (
            "https://shop.example.org/",
            [
                "x=1; Domain=shop.example.org",
                "y=2; Domain=evil.com",
                "z=3; Max-Age=0",
                "s=4; Secure",
            ],
            [
                "https://shop.example.org/",
                "http://shop.example.org/",
                "https://a.shop.example.org/",
                "https://evil.com/",
            ],
        ),
    ],
)
def test_agrees_with_aiohttp(
    response_url: str, headers: list[str], request_urls: list[str]
) -> None:
    aiohttp = pytest.importorskip("aiohttp")
    loop = asyncio.new_event_loop()
    try:
        oracle = aiohttp.CookieJar(loop=loop)
        for header in headers:
            oracle.update_cookies(SimpleCookie(header), URL(response_url))
        ours = CookieJar()
        ours.update_cookies_from_headers(headers, URL(response_url))
        for url in request_urls:
            theirs = sorted(oracle.filter_cookies(URL(url)).keys())
            assert sorted(ours.filter_cookies(URL(url)).keys()) == theirs, url
    finally:
        loop.close()


def test_dummy_jar_has_no_secure_origins() -> None:
    assert DummyCookieJar().treat_as_secure_origin == frozenset()


def test_unencodable_idna_domain_is_refused(jar: CookieJar) -> None:
    jar.update_cookies_from_headers(["a=1; Domain=" + "\u00fc" * 64 + ".example"], URL("http://x/"))
    assert len(jar) == 0


def test_headers_without_cookies_store_nothing(jar: CookieJar) -> None:
    set_cookies(jar, "http://example.com/", "novalue", "=x")
    assert len(jar) == 0


def test_load_collapses_duplicate_records(tmp_path: pathlib.Path, jar: CookieJar) -> None:
    path = tmp_path / "jar.json"
    source = CookieJar()
    source.update_cookies({"a": "1"})
    source.save(path)
    document = json.loads(path.read_text(encoding="utf-8"))
    second = {**document["cookies"][0], "value": "2", "coded_value": "2", "created": 1e9 + 1}
    document["cookies"] = [{**document["cookies"][0], "created": 1e9}, second]
    path.write_text(json.dumps(document), encoding="utf-8")
    jar.load(path)
    assert len(jar) == 1
    assert sent(jar, "http://example.com/") == "a=2"


def test_a_quoted_separator_is_never_sent_bare(clock: FakeClock) -> None:
    """With quote_cookie=False the unquoted value went out as is: a "\\073" in a quoted
    value became a ";" and the server read a second cookie a subdomain may not set."""
    jar = CookieJar(clock=clock, quote_cookie=False)
    set_cookies(jar, "http://sub.a.example/", 'a="x\\073 __Host-sid=evil"; Domain=a.example')
    assert sent(jar, "http://a.example/") == 'a="x\\073 __Host-sid=evil"'
    jar.update_cookies({"b": "p;q"})  # set through the API: quoted too
    assert sent(jar, "http://a.example/") == 'a="x\\073 __Host-sid=evil"; b="p\\073q"'
    set_cookies(jar, "http://a.example/", "c=plain value")
    assert sent(jar, "http://a.example/").endswith("; c=plain value")  # unquoted as asked


def test_set_cookie_text_is_utf8_else_latin1() -> None:
    assert set_cookie_text("u=é€".encode()) == "u=é€"
    assert set_cookie_text(b"u=\xe9") == "u=\u00e9"  # not UTF-8: a character per byte


# --- work that does not grow with the jar ---------------------------------------------


@pytest.fixture
def cookies_read(monkeypatch: pytest.MonkeyPatch) -> dict[int, object]:
    """The stored cookies the jar reads anything of, by id (a test clears it before the
    step it measures): a count that grows with the jar means a walk over the jar."""
    read: dict[int, object] = {}

    class Watched(cookies_module._StoredCookie):
        __slots__ = ()

        def __getattribute__(self, name: str) -> Any:
            read[id(self)] = self  # kept alive, so that no id is reused
            return super().__getattribute__(name)

    monkeypatch.setattr(cookies_module, "_StoredCookie", Watched)
    return read


def test_a_request_reads_only_matching_and_expired_cookies(
    clock: FakeClock, cookies_read: dict[int, object]
) -> None:
    """filter_cookies() swept the whole jar for expired cookies on every request: 68 µs
    per request with 3000 cookies, for a host that had none."""

    def reads_per_request(others: int) -> list[int]:
        jar = CookieJar(clock=clock)
        set_cookies(jar, "http://mine.example/", "a=1", "b=1; Max-Age=600")
        for index in range(others):
            set_cookies(jar, f"http://h{index}.example/", "c=1; Max-Age=600", "d=1")
        set_cookies(jar, "http://brief.example/", "e=1; Max-Age=5", "f=1; Max-Age=5")
        counts = []
        for url in ("http://unrelated.example/", "http://mine.example/"):
            cookies_read.clear()
            sent(jar, url)
            counts.append(len(cookies_read))
        clock.advance(10)
        cookies_read.clear()
        assert sent(jar, "http://brief.example/") == ""
        counts.append(len(cookies_read))
        return counts

    assert reads_per_request(10) == reads_per_request(40) == [0, 2, 2]


def test_storing_into_a_full_jar_reads_few_cookies(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock, cookies_read: dict[int, object]
) -> None:
    """Each new cookie in a full jar scanned all of it for the least recently used one:
    127 ms to store one response's 128 cookies in a jar of 3000."""

    def reads_to_store_one(total: int) -> int:
        monkeypatch.setattr(cookies_module, "MAX_COOKIES_TOTAL", total)
        jar = CookieJar(clock=clock)
        for index in range(total):
            set_cookies(jar, f"http://h{index}.example/", "c=1; Max-Age=600")
        sent(jar, "http://h0.example/")  # h1's cookie is now the least recently used
        cookies_read.clear()
        set_cookies(jar, "http://new.example/", "c=1")
        reads = len(cookies_read)
        assert len(jar) == total
        assert sent(jar, "http://h1.example/") == ""
        assert sent(jar, "http://h0.example/") == "c=1"
        return reads

    assert reads_to_store_one(20) == reads_to_store_one(80) <= 3


def test_the_secure_shadow_check_looks_only_at_secure_cookies_of_the_name(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    """RFC 6265bis §5.7 step 16 walked every stored domain for each cookie an http
    origin set: 127 ms for one response of 128 cookies into a jar of 3000 domains."""
    matches: list[tuple[str, str]] = []
    real = cookies_module._domain_match

    def counting(host: str, domain: str) -> bool:
        matches.append((host, domain))
        return real(host, domain)

    monkeypatch.setattr(cookies_module, "_domain_match", counting)

    def domain_matches_to_store_one(domains: int) -> int:
        jar = CookieJar(clock=clock)
        for index in range(domains):
            set_cookies(jar, f"https://h{index}.example.com/", f"s{index}=1; Secure")
        matches.clear()
        set_cookies(jar, "http://example.com/", "x=1; Domain=example.com")
        count = len(matches)
        set_cookies(jar, "http://example.com/", "s3=evil; Domain=example.com")
        assert sent(jar, "https://h3.example.com/") == "s3=1; x=1"  # still shadowed
        return count

    assert domain_matches_to_store_one(10) == domain_matches_to_store_one(40)
