"""Downloads handed to the kernel (web/sendfile.py, web/files.py), over real sockets: whole files
and ranges byte for byte, HEAD, kept-alive and pipelined requests, clients that vanish or read
slowly, and a server stopping under a stalled download. The file is larger than a loopback
socket's buffers, so the server has to wait for its readers."""

from __future__ import annotations

import asyncio
import http.client
import os
import signal
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from pyfiledrop.web.files import SendfileResponse
from tests.conftest import Server
from tests.dz import DzFile
from tests.test_nginx import Deployment, deployment  # noqa: F401  (the fixture)
from tests.web.raw import connect, head

MiB = 1024 * 1024
SIZE = 24 * MiB + 123


@dataclass
class Stored:
    server: Server
    path: str  # the download's path on the server
    data: bytes

    @property
    def url(self) -> str:
        return self.server.url + self.path

    @property
    def pid(self) -> int:
        assert self.server.proc is not None
        return self.server.proc.pid


def store(server: Server) -> Stored:
    data = os.urandom(SIZE)
    with server.client() as client:
        f = DzFile(data, 4 * MiB, name="big.bin")
        f.send_all(client)
        url = str(f.wait_complete(client)["download_url"])
    return Stored(server, urlsplit(url).path, data)


@pytest.fixture
def stored(server: Server) -> Stored:
    return store(server)


