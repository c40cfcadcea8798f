"""GET /zip: a folder, or several files named by their links, as one zip streamed from the
storage (local disk and S3), checked with Python's `zipfile`."""

from __future__ import annotations

import io
import os
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pyfiledrop.web.zips import stored_zip
from tests.conftest import Server
from tests.dz import DzFile
from tests.seaweed import SeaweedFS

JSON = {"Accept": "application/json"}


@pytest.fixture(params=["local", "s3"])
def zip_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A server on local disk, or on the session's SeaweedFS (its ranges read for the zip)."""
    flags = ["-a", "--max-size", "64", "--max-chunk-size", str(1 << 20)]
    if request.param == "s3":
        store: SeaweedFS = request.getfixturevalue("seaweed")
        if "zips" not in [b["Name"] for b in store.client().list_buckets()["Buckets"]]:
            store.bucket("zips")
        flags += ["--storage", f"s3://zips/{uuid.uuid4().hex[:8]}", "--s3-endpoint",
                  store.endpoint]  # fmt: skip
    server = Server(tmp_path, *flags)  # the last --storage given counts
    yield server.start()
    server.stop()


def send(client: httpx.Client, name: str, data: bytes, path: str | None = None) -> dict:  # type: ignore[type-arg]
    """A plain upload with a raw body, as the page sends a small file (`path`: where it was)."""
    query = {"filename": name} | ({"path": path} if path else {})
    reply = client.post("/upload", params=query, content=data, headers=JSON)
    assert reply.status_code == 200, reply.text
    found: dict = reply.json()  # type: ignore[type-arg]
    assert found["state"] == "complete"
    return found


def token(found: dict) -> str:  # type: ignore[type-arg]
    return str(found["download_url"]).rsplit("/", 1)[1]


def unzipped(reply: httpx.Response) -> dict[str, bytes]:
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/zip"
    assert reply.headers["content-length"] == str(len(reply.content))
    with zipfile.ZipFile(io.BytesIO(reply.content)) as archive:
        assert archive.testzip() is None  # every entry's CRC matches its bytes
        assert all(i.compress_type == zipfile.ZIP_STORED for i in archive.infolist())
        return {info.filename: archive.read(info) for info in archive.infolist()}


def test_a_folder_zips_with_its_relative_paths_and_bytes(zip_server: Server) -> None:
    files = {
        "Photos/a.jpg": os.urandom(1000),
        "Photos/2024/b.jpg": os.urandom(3 * (1 << 20) + 5),  # several storage blocks
        "Photos/empty.txt": b"",
    }
    with zip_server.client() as me, zip_server.client() as other:
        for path, data in files.items():
            send(me, path.rsplit("/", 1)[1], data, path)
        send(me, "a.jpg", b"again", "Photos/a.jpg")  # the same path twice
        hostile = send(me, "evil.txt", b"hostile", "/Photos/../../..\\evil\x07\x1b.txt")
        assert hostile["relative_path"] == "Photos/evil.txt"
        send(me, "outside.txt", b"not in it")  # no folder
        send(me, "c.jpg", b"x", "Photos2/c.jpg")  # a folder of another name
        send(other, "theirs.jpg", b"someone else's", "Photos/theirs.jpg")
        big = DzFile(os.urandom(2 * (1 << 20) + 3), 1 << 20, name="chunked.bin")
        first = big.send(me, 0, fullPath="Photos/chunked.bin")  # a form, as Dropzone 5's
        assert first.status_code == 200, first.text
        for index in range(1, big.count):  # the first chunk's path is the one kept
            assert big.send_raw(me, index, path="Photos/elsewhere.bin").status_code == 200
        assert big.wait_complete(me)["relative_path"] == "Photos/chunked.bin"
        reply = me.get("/zip", params={"folder": "Photos"})
        assert reply.headers["content-disposition"].startswith('attachment; filename="Photos.zip"')
        assert reply.headers["accept-ranges"] == "none"
        assert unzipped(reply) == files | {
            "Photos/a (2).jpg": b"again",
            "Photos/chunked.bin": big.data,
            "Photos/evil.txt": b"hostile",
        }
        assert other.get("/zip", params={"folder": "Photos2"}).status_code == 404
        for bad in ("Photos/2024", "../Photos", "", " Photos"):
            assert me.get("/zip", params={"folder": bad}).status_code == 400, bad
        head = me.head("/zip", params={"folder": "Photos"})
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == reply.headers["content-length"]


def test_links_zip_only_the_callers_own_files(zip_server: Server) -> None:
    with zip_server.client() as me, zip_server.client() as other:
        mine = [send(me, "same.txt", b"one"), send(me, "same.txt", b"two")]
        theirs = send(other, "secret.txt", b"theirs")
        tokens = [token(found) for found in mine]
        assert unzipped(me.get("/zip", params={"t": tokens})) == {
            "same.txt": b"one",
            "same (2).txt": b"two",
        }
        refused = me.get("/zip", params={"t": [*tokens, token(theirs)]})
        assert refused.status_code == 404 and refused.json()["code"] == "not_found"
        unknown = me.get("/zip", params={"t": "x" * 32})
        assert unknown.status_code == 404
        assert unknown.json()["error"].replace("x" * 32, token(theirs)) == refused.json()["error"]
        assert httpx.get(zip_server.url + "/zip", params={"t": tokens}).status_code == 404
        assert me.get("/zip").status_code == 400
        assert unzipped(other.get("/zip", params={"t": token(theirs)})) == {"secret.txt": b"theirs"}


def test_a_zip_whose_sizes_pass_4_gib_uses_zip64_and_says_its_length() -> None:
    block = bytes(1 << 20)
    size = (4 << 30) + 3

    def zeros() -> Iterator[bytes]:
        left = size
        while left:
            yield block[: min(left, len(block))]
            left -= min(left, len(block))

    archive = stored_zip([("small.txt", 5, [b"hello"]), ("huge.bin", size, zeros())])
    promised = len(archive)
    sent, tail = 0, b""
    for piece in archive:
        sent += len(piece)
        tail = (tail + piece)[-4096:]
    assert sent == promised
    assert b"PK\x06\x06" in tail  # the ZIP64 end of central directory record

    class Tail(io.RawIOBase):
        """The zip as zipfile reads its directory: only the last bytes are real."""

        def __init__(self) -> None:
            self.at = 0

        def seekable(self) -> bool:
            return True

        def readable(self) -> bool:
            return True

        def seek(self, offset: int, whence: int = 0) -> int:
            self.at = {0: offset, 1: self.at + offset, 2: promised + offset}[whence]
            return self.at

        def tell(self) -> int:
            return self.at

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            start = self.at - (promised - len(tail))
            assert start >= 0, "only the directory at the end is read"
            data = tail[start : start + len(buffer)]
            buffer[: len(data)] = data
            self.at += len(data)
            return len(data)

    with zipfile.ZipFile(Tail()) as read:  # type: ignore[arg-type]
        assert [(i.filename, i.file_size) for i in read.infolist()] == [
            ("small.txt", 5), ("huge.bin", size)
        ]  # fmt: skip
