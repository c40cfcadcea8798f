"""Download limits against real server processes on both back ends (local disk + SQLite, S3 in a
real SeaweedFS + PostgreSQL), two processes sharing the database and the storage: a download
counts once the whole file was delivered, never twice for the last one, and the file goes after
it. Files on local disk go out with sendfile; from S3 they are streamed."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Server, finished_files
from tests.dz import DzFile
from tests.s3.conftest import ensure_bucket, s3_flags
from tests.seaweed import SeaweedFS
from tests.test_expiry import until

MiB = 1024 * 1024
FLAGS = ("-a", "--max-size", "256", "--max-chunk-size", str(8 * MiB))


@dataclass
class Pair:
    """Two servers on one database and one storage, and a look into that storage."""

    a: Server
    b: Server
    seaweed: SeaweedFS | None = None
    bucket: str = ""
    prefix: str = ""

    def stored(self) -> int:
        """How many finished files the disk or the bucket holds."""
        if self.seaweed is None:
            return len(finished_files(self.a.storage))
        listed = self.seaweed.client().list_objects_v2(
            Bucket=self.bucket, Prefix=f"{self.prefix}/files/"
        )
        return len(listed.get("Contents", []))


@pytest.fixture(params=["local+sqlite", "s3+postgresql"])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Pair]:
    """`@pytest.mark.cleanup_interval("1s")`: the servers' clean-up runs that often, for a test
    that waits for it (else every 10 s, the default)."""
    quick = request.node.get_closest_marker("cleanup_interval")
    base = (*FLAGS, "--cleanup-interval", quick.args[0]) if quick else FLAGS
    if request.param == "local+sqlite":
        found = Pair(Server(tmp_path, *base).start(), Server(tmp_path, *base).start())
    else:
        store: SeaweedFS = request.getfixturevalue("seaweed")
        bucket, prefix = ensure_bucket(store, "limits"), uuid.uuid4().hex[:8]
        flags = (
            *base, *s3_flags(store, bucket, prefix), "--database",
            request.getfixturevalue("pg_url"),
        )  # fmt: skip
        a, b = Server(tmp_path, *flags).start(), Server(tmp_path, *flags).start()
        found = Pair(a, b, store, bucket, prefix)
    yield found
    found.a.stop()
    found.b.stop()


def shared(server: Server, data: bytes, **headers: str) -> dict[str, Any]:
    """`data` uploaded with these headers on its first chunk only; the finished upload."""
    with server.client() as client:
        f = DzFile(data, 4 * MiB)
        first = client.post(
            "/upload", params=f.fields(0) | {"filename": f.name}, content=f.chunk(0),
            headers=headers,
        )  # fmt: skip
        assert first.status_code == 200, first.text
        for index in range(1, f.count):
            assert f.send_raw(client, index).status_code == 200
        return f.wait_complete(client)


def settled(client: httpx.Client, path: str) -> httpx.Response:
    """A GET of `path` once the downloads before it are counted: the server counts one after
    the client's TCP acknowledged its last byte, and answers 429 until then."""
    return until(lambda: (r := client.get(path)).status_code != 429 and r, 5, "the count")


@pytest.mark.cleanup_interval("1s")
def test_a_download_past_the_limit_is_410_and_the_file_is_removed(pair: Pair) -> None:
    data = os.urandom(5 * MiB + 3)
    done = shared(pair.a, data, **{"Pyfiledrop-Max-Downloads": "2"})
    url = done["download_url"]
    path = url.split(str(pair.a.port), 1)[1]
    with pair.a.client() as one, pair.b.client() as two:
        assert one.get(path).content == data
        assert two.get(path).content == data, "the other process counts on the same record"
        past = settled(two, path)
        assert past.status_code == 410
        assert past.json()["code"] == "download_limit_reached"
        assert "download limit" in past.json()["error"]
        assert one.head(path).status_code == 410
    until(lambda: pair.stored() == 0, 30, "the clean-up removing the file")


