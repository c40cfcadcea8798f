"""Dropzone-protocol uploads against a real server: orders, duplicates, races, plain uploads."""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time

import httpx

from tests.conftest import Server
from tests.conftest import finished_files as stored_files
from tests.dz import BOUNDARY, DzFile, multipart, post_form

CHUNK = 64 * 1024


def download(client: httpx.Client, status: dict[str, object]) -> bytes:
    reply = client.get(str(status["download_url"]))
    assert reply.status_code == 200
    return reply.content


def finished_files(server: Server) -> list[str]:
    return [p.name for p in stored_files(server.storage)]


def test_chunks_in_order_complete_with_hash_and_link(server: Server) -> None:
    with server.client() as client:
        f = DzFile(os.urandom(5 * CHUNK + 123), CHUNK, name="report.pdf")
        f.send_all(client)
        status = f.wait_complete(client)
        assert status["state"] == "complete"
        assert status["sha256"] == f.sha256
        assert status["filename"] == "report.pdf"
        assert status["received"] == list(range(f.count))
        assert download(client, status) == f.data
        assert not any(server.chunks.glob("*.part")), "the partial file must be moved away"


def test_shuffled_chunks_with_duplicates_count_once(server: Server) -> None:
    with server.client() as client:
        f = DzFile(os.urandom(9 * CHUNK + 7), CHUNK)
        order = list(range(f.count)) + [0, 3, 3, 8]
        random.Random(4).shuffle(order)
        order.remove(9)
        order.append(9)  # the last distinct chunk arrives last, after every duplicate
        f.send_all(client, order)
        status = f.wait_complete(client)
        assert status["state"] == "complete"
        assert download(client, status) == f.data


def test_status_lists_received_chunks_before_completion(server: Server) -> None:
    with server.client() as client:
        f = DzFile(os.urandom(4 * CHUNK), CHUNK)
        f.send_all(client, [2, 0, 2])
        status = client.get(f"/upload/{f.uuid}").json()
        assert status["state"] == "receiving"
        assert status["received"] == [0, 2]
        assert "download_url" not in status


def send_together(
    barrier: threading.Barrier, client: httpx.Client, f: DzFile, index: int, replies: list[int]
) -> None:
    barrier.wait()
    replies.append(f.send(client, index).status_code)


