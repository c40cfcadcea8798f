"""Whether a response reached its client whole: the ASGI extension `pyfiledrop.delivery`, which
web/server.py offers on every request, for downloads that count (web/counted.py).

An ASGI `send` returns once uvicorn has handed the bytes to its transport; neither says whether
they left the machine, and uvicorn drops a send after a disconnect without a word. So the app
asks, before its response starts, for a `Watch` of the connection (`scope["extensions"]
["pyfiledrop.delivery"]["watch"]()`), and after its last body message for `delivered()`: True
once the transport holds nothing more and the client's TCP acknowledged every byte the kernel
was given (its send queue, SIOCOUTQ, is empty); False when the response was not completed, the
connection was cut or reset first, or the client stopped reading for `STALL` seconds.

The watch holds a duplicate of the socket's descriptor from the start of the response to its
answer, so the kernel's counts stay readable after the transport closes its own (a `Connection:
close` answer, a client that closed after reading it all). The connection's FIN waits for that.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import socket
import struct
import termios
from collections.abc import Mapping, MutableMapping
from typing import Any, Protocol

DELIVERY = "pyfiledrop.delivery"
STALL = 30.0  # seconds without a byte acknowledged before a response counts as not delivered
_POLL_FIRST, _POLL_MOST = 0.002, 0.1  # seconds between looks at the send queue
_TCP_CLOSE = 7  # tcpi_state of a connection reset by its peer (or fully closed)
_KERNEL_COUNTS = hasattr(termios, "TIOCOUTQ") and hasattr(socket, "TCP_INFO")  # Linux


class Cycle(Protocol):
    """What a watch reads of one request's state in uvicorn's protocol."""

    response_complete: bool
    disconnected: bool


class Watch:
    """One response's connection, from before its first byte until `delivered` answers."""

    def __init__(self, transport: asyncio.Transport, cycle: Cycle) -> None:
        self.transport = transport
        self.cycle = cycle
        self._sock: socket.socket | None = None
        raw = transport.get_extra_info("socket")
        if raw is not None and not transport.is_closing():
            try:
                self._sock = socket.socket(fileno=os.dup(raw.fileno()))
            except OSError:
                self._sock = None

    async def delivered(self) -> bool:
        """Whether every byte of the response reached the client (see the module docstring)."""
        if self._sock is None:
            return False
        try:
            return await self._acknowledged(self._sock)
        finally:
            self.close()

    async def _acknowledged(self, sock: socket.socket) -> bool:
        pause, waiting, last = _POLL_FIRST, 0.0, -1
        while True:
            if not self.cycle.response_complete or self.cycle.disconnected:
                return False
            held = self.transport.get_write_buffer_size()
            unacknowledged, state = 0, 0  # not Linux: the kernel's queue cannot be read
            if _KERNEL_COUNTS:
                try:
                    unacknowledged = _send_queue(sock)
                    state = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
                except OSError:
                    return False
            if unacknowledged == 0 and held == 0:
                return True
            if state == _TCP_CLOSE:
                return False  # reset (a client that closed before reading it all)
            if unacknowledged + held != last:
                last, waiting = unacknowledged + held, 0.0
            elif waiting >= STALL:
                return False
            await asyncio.sleep(pause)
            waiting += pause
            pause = min(pause * 2, _POLL_MOST)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _send_queue(sock: socket.socket) -> int:
    """Bytes given to the kernel for this socket and not yet acknowledged by the peer."""
    found = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")  # Linux: = SIOCOUTQ
    return int(struct.unpack("i", found)[0])


def offer(scope: MutableMapping[str, Any], transport: asyncio.Transport, cycle: Cycle) -> None:
    """Offer the extension on this request's scope (its "extensions" dict is shared with the
    copies middleware makes of the scope)."""
    scope.setdefault("extensions", {})[DELIVERY] = {"watch": lambda: Watch(transport, cycle)}


def watch(scope: Mapping[str, Any]) -> Watch | None:
    """A watch of this request's connection, or None when the server offers none."""
    offered = scope.get("extensions", {}).get(DELIVERY)
    return offered["watch"]() if offered else None
