"""Type aliases for what the public API accepts, named as aiohttp's ``typedefs`` names them.

Only aliases: nothing here runs. They describe the loose inputs that the request
arguments take (a URL as text or ``yarl.URL``, headers as a mapping or pairs, a query
as yarl takes it), so that the keyword arguments of ``ClientSession.get()`` and the
others can be typed precisely for users' type checkers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import SupportsInt, TypeAlias

from multidict import istr
from yarl import URL

__all__ = ("LooseHeaders", "Query", "StrOrURL")

#: A URL as text or as a ``yarl.URL``.
StrOrURL: TypeAlias = str | URL

#: Headers: a mapping (a dict, any multidict) or ``(name, value)`` pairs. ``Mapping`` is
#: invariant in its key, so a dict keyed by ``istr`` is named on its own.
LooseHeaders: TypeAlias = Mapping[str, str] | Mapping[istr, str] | Iterable[tuple[str | istr, str]]

#: One query value: text or a number (``str()`` of it is sent).
_QueryValue: TypeAlias = str | SupportsInt | float
#: ``params=``: what ``yarl.URL.extend_query()`` takes: a string, a mapping of names to a
#: value or a sequence of values, or ``(name, value)`` pairs.
Query: TypeAlias = (
    str
    | Mapping[str, _QueryValue | Sequence[_QueryValue]]
    | Sequence[tuple[str, _QueryValue | Sequence[_QueryValue]]]
    | None
)
