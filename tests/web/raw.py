"""Raw HTTP/1.1 over a socket, for clients that misbehave in ways httpx will not."""

from __future__ import annotations

import http.client
import json
import select
import socket
import time
from dataclasses import dataclass

from tests.conftest import Server


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> dict[str, str]:
        found: dict[str, str] = json.loads(self.body)
        return found


def connect(server: Server, timeout: float = 10) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=timeout)


def head(method: str, target: str, **headers: str | int) -> bytes:
    """A request line and headers (`_` in a name becomes `-`), Host first, ended by a blank line."""
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_reply(sock: socket.socket) -> Reply:
    """The next response on the socket (raises socket.timeout if none comes in time)."""
    response = http.client.HTTPResponse(sock)
    response.begin()
    return Reply(response.status, response.headers, response.read())


def request(server: Server, data: bytes) -> Reply:
    with connect(server) as sock:
        sock.sendall(data)
        return read_reply(sock)


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server closes the connection within `within` s while we keep sending to it (a
    FIN alone is not enough: a lingering server half-closes first and goes on reading)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            sock.sendall(b"x" * 1024)
        except (BrokenPipeError, ConnectionResetError):
            return True
        time.sleep(0.01)  # a pace for the trickle, not a wait for an outcome
    return False


def trickle_until_answered(sock: socket.socket, data: bytes, within: float) -> Reply | None:
    """Send `data` a byte at a time, 20 bytes a second, until the server answers; None if it has
    not answered within `within` s."""
    deadline = time.monotonic() + within
    for byte in data:
        if time.monotonic() > deadline:
            return None
        readable, _, _ = select.select([sock], [], [], 0.05)
        if readable:
            return read_reply(sock)
        sock.sendall(bytes([byte]))
    readable, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
    return read_reply(sock) if readable else None
