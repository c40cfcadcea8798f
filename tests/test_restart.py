"""Crash safety: SIGKILL the server mid-upload, even mid-chunk, restart it, finish the upload."""

from __future__ import annotations

import os
import sqlite3
import time

from tests.dz import DzFile, start_chunk_and_stall

CHUNK = 256 * 1024


def test_sigkill_mid_chunk_then_resume(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server("-a")
    f = DzFile(os.urandom(6 * CHUNK + 99), CHUNK)
    with server.client() as client:
        client.get("/")
        cookie = client.cookies["pyfiledrop_client"]
        f.send_all(client, [0, 2, 5])
        # Chunk 3 is cut off after most of its bytes reached the server (and the partial file).
        stalled = start_chunk_and_stall(server, f, 3, cookie, sent=CHUNK - 1000)
        time.sleep(0.5)
        server.kill()
        stalled.close()
        server.start()
        status = client.get(f"/upload/{f.uuid}").json()
        assert status["state"] == "receiving"
        assert status["received"] == [0, 2, 5], "a chunk cut off part-way must not count"
        f.send_all(client, [1, 3, 4, 6])
        status = f.wait_complete(client)
        assert status["sha256"] == f.sha256
        assert client.get(str(status["download_url"])).content == f.data


def test_sigkill_while_a_resent_chunk_is_arriving_does_not_keep_the_old_copy(make_server) -> None:  # type: ignore[no-untyped-def]
    """A re-send overwrites the old bytes in place, so until it is whole the chunk is missing."""
    server = make_server("-a")
    f = DzFile(os.urandom(3 * CHUNK), CHUNK)
    with server.client() as client:
        client.get("/")
        cookie = client.cookies["pyfiledrop_client"]
        f.send_all(client, [0, 1])
        stalled = start_chunk_and_stall(server, f, 1, cookie, sent=CHUNK // 2)
        time.sleep(0.5)
        server.kill()
        stalled.close()
        server.start()
        assert client.get(f"/upload/{f.uuid}").json()["received"] == [0]
        f.send_all(client, [1, 2])
        status = f.wait_complete(client)
        assert client.get(str(status["download_url"])).content == f.data


def test_sigkill_between_uploads_keeps_everything(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server("-a")
    with server.client() as client:
        done = DzFile(os.urandom(2 * CHUNK), CHUNK)
        done.send_all(client)
        first = done.wait_complete(client)
        half = DzFile(os.urandom(4 * CHUNK), CHUNK)
        half.send_all(client, [3, 1])
        server.kill()
        server.start()
        assert client.get(str(first["download_url"])).content == done.data
        half.send_all(client, [0, 2])
        status = half.wait_complete(client)
        assert client.get(str(status["download_url"])).content == half.data


def test_sigkill_after_the_file_moved_into_place_ends_complete(make_server) -> None:  # type: ignore[no-untyped-def]
    """Issue 9, defect 1: killed after the finished file was renamed into place and before the
    database said complete, the upload must end complete with its file and hash, not failed."""
    server = make_server("-a")
    f = DzFile(os.urandom(3 * CHUNK + 5), CHUNK)
    with server.client() as client:
        f.send_all(client)
        status = f.wait_complete(client)
        server.kill()
        with sqlite3.connect(server.storage / "pyfiledrop.sqlite3") as db:
            db.execute("UPDATE uploads SET state = 'assembling' WHERE client_id = ?", (f.uuid,))
        server.start()
        healed = client.get(f"/upload/{f.uuid}", params={"wait": 10}).json()
        assert healed["state"] == "complete", healed
        assert healed["sha256"] == f.sha256
        assert client.get(str(status["download_url"])).content == f.data