def proc_field(pid: int, name: str, status: bool = False) -> int:
    """A counter of /proc/PID/io, or a field of /proc/PID/status (kB)."""
    text = open(f"/proc/{pid}/{'status' if status else 'io'}").read()
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise KeyError(name)


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_until(condition: Callable[[], bool], what: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {what}")
        time.sleep(0.02)


class Wire:
    """Responses read one after another from one socket (http.client's would read ahead into a
    buffer of its own and lose the start of the next)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.held = b""

    def _more(self) -> None:
        block = self.sock.recv(MiB)
        if not block:
            raise ConnectionError("the server closed the connection")
        self.held += block

    def reply(self, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
        """The next response's status, headers and body (read through its Content-Length)."""
        while b"\r\n\r\n" not in self.held:
            self._more()
        top, self.held = self.held.split(b"\r\n\r\n", 1)
        lines = top.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        length = 0 if method == "HEAD" else int(headers.get("content-length", 0))
        while len(self.held) < length:
            self._more()
        body, self.held = self.held[:length], self.held[length:]
        return status, headers, body


def byteranges(body: bytes, content_type: str) -> list[tuple[str, bytes]]:
    """The (Content-Range, bytes) of each part of a multipart/byteranges body."""
    boundary = content_type.split("boundary=", 1)[1].encode()
    parts = []
    for part in body.split(b"--" + boundary)[1:-1]:
        headers, _, content = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        fields = dict(line.split(b": ", 1) for line in headers.split(b"\r\n"))
        parts.append((fields[b"Content-Range"].decode(), content.removesuffix(b"\r\n")))
    return parts


def test_whole_file_and_single_ranges_come_back_byte_for_byte(stored: Stored) -> None:
    data, size = stored.data, len(stored.data)
    whole = httpx.get(stored.url)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["content-length"] == str(size)
    asked = {
        f"bytes={size // 4}-{size - size // 4 - 1}": (size // 4, size - size // 4),
        "bytes=-1000": (size - 1000, size),  # the last 1000 bytes
        f"bytes={size - 5}-": (size - 5, size),
        f"bytes=7-{size * 2}": (7, size),  # an end beyond the file is cut to it
        "bytes=0-0": (0, 1),
    }
    for header, (start, end) in asked.items():
        part = httpx.get(stored.url, headers={"Range": header})
        assert part.status_code == 206, header
        assert part.headers["content-range"] == f"bytes {start}-{end - 1}/{size}", header
        assert part.content == data[start:end], header


def test_a_download_goes_through_the_kernel_not_through_python(stored: Stored) -> None:
    """sendfile moves the bytes in calls of up to a socket buffer each (tens for this file);
    reading them through Python, as Starlette's FileResponse does without the extensions,
    takes one read per 64 KiB (hundreds), for the whole file and for a range alike. (syscr in
    /proc/PID/io counts the process's read calls, sendfile's included.)"""
    for headers, status in (({}, 200), ({"Range": f"bytes=1000-{SIZE - 1000}"}, 206)):
        reads = proc_field(stored.pid, "syscr")
        reply = httpx.get(stored.url, headers=headers)
        assert reply.status_code == status and len(reply.content) > SIZE - 3000
        assert proc_field(stored.pid, "syscr") - reads < SIZE // (128 * 1024), headers


def test_head_sends_no_body_and_the_connection_goes_on(stored: Stored) -> None:
    with connect(stored.server) as sock:
        wire = Wire(sock)
        for ranged in ({}, {"Range": "bytes=10-19"}):
            sock.sendall(head("HEAD", stored.path, **ranged))
            status, headers, body = wire.reply("HEAD")
            assert (status, body) == (206 if ranged else 200, b"")
            assert headers["content-length"] == str(10 if ranged else SIZE)
        sock.sendall(head("GET", stored.path, Range="bytes=-100"))
        assert wire.reply()[2] == stored.data[-100:]
        assert wire.held == b"", "the HEADs left nothing on the wire"


def test_pipelined_downloads_on_one_connection_keep_their_order(stored: Stored) -> None:
    """A multi-range answer (written through Python) still held by the transport when a file
    answer begins must go out first; then a whole file, a range and a 304, all on one
    kept-alive connection, read back after all were asked."""
    data, path = stored.data, stored.path
    etag = httpx.head(stored.url).headers["etag"]
    with connect(stored.server, timeout=30) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)  # fills up at once
        sock.sendall(
            head("GET", path, Range=f"bytes=0-{4 * MiB},{8 * MiB}-{12 * MiB}")
            + head("GET", path)
            + head("GET", path, Range="bytes=-70000")
            + head("GET", path, If_None_Match=etag)
            + head("GET", path, Range="bytes=5-9")
        )
        wire = Wire(sock)
        status, headers, body = wire.reply()
        assert status == 206
        assert byteranges(body, headers["content-type"]) == [
            (f"bytes 0-{4 * MiB}/{SIZE}", data[: 4 * MiB + 1]),
            (f"bytes {8 * MiB}-{12 * MiB}/{SIZE}", data[8 * MiB : 12 * MiB + 1]),
        ]
        assert wire.reply()[::2] == (200, data)
        assert wire.reply()[::2] == (206, data[-70000:])
        assert wire.reply()[::2] == (304, b"")
        assert wire.reply()[::2] == (206, data[5:10])


@pytest.mark.parametrize("reset", [False, True], ids=["close", "reset"])
def test_a_client_that_vanishes_mid_download_leaves_nothing_behind(
    stored: Stored, reset: bool
) -> None:
    """Cut after 1 MiB, while the server waits for the socket to drain: the server goes on
    serving others, and closes every file and socket the download held."""
    assert httpx.get(stored.url, headers={"Range": "bytes=0-9"}).status_code == 206  # warm
    before = open_files(stored.pid)
    for ranged in [{}, {"Range": f"bytes=100-{SIZE - 100}"}] * 3:  # a leak per cut adds up
        sock = connect(stored.server)
        sock.sendall(head("GET", stored.path, **ranged))
        got = 0
        while got < MiB:
            got += len(sock.recv(64 * 1024))
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    assert httpx.get(stored.url).content == stored.data
    wait_until(lambda: open_files(stored.pid) <= before, "the cut downloads closed their files")


def test_a_slow_reader_is_not_buffered_in_memory(stored: Stored) -> None:
    """A reader taking 64 KiB at a time with pauses: the server sends only what the socket
    takes, its memory stays where it was, and the bytes arrive intact."""
    with open(f"/proc/{stored.pid}/clear_refs", "w") as clear:
        clear.write("5")  # VmHWM restarts from the current RSS
    before = proc_field(stored.pid, "VmRSS", status=True)
    with connect(stored.server, timeout=30) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(head("GET", stored.path))
        response = http.client.HTTPResponse(sock)
        response.begin()
        received = [response.read(64 * 1024) for _ in range(32)]
        time.sleep(0.5)  # a reader stalled: the pace of this client, not a wait for the server
        sent = proc_field(stored.pid, "wchar")
        received.append(response.read())
    peak = proc_field(stored.pid, "VmHWM", status=True)
    assert b"".join(received) == stored.data
    assert peak - before < 8 * 1024, f"{peak - before} kB more at the peak"
    assert sent < proc_field(stored.pid, "wchar"), "the server waited for the reader to go on"


def test_stopping_the_server_cuts_a_stalled_download(make_server) -> None:  # type: ignore[no-untyped-def]
    """A download whose reader stopped reading holds up a stopping server only as long as
    --shutdown-timeout allows; the client sees its connection end short of the file."""
    stored = store(make_server("-a", "--shutdown-timeout", "1"))
    with connect(stored.server, timeout=30) as sock:
        sock.sendall(head("GET", stored.path))
        got = len(sock.recv(64 * 1024))
        assert stored.server.proc is not None
        started = time.monotonic()
        stored.server.proc.send_signal(signal.SIGTERM)
        stored.server.proc.wait(15)
        took = time.monotonic() - started
        while block := sock.recv(MiB):
            got += len(block)
    assert took < 8, f"stopped after {took:.1f} s with --shutdown-timeout 1"
    assert "Cancel 1 running task" in stored.server.log.read_text(), "what was cut is logged"
    assert got < SIZE


def test_without_the_extensions_starlette_reads_the_file_itself(tmp_path: Path) -> None:
    """Under a server that offers no zero-copy sending (here httpx's ASGI transport), whole
    files and ranges still come back, read by Starlette."""
    data = os.urandom(200_000)
    (tmp_path / "f").write_bytes(data)

    async def fetch(**headers: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=SendfileResponse(tmp_path / "f"))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/", headers=headers)

    assert asyncio.run(fetch()).content == data
    part = asyncio.run(fetch(Range="bytes=70000-139999"))
    assert part.status_code == 206 and part.content == data[70000:140000]


def test_whole_files_and_ranges_through_nginx(deployment: Deployment) -> None:  # noqa: F811
    """The README's nginx (proxy_buffering off, kept-alive upstream connections) in front."""
    data = os.urandom(SIZE)
    with deployment.client() as client:
        client.get("/")
        f = DzFile(data, 4 * MiB, name="through nginx.bin")
        f.send_all(client)
        url = str(f.wait_complete(client)["download_url"])
        assert url.startswith(deployment.nginx.url), url
        for _ in range(2):  # both servers, or one of them twice on a kept-alive connection
            assert client.get(url).content == data
            part = client.get(url, headers={"Range": f"bytes={MiB}-{SIZE - MiB - 1}"})
            assert part.status_code == 206 and part.content == data[MiB : SIZE - MiB]
            assert client.get(url, headers={"Range": "bytes=-77"}).content == data[-77:]
