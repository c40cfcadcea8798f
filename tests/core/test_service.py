"""The upload service in-process, on a real SQLite file and a real folder.

Two `UploadService`s on the same database and folders are two server processes as far as the
core can tell: separate instances, claims and running digests, nothing shared but the store.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import pytest

from pyfiledrop import errors
from pyfiledrop.core.model import State, Upload, content_key
from pyfiledrop.core.receiving import Declared, Limits, clean_filename
from pyfiledrop.core.service import UploadService
from pyfiledrop.meta.sqlite import SQLiteMetaStore
from pyfiledrop.storage.local import LocalStorage

CLIENT = "0b1c9a52-5a3e-4a61-9d7e-1c2b3d4e5f60"


def service(root: Path) -> UploadService:
    storage = LocalStorage(root / "c", root / "s")
    return UploadService(
        SQLiteMetaStore(root / "s" / "meta.sqlite3"),
        storage,
        Limits(max_size=1 << 20, max_chunk_size=1 << 16),
        writeback=storage,
        local_files=storage,
    )


async def pieces(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def begin(svc: UploadService, data: bytes, chunk: int, client: str = CLIENT) -> Upload:
    count = max(1, -(-len(data) // chunk))
    return await svc.begin_chunked("me", client, Declared("f.bin", "x/y", len(data), chunk, count))


async def send(svc: UploadService, data: bytes, chunk: int, indexes: list[int]) -> Upload:
    upload = await begin(svc, data, chunk)
    for i in indexes:
        await svc.receive_chunk(upload, i, i * chunk, pieces(data[i * chunk : (i + 1) * chunk]))
    return upload


def set_state(root: Path, upload_id: str, state: State) -> None:
    with sqlite3.connect(root / "s" / "meta.sqlite3") as db:
        db.execute("UPDATE uploads SET state = ? WHERE id = ?", (state.value, upload_id))


def test_start_finishes_an_upload_whose_last_chunk_was_recorded_before_a_crash(
    tmp_path: Path,
) -> None:
    data = bytes(range(256)) * 40

    async def before_crash() -> None:
        svc = service(tmp_path)
        await svc.start()

        def never(work: Coroutine[Any, Any, None]) -> asyncio.Future[None]:
            work.close()  # the crash: the finishing step never runs
            dropped: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            dropped.set_result(None)
            return dropped

        svc.finisher.track = never  # type: ignore[assignment]
        await send(svc, data, 4096, [0, 1, 2])
        upload = await svc.owned("me", CLIENT)
        assert upload.state == State.RECEIVING

    async def after_restart() -> None:
        svc = service(tmp_path)
        await svc.start()
        await svc.drain()
        upload = await svc.owned("me", CLIENT)
        assert upload.state == State.COMPLETE
        assert upload.sha256 == hashlib.sha256(data).hexdigest()
        await svc.stop()

    asyncio.run(before_crash())
    asyncio.run(after_restart())


def test_a_kill_after_the_file_was_moved_into_place_still_completes(tmp_path: Path) -> None:
    """The crash between the rename and the database saying complete (issue 9, defect 1)."""
    data = bytes(range(256)) * 50

    async def run() -> None:
        svc = service(tmp_path)
        await svc.start()
        await send(svc, data, 4096, [0, 1, 2, 3])
        await svc.drain()
        done = await svc.owned("me", CLIENT)
        assert done.state == State.COMPLETE
        set_state(tmp_path, done.id, State.ASSEMBLING)  # what such a kill leaves
        fresh = service(tmp_path)
        await fresh.start()
        await fresh.drain()
        healed = await fresh.owned("me", CLIENT)
        assert healed.state == State.COMPLETE, healed.error
        assert healed.sha256 == hashlib.sha256(data).hexdigest()
        assert done.storage_key == content_key(hashlib.sha256(data).hexdigest())
        assert (tmp_path / "s" / "files" / done.storage_key).read_bytes() == data
        await fresh.stop()

    asyncio.run(run())


def test_a_chunk_that_fails_midway_is_not_recorded(tmp_path: Path) -> None:
    async def run() -> None:
        svc = service(tmp_path)
        await svc.start()
        upload = await svc.begin_chunked("me", CLIENT, Declared("f", "x/y", 8192, 4096, 2))
        with pytest.raises(errors.UploadError) as refused:
            await svc.receive_chunk(upload, 0, 0, pieces(b"a" * 4000, b"a" * 200))
        assert refused.value.status == 413
        with pytest.raises(errors.UploadError):
            await svc.receive_chunk(upload, 1, 4096, pieces(b"short"))
        assert await svc.received(upload) == []
        await svc.stop()

    asyncio.run(run())


def test_a_chunk_resent_through_another_process_gives_the_right_digest(tmp_path: Path) -> None:
    """Process A hashes chunks 0-1 as they come; B then receives a different chunk 0. A's
    running digest covers the old bytes; the file's recorded SHA-256 must be of the new ones."""
    old = bytes(4096 * 3)
    new = b"\x01" * 4096 + old[4096:]

    async def run() -> None:
        a, b = service(tmp_path), service(tmp_path)
        await a.start()
        await b.start()
        upload = await send(a, old, 4096, [0, 1])
        await asyncio.sleep(0.05)  # let A's running digest take in chunks 0 and 1
        await b.receive_chunk(upload, 0, 0, pieces(new[:4096]))
        await a.receive_chunk(upload, 2, 8192, pieces(new[8192:]))  # A finishes the upload
        await a.drain()
        done = await a.owned("me", CLIENT)
        assert done.state == State.COMPLETE
        assert done.sha256 == hashlib.sha256(new).hexdigest()
        await a.stop()
        await b.stop()

    asyncio.run(run())


