"""Connection-pool bookkeeping: who is idle, who is in use, who waits.

The pool never touches a socket or the loop. It decides; the connector acts: every
method returns what the caller must close or which waiter it must wake, so the rules
(limits, FIFO waiters, keep-alive expiry) are testable with fake connections and no loop.

Limits (spec, and aiohttp 3 when ``limit_per_host`` is given):

* ``limit_per_key`` caps connections in use per endpoint (``None`` = no cap);
* ``total_limit`` caps connections in use over all endpoints together.

Idle connections do not count against either limit, but taking one makes it a connection
in use: it is taken only when the limits have room (else the request waits, and is then
granted that idle connection rather than a new one).
Waiters are served first come, first served per endpoint, and a slot freed while waiters
exist goes to the oldest waiter that can use it, never to a newcomer.
"""

from __future__ import annotations

import collections
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from typing import Final, Generic, Protocol, TypeVar

__all__ = ("EndpointStats", "Grant", "Pool")

#: "Nothing to close, nobody to wake": shared by the common returns, so they allocate nothing.
_NONE: tuple[()] = ()


class PooledConnection(Protocol):
    """What the pool needs to know about a connection."""

    def is_reusable(self) -> bool: ...


class Waiter(Protocol):
    """What the pool needs to know about a waiter (an ``asyncio.Future`` in practice)."""

    def done(self) -> bool: ...


C = TypeVar("C", bound=PooledConnection)
W = TypeVar("W", bound=Waiter)
K = TypeVar("K", bound=Hashable)


#: Endpoints whose counts (``created``, ``reused``) are kept after their last connection
#: is gone; beyond this many, the oldest quiet ones are forgotten.
STATS_KEPT: Final = 1024


@dataclass(slots=True)
class EndpointStats:
    """Counts for one endpoint, as reported by ``connector.stats()``."""

    idle: int = 0
    in_use: int = 0
    waiting: int = 0
    created: int = 0
    reused: int = 0


@dataclass(slots=True)
class Grant(Generic[K, C, W]):
    """Wake *waiter*: it now owns a slot for *key*, with *connection* to reuse or None."""

    key: K
    waiter: W
    connection: C | None


