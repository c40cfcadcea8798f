"""The command-line client against a real server: links, resume, retries, and its errors."""

from __future__ import annotations

import hashlib
import itertools
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from pyfiledrop.client.state import StateFile
from pyfiledrop.client.uploader import Uploader, UploadFailed
from tests.conftest import Server

CHUNK = 256 * 1024


class Recording(Uploader):
    """An uploader that notes which chunk indexes it sends."""

    sent: list[int]

    asked: list[int]

    def _post_chunk(self, upload, form, name, data):  # type: ignore[no-untyped-def]
        self.sent.append(int(form["dzchunkindex"]))
        return super()._post_chunk(upload, form, name, data)

    def _request(self, method, path, upload, **kwargs):  # type: ignore[no-untyped-def]
        reply = super()._request(method, path, upload, **kwargs)
        if path == "/upload/known":
            self.asked.append(reply.status)
        return reply


class Stop(Exception):
    pass


def uploader(server: Server, state: Path, **options: int) -> Recording:
    made = Recording(
        server.url,
        StateFile(state),
        chunk_size=options.pop("chunk_size", CHUNK),
        parallel=options.pop("parallel", 3),
        backoff=0.2,
        **options,
    )
    made.sent, made.asked = [], []
    return made


def stop_after(chunks: int, then: Callable[[], None] = lambda: None) -> Callable[[int], None]:
    seen = [0]

    def advance(n: int) -> None:
        seen[0] += 1
        if seen[0] == chunks:
            then()
            raise Stop()

    return advance


def unfinished(state: Path) -> list[tuple[str, str]]:
    """The unfinished uploads the state file remembers: (upload id, cookie)."""
    with sqlite3.connect(state) as db:
        return db.execute("SELECT upload_id, cookie FROM unfinished").fetchall()


