"""Proxy selection from the environment, NO_PROXY matching, and what the proxy is sent."""

from __future__ import annotations

import pytest
from yarl import URL

from hyperclient import BasicAuth, InvalidURL
from hyperclient.errors import LocalProtocolError
from hyperclient.proxy import (
    absolute_target,
    connect_request,
    is_bypassed,
    proxy_for,
    proxy_headers,
    split_credentials,
    uses_absolute_form,
)
from hyperclient.values import ConnectionKey

# -- choosing from the environment ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://example.com/", "http://h:1"),
        ("https://example.com/", "http://s:2"),
        ("ws://example.com/", "http://w:3"),
        ("wss://example.com/", "http://ws:4"),
    ],
)
def test_each_scheme_has_its_variable(url: str, expected: str) -> None:
    env = {
        "http_proxy": "http://h:1",
        "https_proxy": "http://s:2",
        "ws_proxy": "http://w:3",
        "wss_proxy": "http://ws:4",
    }
    assert proxy_for(URL(url), env) == URL(expected)


def test_websocket_falls_back_to_http_and_https_then_all() -> None:
    env = {"http_proxy": "http://h:1", "https_proxy": "http://s:2"}
    assert proxy_for(URL("ws://a/"), env) == URL("http://h:1")
    assert proxy_for(URL("wss://a/"), env) == URL("http://s:2")
    assert proxy_for(URL("https://a/"), {"ALL_PROXY": "socks5h://s:1080"}) == URL(
        "socks5h://s:1080"
    )
    assert proxy_for(URL("https://a/"), {}) is None


def test_lower_case_wins_and_a_bare_host_is_an_http_proxy() -> None:
    env = {"http_proxy": "lower:3128", "HTTP_PROXY": "http://upper:3128"}
    assert proxy_for(URL("http://a/"), env) == URL("http://lower:3128")
    assert proxy_for(URL("http://a/"), {"HTTP_PROXY": "http://upper:1"}) == URL("http://upper:1")
    assert proxy_for(URL("http://a/"), {"http_proxy": "  "}) is None


def test_httpoxy_upper_case_http_proxy_is_ignored_under_cgi() -> None:
    # CVE-2016-5385: a CGI server turns a request's "Proxy:" header into HTTP_PROXY.
    env = {"HTTP_PROXY": "http://attacker:1", "REQUEST_METHOD": "GET"}
    assert proxy_for(URL("http://a/"), env) is None
    env["http_proxy"] = "http://admin:1"
    assert proxy_for(URL("http://a/"), env) == URL("http://admin:1")
    env = {"HTTPS_PROXY": "http://s:1", "REQUEST_METHOD": "GET"}
    assert proxy_for(URL("https://a/"), env) == URL("http://s:1")


def test_no_proxy_in_either_case_bypasses() -> None:
    env = {"http_proxy": "http://p:1", "NO_PROXY": "example.com"}
    assert proxy_for(URL("http://www.example.com/"), env) is None
    assert proxy_for(URL("http://other.org/"), env) == URL("http://p:1")
    env["no_proxy"] = ""  # lower case wins, even empty
    assert proxy_for(URL("http://www.example.com/"), env) == URL("http://p:1")


def test_environment_proxy_with_a_bad_scheme() -> None:
    with pytest.raises(InvalidURL, match="unsupported proxy scheme 'ftp'"):
        proxy_for(URL("http://a/"), {"http_proxy": "ftp://p:1"})


# -- NO_PROXY ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "port", "no_proxy", "bypassed"),
    [
        ("example.com", 80, "example.com", True),
        ("www.example.com", 80, "example.com", True),
        ("www.example.com", 80, ".example.com", True),
        ("example.com", 80, ".example.com", True),
        ("notexample.com", 80, "example.com", False),
        ("EXAMPLE.com.", 80, "Example.COM", True),
        ("anything", 80, "*", True),
        ("a.test", 80, "x.test, y.test  a.test", True),
        ("a.test", 80, "", False),
        ("a.test", 8080, "a.test:8080", True),
        ("a.test", 80, "a.test:8080", False),
        ("10.1.2.3", 80, "10.0.0.0/8", True),
        ("11.1.2.3", 80, "10.0.0.0/8", False),
        ("10.1.2.3", 80, "10.1.2.3", True),
        ("10.1.2.3", 80, "10.1.2.3:81", False),
        ("::1", 80, "::1", True),
        ("::1", 80, "[::1]", True),
        ("::1", 80, "[::1]:80", True),
        ("::1", 80, "[::1]:81", False),
        ("fd00::5", 80, "fd00::/8", True),
        ("10.1.2.3", 80, "::/0", False),
        ("10.1.2.3", 80, "example.com", False),
        ("localhost", 80, "127.0.0.0/8", False),
    ],
)
def test_no_proxy_matching(host: str, port: int, no_proxy: str, bypassed: bool) -> None:
    assert is_bypassed(host, port, no_proxy) is bypassed


