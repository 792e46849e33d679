"""The coarse timers, with a fake clock (the one thing tests may fake)."""

from __future__ import annotations

import asyncio
import gc
import math
import weakref
from typing import Any

import pytest

from hyperclient.client import _Deadline
from hyperclient.timers import CoarseTimers, coarse_timers
from hyperclient.values import ClientTimeout


class FakeTimer:
    def __init__(self, when: float, callback: Any) -> None:
        self.when, self.callback, self.cancelled = when, callback, False

    def cancel(self) -> None:
        self.cancelled = True


class FakeLoop:
    def __init__(self) -> None:
        self.now = 1000.0
        self.timers: list[FakeTimer] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Any) -> FakeTimer:
        timer = FakeTimer(when, callback)
        self.timers.append(timer)
        return timer

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for timer in sorted(self.timers, key=lambda t: t.when):
            if timer.when <= self.now and not timer.cancelled:
                timer.cancelled = True
                timer.callback()


class Recorder:
    def __init__(self) -> None:
        self.expired = 0

    def expire(self) -> None:
        self.expired += 1


def test_many_deadlines_share_one_timer_per_second() -> None:
    loop = FakeLoop()
    wheel = CoarseTimers(loop)  # type: ignore[arg-type]
    recorders = [Recorder() for _ in range(100)]
    for i, rec in enumerate(recorders):
        wheel.add(rec, loop.now + 300.001 + i / 1000)  # type: ignore[arg-type]
    assert len([t for t in loop.timers if not t.cancelled]) == 1
    loop.advance(300.9)
    assert sum(r.expired for r in recorders) == 0
    loop.advance(0.1)  # fires at the whole second after the deadline, never before
    assert all(r.expired == 1 for r in recorders)


def test_discarded_deadlines_never_fire_and_earlier_buckets_rearm() -> None:
    loop = FakeLoop()
    wheel = CoarseTimers(loop)  # type: ignore[arg-type]
    late, early, gone = Recorder(), Recorder(), Recorder()
    wheel.add(late, loop.now + 60)  # type: ignore[arg-type]
    bucket = wheel.add(gone, loop.now + 10)  # type: ignore[arg-type]
    wheel.add(early, loop.now + 10)  # type: ignore[arg-type]
    bucket.discard(gone)  # type: ignore[arg-type]
    loop.advance(10)
    assert (early.expired, gone.expired, late.expired) == (1, 0, 0)
    loop.advance(50)
    assert late.expired == 1


def test_a_member_cancelled_while_its_bucket_fires_does_not_fire_and_breaks_nothing() -> None:
    """An expire() may cancel another member of the same bucket (a response it fails is
    finalised and cancels its own budget): iterating the set raised "Set changed size
    during iteration", the rest of the bucket never fired and later buckets never armed."""
    loop = FakeLoop()
    wheel = CoarseTimers(loop)  # type: ignore[arg-type]
    others = [Recorder() for _ in range(10)]
    buckets: list[set[Any]] = []

    class Canceller(Recorder):
        def expire(self) -> None:
            super().expire()
            for other in others:
                buckets[0].discard(other)  # as Timeout.cancel does

    first = Canceller()
    buckets.append(wheel.add(first, loop.now + 10))  # type: ignore[arg-type]
    for other in others:
        wheel.add(other, loop.now + 10)  # type: ignore[arg-type]
    later = Recorder()
    wheel.add(later, loop.now + 20)  # type: ignore[arg-type]
    loop.advance(10)
    fired = [o.expired for o in others]
    assert first.expired == 1
    # Those that fired before it are done; none fired after being cancelled.
    assert all(n in (0, 1) for n in fired)
    loop.advance(10)
    assert later.expired == 1


def test_short_budgets_get_a_precise_timer() -> None:
    loop = FakeLoop()
    wheel = CoarseTimers(loop)  # type: ignore[arg-type]
    short = _Deadline(loop, 0.5, wheel, 5)  # type: ignore[arg-type]
    assert [t.when for t in loop.timers] == [loop.now + 0.5]
    short.cancel()
    assert loop.timers[0].cancelled
    long = _Deadline(loop, 300, wheel, 5)  # type: ignore[arg-type]
    assert loop.timers[-1].when == 1300  # the bucket's whole second
    long.cancel()
    loop.advance(400)
    assert not long.fired


@pytest.mark.parametrize(
    ("timeout", "threshold", "coarse"),
    [(300, float("inf"), False), (300, 300, True), (1.5, 1, True), (1.5, 2, False)],
)
def test_ceil_threshold_decides_which_budgets_are_coarse(
    timeout: float, threshold: float, coarse: bool
) -> None:
    """ClientTimeout.ceil_threshold (aiohttp's): budgets of at least that many seconds go
    into the one-second buckets, shorter ones get an exact loop timer."""
    loop = FakeLoop()
    loop.now = 1000.25
    wheel = CoarseTimers(loop)  # type: ignore[arg-type]
    deadline = _Deadline(loop, timeout, wheel, threshold)  # type: ignore[arg-type]
    exact = loop.now + timeout
    assert [t.when for t in loop.timers] == [math.ceil(exact) if coarse else exact]
    loop.advance(timeout)
    assert deadline.fired is not coarse  # a coarse one waits for the whole second
    loop.advance(1)
    assert deadline.fired


@pytest.mark.parametrize("bad", [-1, "5", float("nan"), None])
def test_ceil_threshold_is_checked(bad: object) -> None:
    with pytest.raises(ValueError, match=r"ceil_threshold must be >= 0, got"):
        ClientTimeout(ceil_threshold=bad)  # type: ignore[arg-type]


def test_a_loop_that_used_them_can_still_be_collected() -> None:
    """The registry of per-loop timers must not keep a loop alive, not even one closed with
    a deadline still waiting in a bucket (a deadline holds its task, the task its loop)."""
    loop = asyncio.new_event_loop()
    timers = coarse_timers(loop)
    assert coarse_timers(loop) is timers
    member = Recorder()
    member.loop = loop  # type: ignore[attr-defined]  # as a deadline's task would
    timers.add(member, loop.time() + 60)  # arms a real loop timer
    del timers, member
    ref = weakref.ref(loop)
    loop.close()
    del loop
    gc.collect()
    assert ref() is None
