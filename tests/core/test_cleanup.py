"""Expiry and the clean-up in-process, on real stores, with a clock only the tests move.

Each test runs on the local disk with SQLite and on S3 (a real SeaweedFS) with PostgreSQL, and
checks that the storage and the database agree: what the records say was removed is gone from
the disk or the bucket, and what they say is kept is still there. Services are not started
(their background loops would run passes of their own): a test beats for each service's instance
and runs passes itself.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pyfiledrop import errors
from pyfiledrop.core.cleanup import Removed
from pyfiledrop.core.lifetimes import Lifetimes
from pyfiledrop.core.model import Layout, State, Upload
from pyfiledrop.core.receiving import Declared, Limits
from pyfiledrop.core.service import UploadService
from pyfiledrop.meta.postgres import PostgresMetaStore
from pyfiledrop.meta.sqlite import SQLiteMetaStore
from pyfiledrop.storage.local import LocalStorage
from pyfiledrop.storage.s3 import connect
from tests.clock import FakeClock
from tests.seaweed import SeaweedFS

HOUR, DAY = 3600.0, 86400.0
LIFETIMES = Lifetimes(max_life=HOUR, idle_limit=DAY)
CHUNK = 4096
DATA = bytes(range(256)) * 39  # 9984 bytes: chunks of 4096, 4096 and 1792


def other_data(n: int) -> bytes:
    """As long as DATA, other bytes: a file stored apart from DATA's (content is stored once)."""
    return bytes([n]) + DATA[1:]


@dataclass
class Rig:
    """Services that share one database and one storage, as processes would, and one clock."""

    backend: str
    tmp: Path
    clock: FakeClock = field(default_factory=FakeClock)
    url: str = ""  # PostgreSQL
    seaweed: SeaweedFS | None = None
    prefix: str = ""
    made: list[UploadService] = field(default_factory=list)

    def service(self, lifetimes: Lifetimes = LIFETIMES) -> UploadService:
        limits = Limits(max_size=1 << 20, max_chunk_size=1 << 16)
        if self.seaweed is None:
            storage = LocalStorage(self.tmp / "c", self.tmp / "s")
            meta = SQLiteMetaStore(self.tmp / "s" / "meta.sqlite3", self.clock)
            svc = UploadService(
                meta, storage, limits, lifetimes=lifetimes, clock=self.clock, writeback=storage,
                concatenation=storage, local_files=storage,
            )  # fmt: skip
        else:
            s3 = connect(
                "cleanup", self.prefix, endpoint=self.seaweed.endpoint, region="us-east-1",
                part_size=5 << 20,
            )  # fmt: skip
            meta = PostgresMetaStore(self.url, clock=self.clock)
            svc = UploadService(
                meta, s3, limits, lifetimes=lifetimes, clock=self.clock, writeback=s3,
                concatenation=s3, range_reads=s3,
            )  # fmt: skip
        self.made.append(svc)
        return svc

    async def started(self, lifetimes: Lifetimes = LIFETIMES) -> UploadService:
        svc = self.service(lifetimes)
        await svc.instance.beat()  # its claims are live
        return svc

    async def close(self) -> None:
        for svc in self.made:
            await svc.drain()
            await svc._meta.close()
            close: Callable[[], None] | None = getattr(svc._storage, "close", None)
            if close:
                close()
        self.made.clear()

    async def stored(self, svc: UploadService, upload: Upload) -> bool:
        """Whether the finished file of `upload` is in the storage."""
        assert upload.storage_key is not None
        if svc.local_files is not None:
            return svc.local_files.path_of(upload.storage_key).exists()
        assert svc.range_reads is not None
        try:
            async for _ in svc.range_reads.read_range(upload.storage_key, 0, 1):
                return True
        except FileNotFoundError:
            return False
        return True


