"""The upload service in-process, on a real SQLite file and a real folder."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from pyfiledrop import errors
from pyfiledrop.core.model import State
from pyfiledrop.core.service import Declared, Limits, UploadService, clean_filename
from pyfiledrop.meta.sqlite import SQLiteMetaStore
from pyfiledrop.storage.local import LocalStorage

CLIENT = "0b1c9a52-5a3e-4a61-9d7e-1c2b3d4e5f60"


def service(root: Path) -> UploadService:
    return UploadService(
        SQLiteMetaStore(root / "s" / "meta.sqlite3"),
        LocalStorage(root / "c", root / "s"),
        Limits(max_size=1 << 20, max_chunk_size=1 << 16),
    )


async def send(svc: UploadService, data: bytes, chunk: int, indexes: list[int]) -> None:
    count = max(1, -(-len(data) // chunk))
    upload = svc.begin_chunked("me", CLIENT, Declared("f.bin", "x/y", len(data), chunk, count))
    for i in indexes:
        async with svc.chunk(upload, i, i * chunk) as sink:
            sink.write(data[i * chunk : (i + 1) * chunk])


def test_recover_finishes_an_upload_whose_last_chunk_was_recorded_before_a_crash(
    tmp_path: Path,
) -> None:
    data = bytes(range(256)) * 40

    async def before_crash() -> None:
        svc = service(tmp_path)
        await send(svc, data, 4096, [0, 1])
        # The crash: the last chunk is recorded, but the finishing step never ran.
        upload = svc.meta.get_by_client_id(CLIENT)
        assert upload is not None
        async with svc.chunk(upload, 2, 8192) as sink:
            sink.write(data[8192:])
            svc._track = lambda work: work.close()  # type: ignore[method-assign]
        assert svc.meta.get(upload.id).state == State.RECEIVING  # type: ignore[union-attr]

    async def after_restart() -> None:
        svc = service(tmp_path)
        await svc.recover()
        await svc.drain()
        upload = svc.owned("me", CLIENT)
        assert upload.state == State.COMPLETE
        assert upload.sha256 == hashlib.sha256(data).hexdigest()

    asyncio.run(before_crash())
    asyncio.run(after_restart())


def test_recover_redoes_an_interrupted_assembly(tmp_path: Path) -> None:
    data = b"x" * 5000

    async def run() -> None:
        svc = service(tmp_path)
        await send(svc, data, 4096, [0])
        upload = svc.owned("me", CLIENT)
        async with svc.chunk(upload, 1, 4096) as sink:
            sink.write(data[4096:])
            svc._track = lambda work: work.close()  # type: ignore[method-assign]
        assert svc.meta.move(upload.id, State.RECEIVING, State.ASSEMBLING)
        fresh = service(tmp_path)
        await fresh.recover()
        await fresh.drain()
        assert fresh.owned("me", CLIENT).state == State.COMPLETE

    asyncio.run(run())


def test_a_chunk_that_fails_midway_is_not_recorded(tmp_path: Path) -> None:
    async def run() -> None:
        svc = service(tmp_path)
        upload = svc.begin_chunked("me", CLIENT, Declared("f", "x/y", 8192, 4096, 2))
        with pytest.raises(errors.UploadError) as refused:
            async with svc.chunk(upload, 0, 0) as sink:
                sink.write(b"a" * 4000)
                sink.write(b"a" * 200)
        assert refused.value.status == 413
        with pytest.raises(errors.UploadError):
            async with svc.chunk(upload, 1, 4096) as sink:
                sink.write(b"short")
        assert svc.received(upload) == []

    asyncio.run(run())


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("a\x00b\x1fc\u202e.txt", "abc.txt"),
        ("..", "upload"),
        ("", "upload"),
        ("<b>bold</b>.html", "b>.html"),
        ("é" * 200, "é" * 127),
    ],
)
def test_clean_filename(raw: str, clean: str) -> None:
    assert clean_filename(raw) == clean


def test_uploads_beyond_the_running_digest_limit_still_get_the_right_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With room for one running digest, two interleaved uploads evict each other's."""
    monkeypatch.setattr("pyfiledrop.core.service.MAX_PREHASHES", 1)
    ids = ["0b1c9a52-5a3e-4a61-9d7e-1c2b3d4e5f61", "0b1c9a52-5a3e-4a61-9d7e-1c2b3d4e5f62"]
    files = [bytes([n]) * 10_000 for n in (1, 2)]

    async def run() -> None:
        svc = service(tmp_path)
        uploads = [
            svc.begin_chunked("me", client, Declared("f", "x/y", 10_000, 4096, 3))
            for client in ids
        ]
        for index in range(3):
            for upload, data in zip(uploads, files, strict=True):
                async with svc.chunk(upload, index, index * 4096) as sink:
                    sink.write(data[index * 4096 : (index + 1) * 4096])
        await svc.drain()
        for client, data in zip(ids, files, strict=True):
            assert svc.owned("me", client).sha256 == hashlib.sha256(data).hexdigest()

    asyncio.run(run())
