from __future__ import annotations

import ast
import base64
import hashlib
import pathlib
import re
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict
from yarl import URL

from hyperclient import auth as auth_module
from hyperclient.auth import (
    BasicAuth,
    Challenge,
    DigestAuth,
    parse_challenge,
    parse_challenges,
    pick_digest_challenge,
    should_retry_with_digest,
)


def test_module_does_not_import_asyncio() -> None:
    tree = ast.parse(pathlib.Path(auth_module.__file__).read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "asyncio" not in imported


# --- BasicAuth -----------------------------------------------------------------------


def test_basic_auth_is_a_named_tuple_with_defaults() -> None:
    auth = BasicAuth("user")
    assert auth == ("user", "", "latin1")
    assert (auth.login, auth.password, auth.encoding) == ("user", "", "latin1")
    assert isinstance(auth, tuple)
    assert auth._replace(password="x") == ("user", "x", "latin1")
    assert BasicAuth(login="u", password="p", encoding="utf-8") == ("u", "p", "utf-8")


def test_basic_auth_encode() -> None:
    assert BasicAuth("user", "pass").encode() == "Basic dXNlcjpwYXNz"
    # RFC 7617 §2 example.
    assert BasicAuth("Aladdin", "open sesame").encode() == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="


def test_basic_auth_password_may_hold_colons() -> None:
    auth = BasicAuth("user", "a:b:c")
    assert BasicAuth.decode(auth.encode()) == auth


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("latin1", b"us\xe9r:p\xe4ss"), ("utf-8", b"us\xc3\xa9r:p\xc3\xa4ss")],
)
def test_basic_auth_encodings(encoding: str, expected: bytes) -> None:
    auth = BasicAuth("us\u00e9r", "p\u00e4ss", encoding)
    assert auth.encode() == "Basic " + base64.b64encode(expected).decode()
    assert BasicAuth.decode(auth.encode(), encoding=encoding) == auth


def test_basic_auth_rfc7617_utf8_example() -> None:
    # RFC 7617 §2.1: user "test", password "123£" with charset UTF-8.
    assert BasicAuth("test", "123\u00a3", "utf-8").encode() == "Basic dGVzdDoxMjPCow=="


def test_basic_auth_unencodable_credentials() -> None:
    with pytest.raises(UnicodeEncodeError):
        BasicAuth("\u4e2d\u6587").encode()


def test_basic_auth_rejects_colon_in_login() -> None:
    with pytest.raises(ValueError, match=r"^a colon is not allowed in the login: 'a:b'$"):
        BasicAuth("a:b")


@pytest.mark.parametrize(
    ("args", "message"),
    [((None,), "login must be a str, not None"), (("u", None), "password must be a str, not None")],
)
def test_basic_auth_rejects_none(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BasicAuth(*args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "basic dXNlcjpwYXNz", "BASIC   dXNlcjpwYXNz  "]
)
def test_basic_auth_decode(header: str) -> None:
    assert BasicAuth.decode(header) == BasicAuth("user", "pass")


def test_basic_auth_decode_empty_password() -> None:
    assert BasicAuth.decode("Basic " + base64.b64encode(b"user:").decode()) == (
        "user",
        "",
        "latin1",
    )


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Bearer dXNlcjpwYXNz", r"unknown authorization scheme: 'Bearer', expected 'Basic'"),
        ("dXNlcjpwYXNz", r"unknown authorization scheme: 'dXNlcjpwYXNz'"),
        ("Basic", r"no credentials in authorization header: 'Basic'"),
        ("Basic    ", r"no credentials in authorization header"),
        ("Basic dXNlcjpwYXNz!", r"invalid base64 in credentials: 'dXNlcjpwYXNz!'"),
        ("Basic dXNlcjpwYXN", r"invalid base64 in credentials"),  # bad padding
        ("Basic dXNl cjpwYXNz", r"invalid base64 in credentials"),
        ("Basic d\u00e9Nlcg==", r"invalid base64 in credentials"),
        (
            "Basic " + base64.b64encode(b"nocolon").decode(),
            r"no colon in decoded credentials: 'nocolon'",
        ),
    ],
)
def test_basic_auth_decode_errors(header: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BasicAuth.decode(header)


def test_basic_auth_decode_undecodable_bytes() -> None:
    header = "Basic " + base64.b64encode(b"\xff\xfe:x").decode()
    with pytest.raises(ValueError, match=r"credentials are not valid utf-8") as info:
        BasicAuth.decode(header, encoding="utf-8")
    assert isinstance(info.value.__cause__, UnicodeDecodeError)
    assert BasicAuth.decode(header) == ("\xff\xfe", "x", "latin1")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://user:pass@example.com/", ("user", "pass")),
        ("http://user@example.com/", ("user", "")),
        ("http://:pass@example.com/", ("", "pass")),
        ("http://us%40er:p%3Ass%20w@example.com/", ("us@er", "p:ss w")),
        ("http://%C3%A9:%E2%82%AC@example.com/", ("\u00e9", "\u20ac")),
    ],
)
def test_basic_auth_from_url(url: str, expected: tuple[str, str]) -> None:
    auth = BasicAuth.from_url(URL(url), encoding="utf-8")
    assert auth == (*expected, "utf-8")


