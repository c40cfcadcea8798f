"""A request body read piece by piece as it arrives, for adapters that stream it to storage."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.requests import ClientDisconnect, Request

_DRAIN_LIMIT = 128 * 1024 * 1024  # read at most this much of a refused body so the client sees why


class Body:
    """The request body as it arrives, without Starlette's once-only stream guard.

    Iterating again after an error goes on where the first loop stopped, which is how a refused
    body is drained.
    """

    def __init__(self, request: Request, idle: float | None = None) -> None:
        self._receive = request.receive
        self._idle = idle
        self.ended = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """Raises TimeoutError when `idle` seconds pass without a byte."""
        while not self.ended:
            if self._idle is None:  # the common case: no timer to arm per piece
                message = await self._receive()
            else:
                async with asyncio.timeout(self._idle):
                    message = await self._receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            self.ended = not message.get("more_body", False)
            if message.get("body"):
                yield message["body"]

    async def drain(self) -> None:
        """Read and drop the rest of a refused body, so the client reads our answer, not a reset."""
        seen = 0
        try:
            async for piece in self:
                seen += len(piece)
                if seen > _DRAIN_LIMIT:
                    return
        except ClientDisconnect:
            return
