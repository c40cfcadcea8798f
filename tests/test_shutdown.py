"""SIGTERM: the server stops taking connections, lets requests in flight finish for up to
`--shutdown-timeout` seconds, then cuts them; a chunk cut off is not recorded and is sent again."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

from tests.conftest import Server
from tests.dz import DzFile, multipart, start_chunk_and_stall
from tests.postgres import Cluster

MB = 1_000_000


def stop_and_time(server: Server) -> float:
    assert server.proc is not None
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(30)
    return time.monotonic() - started


def test_a_chunk_still_arriving_after_the_shutdown_timeout_is_cut_and_sent_again(
    tmp_path: Path,
) -> None:
    server = Server(tmp_path, "--shutdown-timeout", "1").start()
    f = DzFile(os.urandom(3 * MB), MB)
    with server.client() as client:
        assert f.send(client, 0).status_code == 200
        cookie = client.cookies["pyfiledrop_client"]
    stalled = start_chunk_and_stall(server, f, 1, cookie, sent=MB // 2)
    time.sleep(0.3)  # the server is writing the chunk
    took = stop_and_time(server)
    stalled.close()
    assert 1.0 <= took < 8, f"stopped after {took:.1f} s with --shutdown-timeout 1"
    log = server.log.read_text()
    assert "Cancel 1 running task" in log, "what was cut is logged"
    cut = next(line for line in log.splitlines() if "request cut off at shutdown" in line)
    assert "method=POST" in cut and "path=/upload" in cut and "client=127.0.0.1" in cut
    server.start()
    try:
        with server.client() as client:
            client.cookies.set("pyfiledrop_client", cookie)
            status = client.get(f"/upload/{f.uuid}").json()
            assert status["state"] == "receiving"
            assert status["received"] == [0], "the chunk cut off was not recorded"
            for index in (1, 2):
                assert f.send(client, index).status_code == 200
            assert f.wait_complete(client)["sha256"] == f.sha256
    finally:
        server.stop()


def test_a_chunk_that_finishes_within_the_shutdown_timeout_is_recorded(tmp_path: Path) -> None:
    server = Server(tmp_path, "--shutdown-timeout", "10").start()
    f = DzFile(os.urandom(2 * MB), MB)
    with server.client() as client:
        assert f.send(client, 0).status_code == 200
        cookie = client.cookies["pyfiledrop_client"]
    body = multipart(f.fields(1), f.name, f.chunk(1))
    stalled = start_chunk_and_stall(server, f, 1, cookie, sent=MB // 2)
    time.sleep(0.3)
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    try:
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
        refused = False
    except OSError:
        refused = True
    assert refused, "no new connections once stopping"
    stalled.sendall(body[MB // 2 :])
    head = stalled.recv(65536).split(b"\r\n", 1)[0]
    stalled.close()
    assert head.startswith(b"HTTP/1.1 200"), head
    server.proc.wait(10)
    server.start()
    try:
        with server.client() as client:
            client.cookies.set("pyfiledrop_client", cookie)
            assert f.wait_complete(client)["sha256"] == f.sha256
    finally:
        server.stop()


def test_a_stop_does_not_wait_for_a_database_that_is_gone(tmp_path: Path) -> None:
    """PostgreSQL stopped under a running server: SIGTERM still stops it within seconds (freeing
    its claims is a courtesy the next beats make up for), not after the pool's 10 s wait."""
    cluster = Cluster()  # its own: this one is stopped
    try:
        server = Server(tmp_path, "--database", cluster.create_database()).start()
    finally:
        cluster.stop()
    took = stop_and_time(server)
    assert took < 6, f"stopped after {took:.1f} s"
    assert "server stopped" in server.log.read_text()