def test_basic_auth_from_url_without_credentials() -> None:
    assert BasicAuth.from_url(URL("http://example.com/")) is None


def test_basic_auth_from_url_requires_url() -> None:
    with pytest.raises(TypeError, match=r"url must be a yarl\.URL, not str"):
        BasicAuth.from_url("http://u:p@example.com/")  # type: ignore[arg-type]


def test_basic_auth_from_url_colon_in_user() -> None:
    with pytest.raises(ValueError, match="a colon is not allowed in the login: 'a:b'"):
        BasicAuth.from_url(URL("http://a%3Ab:p@example.com/"))


@given(st.text(alphabet=st.characters(blacklist_characters=":")), st.text())
def test_basic_auth_round_trips(login: str, password: str) -> None:
    auth = BasicAuth(login, password, "utf-8")
    try:
        header = auth.encode()
    except UnicodeEncodeError:  # lone surrogates
        return
    assert BasicAuth.decode(header, "utf-8") == auth


def test_basic_auth_agrees_with_aiohttp() -> None:
    aiohttp = pytest.importorskip("aiohttp")
    for login, password, encoding in [("u", "p", "latin1"), ("\u00e9", "\u00fc:x", "utf-8")]:
        with warnings.catch_warnings():  # aiohttp 3.14 deprecates BasicAuth
            warnings.simplefilter("ignore", DeprecationWarning)
            expected = aiohttp.BasicAuth(login, password, encoding).encode()
        assert BasicAuth(login, password, encoding).encode() == expected


# --- challenge parsing ---------------------------------------------------------------

RFC7616_CHALLENGE_MD5 = (
    'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, '
    'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
    'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
)
RFC7616_CHALLENGE_SHA256 = RFC7616_CHALLENGE_MD5.replace("algorithm=MD5", "algorithm=SHA-256")
CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"


def test_parse_challenge_rfc7616_example() -> None:
    assert parse_challenge(RFC7616_CHALLENGE_SHA256) == {
        "realm": "http-auth@example.org",
        "qop": "auth, auth-int",
        "algorithm": "SHA-256",
        "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
        "opaque": "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS",
    }


def test_parse_challenge_escapes_and_commas() -> None:
    params = parse_challenge(r'Digest realm="a \"quoted\", realm\\", nonce="n,o,n", qop=auth')
    assert params == {"realm": 'a "quoted", realm\\', "nonce": "n,o,n", "qop": "auth"}


def test_parse_challenge_case_and_whitespace() -> None:
    params = parse_challenge('  dIgEsT   REALM = "r" ,NONCE=n  ,, Algorithm=sha-256 ')
    assert params == {"realm": "r", "nonce": "n", "algorithm": "sha-256"}


def test_parse_challenge_keeps_first_duplicate() -> None:
    assert parse_challenge('Digest realm="first", realm="second", nonce=n')["realm"] == "first"


