"""The store stops while uploads are under way: requests that need it answer 503 with the reason
(never a traceback), the rest keep working, and every upload resumes once it is back."""

from __future__ import annotations

import hashlib
import os

import httpx

from tests.dz import DzFile
from tests.s3.conftest import MiB
from tests.seaweed import SeaweedFS
from tests.tus.helpers import TUS, download, new_upload, offset_of, patch


def test_uploads_resume_after_the_store_comes_back(server_on, own_store: SeaweedFS) -> None:  # type: ignore[no-untyped-def]
    server = server_on(own_store)
    done = DzFile(os.urandom(2 * MiB + 1), MiB, name="done.bin")
    chunks = DzFile(os.urandom(12 * 1000 * 1000 + 7), 1000 * 1000, name="chunks.bin")
    big = DzFile(os.urandom(2 * 6 * MiB + 3), 6 * MiB, name="big.bin")
    stream = os.urandom(11 * MiB + 5)
    with server.client() as client:
        done.send_all(client)
        link = str(done.wait_complete(client, timeout=60)["download_url"])
        chunks.send_all(client, list(range(6)))
        big.send_all(client, [0])
        tus_url = new_upload(client, len(stream))
        assert patch(client, tus_url, 0, stream[: 3 * MiB]).status_code == 204

        health = httpx.get(server.url + "/healthz")
        assert health.status_code == 200 and health.json()["storage"] == "ok", health.text

        own_store.stop()
        health = httpx.get(server.url + "/healthz")  # load balancers stop sending uploads here
        assert health.status_code == 503, health.text
        assert health.json()["database"] == "ok"
        assert health.json()["storage"].startswith("the storage cannot be written"), health.text
        for reply in (chunks.send(client, 6), big.send(client, 1), httpx.get(link)):
            assert reply.status_code == 503, reply.text
            assert reply.json()["code"] == "storage_unavailable"
            assert "file store is unavailable" in reply.json()["error"]
        reply = patch(client, tus_url, 3 * MiB, stream[3 * MiB : 9 * MiB])
        assert reply.status_code == 503, reply.text
        assert "unavailable" in reply.text and "Traceback" not in reply.text
        assert client.get(f"/upload/{chunks.uuid}").status_code == 200  # needs only the database
        kept = offset_of(client, tus_url)
        assert kept <= 3 * MiB + 6 * MiB

        own_store.start()
        assert httpx.get(server.url + "/healthz").status_code == 200
        chunks.send_all(client, list(range(6, chunks.count)))
        big.send_all(client, [1, 2])
        assert patch(client, tus_url, kept, stream[kept:]).status_code == 204
        for f in (chunks, big):
            status = f.wait_complete(client, timeout=60)
            assert status["state"] == "complete", status
            assert status["sha256"] == f.sha256
            assert httpx.get(str(status["download_url"])).content == f.data
        assert download(client, tus_url) == stream
        head = client.head(tus_url, headers=TUS).headers["pyfiledrop-download-url"]
        assert httpx.get(head).headers["etag"] == f'"{hashlib.sha256(stream).hexdigest()}"'
    assert httpx.get(link).content == done.data
