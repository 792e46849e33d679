"""Exception wording and args as aiohttp's, where client code commonly matches on them."""

from __future__ import annotations

import pickle

from yarl import URL

from hyperclient import ClientResponseError, ServerDisconnectedError


def test_server_disconnected_default_message() -> None:
    err = ServerDisconnectedError()
    assert str(err) == err.message == "Server disconnected"
    assert err.args == ("Server disconnected",)
    assert ServerDisconnectedError("gone").args == ("gone",)


def test_client_response_error_args_are_request_info_and_history() -> None:
    history = (object(),)
    err = ClientResponseError(None, history, status=500, message="boom")
    assert err.args == (None, history)


def test_client_response_error_made_without_request_info_has_an_empty_one() -> None:
    """request_info is a RequestInfo on every error (as aiohttp types it): one made without
    (None, as code building errors by hand passes) gets an empty one; args keep None."""
    err = ClientResponseError(None, (), status=404, message="Not Found")
    assert err.request_info.url == err.request_info.real_url == URL()
    assert err.request_info.method == ""
    assert not err.request_info.headers
    assert err.args == (None, ())
    assert str(err) == "404, message='Not Found', url=''"
    assert repr(err) == "ClientResponseError(None, (), status=404, message='Not Found')"
    # It still crosses a process boundary (a worker pool, a task queue), as in aiohttp.
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.status, copy.message, copy.request_info.method) == (404, "Not Found", "")
