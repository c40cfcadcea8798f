"""HTTP for the upload client: one keep-alive connection per thread, file bytes sent by sendfile.

http.client rather than a richer client library because the chunk bytes should go from the file to
the socket without passing through Python (`socket.sendfile`): that leaves the client's CPU to
hashing the file, which it must do anyway to check the server's SHA-256.
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit


class TransportError(Exception):
    """The request did not get an answer (connection refused, reset, timed out)."""


@dataclass(frozen=True)
class FileRange:
    """`length` bytes of the file at `path` from `offset`, to be sent as part of a body."""

    path: Path
    offset: int
    length: int


@dataclass(frozen=True)
class Reply:
    status: int
    reason: str
    body: bytes
    set_cookies: list[str]

    def json(self) -> Any:
        return json.loads(self.body)

    def cookie(self, name: str) -> str | None:
        for header in self.set_cookies:
            found = SimpleCookie(header).get(name)
            if found is not None:
                return found.value
        return None


def credentials(user: str | None, password: str | None, token: str | None) -> str | None:
    """The Authorization header for an account's token (Bearer), an account's name and password
    or the upload password (Basic, the name empty for the latter); None without any."""
    if token is not None:
        return f"Bearer {token}"
    if password is None:
        return None
    return "Basic " + base64.b64encode(f"{user or ''}:{password}".encode()).decode()


class Connections:
    """Requests to one server, each thread on its own keep-alive connection."""

    def __init__(self, url: str, timeout: float = 120, authorization: str | None = None) -> None:
        """`authorization`: the Authorization header sent with every request (`credentials`)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{url!r} is not an http:// or https:// URL")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._auth = {"Authorization": authorization} if authorization else {}
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = kind(self._host, self._port, timeout=self._timeout)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        params: dict[str, Any] | None = None,
        body: list[bytes | FileRange] | None = None,
    ) -> Reply:
        parts = body or []
        length = sum(p.length if isinstance(p, FileRange) else len(p) for p in parts)
        target = self._prefix + path + (f"?{urlencode(params)}" if params else "")
        conn = self._connection()
        try:
            conn.putrequest(method, target, skip_accept_encoding=True)
            for name, value in {**self._auth, **headers}.items():
                conn.putheader(name, value)
            if body is not None:
                conn.putheader("Content-Length", str(length))
            conn.endheaders()
            for part in parts:
                if isinstance(part, FileRange):
                    self._send_file(conn, part)
                else:
                    conn.send(part)
            response = conn.getresponse()
            return Reply(
                response.status,
                response.reason,
                response.read(),
                response.headers.get_all("Set-Cookie") or [],
            )
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            self._local.conn = None
            raise TransportError(str(exc) or type(exc).__name__) from exc

    @staticmethod
    def _send_file(conn: http.client.HTTPConnection, part: FileRange) -> None:
        if part.length == 0:
            return
        assert conn.sock is not None
        with open(part.path, "rb") as f:
            sent = conn.sock.sendfile(f, part.offset, part.length)
        if sent != part.length:
            raise OSError(f"{part.path} got shorter while it was being uploaded")

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
