"""Client middlewares (aiohttp 3.12): code that runs around every request a session sends.

A middleware is ``async def middleware(request, handler) -> response``. It may change
the ``ClientRequest`` (headers, URL, body) before calling ``await handler(request)``,
call the handler again (a retry: the body is sent again, so it must be replayable), and
inspect or replace the response it returns. The first middleware given is the outermost.

The session runs the chain once per hop, inside its redirect loop: the handler connects,
sends and reads the response head, and nothing more. Cookies, redirects, the built-in
``DigestAuth``, tracing's start/redirect/end signals and ``raise_for_status`` all happen
outside the chain, on the response it returns, as in aiohttp. This module must not
know about sessions: it only composes callables.

``DigestAuthMiddleware`` lives in ``client_middleware_digest_auth``, as in aiohttp.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from .request import ClientRequest
from .response import ClientResponse

__all__ = (
    "ClientHandlerType",
    "ClientMiddlewareType",
    "build_client_middlewares",
)

#: What a middleware calls to pass the request on: the next middleware, or the session's
#: send-and-read-the-head step.
ClientHandlerType = Callable[[ClientRequest], Awaitable[ClientResponse]]
#: ``async def middleware(request, handler) -> ClientResponse``.
ClientMiddlewareType = Callable[[ClientRequest, ClientHandlerType], Awaitable[ClientResponse]]


class _Next:
    """The handler given to one middleware: calls it with the rest of the chain.

    A plain callable returning the middleware's awaitable, so a chain of n middlewares
    costs n coroutine frames, not 2n.
    """

    __slots__ = ("_handler", "_middleware")

    def __init__(self, middleware: ClientMiddlewareType, handler: ClientHandlerType) -> None:
        self._middleware = middleware
        self._handler = handler

    def __call__(self, request: ClientRequest) -> Awaitable[ClientResponse]:
        return self._middleware(request, self._handler)


def build_client_middlewares(
    handler: ClientHandlerType, middlewares: Sequence[ClientMiddlewareType]
) -> ClientHandlerType:
    """Wrap *handler* in *middlewares*, the first one outermost.

    Args:
        handler: the innermost step, which sends the request.
        middlewares: the middlewares, outermost first.

    Returns:
        A handler that runs the first middleware with the rest of the chain.
    """
    for middleware in reversed(middlewares):
        handler = _Next(middleware, handler)
    return handler
