"""Swap aiohttp's client for hyperclient inside a third-party test run.

Loaded as a pytest plugin (``-p compat_swap`` with this directory on ``PYTHONPATH``),
which pytest imports before any ``conftest.py``, entry-point plugin or test module,
so the library under test binds hyperclient's names when it does ``import aiohttp``.
``HYPERCLIENT_COMPAT_SWAP`` picks the mode:

``client`` (default)
    Keep the real aiohttp package, and with it ``aiohttp.web`` and the server half of
    ``aiohttp.test_utils``, but replace every *client* name on it (``ClientSession``,
    the connectors, ``ClientTimeout``, ``BasicAuth``, ``FormData``, the cookie jars,
    the WebSocket types, ``request``, every client exception...) and the client
    submodules in ``sys.modules`` (``aiohttp.client``, ``aiohttp.client_exceptions``,
    ``aiohttp.connector``, ``aiohttp.client_reqrep``, ``aiohttp.client_ws``, ...) with
    hyperclient's.  The server modules were imported first, so they keep aiohttp's
    own objects.  ``aiohttp.test_utils.TestClient`` (behind pytest-aiohttp's
    ``aiohttp_client`` fixture) is pointed at ``hyperclient.ClientSession``: it is the
    client the tests exercise, so it is the client under test.

``full``
    ``sys.modules["aiohttp"] = hyperclient`` plus its submodule names, exactly what a
    user of ``import hyperclient as aiohttp`` gets.  ``aiohttp.web`` is then gone, so
    this is for libraries whose tests run non-aiohttp servers.

The same module works outside pytest: ``import compat_swap; compat_swap.install()``.
"""

from __future__ import annotations

import importlib
import os
import sys
import types
from typing import Any

import hyperclient

# aiohttp submodule -> the hyperclient module that stands in for it.
CLIENT_SUBMODULES = {
    "aiohttp.client": "hyperclient.client",
    "aiohttp.client_exceptions": "hyperclient.client_exceptions",
    "aiohttp.client_reqrep": "hyperclient.client_reqrep",
    "aiohttp.client_ws": "hyperclient.websocket",
    "aiohttp.connector": "hyperclient.connector",
    "aiohttp.cookiejar": "hyperclient.cookies",
    "aiohttp.formdata": "hyperclient.formdata",
    "aiohttp.resolver": "hyperclient.resolver",
    "aiohttp.tracing": "hyperclient.tracing",
}

# Names of aiohttp's that client and server share as *instances of one class* and that
# hyperclient does not need to own: swapping them would make aiohttp.web handlers in the
# same process compare against a foreign type.  (WSMsgType and WSCloseCode are IntEnums
# in both, so they are swapped: equality holds across the two.)
SHARED_WITH_SERVER = frozenset({"HttpVersion", "HttpVersion10", "HttpVersion11"})

# Submodules the full swap also exposes (hyperclient has them under aiohttp's names).
FULL_SUBMODULES = {
    **CLIENT_SUBMODULES,
    "aiohttp.hdrs": "hyperclient.hdrs",
    "aiohttp.helpers": "hyperclient.helpers",
    "aiohttp.streams": "hyperclient.streams",
}

swapped: list[str] = []
"""What ``install()`` replaced, for the report and for tests."""


def install(mode: str | None = None) -> str:
    """Swap aiohttp's client for hyperclient; returns the mode used."""
    mode = mode or os.environ.get("HYPERCLIENT_COMPAT_SWAP", "client")
    if mode == "full":
        _install_full()
    elif mode == "client":
        _install_client()
    else:
        raise ValueError(f"unknown swap mode: {mode!r}, expected 'client' or 'full'")
    return mode


def _install_full() -> None:
    if "aiohttp" in sys.modules and sys.modules["aiohttp"] is not hyperclient:
        raise RuntimeError("aiohttp was imported before the full swap was installed")
    sys.modules["aiohttp"] = hyperclient
    swapped.append("aiohttp")
    for name, target in FULL_SUBMODULES.items():
        module = importlib.import_module(target)
        sys.modules[name] = module
        setattr(hyperclient, name.rpartition(".")[2], module)
        swapped.append(name)


def _install_client() -> None:
    import aiohttp
    import aiohttp.test_utils
    import aiohttp.web  # server side first, so it binds aiohttp's own objects

    for name in hyperclient.__all__:
        if name.startswith("__") or name in SHARED_WITH_SERVER or not hasattr(aiohttp, name):
            continue
        setattr(aiohttp, name, getattr(hyperclient, name))
        swapped.append(f"aiohttp.{name}")
    # aiohttp's helpers module is shared with the server; only its client names move.
    for name in ("BasicAuth", "ClientTimeout"):
        setattr(aiohttp.helpers, name, getattr(hyperclient, name))
    for name, target in CLIENT_SUBMODULES.items():
        module = importlib.import_module(target)
        sys.modules[name] = module
        setattr(aiohttp, name.rpartition(".")[2], module)
        swapped.append(name)
    _point_test_client_at_hyperclient(aiohttp.test_utils)


def _point_test_client_at_hyperclient(test_utils: types.ModuleType) -> None:
    """Make ``aiohttp.test_utils.TestClient`` drive a ``hyperclient.ClientSession``.

    TestClient looks up ``ClientSession``, its context-manager wrappers and
    ``aiohttp.CookieJar`` as module globals at call time, so rebinding them is enough.
    """
    from hyperclient import client as hc_client

    test_utils.ClientSession = hyperclient.ClientSession  # type: ignore[attr-defined]
    test_utils._RequestContextManager = hc_client._RequestContextManager  # type: ignore[attr-defined]
    test_utils._WSRequestContextManager = hc_client._WSRequestContextManager  # type: ignore[attr-defined]
    test_utils.ClientResponse = hyperclient.ClientResponse  # type: ignore[attr-defined]
    test_utils.ClientWebSocketResponse = hyperclient.ClientWebSocketResponse  # type: ignore[attr-defined]
    swapped.append("aiohttp.test_utils.TestClient")


sessions_created = 0
"""hyperclient sessions created since ``install()``: proof the client under test ran."""


def _count_sessions() -> None:
    original_init = hyperclient.ClientSession.__init__

    def counting_init(self: Any, *args: Any, **kwargs: Any) -> None:
        global sessions_created
        sessions_created += 1
        original_init(self, *args, **kwargs)

    hyperclient.ClientSession.__init__ = counting_init  # type: ignore[method-assign]


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    """Write what was swapped and how many hyperclient sessions ran, for ``run.py``."""
    marker = os.environ.get("HYPERCLIENT_COMPAT_MARKER")
    if marker:
        with open(marker, "w") as out:
            out.write(f"{len(swapped)} {sessions_created}\n")


def pytest_report_header(config: Any) -> str:
    mode = os.environ.get("HYPERCLIENT_COMPAT_SWAP", "client")
    return (
        f"hyperclient {hyperclient.__version__} swapped in for aiohttp's client "
        f"(mode {mode}, {len(swapped)} names)"
    )


if os.environ.get("HYPERCLIENT_COMPAT_MARKER"):
    _count_sessions()
install()