def test_parse_challenges_several_in_one_field() -> None:
    header = (
        'Newauth realm="apps", type=1, title="Login to \\"apps\\"", '
        'Basic realm="simple", Negotiate abc+/def==, NTLM, '
        'Digest realm="x", nonce="y", algorithm=SHA-256'
    )
    assert parse_challenges(header) == [
        Challenge("Newauth", {"realm": "apps", "type": "1", "title": 'Login to "apps"'}),
        Challenge("Basic", {"realm": "simple"}),
        Challenge("Negotiate", {}, "abc+/def=="),
        Challenge("NTLM", {}),
        Challenge("Digest", {"realm": "x", "nonce": "y", "algorithm": "SHA-256"}),
    ]
    assert parse_challenge(header) == {"realm": "x", "nonce": "y", "algorithm": "SHA-256"}


def test_parse_challenges_token68_at_end() -> None:
    assert parse_challenges("Bearer abc=") == [Challenge("Bearer", {}, "abc=")]


@pytest.mark.parametrize("header", ["", " ", ", ,"])
def test_parse_challenges_empty(header: str) -> None:
    assert parse_challenges(header) == []


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ('Digest realm="open', "unterminated quoted-string in challenge"),
        ('Digest realm="x"junk, nonce=y', "expected ',' at offset 16"),
        ('"Digest" realm=x', "expected an auth-scheme at offset 0"),
        ("Basic realm=x", "no digest challenge in: 'Basic realm=x'"),
    ],
)
def test_parse_challenge_errors(header: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_challenge(header)


@given(st.text())
def test_parse_challenges_only_raises_value_error(header: str) -> None:
    try:
        challenges = parse_challenges(header)
    except ValueError:
        return
    assert all(challenge.scheme for challenge in challenges)


# --- Digest responses ----------------------------------------------------------------


def parse_authorization(header: str) -> dict[str, str]:
    (challenge,) = parse_challenges(header)
    assert challenge.scheme == "Digest"
    return challenge.params


@pytest.mark.parametrize(
    ("challenge", "algorithm", "response"),
    [
        (RFC7616_CHALLENGE_MD5, "MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        (
            RFC7616_CHALLENGE_SHA256,
            "SHA-256",
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
        ),
    ],
)
def test_rfc7616_example(challenge: str, algorithm: str, response: str) -> None:
    """RFC 7616 §3.9.1: Mufasa / "Circle of Life"."""
    auth = DigestAuth("Mufasa", "Circle of Life")
    header = auth.authorization(
        "GET",
        URL("http://www.example.org/dir/index.html"),
        parse_challenge(challenge),
        cnonce=CNONCE,
    )
    assert header.startswith("Digest ")
    assert parse_authorization(header) == {
        "username": "Mufasa",
        "realm": "http-auth@example.org",
        "uri": "/dir/index.html",
        "algorithm": algorithm,
        "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
        "nc": "00000001",
        "cnonce": CNONCE,
        "qop": "auth",
        "response": response,
        "opaque": "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS",
    }
    # Unquoted as in the RFC's example: algorithm, qop and nc are tokens.
    assert f"algorithm={algorithm}," in header
    assert "qop=auth," in header
    assert "nc=00000001," in header


def _h(name: str, text: str) -> str:
    return hashlib.new(name, text.encode()).hexdigest()


CHALLENGE = {"realm": "r", "nonce": "n1", "qop": "auth"}


def test_nonce_count_increments_and_resets() -> None:
    auth = DigestAuth("u", "p")
    url = URL("http://h/")
    counts = [
        parse_authorization(auth.authorization("GET", url, CHALLENGE))["nc"] for _ in range(3)
    ]
    assert counts == ["00000001", "00000002", "00000003"]
    fresh = parse_authorization(auth.authorization("GET", url, {**CHALLENGE, "nonce": "n2"}))
    assert fresh["nc"] == "00000001"
    again = parse_authorization(auth.authorization("GET", url, {**CHALLENGE, "nonce": "n2"}))
    assert again["nc"] == "00000002"


def test_nc_enters_the_response() -> None:
    auth = DigestAuth("u", "p")
    url = URL("http://h/")
    first = parse_authorization(auth.authorization("GET", url, CHALLENGE, cnonce="c"))
    second = parse_authorization(auth.authorization("GET", url, CHALLENGE, cnonce="c"))
    ha1, ha2 = _h("md5", "u:r:p"), _h("md5", "GET:/")
    assert second["response"] == _h("md5", f"{ha1}:n1:00000002:c:auth:{ha2}")
    assert first["response"] != second["response"]


def test_random_cnonce() -> None:
    auth = DigestAuth("u", "p")
    cnonces = {
        parse_authorization(auth.authorization("GET", URL("http://h/"), CHALLENGE))["cnonce"]
        for _ in range(2)
    }
    assert len(cnonces) == 2
    assert all(re.fullmatch("[0-9a-f]{32}", cnonce) for cnonce in cnonces)


@pytest.mark.parametrize(
    ("algorithm", "hash_name"), [("MD5-sess", "md5"), ("SHA-256-sess", "sha256")]
)
def test_session_algorithms(algorithm: str, hash_name: str) -> None:
    auth = DigestAuth("u", "p")
    header = auth.authorization(
        "POST", URL("http://h/a?b=c"), {**CHALLENGE, "algorithm": algorithm.lower()}, cnonce="cn"
    )
    params = parse_authorization(header)
    ha1 = _h(hash_name, f"{_h(hash_name, 'u:r:p')}:n1:cn")
    ha2 = _h(hash_name, "POST:/a?b=c")
    assert params["response"] == _h(hash_name, f"{ha1}:n1:00000001:cn:auth:{ha2}")
    assert params["algorithm"] == algorithm
    assert params["uri"] == "/a?b=c"


def test_legacy_rfc2069_without_qop() -> None:
    auth = DigestAuth("u", "p")
    header = auth.authorization("GET", URL("http://h/x"), {"realm": "r", "nonce": "n"})
    params = parse_authorization(header)
    ha1, ha2 = _h("md5", "u:r:p"), _h("md5", "GET:/x")
    assert params == {
        "username": "u",
        "realm": "r",
        "nonce": "n",
        "uri": "/x",
        "response": _h("md5", f"{ha1}:n:{ha2}"),
    }


def test_userhash() -> None:
    auth = DigestAuth("Mufasa", "Circle of Life")
    header = auth.authorization(
        "GET", URL("http://h/"), {**CHALLENGE, "algorithm": "SHA-256", "userhash": "TRUE"}
    )
    params = parse_authorization(header)
    assert params["username"] == _h("sha256", "Mufasa:r")
    assert params["userhash"] == "true"
    ha1, ha2 = _h("sha256", "Mufasa:r:Circle of Life"), _h("sha256", "GET:/")
    expected = _h("sha256", f"{ha1}:n1:00000001:{params['cnonce']}:auth:{ha2}")
    assert params["response"] == expected


def test_non_ascii_username_uses_rfc8187_form() -> None:
    # RFC 7616 §3.9.2 spells this user name as username*=UTF-8''J%C3%A4s%C3%B8n%20Doe.
    auth = DigestAuth("J\u00e4s\u00f8n Doe", "Secret, or not?")
    header = auth.authorization("GET", URL("http://h/"), CHALLENGE)
    assert "username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, " in header
    assert "username=" not in header


def test_quoted_fields_are_escaped() -> None:
    auth = DigestAuth('we"ird\\', "p")
    header = auth.authorization(
        "GET", URL("http://h/"), {"realm": 'r"x', "nonce": "n", "opaque": 'o"p'}
    )
    params = parse_authorization(header)
    assert (params["username"], params["realm"], params["opaque"]) == ('we"ird\\', 'r"x', 'o"p')


def test_algorithm_omitted_when_challenge_omits_it() -> None:
    header = DigestAuth("u", "p").authorization("GET", URL("http://h/"), CHALLENGE)
    assert "algorithm" not in parse_authorization(header)


@pytest.mark.parametrize(
    ("challenge", "message"),
    [
        ({**CHALLENGE, "algorithm": "SHA-512-256"}, "unsupported digest algorithm: 'SHA-512-256'"),
        ({**CHALLENGE, "algorithm": "token"}, "unsupported digest algorithm: 'token'"),
        ({**CHALLENGE, "qop": "auth-int"}, "unsupported qop: 'auth-int', expected 'auth'"),
        ({"realm": "r", "nonce": "n", "algorithm": "MD5-sess"}, "algorithm 'MD5-sess' needs a qop"),
        ({"nonce": "n"}, "digest challenge needs a realm and a nonce"),
        ({"realm": "r"}, "digest challenge needs a realm and a nonce"),
        ({**CHALLENGE, "opaque": "a\r\nX: y"}, "control character in digest challenge"),
    ],
)
def test_digest_refusals(challenge: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        DigestAuth("u", "p").authorization("GET", URL("http://h/"), challenge)


def test_digest_refuses_bad_cnonce() -> None:
    with pytest.raises(ValueError, match="invalid cnonce"):
        DigestAuth("u", "p").authorization("GET", URL("http://h/"), CHALLENGE, cnonce='a"b')


def test_digest_rejects_none_credentials() -> None:
    with pytest.raises(ValueError, match="password must be a str, not None"):
        DigestAuth("u", None)  # type: ignore[arg-type]


def test_qop_auth_chosen_among_options() -> None:
    header = DigestAuth("u", "p").authorization(
        "GET", URL("http://h/"), {**CHALLENGE, "qop": "auth-int, AUTH"}
    )
    assert parse_authorization(header)["qop"] == "auth"


# --- choosing a challenge ------------------------------------------------------------


def test_pick_prefers_sha256_in_any_order() -> None:
    md5 = 'Digest realm="r", nonce="a", qop="auth", algorithm=MD5'
    sha = 'Digest realm="r", nonce="b", qop="auth", algorithm=SHA-256'
    assert pick_digest_challenge([md5, sha])["nonce"] == "b"  # type: ignore[index]
    assert pick_digest_challenge([sha, md5])["nonce"] == "b"  # type: ignore[index]
    assert pick_digest_challenge([f"{md5}, {sha}"])["nonce"] == "b"  # type: ignore[index]


def test_pick_keeps_server_order_among_equals() -> None:
    first = 'Digest realm="r", nonce="a", qop="auth", algorithm=SHA-256'
    second = 'Digest realm="r", nonce="b", qop="auth", algorithm=SHA-256-sess'
    assert pick_digest_challenge([first, second])["nonce"] == "a"  # type: ignore[index]


def test_pick_skips_what_it_cannot_answer() -> None:
    values = [
        'Digest realm="open',  # unparsable field
        'Basic realm="r"',
        'Digest realm="r", nonce="a", algorithm=SHA-512-256',
        'Digest realm="r", nonce="b", qop="auth-int"',
        'Digest realm="r", nonce="c", algorithm=MD5-sess',  # -sess without qop
        'Digest nonce="d"',
        'Digest realm="r", nonce="e", algorithm=MD5',
    ]
    assert pick_digest_challenge(values) == {"realm": "r", "nonce": "e", "algorithm": "MD5"}
    assert pick_digest_challenge(values[:-1]) is None
    assert pick_digest_challenge([]) is None


def test_should_retry_with_digest() -> None:
    headers = CIMultiDict(
        [
            ("WWW-Authenticate", 'Basic realm="r"'),
            ("www-authenticate", 'Digest realm="r", nonce="n", qop=auth'),
            ("Proxy-Authenticate", 'Digest realm="p", nonce="pn"'),
        ]
    )
    assert should_retry_with_digest(401, headers) == {"realm": "r", "nonce": "n", "qop": "auth"}
    assert should_retry_with_digest(407, headers) == {"realm": "p", "nonce": "pn"}
    assert should_retry_with_digest(200, headers) is None
    assert should_retry_with_digest(403, headers) is None
    assert should_retry_with_digest(401, CIMultiDict()) is None


def test_digest_round_trip_from_header() -> None:
    headers = CIMultiDict([("WWW-Authenticate", RFC7616_CHALLENGE_MD5)])
    challenge = should_retry_with_digest(401, headers)
    assert challenge is not None
    header = DigestAuth("Mufasa", "Circle of Life").authorization(
        "GET", URL("/dir/index.html"), challenge, cnonce=CNONCE
    )
    assert 'response="8ca523f5e9506fed4657c9700eebdbec"' in header
