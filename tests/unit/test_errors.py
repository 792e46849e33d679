"""Exception wording and args as aiohttp's, where client code commonly matches on them."""

from __future__ import annotations

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
