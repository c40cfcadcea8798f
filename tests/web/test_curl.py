"""curl as its users type it, with the real `curl` binary: `curl -T` (PUT) and `curl -F` print
the download link as one line, JSON when asked; a PUT's size limit holds as bytes arrive."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import httpx

from tests.conftest import Server, finished_files

MiB = 1 << 20


def curl(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["curl", "-sS", *args], input=stdin, capture_output=True, timeout=60, check=False
    )


def link_of(done: subprocess.CompletedProcess[bytes]) -> str:
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().splitlines()
    assert len(lines) == 1 and done.stdout.endswith(b"\n"), done.stdout
    return lines[0]


def test_curl_T_and_F_print_the_download_link(make_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server: Server = make_server("-a", "--max-size", "4")
    data = os.urandom(MiB + 17)
    path = tmp_path / "holiday film.mkv"
    path.write_bytes(data)
    links = [
        link_of(curl("-T", str(path), f"{server.url}/")),  # curl adds the name: PUT /holiday…
        link_of(curl("-T", str(path), f"{server.url}/upload/other.mkv")),
        link_of(curl("-F", f"file=@{path}", f"{server.url}/upload")),
    ]
    for link in links:
        assert link.startswith(f"{server.url}/download/")
        reply = httpx.get(link)
        assert reply.status_code == 200 and reply.content == data
    names = [httpx.head(link).headers["content-disposition"] for link in links]
    assert 'filename="holiday film.mkv"' in names[0] and 'filename="other.mkv"' in names[1]
    asked = curl("-H", "Accept: application/json", "-T", str(path), f"{server.url}/")
    found = json.loads(asked.stdout)
    assert found["state"] == "complete" and found["filename"] == "holiday film.mkv"
    form = curl("-H", "Accept: application/json", "-F", f"file=@{path}", f"{server.url}/upload")
    assert json.loads(form.stdout)["size"] == len(data)
    kept = curl("-H", "Accept: application/json", "-T", str(path), f"{server.url}/?expire=1d")
    found = json.loads(kept.stdout)  # curl put the file's name before the query
    assert found["filename"] == "holiday film.mkv"
    assert time.time() + 86000 < found["expires_at"] <= time.time() + 86400


def test_a_put_over_the_limit_is_refused_declared_or_not(make_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server: Server = make_server("-a", "--max-size", "1")
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(2 * MiB))
    declared = curl("-w", "%{http_code} %{size_upload}", "-o", "/dev/null", "-T", str(path),
                    f"{server.url}/big.bin")  # fmt: skip
    status, sent = declared.stdout.decode().split()
    assert status == "413" and int(sent) < MiB, "refused before the body was sent"
    streamed = curl("-w", "%{http_code}", "-o", "/dev/null", "-T", "-", f"{server.url}/big.bin",
                    stdin=path.read_bytes())  # fmt: skip  # no length: chunked
    assert streamed.stdout.decode() == "413"
    assert finished_files(server.storage) == []
    assert [p for p in server.chunks.rglob("*") if p.is_file()] == []
    small = curl("-T", "-", f"{server.url}/small.bin", stdin=b"x" * 1000)
    assert httpx.get(link_of(small)).content == b"x" * 1000


def test_a_put_needs_the_upload_password(make_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server: Server = make_server("-a", "--upload-password", "s3cret")
    path = tmp_path / "a.txt"
    path.write_bytes(b"hello")
    refused = curl("-w", "%{http_code}", "-o", "/dev/null", "-T", str(path), f"{server.url}/")
    assert refused.stdout.decode() == "401"
    allowed = curl("-u", ":s3cret", "-T", str(path), f"{server.url}/")
    assert httpx.get(link_of(allowed)).content == b"hello"


def test_with_downloads_off_curl_is_told_what_was_stored_not_a_dead_link(
    make_server, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    server: Server = make_server()  # downloads are off unless -a
    path = tmp_path / "notes.txt"
    path.write_bytes(b"kept, not handed out\n")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    said = curl("-T", str(path), f"{server.url}/")
    assert said.returncode == 0
    assert said.stdout.decode() == (
        f"Stored notes.txt (21 bytes, SHA-256 {digest}); downloads are turned off on this server.\n"
    )
    asked = json.loads(
        curl("-H", "Accept: application/json", "-T", str(path), f"{server.url}/").stdout
    )
    assert asked["state"] == "complete" and asked["sha256"] == digest
    assert "download_url" not in asked and "share_url" not in asked
    assert asked["delete_url"].startswith(f"{server.url}/s/"), "its uploader may still remove it"
