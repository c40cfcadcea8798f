"""The real tuspy client: plain, chunked, checksummed, stopped and crashed uploads."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from tusclient.client import TusClient
from tusclient.storage.filestorage import FileStorage

from tests.conftest import Server
from tests.tus.conftest import TUS_FLAGS
from tests.tus.helpers import TUS, MiB, download, offset_of


def write(tmp_path: Path, data: bytes, name: str = "file.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def client_for(server: Server) -> TusClient:
    return TusClient(server.url + "/files/")


@pytest.mark.parametrize(
    ("size", "chunk_size", "checksum"),
    [
        (0, None, False),
        (1, None, False),
        (5 * 1024 + 3, None, True),
        (5 * 1024 + 3, 1000, False),
        (5 * MiB + 17, MiB, True),
    ],
    ids=["0 B", "1 B", "5 KiB in one", "5 KiB in 1000 B chunks", "5 MiB in 1 MiB sha1 chunks"],
)
def test_tuspy_uploads_arrive_byte_for_byte(
    tus_server: Server,
    tus: httpx.Client,
    tmp_path: Path,
    size: int,
    chunk_size: int | None,
    checksum: bool,
) -> None:
    """tuspy's POST + PATCHes (sha1 Upload-Checksum when asked) give back the same bytes."""
    data = os.urandom(size)
    path = write(tmp_path, data, "tuspy ümlaut.bin")
    options: dict[str, object] = {"upload_checksum": checksum}
    if chunk_size:
        options["chunk_size"] = chunk_size
    uploader = client_for(tus_server).uploader(
        str(path), metadata={"filename": path.name, "filetype": "application/x-test"}, **options
    )
    uploader.upload()
    assert uploader.url.startswith(tus_server.url + "/files/")
    assert uploader.offset == size
    assert offset_of(tus, uploader.url) == size
    reply = tus.get(uploader.url, headers=TUS)
    assert reply.status_code == 200
    assert reply.content == data
    assert "filename*=UTF-8''tuspy%20%C3%BCmlaut.bin" in reply.headers["content-disposition"]


def test_tuspy_stopped_upload_resumes_from_stored_url(
    tus_server: Server, tus: httpx.Client, tmp_path: Path
) -> None:
    """upload(stop_at=…) leaves a partial upload; a new uploader finds its URL in FileStorage."""
    data = os.urandom(300_000)
    path = write(tmp_path, data)
    urls = tmp_path / "tus-urls.json"
    storage = FileStorage(str(urls))
    first = client_for(tus_server).uploader(
        str(path), chunk_size=64 * 1024, store_url=True, url_storage=storage
    )
    first.upload(stop_at=130_000)
    assert first.offset == 130_000
    assert offset_of(tus, first.url) == 130_000
    assert tus.get(first.url, headers=TUS).status_code == 404, "not complete yet"
    storage.close()

    again = FileStorage(str(urls))
    second = client_for(tus_server).uploader(
        str(path), chunk_size=64 * 1024, store_url=True, url_storage=again
    )
    assert second.url == first.url, "the stored URL is reused, not a new upload"
    assert second.offset == 130_000, "the offset comes from the server's HEAD"
    second.upload()
    again.close()
    assert download(tus, first.url) == data


def test_tuspy_resumes_with_an_explicit_url_chunk_by_chunk(
    tus_server: Server, tus: httpx.Client, tmp_path: Path
) -> None:
    """A few upload_chunk() calls, then a new uploader given `url=` carries on from HEAD."""
    data = os.urandom(200_000)
    path = write(tmp_path, data)
    first = client_for(tus_server).uploader(str(path), chunk_size=50_000, upload_checksum=True)
    first.upload_chunk()
    first.upload_chunk()
    assert first.offset == 100_000
    second = client_for(tus_server).uploader(str(path), url=first.url, chunk_size=70_000)
    assert second.offset == 100_000
    second.upload()
    assert download(tus, first.url) == data


def test_tuspy_resumes_after_the_server_is_killed(make_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL between chunks loses nothing: after a restart tuspy resumes from HEAD."""
    server = make_server(*TUS_FLAGS)
    data = os.urandom(3 * MiB + 5)
    path = write(tmp_path, data)
    first = client_for(server).uploader(str(path), chunk_size=MiB // 2, upload_checksum=True)
    for _ in range(3):
        first.upload_chunk()
    server.kill()
    server.start()
    second = client_for(server).uploader(str(path), url=first.url, chunk_size=MiB // 2)
    assert second.offset == 3 * (MiB // 2)
    second.upload()
    with server.client() as client:
        assert download(client, first.url) == data
