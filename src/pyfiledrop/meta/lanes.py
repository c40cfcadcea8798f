"""Threads that run a store's blocking calls for the event loop, lighter than `run_in_executor`.

A call costs the loop one future and, once it is done, one wake-up that settles it (a
`queue.SimpleQueue` to the threads, `call_soon_threadsafe` back). `run_in_executor` also makes a
concurrent Future, with its lock and condition, and chains the two through callbacks: about 21-27
µs of the loop's time per call with 8 at once, against 6 µs here (measured on this project's
machines). A small upload takes about fifteen trips to the stores.

Unlike an executor's, a call queued here runs even if its caller stopped waiting: as with a call
already running there, the caller cannot know whether it did, and the stores allow for that.

A lane may also run the calls waiting at once together (`together`): SQLite's writer makes them
one transaction, one append to the WAL instead of one each.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_Call = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[], Any]]
Outcome = tuple[Any, BaseException | None]  # a call's result, or what it raised
Together = Callable[[list[Callable[[], Any]]], list[Outcome]]
MOST_TOGETHER = 64  # calls taken at once by a lane that runs them together


def one_by_one(calls: list[Callable[[], Any]]) -> list[Outcome]:
    """Each call by itself: what a lane does unless told otherwise."""
    outcomes: list[Outcome] = []
    for call in calls:
        try:
            outcomes.append((call(), None))
        except BaseException as exc:  # handed to the caller, whatever it is
            outcomes.append((None, exc))
    return outcomes


class Lane:
    """`threads` threads taking calls in the order they were queued. `together` runs the calls
    a thread finds waiting at once (at least one, at most MOST_TOGETHER), in order, and says how
    each ended."""

    def __init__(self, threads: int, name: str, together: Together = one_by_one) -> None:
        self._together = together
        self._most = 1 if together is one_by_one else MOST_TOGETHER  # calls taken at once
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._serve, name=f"{name}-{n}", daemon=True)
            for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    async def run(self, call: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._calls.put((loop, future, call))
        return await future

    def close(self) -> None:
        """Run what is queued, then stop the threads (from a thread other than theirs)."""
        for _ in self._threads:
            self._calls.put(None)
        for thread in self._threads:
            thread.join()

    def _serve(self) -> None:
        stopping = False
        while not stopping and (queued := self._calls.get()) is not None:
            batch = [queued]
            while len(batch) < self._most:
                try:
                    more = self._calls.get_nowait()
                except queue.Empty:
                    break
                if more is None:  # closing: this batch is the last
                    stopping = True
                    break
                batch.append(more)
            outcomes = self._together([call for _, _, call in batch])
            for (loop, future, _), (result, error) in zip(batch, outcomes, strict=True):
                try:
                    loop.call_soon_threadsafe(_settle, future, result, error)
                except RuntimeError:  # the loop is closed: nobody waits for it any more
                    pass


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)