def test_concurrent_last_chunks_finish_the_file_exactly_once(server: Server) -> None:
    with server.client() as client:
        client.get("/")  # take the cookie before sending in parallel
        for _ in range(5):
            f = DzFile(os.urandom(6 * CHUNK + 5), CHUNK)
            f.send_all(client, list(range(f.count - 2)))
            replies: list[int] = []
            barrier = threading.Barrier(4)
            threads = [
                threading.Thread(target=send_together, args=(barrier, client, f, i, replies))
                for i in (4, 5, 5, 6)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert replies == [200] * 4
            status = f.wait_complete(client)
            assert status["state"] == "complete"
            assert download(client, status) == f.data
        assert len(finished_files(server)) == 5


def test_a_late_retry_of_a_finished_upload_changes_nothing(server: Server) -> None:
    with server.client() as client:
        f = DzFile(os.urandom(3 * CHUNK), CHUNK)
        f.send_all(client)
        status = f.wait_complete(client)
        reply = f.send(client, 1)
        assert reply.status_code == 200
        assert reply.json()["state"] == "complete"
        assert download(client, status) == f.data


def test_fields_after_the_file_part_are_accepted(server: Server) -> None:
    with server.client() as client:
        f = DzFile(os.urandom(3 * CHUNK + 1), CHUNK)
        for index in range(f.count):
            assert f.send(client, index, file_first=True).status_code == 200
        status = f.wait_complete(client)
        assert download(client, status) == f.data
        assert not list(server.chunks.glob("spool-*")), "scratch files must not be left behind"


def test_empty_file_as_one_empty_chunk(server: Server) -> None:
    """Dropzone 6 sends an empty file as one chunk of zero bytes."""
    with server.client() as client:
        f = DzFile(b"", CHUNK, name="empty.txt")
        assert f.count == 1
        f.send_all(client)
        status = f.wait_complete(client)
        assert status["sha256"] == hashlib.sha256(b"").hexdigest()
        assert download(client, status) == b""


def test_plain_upload_without_dz_fields(server: Server) -> None:
    with server.client() as client:
        data = os.urandom(3 * CHUNK)
        reply = client.post("/upload", files={"file": ("photo.jpg", data, "image/jpeg")})
        assert reply.status_code == 200, reply.text
        status = reply.json()
        assert status["state"] == "complete"
        assert status["sha256"] == hashlib.sha256(data).hexdigest()
        assert download(client, status) == data


def test_plain_upload_of_an_empty_file_with_extra_fields(server: Server) -> None:
    with server.client() as client:
        body = multipart({"note": "hello"}, "empty.bin", b"")
        reply = post_form(client, body)
        assert reply.status_code == 200, reply.text
        assert reply.json()["size"] == 0
        assert download(client, reply.json()) == b""


def test_uploads_survive_in_metadata_not_memory(make_server) -> None:  # type: ignore[no-untyped-def]
    """A finished upload is still listed and downloadable after a clean restart."""
    server = make_server("-a")
    with server.client() as client:
        f = DzFile(os.urandom(2 * CHUNK), CHUNK)
        f.send_all(client)
        assert f.wait_complete(client)["state"] == "complete"
        server.stop()
        server.start()
        again = client.get(f"/upload/{f.uuid}").json()
        assert again["sha256"] == f.sha256
        assert download(client, again) == f.data


def test_multipart_boundary_in_data_does_not_confuse_the_parser(server: Server) -> None:
    with server.client() as client:
        tricky = (b"\r\n--" + BOUNDARY.encode() + b"x") * 500
        f = DzFile(tricky + os.urandom(CHUNK), CHUNK)
        f.send_all(client)
        assert download(client, f.wait_complete(client)) == f.data


def test_status_call_can_wait_for_the_file_to_be_finished(server: Server) -> None:
    with server.client() as client:
        f = DzFile(os.urandom(8 * CHUNK), CHUNK)
        f.send_all(client)
        status = client.get(f"/upload/{f.uuid}?wait=10").json()
        assert status["state"] == "complete"
        assert status["sha256"] == f.sha256


def test_waiting_on_an_unfinished_upload_ends_at_the_timeout(server: Server) -> None:
    with server.client() as client:
        f = DzFile(os.urandom(2 * CHUNK), CHUNK)
        f.send_all(client, [0])
        started = time.monotonic()
        status = client.get(f"/upload/{f.uuid}?wait=1").json()
        assert 0.9 < time.monotonic() - started < 5
        assert status["state"] == "receiving"


def test_delete_removes_an_unfinished_upload_for_its_creator_only(server: Server) -> None:
    """The page's cancel: DELETE /upload/<dzuuid> from another browser is refused and changes
    nothing; from the creator it removes the record and the partial file, and a second one 404s."""
    with server.client() as owner, server.client() as other:
        f = DzFile(os.urandom(4 * CHUNK), CHUNK)
        f.send_all(owner, [0, 2])
        assert len(list(server.chunks.glob("*.part"))) == 1

        refused = other.delete(f"/upload/{f.uuid}")
        assert refused.status_code == 403, refused.text
        assert "set-cookie" not in refused.headers
        assert owner.get(f"/upload/{f.uuid}").json()["received"] == [0, 2]

        assert owner.delete(f"/upload/{f.uuid}").status_code == 204
        assert owner.get(f"/upload/{f.uuid}").status_code == 404
        assert list(server.chunks.glob("*.part")) == []
        assert owner.delete(f"/upload/{f.uuid}").status_code == 404

        late = f.send(owner, 1)  # sent before the cancel, arriving after it
        assert late.status_code == 410, late.text
        assert "cancelled" in late.json()["error"]
        assert owner.get(f"/upload/{f.uuid}").status_code == 404, "not started again"
        assert list(server.chunks.glob("*.part")) == []
        listed = owner.get("/uploads").json()["uploads"]
        assert listed == [], "a cancelled upload is not the uploader's any more"
