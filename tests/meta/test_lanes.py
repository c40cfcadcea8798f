"""The threads that run the SQLite store's calls (meta/lanes.py): results and errors reach the
caller, one thread keeps the calls' order, a caller that stops waiting leaves the lane working,
closing runs what was queued, and the calls waiting at once can be run together."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from pyfiledrop.meta.lanes import Lane, Outcome, one_by_one


def test_results_and_errors_reach_the_caller_in_order() -> None:
    lane = Lane(1, "test")
    seen: list[int] = []

    def record(n: int) -> int:
        seen.append(n)
        return n * 2

    def fail() -> None:
        raise ValueError("no such row")

    async def run() -> None:
        assert await asyncio.gather(*(lane.run(lambda n=n: record(n)) for n in range(50))) == [
            n * 2 for n in range(50)
        ]
        with pytest.raises(ValueError, match="no such row"):
            await lane.run(fail)
        assert await lane.run(lambda: threading.current_thread().name) == "test-0"

    asyncio.run(run())
    lane.close()
    assert seen == list(range(50)), "one thread: the order they were queued in"


def test_a_caller_that_stops_waiting_leaves_the_lane_working() -> None:
    lane = Lane(2, "test")
    release = threading.Event()

    async def run() -> None:
        slow = asyncio.ensure_future(lane.run(release.wait))
        await asyncio.sleep(0.01)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        assert await lane.run(lambda: "the other thread") == "the other thread"
        release.set()
        assert await lane.run(lambda: 1) == 1

    asyncio.run(run())
    lane.close()


def test_close_runs_what_was_queued() -> None:
    lane = Lane(1, "test")
    done: list[str] = []

    async def queue_and_leave() -> None:
        for name in ("a", "b"):
            asyncio.ensure_future(lane.run(lambda name=name: done.append(name)))
        await asyncio.sleep(0)

    asyncio.run(queue_and_leave())  # the loop is gone before the calls are answered
    lane.close()
    assert done == ["a", "b"]


def test_calls_waiting_at_once_are_run_together_in_order() -> None:
    batches: list[list[int]] = []

    def together(calls: list[Callable[[], Any]]) -> list[Outcome]:
        outcomes = one_by_one(calls)
        batches.append([result for result, _ in outcomes])
        return outcomes

    lane = Lane(1, "test", together=together)
    busy = threading.Event()

    async def run() -> None:
        first = asyncio.ensure_future(lane.run(lambda: busy.wait(5) and -1))
        await asyncio.sleep(0.05)  # the thread is in the first call: the rest queue up
        rest = [asyncio.ensure_future(lane.run(lambda n=n: n)) for n in range(5)]
        await asyncio.sleep(0.05)
        busy.set()
        assert await first == -1
        assert await asyncio.gather(*rest) == list(range(5))

    asyncio.run(run())
    lane.close()
    assert batches == [[-1], [0, 1, 2, 3, 4]]
