"""Uploads and downloads through `pyfiledrop serve --storage s3://...` on a real SeaweedFS."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
from pathlib import Path

import httpx
from tusclient.client import TusClient

from tests.conftest import Server
from tests.dz import DzFile
from tests.s3.conftest import MiB
from tests.seaweed import SeaweedFS
from tests.tus.helpers import TUS, new_upload, patch


def test_dropzone_1mb_chunks_in_random_order_with_duplicates(s3_server: Server) -> None:
    data = os.urandom(12 * 1000 * 1000 + 4321)
    f = DzFile(data, 1000 * 1000, name="film.mkv")
    order = list(range(f.count)) + [0, 5, f.count - 1]
    random.shuffle(order)
    with s3_server.client() as client:
        f.send_all(client, order)
        status = f.wait_complete(client, timeout=60)
    assert status["state"] == "complete", status
    assert status["sha256"] == hashlib.sha256(data).hexdigest()
    reply = httpx.get(str(status["download_url"]))
    assert reply.status_code == 200 and reply.content == data
    assert reply.headers["etag"] == f'"{f.sha256}"'
    assert reply.headers["content-disposition"].startswith('attachment; filename="film.mkv"')


def test_downloads_answer_ranges_and_conditions(s3_server: Server) -> None:
    data = os.urandom(6 * MiB + 7)
    f = DzFile(data, 6 * MiB)
    with s3_server.client() as client:
        f.send_all(client)
        url = str(f.wait_complete(client, timeout=60)["download_url"])
    part = httpx.get(url, headers={"Range": "bytes=100-5242979"})
    assert part.status_code == 206 and part.content == data[100:5242980]
    assert part.headers["content-range"] == f"bytes 100-5242979/{len(data)}"
    tail = httpx.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == data[-10:]
    beyond = httpx.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(data)}"
    head = httpx.head(url)
    assert head.status_code == 200 and head.headers["content-length"] == str(len(data))
    assert head.content == b"" and head.headers["accept-ranges"] == "bytes"
    etag = head.headers["etag"]
    assert httpx.get(url, headers={"If-None-Match": etag}).status_code == 304


def test_the_command_line_client_with_8_mib_chunks(s3_server: Server, tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    data = os.urandom(3 * 8 * MiB + 12345)
    path.write_bytes(data)
    result = subprocess.run(
        [sys.executable, "-m", "pyfiledrop", "upload", str(path), "--url", s3_server.url,
         "--chunk-size", str(8 * MiB), "--state-file", str(tmp_path / "state.json")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    link = result.stdout.strip().splitlines()[-1]
    assert "matches" in result.stderr
    assert httpx.get(link).content == data


def test_tuspy_small_and_large_patches(s3_server: Server, tmp_path: Path) -> None:
    for size, chunk in ((9 * MiB + 333, 700 * 1024), (17 * MiB + 1, 8 * MiB)):
        data = os.urandom(size)
        path = tmp_path / "tus.bin"
        path.write_bytes(data)
        uploader = TusClient(s3_server.url + "/files/").uploader(
            str(path), chunk_size=chunk, metadata={"filename": "tus.bin"}
        )
        uploader.upload()
        with httpx.Client(timeout=60) as client:
            reply = client.get(uploader.url, headers=TUS)
            assert reply.status_code == 200 and reply.content == data
            link = client.head(uploader.url, headers=TUS).headers["pyfiledrop-download-url"]
        assert httpx.get(link).headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'


def test_deleting_an_unfinished_upload_aborts_it(s3_server: Server, seaweed: SeaweedFS) -> None:
    with s3_server.client() as client:
        url = new_upload(client, 20 * MiB)
        assert patch(client, url, 0, os.urandom(9 * MiB)).status_code == 204
        upload_id = url.rstrip("/").rsplit("/", 1)[1]
        s3 = seaweed.client()
        keys = [u["Key"] for u in s3.list_multipart_uploads(Bucket="e2e").get("Uploads", [])]
        assert any(k.endswith(f"/files/{upload_id}") for k in keys)
        assert client.delete(url, headers=TUS).status_code == 204
    keys = [u["Key"] for u in s3.list_multipart_uploads(Bucket="e2e").get("Uploads", [])]
    assert not any(k.endswith(f"/files/{upload_id}") for k in keys)
    listed = s3.list_objects_v2(Bucket="e2e").get("Contents", [])
    assert not [o for o in listed if f"/partial/{upload_id}/" in o["Key"]]