def held_by_server(server: Server, state: Path) -> set[int]:
    """The chunks the server holds for the one upload the state file remembers."""
    ((upload_id, cookie),) = unfinished(state)
    cookies = {"pyfiledrop_client": cookie}
    status = httpx.get(f"{server.url}/upload/{upload_id}", cookies=cookies).json()
    return set(status["received"])


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyfiledrop", "upload", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_uploads_files_and_ends_each_with_its_link(server: Server, tmp_path: Path) -> None:
    files = []
    for name, size in (("a.bin", 3 * CHUNK + 5), ("empty.txt", 0), ("b c.bin", 1000)):
        path = tmp_path / name
        path.write_bytes(os.urandom(size))
        files.append(path)
    result = cli(*map(str, files), "--url", server.url, "--chunk-size", str(CHUNK),
                 "--state-file", str(tmp_path / "state.json"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    links = result.stdout.strip().splitlines()
    assert len(links) == 3
    for path, link in zip(files, links, strict=True):
        assert httpx.get(link).content == path.read_bytes()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert f"{path}: {path.stat().st_size} bytes, SHA-256 {digest} matches" in result.stderr
    assert unfinished(tmp_path / "state.json") == [], "finished uploads are forgotten"


def test_an_interrupted_upload_resumes_sending_only_missing_chunks(
    server: Server, tmp_path: Path
) -> None:
    path = tmp_path / "film.mkv"
    path.write_bytes(os.urandom(20 * CHUNK + 77))
    state = tmp_path / "state.json"
    with uploader(server, state, parallel=1) as first, pytest.raises(Stop):
        first.upload(path, stop_after(6))
    held = held_by_server(server, state)
    assert len(held) >= 6
    with uploader(server, state) as second:
        done = second.upload(path, lambda n: None)
    assert sorted(second.sent) == sorted(set(range(21)) - held)
    assert httpx.get(str(done.download_url)).content == path.read_bytes()


def test_resume_works_after_the_server_restarted(make_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server: Server = make_server("-a")
    path = tmp_path / "disk.img"
    path.write_bytes(os.urandom(12 * CHUNK))
    state = tmp_path / "state.json"
    interrupted = pytest.raises((Stop, UploadFailed))  # the next chunk may fail first
    with uploader(server, state, parallel=1, retries=0) as first, interrupted:
        first.upload(path, stop_after(5, then=server.kill))
    server.start()
    held = held_by_server(server, state)
    assert len(held) >= 5
    with uploader(server, state) as second:
        done = second.upload(path, lambda n: None)
    assert sorted(second.sent) == sorted(set(range(12)) - held)
    assert done.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_chunks_are_retried_while_the_server_restarts(make_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server: Server = make_server("-a")
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(24 * CHUNK))
    restarted = []

    def advance(n: int) -> None:
        if not restarted:
            restarted.append(True)
            server.kill()
            server.start()

    with uploader(server, tmp_path / "state.json", parallel=4) as client:
        done = client.upload(path, advance)
    assert restarted
    assert httpx.get(str(done.download_url)).content == path.read_bytes()


def test_a_refused_chunk_fails_with_the_servers_reason(server: Server, tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(100))
    result = cli(str(path), "--url", server.url, "--chunk-size", str(8 * 2**20),
                 "--state-file", str(tmp_path / "s.json"))  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {path}: chunk 0: 413 Chunks of 8388608 bytes are too large; the limit is 4194304."
    )


def test_a_server_that_is_not_pyfiledrop_is_a_one_line_error(tmp_path: Path) -> None:
    other = subprocess.Popen(
        [sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert other.stdout is not None
        port = other.stdout.readline().split("port ")[1].split()[0]
        path = tmp_path / "f.bin"
        path.write_bytes(b"x")
        result = cli(str(path), "--url", f"http://127.0.0.1:{port}", "--retries", "0",
                     "--state-file", str(tmp_path / "s.json"))  # fmt: skip
    finally:
        other.terminate()
        other.wait()
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: {path}: http://127.0.0.1:{port} did not answer like a pyfiledrop server"
    )


def test_sending_a_file_again_completes_at_once_and_sends_nothing(
    server: Server, tmp_path: Path
) -> None:
    path = tmp_path / "film.mkv"
    path.write_bytes(os.urandom(10 * CHUNK + 3))
    state = tmp_path / "state.json"
    with uploader(server, state) as first:
        sent = first.upload(path, lambda n: None)
    assert sorted(first.sent) == list(range(11)) and first.asked == [], "a new size: no asking"
    with uploader(server, state) as again:
        seen: list[int] = []
        known = again.upload(path, seen.append)
    assert again.sent == [] and again.asked == [200], "asked by the recorded digest, sent nothing"
    assert known.known and known.sha256 == sent.sha256 and sum(seen) == path.stat().st_size
    assert known.download_url != sent.download_url, "an upload of its own, with its own link"
    assert httpx.get(str(known.download_url)).content == path.read_bytes()


def test_a_copy_of_a_sent_file_is_hashed_first_and_not_sent(server: Server, tmp_path: Path) -> None:
    original, copy = tmp_path / "a.bin", tmp_path / "copy of a.bin"
    original.write_bytes(os.urandom(4 * CHUNK))
    copy.write_bytes(original.read_bytes())
    different = tmp_path / "b.bin"
    different.write_bytes(os.urandom(4 * CHUNK))
    state = tmp_path / "state.json"
    with uploader(server, state) as client:
        client.upload(original, lambda n: None)
        done = client.upload(copy, lambda n: None)
        assert done.known and client.asked == [200] and len(client.sent) == 4
        client.upload(different, lambda n: None)  # the same size, other bytes: asked, then sent
        assert client.asked == [200, 404] and len(client.sent) == 8
    assert httpx.get(str(done.download_url)).content == original.read_bytes()


def test_another_client_is_not_told_about_this_clients_files(
    server: Server, tmp_path: Path
) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(os.urandom(3 * CHUNK))
    with uploader(server, tmp_path / "mine.json") as mine:
        mine.upload(path, lambda n: None)
    theirs = tmp_path / "theirs.json"
    with uploader(server, theirs) as other:  # it sent a file of that size once, so it asks
        (tmp_path / "b.bin").write_bytes(os.urandom(3 * CHUNK))
        other.upload(tmp_path / "b.bin", lambda n: None)
        done = other.upload(path, lambda n: None)
    assert other.asked == [404] and len(other.sent) == 6 and not done.known


def test_the_cli_says_a_file_sent_again_was_already_there(server: Server, tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(os.urandom(2 * CHUNK))
    args = (str(path), "--url", server.url, "--chunk-size", str(CHUNK),
            "--state-file", str(tmp_path / "state.json"))  # fmt: skip
    assert cli(*args).returncode == 0
    again = cli(*args)
    assert again.returncode == 0, again.stderr
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert f"{path}: {2 * CHUNK} bytes, SHA-256 {digest} already sent" in again.stderr
    assert httpx.get(again.stdout.strip()).content == path.read_bytes()


def test_several_files_go_at_once_and_links_keep_the_files_order(
    server: Server, tmp_path: Path
) -> None:
    """Small files overlap (one's upload starts before the one before it is finished), and
    each link still comes out in the order the files were named."""
    files = []
    for n in range(12):
        path = tmp_path / f"small-{n:02d}.bin"
        path.write_bytes(os.urandom(1000 + n))
        files.append(path)
    result = cli(*map(str, files), "--url", server.url, "--parallel", "4", "--chunk-size", "4096",
                 "--state-file", str(tmp_path / "state.json"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    links = result.stdout.strip().splitlines()
    assert [len(httpx.get(link).content) for link in links] == [1000 + n for n in range(12)]
    with sqlite3.connect(server.storage / "pyfiledrop.sqlite3") as db:
        spans = db.execute(
            "SELECT created_at, updated_at FROM uploads ORDER BY created_at"
        ).fetchall()
    overlapping = sum(1 for a, b in itertools.pairwise(spans) if b[0] < a[1])
    assert overlapping >= 3, f"uploads one after another: {spans}"
