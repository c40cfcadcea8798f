"""Idle, slow and greedy clients: each is answered or cut off in bounded time, and none of them
keeps the server from serving everyone else."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server
from tests.tus.helpers import OCTETS, new_upload
from tests.web.raw import (
    closed_by_server,
    connect,
    head,
    read_reply,
    request,
    trickle_until_answered,
)

KiB = 1024


@pytest.mark.parametrize(("path", "json_errors"), [("/upload", True), ("/files/", False)])
def test_a_head_trickled_past_the_header_timeout_is_408(
    make_server, path: str, json_errors: bool
) -> None:  # type: ignore[no-untyped-def]
    server = make_server("--header-timeout", "0.5")
    line, rest = head("POST", path, Tus_Resumable="1.0.0", X_Padding="x" * 1000).split(b"\r\n", 1)
    with connect(server) as sock:
        sock.sendall(line + b"\r\n")
        reply = trickle_until_answered(sock, rest, within=5)
    assert reply is not None, "no answer while the headers trickled in"
    assert reply.status == 408
    assert reply.headers["connection"] == "close"
    if json_errors:
        assert reply.json()["code"] == "headers_too_slow"
    else:
        assert reply.headers["content-type"].startswith("text/plain")
    assert b"took longer than 0.5 s" in reply.body


def test_a_connection_that_sends_nothing_is_closed_at_the_header_timeout(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server("--header-timeout", "0.5")
    with connect(server, timeout=5) as sock:
        assert sock.recv(1) == b""


@pytest.mark.parametrize("pieces", [1, 16])
def test_a_head_over_64_KiB_is_431_and_read_no_further(make_server, pieces: int) -> None:  # type: ignore[no-untyped-def]
    """The server answers even though the headers never end."""
    server = make_server()
    endless = head("POST", "/upload")[:-2] + b"X-Big: " + b"a" * 200 * KiB
    with connect(server) as sock:
        step = len(endless) // pieces
        for start in range(0, len(endless), step):
            sock.sendall(endless[start : start + step])
        reply = read_reply(sock)
    assert reply.status == 431
    assert reply.json() == {
        "error": "The request line and headers are larger than 64 KiB.",
        "code": "headers_too_large",
    }


def test_a_complete_head_over_64_KiB_is_431_and_one_under_is_served(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server()
    big = request(server, head("GET", "/files/abc", Tus_Resumable="1.0.0", X_Big="a" * 65 * KiB))
    assert big.status == 431
    assert big.headers["content-type"].startswith("text/plain")
    assert request(server, head("GET", "/favicon.ico", X_Big="a" * 60 * KiB)).status == 200


def test_a_refused_chunk_is_answered_at_once_while_its_body_is_still_coming(server: Server) -> None:
    """The client reads the refusal without sending the rest; the server then drops what still
    comes for a short while and closes the connection."""
    query = "dzuuid=6f1c2a34-6e0b-4a5e-9a4d-2b7e8f0c1d2e&dzchunkindex=one&filename=a"
    with connect(server) as sock:
        sock.sendall(head("POST", f"/upload?{query}", Content_Length=50 * 1024 * KiB))
        sock.sendall(os.urandom(256 * KiB))
        reply = read_reply(sock)
        assert reply.status == 400
        assert reply.json()["code"] == "bad_chunk"
        assert reply.headers["connection"] == "close"
        assert closed_by_server(sock, within=10)


def test_a_trickled_tus_patch_is_408_when_a_chunk_size_takes_longer_than_the_timeout(
    make_server,
) -> None:  # type: ignore[no-untyped-def]
    """Every --chunk-size bytes of a tus body must arrive within --timeout, as a chunk must."""
    server = make_server("--timeout", "1000", "--chunk-size", str(64 * KiB))
    with server.client() as client:
        url = new_upload(client, 1024 * KiB)
        with connect(server) as sock:
            headers = {**OCTETS, "Upload-Offset": "0", "Content-Length": str(1024 * KiB)}
            sock.sendall(head("PATCH", httpx.URL(url).path, **headers))
            reply = trickle_until_answered(sock, os.urandom(64 * KiB), within=6)
        assert reply is not None, "a trickle of one byte per 50 ms was never cut off"
        assert reply.status == 408
        assert reply.body.startswith(b"No 65536 bytes arrived within 1 s")
        offset = int(client.head(url, headers={"Tus-Resumable": "1.0.0"}).headers["upload-offset"])
        assert 0 < offset < 100, "the bytes that did arrive are kept"


def test_connections_above_max_connections_get_503_counting_idle_kept_alive_ones(
    make_server,
) -> None:  # type: ignore[no-untyped-def]
    server = make_server("--max-connections", "3")
    kept = served_and_kept_open(server, 3)
    refused = request(server, head("POST", "/upload", Content_Length=0))
    assert refused.status == 503
    assert refused.json()["code"] == "too_many_connections"
    tus_refused = request(server, head("HEAD", "/files/abc", Tus_Resumable="1.0.0"))
    assert tus_refused.status == 503
    assert tus_refused.headers["tus-resumable"] == "1.0.0"
    kept.pop().close()
    with httpx.Client(base_url=server.url, timeout=5) as client:
        for _ in range(100):  # until the server has seen the close
            if (status := client.get("/favicon.ico").status_code) != 503:
                break
    assert status == 200
    for sock in kept:
        sock.close()


def served_and_kept_open(server: Server, count: int) -> list[socket.socket]:
    """`count` connections, each served once and then left open, idle. Tried again while the
    server has not yet seen earlier connections (its start-up check) close."""
    for _ in range(50):
        kept = [connect(server) for _ in range(count)]
        for sock in kept:
            sock.sendall(head("GET", "/favicon.ico"))
        if [read_reply(sock).status for sock in kept] == [200] * count:
            return kept
        for sock in kept:
            sock.close()
    raise AssertionError(f"{count} connections were never served at once")


class LowFileLimitServer(Server):
    """A server started with a soft limit of 200 open files (the hard limit unchanged)."""

    def command(self) -> list[str]:
        return ["prlimit", "--nofile=200:", "--", *super().command()]


def test_idle_connections_neither_exhaust_file_descriptors_nor_lock_others_out(
    tmp_path: Path,
) -> None:
    server = LowFileLimitServer(
        tmp_path, "--header-timeout", "1", "--max-connections", "100"
    ).start()
    try:
        assert server.proc is not None
        limits = Path(f"/proc/{server.proc.pid}/limits").read_text()
        soft, hard = re.search(r"Max open files\s+(\d+)\s+(\d+)", limits).groups()  # type: ignore[union-attr]
        assert soft == hard, "the soft limit on open files is raised to the hard one"
        idle = [connect(server, timeout=10) for _ in range(300)]
        for sock in idle:
            assert sock.recv(1) == b"", "an idle connection is closed at the header timeout"
            sock.close()
        with server.client() as client:
            for _ in range(100):  # until the server has seen its side of the closes through
                if (status := client.get("/favicon.ico").status_code) != 503:
                    break
        assert status == 200
    finally:
        server.stop()
