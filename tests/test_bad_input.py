"""Hostile and broken requests: each gets a clear message and the right status, harming nothing."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server
from tests.dz import BOUNDARY, DzFile, multipart, post_form

CHUNK = 64 * 1024


def all_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def refused(reply: httpx.Response, status: int, words: str) -> None:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert words.lower() in body["error"].lower(), body


@pytest.mark.parametrize(
    "bad_id", ["../../x", "..%2F..%2Fx", "", "a" * 36, "not-a-uuid", "/etc/passwd"]
)
def test_malformed_upload_id_is_refused_before_any_file_exists(server: Server, bad_id: str) -> None:
    before = all_files(server.root)
    with server.client() as client:
        f = DzFile(os.urandom(CHUNK), CHUNK, uuid=bad_id)
        refused(f.send(client, 0), 400, "upload id")
    after = {p for p in all_files(server.root) if p.name != "server.log"}
    assert after - before <= {p for p in after if p.suffix in (".sqlite3-wal", ".sqlite3-shm")}


@pytest.mark.parametrize(
    ("overrides", "data", "words"),
    [
        ({"dzchunkindex": 4}, None, "outside 0..3"),
        ({"dzchunkindex": -1}, None, "whole number"),
        ({"dzchunkbyteoffset": 5}, None, "must start at byte 0"),
        ({"dzchunkindex": "one"}, None, "whole number"),
        ({"dztotalfilesize": "1e9"}, None, "whole number"),
        ({"dztotalchunkcount": 9}, None, "cannot hold"),
        ({"dzchunksize": 0}, None, "positive"),
        ({}, b"short", "require"),
    ],
)
def test_inconsistent_chunk_fields_are_400(
    server: Server, overrides: dict[str, object], data: bytes | None, words: str
) -> None:
    with server.client() as client:
        f = DzFile(os.urandom(4 * CHUNK), CHUNK)
        refused(f.send(client, 0, data=data, **overrides), 400, words)


def test_missing_field_is_named(server: Server) -> None:
    with server.client() as client:
        f = DzFile(os.urandom(CHUNK), CHUNK)
        fields = f.fields(0)
        del fields["dztotalchunkcount"]
        refused(post_form(client, multipart(fields, "a.bin", f.chunk(0))), 400, "dztotalchunkcount")


def test_last_chunk_longer_than_the_file_allows_is_refused_without_touching_bytes(
    server: Server,
) -> None:
    with server.client() as client:
        f = DzFile(os.urandom(2 * CHUNK + 10), CHUNK)
        f.send_all(client, [0, 1])
        refused(f.send(client, 2, data=os.urandom(20)), 400, "longer")
        f.send(client, 2)
        status = f.wait_complete(client)
        assert client.get(str(status["download_url"])).content == f.data


def test_changed_totals_are_409_and_leave_the_upload_intact(server: Server) -> None:
    with server.client() as client:
        f = DzFile(os.urandom(4 * CHUNK), CHUNK, name="a.bin")
        f.send_all(client, [0])
        refused(f.send(client, 1, dztotalfilesize=4 * CHUNK - 1), 409, "differs")
        refused(f.send(client, 1, dzchunksize=CHUNK + 1), 409, "differs")
        renamed = DzFile(f.data, CHUNK, name="b.bin", uuid=f.uuid)
        refused(renamed.send(client, 1), 409, "differs")
        f.send_all(client, [1, 2, 3])
        status = f.wait_complete(client)
        assert client.get(str(status["download_url"])).content == f.data


def test_sizes_over_the_limits_are_413(server: Server) -> None:
    """The fixture server allows 64 MiB files and 4 MiB chunks."""
    with server.client() as client:
        huge = DzFile(os.urandom(CHUNK), CHUNK)
        reply = huge.send(client, 0, dztotalfilesize=65 * 2**20, dztotalchunkcount=65 * 16)
        refused(reply, 413, "at most")
        wide = DzFile(os.urandom(CHUNK), 5 * 2**20)
        refused(wide.send(client, 0), 413, "too large")
        f = DzFile(os.urandom(4 * CHUNK), CHUNK)
        refused(f.send(client, 0, data=os.urandom(CHUNK + 1)), 413, "larger than")


def test_plain_upload_over_max_size_is_413(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server("--max-size", "1")
    with server.client() as client:
        reply = client.post("/upload", files={"file": ("big.bin", os.urandom(2**20 + 1))})
        refused(reply, 413, "larger than")
    assert not list(server.chunks.glob("spool-*"))


def test_another_client_can_neither_add_to_nor_read_an_upload(server: Server) -> None:
    with server.client() as alice, server.client() as mallory:
        f = DzFile(os.urandom(3 * CHUNK), CHUNK)
        f.send_all(alice, [0])
        refused(f.send(mallory, 1, data=b"x" * CHUNK), 403, "another")
        refused(mallory.get(f"/upload/{f.uuid}"), 403, "another")
        assert alice.get(f"/upload/{f.uuid}").json()["received"] == [0]
        f.send_all(alice, [1, 2])
        refused(f.send(mallory, 2), 403, "another")
        status = f.wait_complete(alice)
        assert alice.get(str(status["download_url"])).content == f.data


def test_a_client_without_cookie_gets_one_and_is_bound_by_it(server: Server) -> None:
    f = DzFile(os.urandom(2 * CHUNK), CHUNK)
    with server.client() as client:
        first = f.send(client, 0)
        assert "pyfiledrop_client" in first.cookies
        assert "HttpOnly" in first.headers["set-cookie"]
        f.send_all(client, [1])
        assert f.wait_complete(client)["state"] == "complete"
    forged = httpx.Client(base_url=server.url, cookies={"pyfiledrop_client": "x" * 43})
    with forged:
        refused(forged.get(f"/upload/{f.uuid}"), 403, "another")


def test_status_of_unknown_or_malformed_ids(server: Server) -> None:
    with server.client() as client:
        refused(client.get("/upload/6f1c2a34-6e0b-4a5e-9a4d-2b7e8f0c1d2e"), 404, "no upload")
        refused(client.get("/upload/..%5C..%5Cetc"), 400, "upload id")
        assert client.get("/upload/..%2F..%2Fetc").status_code == 404


@pytest.mark.parametrize(
    ("content_type", "body", "status", "words"),
    [
        ("application/json", b"{}", 415, "multipart"),
        ("multipart/form-data", b"x", 400, "boundary"),
        (
            f"multipart/form-data; boundary={BOUNDARY}",
            multipart({"a": "b"}, "f", b"")[:40],
            400,
            "ended",
        ),
        (
            f"multipart/form-data; boundary={BOUNDARY}",
            b"--" + BOUNDARY.encode() + b"--\r\n",
            400,
            "no file",
        ),
        (f"multipart/form-data; boundary={BOUNDARY}", b"garbage" * 10, 400, "malformed"),
    ],
)
def test_bodies_that_are_not_an_upload(
    server: Server, content_type: str, body: bytes, status: int, words: str
) -> None:
    with server.client() as client:
        reply = client.post("/upload", content=body, headers={"Content-Type": content_type})
        refused(reply, status, words)


def test_hostile_file_names_are_stored_as_plain_names(server: Server) -> None:
    with server.client() as client:
        name = "..\\..\\etc/<img src=x onerror=alert(1)>\x1b\x7f.txt"
        f = DzFile(b"data", CHUNK, name=name)
        f.send_all(client)
        status = f.wait_complete(client)
        assert status["filename"] == "<img src=x onerror=alert(1)>.txt"
        reply = client.get(str(status["download_url"]))
        assert reply.content == b"data"
        disposition = reply.headers["content-disposition"]
        assert "filename*=UTF-8''%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.txt" in disposition
        assert reply.headers["x-content-type-options"] == "nosniff"
    assert not (server.root.parent / "etc").exists()


@pytest.fixture
def small_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    mount = tmp_path / "small"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {result.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_is_507_and_the_upload_can_go_on_once_there_is_room(
    make_server,
    small_disk: Path,  # type: ignore[no-untyped-def]
) -> None:
    server = make_server("-a", "-c", str(small_disk))
    with server.client() as client:
        too_big = DzFile(os.urandom(24 * CHUNK), CHUNK)  # 1.5 MiB declared, 1 MiB free
        refused(too_big.send(client, 0), 507, "storage is full")
        assert client.get(f"/upload/{too_big.uuid}").status_code == 404, "nothing was stored"
        # Two files that each fit when they start, but not both: the disk fills while chunks
        # are being written.
        files = [DzFile(os.urandom(12 * CHUNK), CHUNK) for _ in range(2)]
        for f in files:
            assert f.send(client, 0).status_code == 200
        codes = {(n, i): files[n].send(client, i).status_code for i in range(1, 12) for n in (0, 1)}
        assert 507 in codes.values()
        n, i = next(key for key, code in codes.items() if code == 507)
        refused(files[n].send(client, i), 507, "storage is full")
        assert client.get("/").status_code == 200, "the server must stay up"
        for n, f in enumerate(files):
            received = client.get(f"/upload/{f.uuid}").json()["received"]
            assert received == [0] + [i for i in range(1, 12) if codes[n, i] == 200]
        subprocess.run(["mount", "-o", "remount,size=8m", str(small_disk)], check=True)
        for n, f in enumerate(files):
            f.send_all(client, [i for i in range(1, 12) if codes[n, i] != 200])
            status = f.wait_complete(client)
            assert status["state"] == "complete"
            assert client.get(str(status["download_url"])).content == f.data


def test_a_chunk_that_stalls_past_the_timeout_is_408_and_not_counted(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server("--timeout", "1000")
    with server.client() as client:
        client.get("/")
        f = DzFile(os.urandom(2 * CHUNK), CHUNK)
        body = multipart(f.fields(0), f.name, f.chunk(0))
        head = (
            f"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Cookie: pyfiledrop_client={client.cookies['pyfiledrop_client']}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(head + body[: len(body) // 2])
            reply = http.client.HTTPResponse(sock)
            reply.begin()
            assert reply.status == 408
            assert "longer than 1 s" in reply.read().decode()
        assert client.get(f"/upload/{f.uuid}").json()["received"] == []
