"""Proxies, the pure part: which proxy a URL uses, and what is said to it.

This module decides; the connector connects. It owns:

* reading the proxy environment (``http_proxy``, ``https_proxy``, ``ws_proxy``,
  ``wss_proxy``, ``all_proxy``, ``no_proxy``, lower-case winning over upper-case as in
  curl), and ``NO_PROXY`` matching: domain suffixes with or without a leading dot, ``*``,
  IP addresses and CIDR blocks, and ``host:port`` entries;
* splitting credentials out of a proxy URL;
* the two ways a request crosses an HTTP proxy: the absolute-form request target for
  plain ``http://`` (RFC 9112 §3.2.2), or a ``CONNECT`` tunnel (RFC 9110 §9.3.6) for
  everything else, and the bytes of that ``CONNECT`` request;
* the ``Proxy-Authorization`` header, which goes to the proxy only: on the ``CONNECT``
  request or on an absolute-form request, never inside a tunnel.

No I/O and no asyncio here: callers pass the environment in.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from multidict import CIMultiDict
from yarl import URL

from .auth import BasicAuth
from .errors import InvalidURL, type_name
from .http1 import field_text, serialize_request_head
from .values import HttpVersion11

__all__ = (
    "HTTP_PROXY_SCHEMES",
    "SOCKS_SCHEMES",
    "absolute_target",
    "authority",
    "check_proxy_url",
    "connect_fields",
    "connect_head",
    "connect_request",
    "default_port",
    "is_bypassed",
    "parse_proxy_url",
    "proxy_for",
    "proxy_headers",
    "split_credentials",
    "uses_absolute_form",
)

HTTP_PROXY_SCHEMES = frozenset({"http", "https"})
SOCKS_SCHEMES = frozenset({"socks4", "socks4a", "socks5", "socks5h"})
_DEFAULT_PORTS = {
    "http": 80,
    "https": 443,
    "ws": 80,
    "wss": 443,
    "socks4": 1080,
    "socks4a": 1080,
    "socks5": 1080,
    "socks5h": 1080,
}
#: Which environment variables serve which request scheme, most specific first.
_ENV_NAMES = {
    "http": ("http",),
    "https": ("https",),
    "ws": ("ws", "http"),
    "wss": ("wss", "https"),
}


def _env(environ: Mapping[str, str], name: str) -> str | None:
    """``<name>_proxy``: lower-case first, as curl does; upper-case only outside CGI."""
    value = environ.get(f"{name}_proxy")
    if value is None:
        upper = f"{name.upper()}_PROXY"
        # httpoxy (CVE-2016-5385): under CGI, HTTP_PROXY is the client's "Proxy:" header.
        if not (upper == "HTTP_PROXY" and "REQUEST_METHOD" in environ):
            value = environ.get(upper)
    return (value.strip() or None) if value is not None else None


def proxy_for(url: URL, environ: Mapping[str, str]) -> URL | None:
    """The proxy the environment names for *url*, or None (none set, or ``NO_PROXY``).

    Args:
        url: the request URL (http, https, ws or wss).
        environ: the environment, such as ``os.environ``.

    Raises:
        InvalidURL: when the variable holds something that is not a proxy URL.
    """
    host = url.raw_host
    if not host:
        return None
    value = None
    for name in (*_ENV_NAMES.get(url.scheme, ()), "all"):
        value = _env(environ, name)
        if value is not None:
            break
    if value is None:
        return None
    no_proxy = environ.get("no_proxy")
    if no_proxy is None:
        no_proxy = environ.get("NO_PROXY", "")
    if is_bypassed(host, url.port, no_proxy):
        return None
    if "://" not in value:
        value = f"http://{value}"  # curl's rule: a bare host:port is an HTTP proxy
    return parse_proxy_url(value, where=f" in {name}_proxy")


def parse_proxy_url(value: str | URL, *, where: str = "") -> URL:
    """*value* (``proxy=``, or *where* it came from) as a URL, checked with
    :func:`check_proxy_url`.

    Raises:
        InvalidURL: naming the URL without its credentials (a ``ClientError``; yarl's
            bare ``ValueError`` for ``http://h:99999`` escaped ``except ClientError``).
    """
    if isinstance(value, URL):
        proxy = value
    else:
        try:
            proxy = URL(value)
        except (ValueError, TypeError) as exc:
            raise InvalidURL(_redacted(str(value)), f"invalid proxy URL{where}: {exc}") from exc
    check_proxy_url(proxy)
    return proxy


def _redacted(text: str) -> str:
    """*text*, a URL, with anything between ``://`` and the authority's last ``@`` masked:
    error messages end up in logs, proxy passwords must not."""
    scheme, sep, rest = text.partition("://")
    authority, slash, path = rest.partition("/")
    if not sep or "@" not in authority:
        return text
    return f"{scheme}://***@{authority.rpartition('@')[2]}{slash}{path}"


def check_proxy_url(proxy: URL) -> None:
    """Refuse what cannot be a proxy URL: an unknown scheme, or no host.

    Raises:
        InvalidURL: naming the URL, without its credentials.
    """
    if proxy.scheme not in HTTP_PROXY_SCHEMES and proxy.scheme not in SOCKS_SCHEMES:
        shown = _redacted(str(proxy))
        raise InvalidURL(shown, f"unsupported proxy scheme {proxy.scheme!r}")
    if not proxy.raw_host:
        raise InvalidURL(_redacted(str(proxy)), "the proxy URL has no host")


def is_bypassed(host: str, port: int | None, no_proxy: str) -> bool:
    """Whether ``NO_PROXY``-style *no_proxy* exempts *host* (and *port*) from the proxy.

    Entries are separated by commas or whitespace. ``*`` matches every host. A name
    matches itself and its subdomains, with or without a leading dot (``example.com`` and
    ``.example.com`` both cover ``www.example.com``). An IP address matches itself, a CIDR
    block (``10.0.0.0/8``, ``fd00::/8``) the addresses in it; an IPv6 entry may be written
    in brackets. An entry with ``:port`` matches that port only.
    """
    host = host.strip("[]").rstrip(".").lower()
    address = _ip(host)
    for raw in no_proxy.replace(",", " ").split():
        entry = raw.lower()
        if entry == "*":
            return True
        entry, entry_port = _split_port(entry)
        if entry_port is not None and entry_port != port:
            continue
        if address is not None:
            if _ip_matches(address, entry):
                return True
            continue
        entry = entry.lstrip(".").rstrip(".")
        if entry and (host == entry or host.endswith("." + entry)):
            return True
    return False


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def _ip_matches(address: ipaddress.IPv4Address | ipaddress.IPv6Address, entry: str) -> bool:
    try:
        network = ipaddress.ip_network(entry.strip("[]"), strict=False)
    except ValueError:
        return False
    return address.version == network.version and address in network


def _split_port(entry: str) -> tuple[str, int | None]:
    """``host:port``, ``[v6]:port`` or a bare entry (a bare IPv6 address has no port)."""
    if entry.startswith("["):
        end = entry.find("]")
        if end != -1 and entry[end + 1 : end + 2] == ":" and entry[end + 2 :].isdigit():
            return entry[: end + 1], int(entry[end + 2 :])
        return entry, None
    if entry.count(":") == 1:
        name, _, port = entry.partition(":")
        if port.isdigit():
            return name, int(port)
    return entry, None


def check_proxy_auth(auth: object) -> None:
    """Refuse *auth* unless None or a ``BasicAuth``: a tuple would fail only once a
    request reached the proxy (and is named by type: it holds the password)."""
    if auth is not None and not isinstance(auth, BasicAuth):
        raise TypeError(f"proxy_auth must be a BasicAuth instance, got {type_name(auth)}")


def split_credentials(proxy: URL, auth: BasicAuth | None) -> tuple[URL, BasicAuth | None]:
    """The proxy URL without userinfo, and the credentials to use (*auth* wins).

    Raises:
        InvalidURL: for an unsupported proxy scheme or a proxy URL with no host.
        TypeError: *auth* is not a ``BasicAuth``.
    """
    check_proxy_auth(auth)
    check_proxy_url(proxy)
    # ``http://:token@proxy`` has no user for yarl (raw_user is None) but is credentials.
    if proxy.raw_user is not None or proxy.raw_password is not None:
        if auth is None:
            auth = BasicAuth.from_url(proxy)
        proxy = proxy.with_user(None)
    if proxy.explicit_port is None:
        # Keep the port explicit: SOCKS schemes have no port in yarl's table.
        proxy = proxy.with_port(_DEFAULT_PORTS[proxy.scheme])
    return proxy, auth


def uses_absolute_form(url_scheme: str, proxy: URL | None) -> bool:
    """Whether a request to *url_scheme* goes to *proxy* as a plain absolute-form request.

    Only ``http://`` through an HTTP(S) proxy does (RFC 9112 §3.2.2). TLS origins need a
    tunnel so the proxy sees no plaintext; WebSocket origins too, since forward proxies do
    not relay ``Upgrade``; and a SOCKS proxy is a tunnel by nature.
    """
    return proxy is not None and proxy.scheme in HTTP_PROXY_SCHEMES and url_scheme == "http"


def absolute_target(url: URL) -> str:
    """The absolute-form request target (RFC 9112 §3.2.2), without userinfo or fragment."""
    return str(url.with_user(None).with_fragment(None))


def proxy_headers(auth: BasicAuth | None, headers: Any = None) -> list[tuple[str, str]]:
    """The header fields meant for the proxy: *headers*, then ``Proxy-Authorization``."""
    fields: list[tuple[str, str]] = []
    if headers:
        items = headers.items() if hasattr(headers, "items") else headers
        fields.extend(
            (field_text(k, "proxy header name"), field_text(v, f"proxy header value of {k}"))
            for k, v in items
        )
    if auth is not None:
        fields = [(k, v) for k, v in fields if k.lower() != "proxy-authorization"]
        # RFC 9110 §11.7.2: credentials for the proxy, not passed on to the origin.
        fields.append(("Proxy-Authorization", auth.encode()))
    return fields


def authority(host: str, port: int) -> str:
    """``host:port`` with an IPv6 literal in brackets (RFC 9112 §3.2.3)."""
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}"


def connect_request(
    host: str, port: int, auth: BasicAuth | None = None, headers: Any = None
) -> bytes:
    """The ``CONNECT`` request opening a tunnel to *host*:*port* (RFC 9110 §9.3.6).

    The target is in authority form and ``Host`` repeats it (RFC 9112 §3.2.3, §7.2).

    Raises:
        LocalProtocolError: when a header name or value cannot be sent.
    """
    return connect_head(host, port, connect_fields(host, port, auth, headers))


def connect_head(host: str, port: int, fields: CIMultiDict[str]) -> bytes:
    """``connect_request`` from fields already made (a refused CONNECT reports them)."""
    return serialize_request_head("CONNECT", authority(host, port), HttpVersion11, fields.items())


def connect_fields(
    host: str, port: int, auth: BasicAuth | None = None, headers: Any = None
) -> CIMultiDict[str]:
    """The header fields of ``connect_request``."""
    fields: CIMultiDict[str] = CIMultiDict(Host=authority(host, port))
    for name, value in proxy_headers(auth, headers):
        if name.lower() == "host":
            fields["Host"] = value
        else:
            fields.add(name, value)
    return fields


def default_port(scheme: str) -> int:
    """The port of *scheme* when a URL gives none."""
    return _DEFAULT_PORTS[scheme]
