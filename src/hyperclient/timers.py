"""Coarse timers: one loop timer per second of expiry for long timeouts, shared by a loop.

Most timeouts are long and never fire: a request's ``total`` (300 s by default) or a TCP
connect's ``sock_connect`` (30 s) ends in milliseconds. Arming and cancelling a loop timer
for each (a ``TimerHandle``, a heap push, and the cancelled handle's later pop) costs more
than the rest of a new connection's own bookkeeping. Timeouts of
``ClientTimeout.ceil_threshold`` seconds or more (5 by default) instead join the bucket of
the whole second they expire in, a set: arming is a set insertion, cancelling a removal.
They may fire up to a second late, as aiohttp's ceiled timers do.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from typing import Protocol

__all__ = ("CoarseTimers", "Expiring", "Timeout", "coarse_timers")


class Expiring(Protocol):
    """Something with a deadline: told once when it has passed."""

    def expire(self) -> None: ...


class CoarseTimers:
    """The one-second buckets of one event loop, and the single loop timer behind them."""

    __slots__ = ("__weakref__", "_armed", "_buckets", "_handle", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._buckets: dict[int, set[Expiring]] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._armed: int | None = None

    def runs_on(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Whether these are *loop*'s timers."""
        return self._loop is loop

    def add(self, member: Expiring, when: float) -> set[Expiring]:
        """Call ``member.expire()`` at the end of the second *when* (loop time) falls in.

        Returns the bucket: ``bucket.discard(member)`` cancels, and is harmless after the
        bucket fired.
        """
        bucket = math.ceil(when)
        members = self._buckets.get(bucket)
        if members is None:
            members = self._buckets[bucket] = set()
            if self._armed is None or bucket < self._armed:
                self._arm(bucket)
        members.add(member)
        return members

    def _arm(self, bucket: int) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._armed = bucket
        self._handle = self._loop.call_at(bucket, self._fire)

    def disarm_if_idle(self) -> None:
        """Cancel the loop timer when no member waits (a session closing): nothing is
        left on the loop. A later ``add`` arms it again."""
        if self._handle is not None and not any(self._buckets.values()):
            self._handle.cancel()
            self._handle = self._armed = None
            self._buckets.clear()

    def _fire(self) -> None:
        self._handle = self._armed = None
        now = self._loop.time()
        for bucket in sorted(b for b in self._buckets if b <= now):
            members = self._buckets.pop(bucket)
            # One at a time: an expire() may cancel another member of this bucket (a
            # response finalised by it cancels its own budget), which must then not fire.
            while members:
                members.pop().expire()
        if self._buckets:
            self._arm(min(self._buckets))


#: Each loop's timers, held weakly at both ends: by the loop's armed timer while any bucket
#: waits, and by the sessions that cache them. Timers hold their loop, so a registry that
#: held them strongly would keep every loop that ever used them alive.
_timers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, weakref.ref[CoarseTimers]] = (
    weakref.WeakKeyDictionary()
)


def coarse_timers(loop: asyncio.AbstractEventLoop) -> CoarseTimers:
    """The coarse timers of *loop* (made on first use, gone when nothing waits on them)."""
    ref = _timers.get(loop)
    timers = None if ref is None else ref()
    if timers is None:
        timers = CoarseTimers(loop)
        _timers[loop] = weakref.ref(timers)
    return timers


class Timeout:
    """Base of a deadline told ``expire()`` once: armed in the loop's coarse timers when
    it is at least ``ceil_threshold`` away (then it may fire up to a second late), else on
    an exact loop timer. The one place that makes that choice."""

    __slots__ = ("_bucket", "_handle")

    def _arm(
        self,
        loop: asyncio.AbstractEventLoop,
        timeout: float,
        ceil_threshold: float,
        timers: CoarseTimers | None = None,
    ) -> None:
        """Arm for *timeout* seconds from now; *timers*: the loop's, when already at hand."""
        when = loop.time() + timeout
        # Exactly one of the two is set while armed: a bucket or a loop timer.
        self._bucket: set[Expiring] | None = None
        self._handle: asyncio.TimerHandle | None = None
        if timeout >= ceil_threshold:
            self._bucket = (timers or coarse_timers(loop)).add(self, when)
        else:
            self._handle = loop.call_at(when, self.expire)

    def expire(self) -> None:  # pragma: no cover  # every subclass has its own
        raise NotImplementedError

    @property
    def armed(self) -> bool:
        """Whether it is still to fire (neither fired nor cancelled)."""
        return self._bucket is not None or self._handle is not None

    def _disarm(self) -> None:
        """Forget the timer (it fired)."""
        self._bucket = self._handle = None

    def cancel(self) -> None:
        """Do not fire; harmless after firing."""
        bucket = self._bucket
        if bucket is not None:
            # A bucket that already fired is no longer in the timers: discarding is harmless.
            self._bucket = None
            bucket.discard(self)
        elif self._handle is not None:
            self._handle.cancel()
            self._handle = None
