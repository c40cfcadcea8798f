"""Files stored once by content, against real server processes on both back ends: local disk +
SQLite, and S3 (a real SeaweedFS) + PostgreSQL. Two server processes share the database and the
storage; each client has its own cookie (another browser, as far as the servers can tell)."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from pyfiledrop.core.model import content_key
from tests.conftest import Server, finished_files
from tests.dz import DzFile
from tests.s3.conftest import ensure_bucket, s3_flags
from tests.seaweed import SeaweedFS
from tests.tus.helpers import TUS
from tests.tus.helpers import upload as tus_upload

MiB = 1024 * 1024
CHUNK = 4 * MiB
FLAGS = ("-a", "--max-size", "64", "--max-chunk-size", str(8 * MiB))


@dataclass
class Backend:
    """Two servers on one database and one storage, and a look into that storage."""

    a: Server
    b: Server
    seaweed: SeaweedFS | None = None
    bucket: str = ""
    prefix: str = ""

    def stored(self) -> dict[str, int]:
        """Finished file key -> size, as the disk or the bucket holds them."""
        if self.seaweed is None:
            root = self.a.storage / "files"
            return {
                str(p.relative_to(root)): p.stat().st_size for p in finished_files(self.a.storage)
            }
        listed = self.seaweed.client().list_objects_v2(
            Bucket=self.bucket, Prefix=f"{self.prefix}/files/"
        )
        start = len(f"{self.prefix}/files/")
        return {o["Key"][start:]: o["Size"] for o in listed.get("Contents", [])}

    def placed(self, status: dict[str, Any]) -> str:
        """The key of the one file of this upload's size (each test's sizes differ), checked to
        be where it is placed: its content key on local disk, where a rename is free; on S3 the
        id of the upload that placed it, where it was sealed."""
        size = status["size"]
        [key] = [key for key, stored in self.stored().items() if stored == size]
        if self.seaweed is None:
            assert key == content_key(status["sha256"])
        else:
            assert re.fullmatch("[0-9a-f]{32}", key), key
        return key

    def remove_by_hand(self, key: str) -> None:
        if self.seaweed is None:
            (self.a.storage / "files" / key).unlink()
        else:
            self.seaweed.client().delete_object(
                Bucket=self.bucket, Key=f"{self.prefix}/files/{key}"
            )


@pytest.fixture(params=["local+sqlite", "s3+postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "local+sqlite":
        a = Server(tmp_path, *FLAGS)
        b = Server(tmp_path, *FLAGS)
        found = Backend(a.start(), b.start())
    else:
        store: SeaweedFS = request.getfixturevalue("seaweed")
        bucket, prefix = ensure_bucket(store, "content"), uuid.uuid4().hex[:8]
        flags = (
            *FLAGS,
            *s3_flags(store, bucket, prefix),
            "--database",
            request.getfixturevalue("pg_url"),
        )
        a, b = Server(tmp_path, *flags), Server(tmp_path, *flags)
        found = Backend(a.start(), b.start(), store, bucket, prefix)
    yield found
    found.a.stop()
    found.b.stop()


def send(server: Server, client: httpx.Client, f: DzFile) -> dict[str, Any]:
    f.send_all(client, raw=True)
    return f.wait_complete(client)


def test_the_same_20_mb_uploaded_twice_takes_the_space_once(backend: Backend) -> None:
    data = os.urandom(20 * 1000 * 1000)
    with backend.a.client() as one, backend.b.client() as two:  # two people, two processes
        first = send(backend.a, one, DzFile(data, CHUNK, name="one.bin"))
        second = send(backend.b, two, DzFile(data, CHUNK, name="two.bin"))
        assert (
            first["sha256"] == second["sha256"] and first["download_url"] != second["download_url"]
        )
        assert backend.stored() == {backend.placed(first): len(data)}, "stored once"
        for client, status in ((one, first), (two, second)):
            assert client.get(status["download_url"]).content == data


def test_a_file_removed_by_hand_is_a_410_before_any_byte_and_the_upload_says_so(
    backend: Backend,
) -> None:
    data = os.urandom(MiB + 5)
    with backend.a.client() as client:
        f = DzFile(data, CHUNK)
        status = send(backend.a, client, f)
        backend.remove_by_hand(backend.placed(status))
        link = status["download_url"].replace(str(backend.a.port), str(backend.b.port))
        reply = httpx.get(link)
        # 410 Gone: the link was good and the file existed, but it is gone for good; a 404 would
        # say the link is wrong, and a 200 with a cut-off body would look like a network fault.
        assert reply.status_code == 410, reply.text
        assert reply.json()["code"] == "content_missing"
        assert "missing" in reply.json()["error"] and "Upload it again" in reply.json()["error"]
        assert httpx.head(link).status_code == 410
        shown = client.get(f"/upload/{f.uuid}").json()
        assert shown["state"] == "failed" and "missing" in shown["error"]
        assert "download_url" not in shown
        again = send(backend.b, client, DzFile(data, CHUNK))  # sent again: stored again
        assert client.get(again["download_url"]).content == data


def test_asking_by_hash_completes_only_for_the_owner_and_tells_a_stranger_nothing(
    backend: Backend,
) -> None:
    data = os.urandom(3 * MiB)
    with backend.a.client() as owner, backend.b.client() as stranger:
        sent = send(backend.a, owner, DzFile(data, CHUNK))

        def ask(client: httpx.Client, sha256: str, size: int = len(data)) -> httpx.Response:
            f = DzFile(b"", CHUNK, name="again.bin")
            query = {
                "dzuuid": f.uuid, "filename": f.name, "dztotalfilesize": size,
                "dzchunksize": CHUNK, "dztotalchunkcount": -(-size // CHUNK), "sha256": sha256,
            }  # fmt: skip
            return client.post("/upload/known", params=query)

        theirs, nobodys = ask(stranger, sent["sha256"]), ask(stranger, "0" * 64)
        assert theirs.status_code == nobodys.status_code == 404
        assert theirs.json() == nobodys.json(), "the same answer whether or not someone has it"
        assert ask(owner, sent["sha256"], len(data) - 1).status_code == 404
        assert ask(owner, "nothex").status_code == 400
        known = ask(owner, sent["sha256"])
        assert known.status_code == 200, known.text
        shown = known.json()
        assert shown["state"] == "complete" and shown["sha256"] == sent["sha256"]
        assert shown["download_url"] != sent["download_url"]
        assert httpx.get(shown["download_url"]).content == data
        assert owner.get(f"/upload/{shown['id']}").json()["state"] == "complete"
        assert backend.stored() == {backend.placed(sent): len(data)}


def test_removing_the_last_upload_and_uploading_its_bytes_at_once_in_two_processes(
    backend: Backend,
) -> None:
    """Rounds of: a tus upload's DELETE in one process while another process finishes an upload
    of the same bytes. Whichever the database orders first, the new upload's file is in place."""
    with backend.a.client() as one, backend.b.client() as two:
        for round_ in range(6):
            data = os.urandom(MiB + round_)
            old = tus_upload(one, data)  # the one upload of this content
            new = DzFile(data, CHUNK)
            with ThreadPoolExecutor(2) as pool:
                deleted = pool.submit(one.delete, old, headers=TUS)
                sent = pool.submit(send, backend.b, two, new)
                assert deleted.result().status_code == 204
                status = sent.result()
            assert status["state"] == "complete", (round_, status)
            assert two.get(status["download_url"]).content == data, round_
            assert backend.stored().get(backend.placed(status)) == len(data), round_