# -- credentials and what is sent ----------------------------------------------------------------


def test_credentials_move_out_of_the_url_and_the_port_is_explicit() -> None:
    proxy, auth = split_credentials(URL("http://us%40er:p%3Ass@p.example"), None)
    assert proxy == URL("http://p.example:80")
    assert proxy.raw_user is None
    assert auth == BasicAuth("us@er", "p:ss")
    given = BasicAuth("other", "x")
    assert split_credentials(URL("socks5://u:p@s"), given) == (URL("socks5://s:1080"), given)
    # yarl has no user for ``:token@`` (raw_user is None); it is still a password to strip.
    assert split_credentials(URL("http://:t%40k@p:3"), None) == (
        URL("http://p:3"),
        BasicAuth("", "t@k"),
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [("ftp://p:1", "unsupported proxy scheme 'ftp'"), ("http:///path", "has no host")],
)
def test_bad_proxy_urls(url: str, message: str) -> None:
    with pytest.raises(InvalidURL, match=message):
        split_credentials(URL(url), None)


def test_only_plain_http_through_an_http_proxy_uses_absolute_form() -> None:
    http_proxy = URL("http://p:1")
    assert uses_absolute_form("http", http_proxy)
    assert uses_absolute_form("http", URL("https://p:1"))
    for scheme in ("https", "ws", "wss"):
        assert not uses_absolute_form(scheme, http_proxy)
    assert not uses_absolute_form("http", URL("socks5://p:1"))
    assert not uses_absolute_form("http", None)
    assert absolute_target(URL("http://u:p@a.test:8080/x?y=1#frag")) == "http://a.test:8080/x?y=1"


def test_proxy_headers_put_authorization_last_and_only_once() -> None:
    auth = BasicAuth("user", "pass")
    fields = proxy_headers(auth, {"X-Via": "1", "Proxy-Authorization": "Bearer stale"})
    assert fields == [("X-Via", "1"), ("Proxy-Authorization", "Basic dXNlcjpwYXNz")]
    assert proxy_headers(None, [("Proxy-Authorization", "Bearer t")]) == [
        ("Proxy-Authorization", "Bearer t")
    ]


def test_connect_request_is_authority_form_with_a_host_header() -> None:
    data = connect_request("example.com", 443, BasicAuth("user", "pass"), {"X-Trace": "1"})
    assert data == (
        b"CONNECT example.com:443 HTTP/1.1\r\n"
        b"Host: example.com:443\r\n"
        b"X-Trace: 1\r\n"
        b"Proxy-Authorization: Basic dXNlcjpwYXNz\r\n"
        b"\r\n"
    )
    assert connect_request("::1", 8443).startswith(
        b"CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443"
    )


def test_connect_request_refuses_header_injection() -> None:
    with pytest.raises(LocalProtocolError):
        connect_request("example.com", 443, None, {"X-Evil": "a\r\nInjected: 1"})


def test_credentials_never_render() -> None:
    auth = BasicAuth("alice", "s3cret")
    assert repr(auth) == "BasicAuth(login='alice', password='***', encoding='latin1')"
    assert repr(BasicAuth("alice")) == "BasicAuth(login='alice', password='', encoding='latin1')"
    # Any proxy_auth (aiohttp's BasicAuth, a tuple) is hidden in the key's repr.
    key = ConnectionKey("h", 443, True, True, URL("http://p:1"), ("alice", "s3cret"), None)
    assert "s3cret" not in repr(key)
    assert "proxy_auth=<hidden>" in repr(key)
    assert "proxy_auth=None" in repr(key._replace(proxy_auth=None))
    # Equality and hashing are the tuple's, as before.
    same = ConnectionKey("h", 443, True, True, URL("http://p:1"), ("alice", "s3cret"), None)
    assert key == same
    assert hash(key) == hash(same) == hash(tuple(key))
    assert auth == ("alice", "s3cret", "latin1")
    assert hash(auth) == hash(tuple(auth))


def test_a_bad_proxy_variable_is_named_and_its_password_hidden() -> None:
    # yarl's bare ValueError ("Port out of range") said neither which variable nor URL.
    env = {"http_proxy": "http://u:hunter2@127.0.0.1:99999"}
    with pytest.raises(
        InvalidURL, match="invalid proxy URL in http_proxy: Port out of range"
    ) as info:
        proxy_for(URL("http://a/"), env)
    assert "hunter2" not in str(info.value)
