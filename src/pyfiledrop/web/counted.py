"""A download response that counts once it delivered the file through its last byte.

What counts: a GET answered 200 (the whole file) or 206 with a range ending at the file's last
byte (the end of a resumed download), every byte of which reached the client (web/delivery.py:
sendfile, zero-copy ranges and streamed ranges alike, since it watches the socket, not the
path). HEAD, 304, 416, several ranges (multipart), ranges that stop short and responses cut off
do not: their reservation is let go, so another download may take its place.
"""

from __future__ import annotations

import asyncio
import logging
import re

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from pyfiledrop import errors
from pyfiledrop.core.sharing import DownloadCounter, Reservation
from pyfiledrop.web.delivery import watch
from pyfiledrop.web.sendfile import PATHSEND

_CONTENT_RANGE = re.compile(r"^bytes ([0-9]+)-([0-9]+)/([0-9]+)$")
log = logging.getLogger("pyfiledrop.server")


def reaches_end(status: int, headers: Headers, size: int) -> bool:
    """Whether a response with this status and these headers carries the file's last byte."""
    if status == 200:
        return True
    if status != 206:
        return False
    found = _CONTENT_RANGE.match(headers.get("content-range", ""))
    return found is not None and int(found.group(2)) == size - 1 == int(found.group(3)) - 1


class Counted(Response):
    """`response`, then the download counted if it was delivered whole, else its reservation
    let go. Headers set on this one are set on `response` (tus adds its own)."""

    def __init__(
        self, response: Response, counter: DownloadCounter, reservation: Reservation, size: int
    ) -> None:
        self.response = response
        self.status_code = response.status_code
        self.raw_headers = response.raw_headers  # the same list
        self.background = None
        self.counter = counter
        self.reservation = reservation
        self.size = size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        carries_end = finished = False

        async def watching(message: Message) -> None:
            nonlocal carries_end, finished
            kind = message["type"]
            if kind == "http.response.start":
                headers = Headers(raw=message.get("headers", []))
                carries_end = reaches_end(message["status"], headers, self.size)
            elif kind == PATHSEND or not message.get("more_body", False):
                finished = True
            await send(message)

        connection = watch(scope)
        whole = False
        try:
            await self.response(scope, receive, watching)
            if carries_end and finished and scope["method"] == "GET":
                whole = await connection.delivered() if connection else True
        finally:
            if connection:
                connection.close()
            await asyncio.shield(self._settle(whole))

    async def _settle(self, whole: bool) -> None:
        """Count it or let it go; the store being down must not turn a sent file into an error
        (an uncounted reservation then lapses with its lease)."""
        try:
            if whole:
                await self.counter.delivered(self.reservation)
            else:
                await self.counter.let_go(self.reservation)
        except errors.UploadError as exc:
            log.warning(f"a download could not be counted: {exc.message}")
