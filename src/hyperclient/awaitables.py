"""The awaitable handles that request-making calls return.

``session.get(url)`` and ``session.ws_connect(url)`` return an object that is awaitable,
an async context manager, and a ``Coroutine`` as aiohttp's are (so that
``asyncio.create_task(session.get(url))`` takes it and type-checks). The coroutine part is
the same for every such handle and lives here; each handle adds its own
``__aenter__``/``__aexit__``. No asyncio here: the wrapped coroutine is driven by
whoever drives the handle.
"""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from typing import Any, Generic, TypeVar

_R = TypeVar("_R")


class CoroutineHandle(Coroutine[Any, Any, _R], Generic[_R]):
    """A ``Coroutine`` that forwards to the one it wraps: awaiting it, or a ``Task``
    driving it through ``send``/``throw``/``close``, runs the wrapped coroutine."""

    __slots__ = ("_coro",)

    def __init__(self, coro: Coroutine[Any, Any, _R]) -> None:
        self._coro = coro

    def __await__(self) -> Generator[Any, None, _R]:
        return self._coro.__await__()

    def __iter__(self) -> Generator[Any, None, _R]:
        """``yield from`` in generator-based code, as aiohttp's handles allow."""
        return self.__await__()

    def send(self, arg: Any) -> Any:
        """Run the wrapped coroutine to its next suspension."""
        return self._coro.send(arg)

    def throw(self, *args: Any) -> Any:
        """Raise an exception at the wrapped coroutine's suspension (a cancellation)."""
        try:
            return self._coro.throw(*args)
        finally:
            # The exception's traceback holds this frame: its locals must not hold the
            # exception too, or every cancelled request leaves a cycle for the collector.
            del args

    def close(self) -> None:
        """Close the wrapped coroutine (it was never awaited, or is abandoned)."""
        self._coro.close()