@pytest.fixture(params=["local+sqlite", "s3+postgresql"])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    if request.param == "local+sqlite":
        yield Rig(request.param, tmp_path)
        return
    store: SeaweedFS = request.getfixturevalue("seaweed")
    if "cleanup" not in [b["Name"] for b in store.client().list_buckets()["Buckets"]]:
        store.bucket("cleanup")
    url: str = request.getfixturevalue("pg_url")
    yield Rig(request.param, tmp_path, url=url, seaweed=store, prefix=uuid.uuid4().hex[:8])


def drive(rig: Rig, work: Callable[[], Awaitable[None]]) -> None:
    async def go() -> None:
        try:
            await work()
        finally:
            await rig.close()

    asyncio.run(go())


async def pieces(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def chunked(
    svc: UploadService, indexes: list[int], expire: str | None = None, data: bytes = DATA
) -> Upload:
    """An upload of `data` in 4096-byte chunks, of which those at `indexes` are sent."""
    count = Layout.expected_count(len(data), CHUNK)
    declared = Declared("f.bin", "x/y", len(data), CHUNK, count)
    upload = await svc.begin_chunked("me", str(uuid.uuid4()), declared, expire)
    for i in indexes:
        await svc.receive_chunk(upload, i, i * CHUNK, pieces(data[i * CHUNK : (i + 1) * CHUNK]))
    await svc.drain()
    return await svc.refresh(upload)


def test_an_expired_file_is_refused_at_once_then_removed_and_its_record_kept(rig: Rig) -> None:
    async def go() -> None:
        svc = await rig.started()
        done = await chunked(svc, [0, 1, 2])
        assert done.state == State.COMPLETE and done.download_token
        assert done.expires_at == rig.clock.now() + HOUR, "the server's life, from completion"
        rig.clock.advance(HOUR - 1)
        assert await svc.cleanup.run_once() == Removed()
        assert await svc.downloadable(done.download_token) == done
        rig.clock.advance(1)
        with pytest.raises(errors.UploadError) as gone:
            await svc.downloadable(done.download_token)
        assert gone.value.status == 410 and "expired" in gone.value.message
        assert await rig.stored(svc, done), "refused before the clean-up removed it"
        assert await svc.cleanup.run_once() == Removed(expired=1, freed_bytes=len(DATA))
        assert not await rig.stored(svc, done)
        record = await svc.refresh(done)
        assert record.state == State.EXPIRED and record.sha256 == done.sha256
        assert (record.removed_at, record.freed_bytes) == (rig.clock.now(), len(DATA))
        with pytest.raises(errors.UploadError) as still_gone:
            await svc.downloadable(done.download_token)
        assert still_gone.value.status == 410
        assert await svc.cleanup.run_once() == Removed(), "a second pass finds nothing"

    drive(rig, go)


def test_an_uploader_may_ask_for_a_shorter_life_never_a_longer_one(rig: Rig) -> None:
    async def go() -> None:
        svc = await rig.started()
        short = await chunked(svc, [0, 1, 2], expire="10m")
        assert short.lifetime == 600 and short.expires_at == rig.clock.now() + 600
        for asked in ("2h", "0", "soon", "-1h"):
            with pytest.raises(errors.UploadError) as refused:
                await chunked(svc, [0], expire=asked)
            assert refused.value.status == 400 and "at most 1h" in refused.value.message
        keeper = await rig.started(Lifetimes(max_life=None, idle_limit=DAY))
        forever = await chunked(keeper, [0, 1, 2], data=other_data(1))
        assert forever.expires_at is None
        asked = await chunked(keeper, [0, 1, 2], expire="30d", data=other_data(2))
        assert asked.expires_at == rig.clock.now() + 30 * DAY, "no limit: any life"
        rig.clock.advance(365 * DAY)
        assert await keeper.cleanup.run_once() == Removed(expired=2, freed_bytes=2 * len(DATA))
        assert await rig.stored(keeper, forever)
        assert not await rig.stored(keeper, asked) and not await rig.stored(keeper, short)

    drive(rig, go)


def test_an_upload_left_idle_is_abandoned_and_its_partial_data_removed(rig: Rig) -> None:
    async def go() -> None:
        svc = await rig.started()
        half = await chunked(svc, [0, 2])
        stream = await svc.create_stream("me", "s.bin", "x/y", 100)
        await svc.append(stream, 0, pieces(b"x" * 40), keep_partial=True)
        rig.clock.advance(DAY - 1)
        assert await svc.cleanup.run_once() == Removed()
        assert {half.id, stream.id} <= await svc._storage.partials()
        rig.clock.advance(2)
        assert await svc.cleanup.run_once() == Removed(abandoned=2, freed_bytes=4096 + 1792 + 40)
        assert not {half.id, stream.id} & await svc._storage.partials()
        for upload, held in ((half, 4096 + 1792), (stream, 40)):
            record = await svc.refresh(upload)
            assert record.state == State.ABANDONED
            assert (record.removed_at, record.freed_bytes) == (rig.clock.now(), held)
        with pytest.raises(errors.UploadError) as gone:  # its client comes back
            await svc.receive_chunk(half, 1, CHUNK, pieces(DATA[CHUNK : 2 * CHUNK]))
        assert gone.value.status == 410 and "Send the file again" in gone.value.message
        assert half.id not in await svc._storage.partials()
        assert await svc.cleanup.run_once() == Removed()

    drive(rig, go)


def test_a_deleted_upload_is_kept_for_late_chunks_then_forgotten(rig: Rig) -> None:
    async def go() -> None:
        svc = await rig.started()
        half = await chunked(svc, [0, 2])
        await svc.delete(half)
        record = await svc.refresh(half)
        assert record.state == State.DELETED and record.removed_at == rig.clock.now()
        assert half.id not in await svc._storage.partials()
        with pytest.raises(errors.UploadError) as gone:  # a chunk still on its way
            await svc.receive_chunk(half, 1, CHUNK, pieces(DATA[CHUNK : 2 * CHUNK]))
        assert gone.value.status == 410 and "cancelled" in gone.value.message
        assert half.id not in await svc._storage.partials(), "nothing written for it"
        await svc.delete(record)  # twice: nothing more happens
        rig.clock.advance(DAY - 1)
        await svc.cleanup.run_once()
        assert (await svc.refresh(half)).state == State.DELETED
        rig.clock.advance(2)
        await svc.cleanup.run_once()
        assert await svc._meta.get(half.id) is None, "forgotten after --incomplete-ttl"

    drive(rig, go)


def test_an_abandoned_tus_partial_cannot_be_concatenated(rig: Rig) -> None:
    async def go() -> None:
        svc = await rig.started()
        partial = await svc.create_stream("me", "p.bin", "x/y", 10, concat="partial")
        partial = await svc.append(partial, 0, pieces(b"0123456789"), keep_partial=True)
        rig.clock.advance(DAY + 1)
        assert await svc.cleanup.run_once() == Removed(abandoned=1, freed_bytes=10)
        with pytest.raises(errors.UploadError) as gone:
            await svc.concatenate("me", "f.bin", "x/y", None, "final;x", [partial])
        assert gone.value.status == 410
        assert await svc._meta.in_state(State.COMPLETE) == [], "no final upload was made"

    drive(rig, go)


def test_an_upload_that_keeps_receiving_is_not_abandoned(rig: Rig) -> None:
    async def go() -> None:
        svc = await rig.started()
        upload = await chunked(svc, [0])
        rig.clock.advance(DAY - 10)
        await svc.receive_chunk(upload, 1, CHUNK, pieces(DATA[CHUNK : 2 * CHUNK]))
        rig.clock.advance(20)
        assert await svc.cleanup.run_once() == Removed()
        await svc.receive_chunk(upload, 2, 2 * CHUNK, pieces(DATA[2 * CHUNK :]))
        await svc.drain()
        assert (await svc.refresh(upload)).state == State.COMPLETE

    drive(rig, go)


def test_an_upload_with_a_chunk_or_a_stream_in_flight_is_kept(rig: Rig) -> None:
    """Idle by its records, but a request is writing to it: the clean-up leaves it alone."""

    async def go() -> None:
        svc = await rig.started()
        other = await rig.started()  # another process cleans up
        upload = await chunked(svc, [0])
        stream = await svc.create_stream("me", "s.bin", "x/y", 100)
        arrived, go_on = asyncio.Event(), asyncio.Event()

        async def slow(data: bytes) -> AsyncIterator[bytes]:
            yield data[:10]
            arrived.set()
            await go_on.wait()
            yield data[10:]

        chunk = asyncio.create_task(
            svc.receive_chunk(upload, 1, CHUNK, slow(DATA[CHUNK : 2 * CHUNK]))
        )
        await arrived.wait()
        arrived.clear()
        patch = asyncio.create_task(svc.append(stream, 0, slow(b"y" * 30), keep_partial=True))
        await arrived.wait()
        rig.clock.advance(2 * DAY)
        assert await other.cleanup.run_once() == Removed()
        go_on.set()
        await chunk
        await patch
        assert (await svc.refresh(upload)).state == State.RECEIVING
        assert (await svc.refresh(stream)).offset == 30
        assert {upload.id, stream.id} <= await svc._storage.partials()
        assert await svc.received(upload) == [0, 1]

    drive(rig, go)


def test_a_failed_upload_is_abandoned_after_the_idle_limit(rig: Rig) -> None:
    async def go() -> None:
        svc = await rig.started()
        upload = await chunked(svc, [0, 1])
        assert await svc.finisher.move(upload.id, State.RECEIVING, State.FAILED, error="broken")
        rig.clock.advance(DAY + 1)
        assert await svc.cleanup.run_once() == Removed(abandoned=1, freed_bytes=2 * CHUNK)
        record = await svc.refresh(upload)
        assert record.state == State.ABANDONED and record.error == "broken"
        assert upload.id not in await svc._storage.partials()

    drive(rig, go)


def test_partial_data_no_upload_needs_is_removed_and_the_rest_kept(rig: Rig) -> None:
    async def go() -> None:
        svc = await rig.started()
        live = await chunked(svc, [0])
        orphan = uuid.uuid4().hex
        await svc._storage.create(orphan)
        writer = await svc._storage.part_writer(orphan, 0, 0, Layout(10, 10, 1))
        await writer.write(b"0123456789")
        await writer.flush()
        await writer.close()
        assert {live.id, orphan} <= await svc._storage.partials()
        assert await svc.cleanup.run_once() == Removed(orphans=1)
        left = await svc._storage.partials()
        assert live.id in left and orphan not in left
        assert await svc.received(live) == [0]

    drive(rig, go)


def test_one_process_cleans_up_at_a_time_and_each_file_is_removed_once(rig: Rig) -> None:
    async def go() -> None:
        a, b = await rig.started(), await rig.started()
        files = [await chunked(a, [0, 1, 2], data=other_data(n)) for n in range(4)]
        rig.clock.advance(HOUR)
        assert await a._meta.claim("cleanup", "someone", a.instance.id, 60)
        assert await b.cleanup.run_once() is None, "another process holds the claim"
        await a._meta.release("cleanup", "someone")
        passes = await asyncio.gather(a.cleanup.run_once(), b.cleanup.run_once())
        done = [p for p in passes if p is not None]
        assert sum(p.expired for p in done) == len(files)
        assert sum(p.freed_bytes for p in done) == len(files) * len(DATA)
        for upload in files:
            assert (await a.refresh(upload)).state == State.EXPIRED
            assert not await rig.stored(a, await a.refresh(upload))

    drive(rig, go)