def test_two_copies_of_one_chunk_in_two_processes_are_written_one_after_the_other(
    tmp_path: Path,
) -> None:
    data = bytes(range(256)) * 32  # two chunks of 4096

    async def run() -> None:
        a, b = service(tmp_path), service(tmp_path)
        await a.start()
        await b.start()
        upload = await begin(a, data, 4096)
        release = asyncio.Event()
        order: list[str] = []

        async def slow() -> AsyncIterator[bytes]:
            yield data[:2048]
            await release.wait()
            order.append("a")
            yield data[2048:4096]

        async def quick() -> AsyncIterator[bytes]:
            order.append("b")
            yield data[:4096]

        first = asyncio.create_task(a.receive_chunk(upload, 0, 0, slow()))
        await asyncio.sleep(0.05)
        second = asyncio.create_task(b.receive_chunk(upload, 0, 0, quick()))
        await asyncio.sleep(0.3)
        assert not second.done() and order == [], "the second copy must wait for the first"
        release.set()
        await asyncio.gather(first, second)
        assert order == ["a", "b"]
        assert await a.received(upload) == [0]
        await a.stop()
        await b.stop()

    asyncio.run(run())


def test_a_dead_process_claims_are_free_at_once(tmp_path: Path) -> None:
    """A chunk left claimed by a killed process can be sent again right after a restart."""
    data = bytes(8192)

    async def run() -> None:
        dead = service(tmp_path)
        await dead.start()
        upload = await begin(dead, data, 4096)
        holder = dead.instance.holder()
        meta = dead._meta
        assert await meta.start_chunk(upload.id, 0, holder, dead.instance.id, 600) is not None
        dead.instance.pid = 2**22 + 7  # a pid no process has: as if it had been killed
        await dead.instance.beat()
        alive = service(tmp_path)
        await alive.start()  # reaps the dead instance on this host
        await asyncio.wait_for(alive.receive_chunk(upload, 0, 0, pieces(data[:4096])), 5)
        assert await alive.received(upload) == [0]
        await alive.stop()

    asyncio.run(run())


def test_plain_upload_is_stored_as_it_arrives_and_finished(tmp_path: Path) -> None:
    async def run() -> None:
        svc = service(tmp_path)
        await svc.start()
        done = await svc.receive_plain("me", "a.txt", "text/plain", pieces(b"hello ", b"world"))
        assert done.state == State.COMPLETE and done.size == 11
        assert done.sha256 == hashlib.sha256(b"hello world").hexdigest()
        with pytest.raises(errors.UploadError) as refused:
            await svc.receive_plain("me", "big", "x/y", pieces(b"x" * (1 << 20), b"x"))
        assert refused.value.status == 413
        assert list((tmp_path / "c").iterdir()) == [], "a refused plain upload leaves nothing"
        await svc.stop()

    asyncio.run(run())


def test_leftovers_without_a_record_are_removed_at_start(tmp_path: Path) -> None:
    async def run() -> None:
        svc = service(tmp_path)
        await svc.start()
        upload = await send(svc, bytes(8192), 4096, [0])
        await svc.stop()
        chunks = tmp_path / "c"
        (chunks / ("ab" * 16 + ".part")).write_bytes(b"orphan")
        (chunks / "spool-x.tmp").write_bytes(b"old scratch")
        (tmp_path / "s" / "files" / ("cd" * 16 + ".incoming")).write_bytes(b"copy")
        fresh = service(tmp_path)
        await fresh.start()
        assert sorted(p.name for p in chunks.iterdir()) == [upload.id + ".part"]
        assert list((tmp_path / "s" / "files").iterdir()) == []
        await fresh.stop()

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
    monkeypatch.setattr("pyfiledrop.core.finishing.MAX_PREHASHES", 1)
    ids = ["0b1c9a52-5a3e-4a61-9d7e-1c2b3d4e5f61", "0b1c9a52-5a3e-4a61-9d7e-1c2b3d4e5f62"]
    files = [bytes([n]) * 10_000 for n in (1, 2)]

    async def run() -> None:
        svc = service(tmp_path)
        await svc.start()
        pairs = zip(ids, files, strict=True)
        uploads = [await begin(svc, data, 4096, client) for client, data in pairs]
        for index in range(3):
            for upload, data in zip(uploads, files, strict=True):
                chunk = data[index * 4096 : (index + 1) * 4096]
                await svc.receive_chunk(upload, index, index * 4096, pieces(chunk))
        await svc.drain()
        for client, data in zip(ids, files, strict=True):
            assert (await svc.owned("me", client)).sha256 == hashlib.sha256(data).hexdigest()
        await svc.stop()

    asyncio.run(run())


def test_concurrent_first_chunks_share_one_running_digest(tmp_path: Path) -> None:
    """Chunks of a new upload arriving at once must feed one digest, or none gets every chunk
    and the file is hashed again from scratch when it is finished."""

    async def run() -> None:
        svc = service(tmp_path)
        await svc.start()
        upload = await begin(svc, bytes(4096 * 4), 4096)
        made = await asyncio.gather(*(svc.finisher.prehash_of(upload) for _ in range(4)))
        assert all(prehash is made[0] for prehash in made)
        await svc.stop()

    asyncio.run(run())
