"""`pyfiledrop upload DIR`: a folder's files, their relative paths kept on the server (the
folder's name first), links in name order, links out of the folder and odd files skipped."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import httpx

from pyfiledrop.client.state import StateFile
from tests.conftest import Server
from tests.test_client import CHUNK, cli


def test_a_folder_uploads_with_its_relative_paths(server: Server, tmp_path: Path) -> None:
    folder = tmp_path / "Photos"
    (folder / "2024" / "summer").mkdir(parents=True)
    files = {
        "2024/summer/b.jpg": os.urandom(3 * CHUNK + 1),  # chunked
        "2024/a.jpg": os.urandom(100),
        "notes.txt": b"",
        "z.txt": b"last",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    outside = tmp_path / "secret.txt"
    outside.write_bytes(b"not in the folder")
    (folder / "leak.txt").symlink_to(outside)
    (folder / "inside-link.txt").symlink_to(folder / "z.txt")
    (folder / "up").symlink_to(tmp_path, target_is_directory=True)
    os.mkfifo(folder / "pipe")
    alone = tmp_path / "alone.bin"
    alone.write_bytes(b"a file given by itself")
    state = tmp_path / "state.json"
    result = cli(str(folder), str(alone), "--url", server.url, "--chunk-size", str(CHUNK),
                 "--state-file", str(state), "--parallel", "3")  # fmt: skip
    assert result.returncode == 0, result.stderr
    links = result.stdout.strip().splitlines()
    in_order = ["2024/a.jpg", "2024/summer/b.jpg", "inside-link.txt", "notes.txt", "z.txt"]
    assert len(set(links)) == len(in_order) + 1  # a link to a file in it is an upload of its own
    expected = {**files, "inside-link.txt": b"last"}
    for name, link in zip(in_order, links[:-1], strict=True):
        assert httpx.get(link).content == expected[name], name
    assert httpx.get(links[-1]).content == alone.read_bytes()
    for skipped, why in (("leak.txt", "outside the folder"), ("up", "link to a folder"),
                         ("pipe", "not a regular file")):  # fmt: skip
        assert f"skipped {folder / skipped}: " in result.stderr and why in result.stderr
    assert "Photos/2024/summer/b.jpg: " in result.stderr
    cookie = StateFile(state).cookie(server.url)
    assert cookie
    owner = httpx.Client(base_url=server.url, cookies={"pyfiledrop_client": cookie})
    archive = owner.get("/zip", params={"folder": "Photos"})
    with zipfile.ZipFile(io.BytesIO(archive.content)) as read:
        assert sorted(read.namelist()) == [f"Photos/{name}" for name in in_order]


def test_an_empty_folder_fails_saying_so(server: Server, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = cli(str(tmp_path / "empty"), "--url", server.url,
                 "--state-file", str(tmp_path / "s.json"))  # fmt: skip
    assert result.returncode == 1
    assert "no file to upload in this folder" in result.stderr


def test_a_folder_of_many_files_keeps_to_a_few_connections(make_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The chunks of every file go out on the same few keep-alive connections (one per sending
    thread): a server that takes 8 connections at once takes 60 files without refusing one,
    though no retry is allowed. (A connection per file stayed open until the server's idle
    close, 5 s later, and the ninth was refused.)"""
    server = make_server("-a", "--max-connections", "8")
    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(60):
        (folder / f"{n:02d}.txt").write_bytes(os.urandom(100 + n))
    result = cli(str(folder), "--url", server.url, "--state-file", str(tmp_path / "state"),
                 "--parallel", "3", "--retries", "0")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 60