def race(pair: Pair, path: str) -> list[httpx.Response]:
    """GET `path` from both servers at once."""
    answers: list[httpx.Response] = []
    start = threading.Barrier(2)

    def fetch(server: Server) -> None:
        with server.client() as client:
            start.wait()
            answers.append(client.get(path))

    threads = [threading.Thread(target=fetch, args=(s,)) for s in (pair.a, pair.b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_two_racing_last_downloads_only_one_gets_the_file(pair: Pair) -> None:
    data = os.urandom(24 * MiB)
    for _ in range(3):
        done = shared(pair.a, data, **{"Pyfiledrop-Max-Downloads": "1"})
        path = done["download_url"].split(str(pair.a.port), 1)[1]
        answers = race(pair, path)
        whole = [r for r in answers if r.status_code == 200]
        assert len(whole) == 1 and whole[0].content == data, [r.status_code for r in answers]
        other = next(r for r in answers if r.status_code != 200)
        assert other.status_code in (410, 429), other.text  # after it, or while it was under way
        if other.status_code == 429:
            assert other.headers["Retry-After"] == "30"
            assert other.json()["code"] == "last_download_under_way"
        with pair.b.client() as late:
            assert settled(late, path).status_code == 410


def test_head_and_ranges_that_stop_short_do_not_count(pair: Pair) -> None:
    data = os.urandom(2 * MiB + 11)
    done = shared(pair.a, data, **{"Pyfiledrop-Max-Downloads": "1"})
    path = done["download_url"].split(str(pair.a.port), 1)[1]
    with pair.a.client() as client:
        for _ in range(3):
            assert client.head(path).status_code == 200
            part = client.get(path, headers={"Range": "bytes=0-99"})
            assert part.status_code == 206 and part.content == data[:100]
            middle = client.get(path, headers={"Range": f"bytes=100-{len(data) - 2}"})
            assert middle.status_code == 206 and middle.content == data[100:-1]
        assert client.get(path, headers={"If-None-Match": f'"{done["sha256"]}"'}).status_code == 304
        resumed = client.get(path, headers={"Range": "bytes=1000-"})  # reaches the last byte
        assert resumed.status_code == 206 and resumed.content == data[1000:]
        assert settled(client, path).status_code == 410, "the resumed download was the one"


def cut_off(server: Server, path: str, keep: int) -> bool:
    """A GET of `path` whose client reads `keep` bytes and resets the connection; False when
    it was refused with 429 (the download before it is not over yet)."""
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)  # the least the kernel allows
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        got = b""
        time.sleep(0.5)  # the server sends all it can meanwhile
        while len(got) < keep:
            piece = sock.recv(65536)
            assert piece, "the server closed first"
            got += piece
        if got.startswith(b"HTTP/1.1 429"):
            return False
        assert got.startswith(b"HTTP/1.1 200"), got[:200]
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")  # RST
    return True


@pytest.mark.parametrize("size", [48 * MiB, MiB], ids=["while-sending", "sent-not-read"])
def test_a_download_cut_off_does_not_count(pair: Pair, size: int) -> None:
    """48 MiB: the server is still sending when the client goes. 1 MiB: the server's kernel
    takes the whole file (its send buffer grows to 4 MiB), so every send returned, but the
    client's full window let only 32 KiB of it arrive: only its acknowledgements tell."""
    data = os.urandom(size)
    done = shared(pair.a, data, **{"Pyfiledrop-Max-Downloads": "1"})
    path = done["download_url"].split(str(pair.a.port), 1)[1]
    for server in (pair.a, pair.b):
        until(lambda s=server: cut_off(s, path, 1), 10, "a download cut off")
    with pair.b.client() as client:
        # The server notices the cut at its next write; until then the last download is busy.
        whole = until(lambda: (r := client.get(path)).status_code == 200 and r, 10, "a free place")
        assert whole.content == data
        assert settled(client, path).status_code == 410


def test_while_the_last_download_is_under_way_others_wait_with_429(pair: Pair) -> None:
    data = os.urandom(32 * MiB)
    done = shared(pair.a, data, **{"Pyfiledrop-Max-Downloads": "1"})
    path = done["download_url"].split(str(pair.a.port), 1)[1]
    with socket.create_connection(("127.0.0.1", pair.a.port)) as slow:
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
        slow.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        assert slow.recv(12) == b"HTTP/1.1 200"  # under way, and reading no further
        with pair.b.client() as client:
            waiting = client.get(path)
            assert waiting.status_code == 429 and waiting.headers["Retry-After"] == "30"
            assert "try again" in waiting.json()["error"]
            part = client.get(path, headers={"Range": "bytes=0-9"})
            assert part.status_code == 206 and part.content == data[:10], "ranges still served"
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")  # cut it off
    with pair.b.client() as client:
        whole = until(lambda: (r := client.get(path)).status_code == 200 and r, 10, "its place")
        assert whole.content == data
