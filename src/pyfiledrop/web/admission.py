"""How much the server takes on at once: open connections, and request bodies arriving at speed.

Two limits, because the two cost different things:
- `Gate`: open connections, idle and half-sent ones included (`--max-connections`). An open
  connection costs a socket and a few KiB, so the cap is large; one above it gets 503.
- `Turns`: request bodies being received at speed (`--max-streams`). A body arriving at speed is
  what costs memory (the bytes a part writer gathers before it writes them, about 1 MB at peak),
  so this cap is sized by memory. A request with a body waits for a turn before the app sees it,
  with its body unread (the server reads no more than one socket read past the headers until the
  app asks); one still waiting after `--header-timeout` gets 503.

A turn is for a body that flows. One that brings less than `SLOW_BYTES` in `WINDOW` seconds (a
stall, a trickle) gives its turn back, so idle and trickling clients cannot hold every turn; it
takes one again, waiting if need be, once `SLOW_BYTES` more have arrived. What such a request
holds meanwhile is bounded by what it sent since its last write, which is less than a write run.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pyfiledrop import errors

WINDOW = 1.0  # seconds over which a body's speed is judged
SLOW_BYTES = 64 * 1024  # a body bringing less than this per WINDOW gives back its turn


class Gate:
    """The connections being served: at most `capacity`, admitted at accept, released at close."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.admitted: set[object] = set()

    def admit(self, connection: object) -> bool:
        if len(self.admitted) >= self.capacity:
            return False
        self.admitted.add(connection)
        return True

    def release(self, connection: object) -> None:
        self.admitted.discard(connection)


class Turns:
    """At most `capacity` turns taken at once; the rest wait in the order they asked."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.taken = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    async def take(self, timeout: float | None = None) -> bool:
        """Take a turn, waiting at most `timeout` seconds (None: as long as it takes); False if
        none came in time."""
        if self.taken < self.capacity and not self._waiting:
            self.taken += 1
            return True
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(turn)
            return True
        except TimeoutError:
            if turn.done():  # handed over just as the wait ran out: keep it after all
                return True
            turn.cancel()
            return False
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.give_back()
            turn.cancel()
            raise

    def give_back(self) -> None:
        """End a turn: hand it to the longest waiting request, if any."""
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self.taken -= 1


class _Turn:
    """One request's turn: given back when its body slows down, taken again when bytes come."""

    def __init__(self, turns: Turns, receive: Receive) -> None:
        self._turns = turns
        self._receive = receive
        self._loop = asyncio.get_running_loop()
        self._holding = True
        self._brought = 0  # bytes since the window began (holding) or since the turn went back
        self._timer: asyncio.TimerHandle | None = self._loop.call_later(WINDOW, self._judge)

    def _judge(self) -> None:
        if self._brought < SLOW_BYTES:
            self._timer = None
            self._holding = False
            self._turns.give_back()
        else:
            self._timer = self._loop.call_later(WINDOW, self._judge)
        self._brought = 0

    async def receive(self) -> Message:
        message = await self._receive()
        self._brought += len(message.get("body", b""))
        if not self._holding and self._brought >= SLOW_BYTES:
            await self._turns.take()
            self._holding, self._brought = True, 0
            self._timer = self._loop.call_later(WINDOW, self._judge)
        return message

    def end(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._holding:
            self._holding = False
            self._turns.give_back()


def has_body(scope: Scope) -> bool:
    headers = dict(scope["headers"])
    return headers.get(b"content-length", b"0") not in (b"0", b"") or (
        b"transfer-encoding" in headers
    )


def take_turns(
    app: ASGIApp, turns: Turns, wait: float, refuse: Callable[[str, errors.UploadError], Response]
) -> ASGIApp:
    """Requests with a body reach `app` only with a turn; one that waited `wait` seconds for it
    gets 503 (rendered by `refuse(path, error)`)."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not has_body(scope):
            await app(scope, receive, send)
            return
        if not await turns.take(wait):
            busy = errors.TOO_MANY_STREAMS(
                "The server is receiving as many uploads as it can; try again shortly."
            )
            response = refuse(scope["path"], busy)
            response.headers["retry-after"] = "1"
            await response(scope, receive, send)
            return
        turn = _Turn(turns, receive)
        try:
            await app(scope, turn.receive, send)
        finally:
            turn.end()

    return wrapped