class Pool(Generic[K, C, W]):
    """Idle connections, in-use counts and waiters, per endpoint key.

    Args:
        limit_per_key: most connections in use per key; None for no cap.
        total_limit: most connections in use over all keys; None for no cap.
        max_idle: most idle connections over all keys; beyond it the one closest to
            expiry is given back for closing. None for no cap.
    """

    def __init__(
        self, *, limit_per_key: int | None, total_limit: int | None, max_idle: int | None = None
    ) -> None:
        self.limit_per_key = limit_per_key or None
        self.total_limit = total_limit or None
        self.max_idle = max_idle
        self._idle: dict[K, list[tuple[C, float]]] = {}
        self._idle_total = 0
        self._in_use: dict[K, int] = {}
        self._in_use_total = 0
        self._waiters: dict[K, collections.deque[W]] = {}
        self._stats: dict[K, EndpointStats] = {}

    # -- taking a connection ------------------------------------------------------------------

    def take_idle(self, key: K, now: float) -> tuple[C | None, list[C] | tuple[()]]:
        """Pop the most recently used live idle connection for *key*.

        Returns it (now counted as in use) or None, and the dead or expired connections
        popped on the way, for the caller to close. The one place that picks an idle
        connection: granting a freed slot to a waiter goes through here too.
        """
        stack = self._idle.get(key)
        if stack is None:
            return None, _NONE
        total = self.total_limit
        if total is not None and self._in_use_total >= total:
            # Reusing it would put one more connection in use than the total cap allows.
            return None, _NONE
        dead: list[C] | None = None  # a list only once a dead connection is met
        while stack:
            conn, expires_at = stack.pop()
            self._idle_total -= 1
            if expires_at > now and conn.is_reusable():
                if not stack:
                    del self._idle[key]
                self._mark_in_use(key)
                self._stats[key].reused += 1  # an idle connection's key has stats
                return conn, dead or _NONE
            if dead is None:
                dead = [conn]
            else:
                dead.append(conn)
        del self._idle[key]
        return None, dead or _NONE

    def try_reserve(self, key: K) -> bool:
        """Count a new connection for *key* as in use, if the limits and the queue allow."""
        if self._waiters.get(key) or not self._has_room(key):
            return False
        self._mark_in_use(key)
        return True

    def connection_created(self, key: K) -> None:
        """Record that a reserved slot became a new connection."""
        self._stats_for(key).created += 1

    def enqueue(self, key: K, waiter: W) -> None:
        """Queue *waiter* for a slot on *key*."""
        self._waiters.setdefault(key, collections.deque()).append(waiter)

    def dequeue(self, key: K, waiter: W) -> None:
        """Forget a waiter that gave up (cancelled, timed out) before being granted."""
        queue = self._waiters.get(key)
        if queue is not None:
            try:
                queue.remove(waiter)
            except ValueError:
                pass
            if not queue:
                del self._waiters[key]

    # -- giving it back -------------------------------------------------------------------------

    def release(
        self, key: K, conn: C | None, *, keep: bool, expires_at: float, now: float
    ) -> tuple[list[Grant[K, C, W]] | tuple[()], list[C] | tuple[()]]:
        """Give back a slot of *key*, with its connection if any.

        With *keep*, the connection is handed to the oldest waiter of the same key or kept
        idle until *expires_at*; otherwise it is returned for closing. Either way freed
        slots go to waiters, with live idle connections as of *now*. Returns the grants to
        deliver and the connections to close (dead or expired idle ones met on the way too).
        """
        self._unmark_in_use(key)
        if conn is not None and keep:
            if key in self._waiters:
                waiter = self._pop_waiter(key)
                if waiter is not None:
                    self._mark_in_use(key)
                    self._stats_for(key).reused += 1
                    return [Grant(key, waiter, conn)], _NONE
            stack = self._idle.get(key)
            if stack is None:
                self._idle[key] = [(conn, expires_at)]
            else:
                stack.append((conn, expires_at))
            self._idle_total += 1
            # The freed slot may serve another key's waiter (total_limit), with an idle
            # connection of its key: granted first, so that eviction never closes one a
            # waiter could have reused.
            grants, dead = self._grant_free_slots(key, now) if self._waiters else (_NONE, _NONE)
            if self.max_idle is not None and self._idle_total > self.max_idle:
                dead = [*dead, self._evict_idle()]
            return grants, dead
        if not self._waiters:
            return _NONE, ([conn] if conn is not None else _NONE)
        grants, dead = self._grant_free_slots(key, now)
        if conn is not None:
            dead = [conn, *dead]
        return grants, dead

    def give_back_slot(
        self, key: K, now: float
    ) -> tuple[list[Grant[K, C, W]] | tuple[()], list[C] | tuple[()]]:
        """Free a reserved slot that produced no connection (connect failed).

        Returns the grants to deliver and the dead or expired idle connections to close.
        """
        self._unmark_in_use(key)
        if not self._waiters:
            return _NONE, _NONE
        return self._grant_free_slots(key, now)

    def expire(self, now: float) -> tuple[list[C], float | None]:
        """Remove idle connections that expired or died; return them and the next expiry."""
        dead: list[C] = []
        next_expiry: float | None = None
        for key in list(self._idle):
            keep = []
            for conn, expires_at in self._idle[key]:
                if expires_at <= now or not conn.is_reusable():
                    dead.append(conn)
                else:
                    keep.append((conn, expires_at))
                    if next_expiry is None or expires_at < next_expiry:
                        next_expiry = expires_at
            if keep:
                self._idle[key] = keep
            else:
                del self._idle[key]
        self._idle_total -= len(dead)
        return dead, next_expiry

    def drain(self) -> tuple[list[C], list[W]]:
        """Empty the pool (closing the connector): idle connections and waiters."""
        idle = [conn for stack in self._idle.values() for conn, _ in stack]
        waiters = [w for queue in self._waiters.values() for w in queue]
        self._idle.clear()
        self._idle_total = 0
        self._waiters.clear()
        return idle, waiters

    # -- reporting ------------------------------------------------------------------------------

    def stats(self) -> dict[K, EndpointStats]:
        """Per-key counts of idle, in-use and waiting connections, and totals."""
        out: dict[K, EndpointStats] = {}
        for key, base in self._stats.items():
            out[key] = EndpointStats(
                idle=len(self._idle.get(key, ())),
                in_use=self._in_use.get(key, 0),
                waiting=len(self._waiters.get(key, ())),
                created=base.created,
                reused=base.reused,
            )
        for key, queue in self._waiters.items():
            if key not in out:
                out[key] = EndpointStats(waiting=len(queue))
        return out

    @property
    def in_use_total(self) -> int:
        """Connections in use over every key."""
        return self._in_use_total

    def in_use(self, key: K) -> int:
        """Connections in use for *key*."""
        return self._in_use.get(key, 0)

    def idle_count(self) -> int:
        """Idle connections over every key."""
        return sum(len(stack) for stack in self._idle.values())

    def iter_idle(self) -> Iterator[C]:
        """Every idle connection."""
        for stack in self._idle.values():
            for conn, _ in stack:
                yield conn

    def idle_by_key(self) -> dict[K, list[tuple[C, float]]]:
        """A snapshot of the idle stacks: key -> [(connection, expires_at)]."""
        return {key: list(stack) for key, stack in self._idle.items()}

    # -- internals ------------------------------------------------------------------------------

    def _has_room(self, key: K) -> bool:
        if self.total_limit is not None and self._in_use_total >= self.total_limit:
            return False
        return self.limit_per_key is None or self._in_use.get(key, 0) < self.limit_per_key

    def _mark_in_use(self, key: K) -> None:
        self._in_use[key] = self._in_use.get(key, 0) + 1
        self._in_use_total += 1
        if key not in self._stats:
            if len(self._stats) >= STATS_KEPT:
                self._forget_quiet_stats()
            self._stats[key] = EndpointStats()

    def _forget_quiet_stats(self) -> None:
        """Drop the counts of the oldest endpoints that have no connection and no waiter,
        down to half of :data:`STATS_KEPT`: a client that meets ever new hosts or ports
        (redirects to wildcard names, say) must not keep an entry for each for ever."""
        stats = self._stats
        for key in list(stats):
            if len(stats) <= STATS_KEPT // 2:
                return
            if key not in self._in_use and key not in self._idle and key not in self._waiters:
                del stats[key]

    def _unmark_in_use(self, key: K) -> None:
        count = self._in_use.get(key, 0)
        if count <= 0:  # Defensive: a double release must not corrupt the counts.
            raise RuntimeError(f"connection released twice for {key!r}")
        if count == 1:
            del self._in_use[key]
        else:
            self._in_use[key] = count - 1
        self._in_use_total -= 1

    def _stats_for(self, key: K) -> EndpointStats:
        stats = self._stats.get(key)
        if stats is None:
            stats = self._stats[key] = EndpointStats()
        return stats

    def _evict_idle(self) -> C:
        """Remove an idle connection and return it: of each key's longest idle one (a
        stack's bottom: stacks are in release order), the one closest to expiry.

        A client that meets ever new hosts (a crawler) would otherwise hold a socket per
        host until its keep-alive runs out, and run out of file descriptors first."""
        key = min(self._idle, key=lambda k: self._idle[k][0][1])
        stack = self._idle[key]
        conn, _ = stack.pop(0)
        if not stack:
            del self._idle[key]
        self._idle_total -= 1
        return conn

    def _pop_waiter(self, key: K) -> W | None:
        queue = self._waiters.get(key)
        while queue:
            waiter = queue.popleft()
            if not waiter.done():
                if not queue:
                    del self._waiters[key]
                return waiter
        if queue is not None:
            del self._waiters[key]
        return None

    def _grant_free_slots(
        self, key: K, now: float
    ) -> tuple[list[Grant[K, C, W]] | tuple[()], list[C] | tuple[()]]:
        """Hand free slots to waiters: first those of *key*, then (total cap) any other.

        Returns the grants and the dead or expired idle connections met on the way.
        """
        grants: list[Grant[K, C, W]] = []
        dead: list[C] = []
        keys = [key, *(k for k in self._waiters if k != key)]
        for k in keys:
            while self._waiters.get(k) and self._has_room(k):
                waiter = self._pop_waiter(k)
                if waiter is None:
                    break
                # The slot is free (_has_room), so take_idle passes the total cap.
                conn, stale = self.take_idle(k, now)
                if conn is None:
                    self._mark_in_use(k)
                if stale:
                    dead += stale
                grants.append(Grant(k, waiter, conn))
            if self.total_limit is not None and self._in_use_total >= self.total_limit:
                break
        return grants or _NONE, dead or _NONE
