"""The pool's rules, with fake connections and waiters: no loop, no sockets."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from hyperclient.pool import STATS_KEPT, Pool


@dataclass(eq=False)
class FakeConn:
    name: str
    reusable: bool = True

    def is_reusable(self) -> bool:
        return self.reusable


@dataclass(eq=False)
class FakeWaiter:
    name: str
    cancelled: bool = False

    def done(self) -> bool:
        return self.cancelled


def make(limit: int | None = None, total: int | None = None) -> Pool[str, FakeConn, FakeWaiter]:
    return Pool(limit_per_key=limit, total_limit=total)


def test_take_idle_returns_most_recent_live_connection_and_dead_ones() -> None:
    pool = make()
    a, b, c = FakeConn("a"), FakeConn("b", reusable=False), FakeConn("c")
    for _ in range(3):
        assert pool.try_reserve("k")
    for conn in (a, b, c):
        pool.release("k", conn, keep=True, expires_at=100.0, now=0.0)
    # c is the most recently used: taken first (LIFO keeps fewer sockets warm).
    got, dead = pool.take_idle("k", now=1.0)
    assert got is c
    assert not dead
    got, dead = pool.take_idle("k", now=1.0)
    assert got is a
    assert dead == [b]
    assert pool.in_use("k") == 2


def test_expired_idle_connections_are_returned_for_closing() -> None:
    pool = make()
    conn = FakeConn("a")
    assert pool.try_reserve("k")
    pool.release("k", conn, keep=True, expires_at=5.0, now=0.0)
    got, dead = pool.take_idle("k", now=5.0)
    assert got is None
    assert dead == [conn]
    assert pool.idle_count() == 0


def test_per_key_limit_queues_and_hands_off_fifo() -> None:
    pool = make(limit=1)
    assert pool.try_reserve("k")
    assert not pool.try_reserve("k")
    w1, w2 = FakeWaiter("1"), FakeWaiter("2")
    pool.enqueue("k", w1)
    pool.enqueue("k", w2)
    conn = FakeConn("a")
    grants, to_close = pool.release("k", conn, keep=True, expires_at=10.0, now=0.0)
    assert [(g.waiter, g.connection) for g in grants] == [(w1, conn)]
    assert not to_close
    assert pool.in_use("k") == 1
    # Closing instead of keeping frees a slot: the next waiter opens a new connection.
    grants, to_close = pool.release("k", conn, keep=False, expires_at=10.0, now=0.0)
    assert [(g.waiter, g.connection) for g in grants] == [(w2, None)]
    assert to_close == [conn]


def test_newcomer_does_not_jump_the_queue() -> None:
    pool = make(limit=2)
    assert pool.try_reserve("k")
    assert pool.try_reserve("k")
    waiter = FakeWaiter("w")
    pool.enqueue("k", waiter)
    grants, _ = pool.give_back_slot("k", now=0.0)
    assert [g.waiter for g in grants] == [waiter]
    # The slot went to the waiter; a newcomer must queue.
    assert not pool.try_reserve("k")


def test_cancelled_waiters_are_skipped_and_never_hold_a_slot() -> None:
    pool = make(limit=1)
    assert pool.try_reserve("k")
    gone, alive = FakeWaiter("gone", cancelled=True), FakeWaiter("alive")
    pool.enqueue("k", gone)
    pool.enqueue("k", alive)
    grants, _ = pool.give_back_slot("k", now=0.0)
    assert [g.waiter for g in grants] == [alive]
    assert pool.in_use("k") == 1


def test_dequeue_forgets_a_waiter() -> None:
    pool = make(limit=1)
    assert pool.try_reserve("k")
    waiter = FakeWaiter("w")
    pool.enqueue("k", waiter)
    pool.dequeue("k", waiter)
    grants, _ = pool.give_back_slot("k", now=0.0)
    assert list(grants) == []
    assert pool.in_use("k") == 0
    assert pool.try_reserve("k")


def test_total_limit_spans_keys_and_wakes_other_keys() -> None:
    pool = make(limit=5, total=2)
    assert pool.try_reserve("a")
    assert pool.try_reserve("b")
    assert not pool.try_reserve("c")
    waiter = FakeWaiter("c")
    pool.enqueue("c", waiter)
    conn = FakeConn("a1")
    # Keeping a's connection idle frees a total slot: c may open its own.
    grants, to_close = pool.release("a", conn, keep=True, expires_at=10.0, now=0.0)
    assert [(g.key, g.waiter, g.connection) for g in grants] == [("c", waiter, None)]
    assert not to_close
    assert pool.in_use_total == 2


def test_no_limit_means_no_cap() -> None:
    pool = make(limit=None)
    for _ in range(1000):
        assert pool.try_reserve("k")
    assert pool.in_use("k") == 1000


def test_double_release_is_refused() -> None:
    pool = make()
    assert pool.try_reserve("k")
    pool.give_back_slot("k", now=0.0)
    with pytest.raises(RuntimeError, match="released twice"):
        pool.give_back_slot("k", now=0.0)


def test_stats_count_created_reused_idle_waiting() -> None:
    pool = make(limit=1)
    assert pool.try_reserve("k")
    pool.connection_created("k")
    conn = FakeConn("a")
    pool.release("k", conn, keep=True, expires_at=10.0, now=0.0)
    got, _ = pool.take_idle("k", now=0.0)
    assert got is conn
    pool.enqueue("k", FakeWaiter("w"))
    stats = pool.stats()["k"]
    assert (stats.idle, stats.in_use, stats.waiting, stats.created, stats.reused) == (
        0,
        1,
        1,
        1,
        1,
    )


def test_expire_returns_dead_and_next_expiry() -> None:
    pool = make()
    old, fresh, dead = FakeConn("old"), FakeConn("fresh"), FakeConn("dead")
    for conn, expiry in ((old, 1.0), (fresh, 9.0), (dead, 9.0)):
        assert pool.try_reserve("k")
        pool.release("k", conn, keep=True, expires_at=expiry, now=0.0)
    dead.reusable = False
    closed, next_expiry = pool.expire(now=2.0)
    assert set(map(id, closed)) == {id(old), id(dead)}
    assert next_expiry == 9.0
    assert pool.idle_count() == 1


def test_drain_returns_everything() -> None:
    pool = make(limit=1)
    assert pool.try_reserve("k")
    conn = FakeConn("a")
    pool.release("k", conn, keep=True, expires_at=10.0, now=0.0)
    assert pool.try_reserve("k")
    waiter = FakeWaiter("w")
    assert not pool.try_reserve("k")
    pool.enqueue("k", waiter)
    idle, waiters = pool.drain()
    assert idle == [conn]
    assert waiters == [waiter]
    assert pool.idle_count() == 0


def test_total_limit_also_holds_when_reusing_idle_connections() -> None:
    """limit=1 over all hosts: an idle connection of a is not reused while b's is in use;
    the request for a waits, and is then granted that idle connection, not a new one."""
    pool = make(limit=10, total=1)
    idle_a = FakeConn("a1")
    assert pool.try_reserve("a")
    pool.release("a", idle_a, keep=True, expires_at=100.0, now=0.0)
    assert pool.try_reserve("b")
    got, dead = pool.take_idle("a", now=1.0)
    assert got is None
    assert not dead
    assert not pool.try_reserve("a")
    waiter = FakeWaiter("wa")
    pool.enqueue("a", waiter)
    grants, to_close = pool.release("b", FakeConn("b1"), keep=True, expires_at=100.0, now=0.0)
    assert [(g.key, g.waiter, g.connection) for g in grants] == [("a", waiter, idle_a)]
    assert not to_close
    assert pool.in_use_total == 1
    assert pool.stats()["a"].reused == 1


def test_granting_returns_a_dead_idle_connection_for_closing() -> None:
    pool = make(limit=10, total=1)
    dead_a = FakeConn("a1")
    assert pool.try_reserve("a")
    pool.release("a", dead_a, keep=True, expires_at=100.0, now=0.0)
    dead_a.reusable = False
    assert pool.try_reserve("b")
    waiter = FakeWaiter("wa")
    pool.enqueue("a", waiter)
    grants, to_close = pool.release("b", None, keep=False, expires_at=0.0, now=0.0)
    assert [(g.key, g.connection) for g in grants] == [("a", None)]  # a new connection
    # The dead one is closed now, not left for expire().
    assert to_close == [dead_a]
    dead, _ = pool.expire(now=1.0)
    assert dead == []
    assert pool.idle_count() == 0


def _waiting_for_a(
    conns: list[tuple[FakeConn, float]],
) -> tuple[Pool[str, FakeConn, FakeWaiter], FakeWaiter]:
    """total=1: *conns* idle for a (the last on top), b in use, a waiter queued for a."""
    pool = make(limit=10, total=1)
    for conn, expires_at in conns:
        assert pool.try_reserve("a")
        pool.release("a", conn, keep=True, expires_at=expires_at, now=0.0)
    assert pool.try_reserve("b")
    waiter = FakeWaiter("wa")
    pool.enqueue("a", waiter)
    return pool, waiter


def test_granting_skips_a_dead_idle_connection_hiding_a_live_one() -> None:
    live, dead = FakeConn("live"), FakeConn("dead")
    pool, waiter = _waiting_for_a([(live, 100.0), (dead, 100.0)])
    dead.reusable = False
    grants, to_close = pool.release("b", None, keep=False, expires_at=0.0, now=1.0)
    assert [(g.key, g.waiter, g.connection) for g in grants] == [("a", waiter, live)]
    assert to_close == [dead]
    assert pool.idle_count() == 0
    assert pool.stats()["a"].reused == 1


def test_granting_never_hands_out_an_expired_idle_connection() -> None:
    live, expired = FakeConn("live"), FakeConn("expired")
    pool, waiter = _waiting_for_a([(live, 100.0), (expired, 5.0)])
    grants, to_close = pool.give_back_slot("b", now=5.0)
    assert [(g.key, g.waiter, g.connection) for g in grants] == [("a", waiter, live)]
    assert to_close == [expired]


def test_granting_a_new_connection_when_every_idle_one_expired() -> None:
    old = FakeConn("old")
    pool, waiter = _waiting_for_a([(old, 5.0)])
    grants, to_close = pool.release("b", FakeConn("b1"), keep=False, expires_at=0.0, now=6.0)
    assert [(g.key, g.waiter, g.connection) for g in grants] == [("a", waiter, None)]
    assert [c.name for c in to_close] == ["b1", "old"]
    assert pool.in_use_total == 1


def test_counts_of_quiet_endpoints_are_not_kept_for_ever() -> None:
    """One entry per endpoint ever met would grow without end; endpoints with a connection
    or a waiter keep theirs, and the most recent quiet ones are kept too."""
    pool = make(limit=1)
    idle_conn, waiter = FakeConn("idle"), FakeWaiter("w")
    assert pool.try_reserve("busy")
    pool.connection_created("busy")
    assert pool.try_reserve("idle")
    pool.connection_created("idle")
    pool.release("idle", idle_conn, keep=True, expires_at=1e9, now=0.0)
    pool.enqueue("busy", waiter)
    for i in range(5 * STATS_KEPT):
        key = f"host{i}"
        assert pool.try_reserve(key)
        pool.connection_created(key)
        pool.give_back_slot(key, now=0.0)
    stats = pool.stats()
    assert len(stats) <= STATS_KEPT
    assert stats["busy"].created == 1
    assert stats["busy"].in_use == 1
    assert stats["busy"].waiting == 1
    assert stats["idle"].idle == 1
    assert stats[f"host{5 * STATS_KEPT - 1}"].created == 1  # the latest are kept
    conn, _ = pool.take_idle("idle", now=0.0)
    assert conn is idle_conn
    assert pool.stats()["idle"].reused == 1


def test_idle_connections_over_all_keys_are_capped() -> None:
    """Beyond max_idle, the idle connection closest to expiry is given back to close."""
    pool: Pool[str, FakeConn, FakeWaiter] = Pool(limit_per_key=None, total_limit=None, max_idle=3)
    conns = {name: FakeConn(name) for name in ("a1", "a2", "b1", "c1", "d1")}
    released: list[FakeConn] = []
    for name, expires_at in (("a1", 10.0), ("b1", 5.0), ("a2", 20.0), ("c1", 30.0), ("d1", 40.0)):
        key = name[0]
        assert pool.try_reserve(key)
        grants, to_close = pool.release(key, conns[name], keep=True, expires_at=expires_at, now=0.0)
        assert grants == ()
        released += to_close
    # b1 (expires at 5) went first, then a1 (10): the bottom of a's stack.
    assert released == [conns["b1"], conns["a1"]]
    assert pool.idle_count() == pool._idle_total == 3
    assert pool.take_idle("a", now=0.0) == (conns["a2"], ())
    assert pool.idle_count() == pool._idle_total == 2
    dead, _ = pool.expire(now=35.0)
    assert dead == [conns["c1"]]
    assert pool.idle_count() == pool._idle_total == 1
    idle, _ = pool.drain()
    assert idle == [conns["d1"]]
    assert pool._idle_total == 0
