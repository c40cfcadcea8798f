"""Zero-copy file responses: the ASGI `http.response.pathsend` and `http.response.zerocopysend`
extensions for uvicorn's httptools protocol (web/server.py), served with `os.sendfile`.

Starlette's FileResponse sends `pathsend` for a whole file when the server offers it; for a single
range, web/files.py sends `zerocopysend` (a file, an offset and a count). Read through Python in
64 KiB pieces, a download ran at 330-370 MB/s where nginx reached 2.1-2.4 GB/s; with sendfile the
page cache goes straight into the socket, and the loop wakes once per socket buffer.

How a file goes out: the response head is written by uvicorn as for any response. Then whatever
the transport still holds (the head, the end of an earlier answer on a kept-alive connection) is
flushed first, so the bytes keep their order on the wire. Then `os.sendfile` on a duplicate of the
socket's descriptor: uvloop lets no one else watch a transport's own, and the duplicate cannot be
swapped for another file if the transport closes its descriptor meanwhile. On EAGAIN the sender
waits until the socket is writable again: a slow reader holds the kernel's socket buffer, never
the file in memory. Finally the body is ended through uvicorn, which then keeps the connection
alive or closes it, as for any response.

Failure modes: a client that goes away (EPIPE, ECONNRESET) or a connection closed by the server
(shutdown, a slow pipelined head) ends the sending; the response is dropped, as uvicorn drops any
send after a disconnect. A file shorter than the count promised in Content-Length: RuntimeError,
and uvicorn closes the connection (the client sees a short body). A file not yet in the page cache
is read by sendfile on the event loop's thread, as nginx does without thread pools.

The extensions are offered on plain TCP only: over TLS the bytes must pass through the encryption,
which pyfiledrop leaves to a proxy.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from starlette.types import Message

PATHSEND = "http.response.pathsend"
ZEROCOPYSEND = "http.response.zerocopysend"
MOST_AT_ONCE = 1 << 30  # per sendfile call (Linux sends at most 2 GiB - 4 KiB)


class Flow(Protocol):
    async def drain(self) -> None:
        """Returns once the transport no longer holds more than its low mark."""


class Cycle(Protocol):
    """What the sender reads and sets of one request's state in uvicorn's protocol
    (`RequestResponseCycle`); the same names, so uvicorn's own cycle fits."""

    response_started: bool
    response_complete: bool
    chunked_encoding: bool | None  # None until the head is sent
    expected_content_length: int  # body bytes still to come, counted down
    disconnected: bool

    @property
    def scope(self) -> Mapping[str, Any]: ...

    @property
    def flow(self) -> Flow: ...

    async def send(self, message: Any) -> None: ...


def extensions() -> dict[str, dict[object, object]]:
    """What a request's scope["extensions"] offers (a new dict: an app may change its own)."""
    return {PATHSEND: {}, ZEROCOPYSEND: {}}


class FileSender:
    """One connection's zero-copy sending: `wrap` gives each request's cycle a `send` that serves
    the zero-copy messages here and passes the rest to uvicorn's own."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport  # the socket's own, not uvicorn's view of it
        self._waiter: asyncio.Future[None] | None = None

    def wrap(self, cycle: Cycle) -> Callable[[Message], Awaitable[None]]:
        plain = cycle.send

        async def send(message: Message) -> None:
            kind = message["type"]
            if kind == PATHSEND:
                flags = os.O_RDONLY | os.O_CLOEXEC
                fd = await asyncio.to_thread(os.open, message["path"], flags)
                try:
                    await self._send_file(cycle, fd, 0, None)
                finally:
                    os.close(fd)
                more = False
            elif kind == ZEROCOPYSEND:
                fd = message["file"].fileno()
                await self._send_file(cycle, fd, message.get("offset"), message.get("count"))
                more = message.get("more_body", False)
            else:
                await plain(message)
                return
            if not cycle.disconnected:
                await plain({"type": "http.response.body", "body": b"", "more_body": more})

        return send

    def wake(self) -> None:
        """Wakes the sender waiting for the socket: it is writable, or the connection is gone."""
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _send_file(
        self, cycle: Cycle, fd: int, offset: int | None, count: int | None
    ) -> None:
        """`count` bytes of `fd` from `offset` (None: its position, which then moves; count None:
        to its end) as the next part of the body, whose length the head declared."""
        if not cycle.response_started or cycle.response_complete:
            raise RuntimeError("A file was sent outside a response's body.")
        if cycle.chunked_encoding:
            raise RuntimeError("A file is sent only in a response with a Content-Length.")
        if count is None:
            start = os.lseek(fd, 0, os.SEEK_CUR) if offset is None else offset
            count = os.fstat(fd).st_size - start
        if cycle.disconnected or cycle.scope["method"] == "HEAD":
            return  # uvicorn drops the body (and checks no length) for both
        if count > cycle.expected_content_length:
            raise RuntimeError("Response content longer than Content-Length")
        if count and await self._flushed(cycle):
            await self._copy(cycle, fd, offset, count)
            cycle.expected_content_length -= count

    async def _flushed(self, cycle: Cycle) -> bool:
        """Waits until the transport has written everything it holds; False if the connection
        is gone by then. (uvloop pauses the protocol at once when the limit drops below what it
        holds, and resumes it when it holds no more than the low mark.)"""
        real = self.transport
        while real.get_write_buffer_size() and not self._gone(cycle):
            low, high = real.get_write_buffer_limits()
            real.set_write_buffer_limits(high=0, low=0)
            try:
                await cycle.flow.drain()
            finally:
                real.set_write_buffer_limits(high=high, low=low)
        return not self._gone(cycle)

    def _gone(self, cycle: Cycle) -> bool:
        if self.transport.is_closing():
            cycle.disconnected = True
        return cycle.disconnected

    async def _copy(self, cycle: Cycle, fd: int, offset: int | None, count: int) -> None:
        loop = asyncio.get_running_loop()
        sock = os.dup(self.transport.get_extra_info("socket").fileno())
        try:
            while count and not self._gone(cycle):
                try:
                    sent = os.sendfile(sock, fd, offset, min(count, MOST_AT_ONCE))
                except BlockingIOError:
                    await self._writable(loop, sock)
                    continue
                except ConnectionError:
                    cycle.disconnected = True
                    self.transport.abort()
                    return
                if sent == 0:
                    raise RuntimeError(f"The file ended {count} bytes before its Content-Length.")
                count -= sent
                offset = None if offset is None else offset + sent
        finally:
            os.close(sock)

    async def _writable(self, loop: asyncio.AbstractEventLoop, sock: int) -> None:
        self._waiter = loop.create_future()
        loop.add_writer(sock, self.wake)
        try:
            await self._waiter
        finally:
            loop.remove_writer(sock)
            self._waiter = None
