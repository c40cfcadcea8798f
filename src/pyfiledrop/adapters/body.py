"""A request body read piece by piece as it arrives, for adapters that stream it to storage.

A refused body is not read to its end here: the answer goes out at once with `Connection: close`,
and the server (web/server.py) drops what the client still sends for a bounded time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.requests import ClientDisconnect, Request


class Body:
    """The request body as it arrives, without Starlette's once-only stream guard: iterating
    again goes on where the last loop stopped (a multipart form is read up to its file part,
    then the file part's bytes are handed on).

    With a `pace` of (seconds, size), every `size` bytes must arrive within `seconds`, else
    iterating raises TimeoutError: a body that trickles in is cut off, not only one that stops.
    """

    def __init__(self, request: Request, pace: tuple[float, int] | None = None) -> None:
        self._receive = request.receive
        self._pace = pace
        self.ended = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        deadline, due = (loop.time() + self._pace[0], self._pace[1]) if self._pace else (None, 0)
        while not self.ended:
            if deadline is None:  # the common case: no timer to arm per piece
                message = await self._receive()
            else:
                async with asyncio.timeout_at(deadline):
                    message = await self._receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            self.ended = not message.get("more_body", False)
            if piece := message.get("body"):
                if self._pace:
                    due -= len(piece)
                    if due <= 0:
                        deadline, due = loop.time() + self._pace[0], self._pace[1]
                yield piece
